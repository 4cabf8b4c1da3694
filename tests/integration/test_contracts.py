"""Contracts as the Mission CEO meets them: each stays committed in every later quarter's problem
until it is ended (with a reason and maybe a break cost), and what-if runs are questions, never
allocations. Web, JSON API and CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from money_flow import (
    CURRENT,
    api,
    approve,
    close_current,
    commitments_of,
    live_contracts,
    refs,
    soup,
    start_run,
)
from support import DEMO, login

from optimiser.problem import Policy
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict
from portfolio.domain.model import SpendEntry, SpendKind
from portfolio.services import contracts
from portfolio.services import runs as run_service
from portfolio.services.allocation_report import allocation_report
from portfolio.services.ledger import record_spend, spent


# -- A. contracts with a lifecycle ---------------------------------------------------------------
def test_a_contract_is_a_commitment_of_every_later_quarter_until_it_is_ended(inline_client):
    csrf = login(inline_client, "ceo")
    carried = live_contracts(inline_client)
    assert len(carried) > 1, "the demo's past quarters contracted several awards"
    run = start_run(inline_client, csrf)
    assert commitments_of(inline_client, run) == refs(carried)
    under_contract = {c["candidate"] for c in carried}
    new = next(c for c in sorted(run["result"]["selected"]) if c not in under_contract)
    approved = approve(inline_client, csrf, run["id"], [new])
    assert approved.status_code == 200, approved.text
    # ticking one award adds one contract; the others stay (five commitments stay five)
    after = live_contracts(inline_client)
    assert len(after) == len(carried) + 1
    contract = next(c for c in after if c["candidate"] == new)
    assert (contract["option"], contract["since"], contract["awarded_by"]) == (
        run["result"]["selected"][new],
        CURRENT,
        "ceo",
    )
    changes = approved.json()["changes"]
    assert {c["candidate"] for c in changes if c["contracted"]} == {c["candidate"] for c in after}
    close_current(inline_client, csrf)

    q4 = start_run(inline_client, csrf)
    assert commitments_of(inline_client, q4) == refs(after)
    assert all(q4["result"]["selected"][c["candidate"]] == c["option"] for c in after)
    assert approve(inline_client, csrf, q4["id"], []).status_code == 200
    assert refs(live_contracts(inline_client)) == refs(after)
    close_current(inline_client, csrf)

    next_year = start_run(inline_client, csrf)
    assert next_year["quarter"] == "2027-28 Q1"
    assert commitments_of(inline_client, next_year) == refs(after)
    ended = api(
        inline_client,
        csrf,
        "POST",
        f"/contracts/{contract['id']}/end",
        json={"reason": "The consortium was dissolved"},
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["ended_in"] == "2027-28 Q1"
    later = start_run(inline_client, csrf)
    assert commitments_of(inline_client, later) == [
        r for r in refs(after) if r != f"{new}/{contract['option']}"
    ]


def test_ending_a_contract_needs_a_reason_and_its_break_cost_is_spent_money(
    client: TestClient, db_url: str
):
    csrf = login(client, "ceo")
    contract = live_contracts(client)[0]
    path = f"/contracts/{contract['id']}/end"
    no_reason = api(client, csrf, "POST", path, json={"reason": "  ", "break_cost": 1})
    assert no_reason.status_code == 422
    assert [e["field"] for e in no_reason.json()["errors"]] == ["reason"]
    for bad in (100_001, -1):
        refused = api(client, csrf, "POST", path, json={"reason": "x", "break_cost": bad})
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == ["break_cost"]
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        candidate = uow.candidates.get(DEMO, contract["candidate"])
        other = [
            e.id
            for e in uow.missions.get(DEMO).envelopes
            if e.id not in candidate.eligible_envelopes
        ]
    if other:
        wrong = api(
            client, csrf, "POST", path, json={"reason": "x", "break_cost": 1, "envelope": other[0]}
        )
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "envelope"
    assert contract["id"] in {c["id"] for c in live_contracts(client)}

    ended = api(
        client,
        csrf,
        "POST",
        path,
        json={"reason": "The site permit was refused", "break_cost": 2.5},
    )
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert (body["state"], body["break_cost"], body["ended_by"], body["ended_in"]) == (
        "ended",
        2.5,
        "ceo",
        CURRENT,
    )
    assert body["end_reason"] == "The site permit was refused"
    assert contract["id"] not in {c["id"] for c in live_contracts(client)}
    with SqlUnitOfWork(engine) as uow:
        every = uow.spend.all(DEMO)
        (entry,) = [e for e in every if e.quarter == CURRENT]
        ledger = spent(uow, DEMO)
        (audit,) = uow.audit.all(DEMO, entity="contract", entity_id=str(contract["id"]), limit=1)
        (spend_audit,) = uow.audit.all(DEMO, entity="spend", limit=1)
    engine.dispose()
    assert (entry.kind, entry.amount, entry.candidate, entry.option) == (
        SpendKind.break_cost,
        2.5,
        contract["candidate"],
        contract["option"],
    )
    assert (entry.envelope, entry.year, entry.quarter, entry.recorded_by) == (
        candidate.eligible_envelopes[0],
        "2026-27",
        CURRENT,
        "ceo",
    )
    # a break cost uses up budget but does not count as work done on the option
    work = [
        e
        for e in every
        if (e.candidate, e.option) == (contract["candidate"], contract["option"])
        and e.kind is SpendKind.actual
    ]  # what the demo's quarters spent on it
    assert ledger.by_candidate[contract["candidate"]] == pytest.approx(
        sum(e.amount for e in every if e.candidate == contract["candidate"] and e is not entry)
        + 2.5
    )
    assert ledger.by_option.get((contract["candidate"], contract["option"]), 0.0) == (
        pytest.approx(sum(e.amount for e in work))
    )
    assert (audit.action, audit.actor, audit.after["break_cost"]) == ("ended", "ceo", 2.5)
    assert spend_audit.after["source"] == "contract"
    again = api(client, csrf, "POST", path, json={"reason": "Twice"})
    assert again.status_code == 409 and "already ended" in again.json()["detail"]


def test_the_optimiser_page_lists_live_contracts_and_ends_one_with_the_web_form(app):
    with TestClient(app) as first, TestClient(app) as second:
        csrf = login(first, "ceo")
        other_csrf = login(second, "ceo")
        shown = live_contracts(first)
        page = soup(first.get(f"/missions/{DEMO}/runs"))
        rows = page.select("#contracts-table tr[data-contract]")
        assert [r["data-candidate"] for r in rows] == [c["candidate"] for c in shown]
        text = rows[0].get_text(" ", strip=True)
        assert shown[0]["candidate_name"] in text and shown[0]["since"] in text
        assert shown[0]["option_name"] in text
        contract = shown[0]
        action = f"/missions/{DEMO}/contracts/{contract['id']}/end"
        assert page.select_one(f'form[action="{action}"]') is not None
        missing = first.post(action, data={"csrf_token": csrf, "reason": "", "break_cost": "1"})
        assert missing.status_code == 422
        again = soup(missing)
        summary = again.select_one(".govuk-error-summary").get_text(" ", strip=True)
        assert "Reason for ending the contract" in summary
        form = again.select_one(f'form[action="{action}"]')
        assert form.find_parent("details").has_attr("open")
        assert form.select_one("#f-break_cost")["value"] == "1"
        not_money = first.post(
            action, data={"csrf_token": csrf, "reason": "x", "break_cost": "lots"}
        )
        assert not_money.status_code == 422 and "Break cost" in not_money.text
        fields = {"csrf_token": csrf, "reason": "No longer needed", "expected_state": "live"}
        # ending is irreversible: the first submit shows what it does and changes nothing
        asked = first.post(action, data=fields, follow_redirects=False)
        assert asked.status_code == 200
        consequences = soup(asked).select_one("#confirm-consequences").get_text(" ", strip=True)
        assert shown[0]["candidate_name"] in consequences and "No break cost" in consequences
        assert contract["id"] in {c["id"] for c in live_contracts(first)}
        ended = first.post(action, data={**fields, "confirm": "yes"}, follow_redirects=False)
        assert ended.status_code == 303
        # the second CEO tab still shows the contract live: ending it again is a conflict
        late = second.post(
            action, data={"csrf_token": other_csrf, "reason": "Me too", "expected_state": "live"}
        )
        assert late.status_code == 409 and "already ended" in late.text
        after = soup(first.get(f"/missions/{DEMO}/runs"))
        assert contract["candidate"] not in [
            r["data-candidate"] for r in after.select("#contracts-table tr[data-contract]")
        ]
        login(first, "council1")
        seen = soup(first.get(f"/missions/{DEMO}/runs"))
        assert seen.select("#contracts-table tr[data-contract]")
        assert not seen.select("form.app-end-contract")


def test_two_endings_of_one_contract_at_the_same_time_give_one_end_and_a_conflict(db_url: str):
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as first, SqlUnitOfWork(engine) as second:
        contract_id = first.contracts.live(DEMO)[0].id
        assert contract_id is not None
        first.contracts.get(DEMO, contract_id)
        second.contracts.get(DEMO, contract_id)  # both have read it live
        contracts.end_contract(first, "ceo", DEMO, contract_id, "First", 1.0)
        first.commit()
        with pytest.raises(Conflict):
            contracts.end_contract(second, "ceo", DEMO, contract_id, "Second", 1.0)
    with SqlUnitOfWork(engine) as uow:
        assert uow.contracts.get(DEMO, contract_id).end_reason == "First"
        assert [e.amount for e in uow.spend.all(DEMO) if e.quarter == CURRENT] == [1.0]
    engine.dispose()


def test_a_contract_whose_option_is_fully_spent_completes_when_the_next_run_starts(
    client: TestClient, db_url: str
):
    login(client, "ceo")
    contract = next(c for c in live_contracts(client) if c["candidate"] == "continuous-descent")
    engine = make_engine(db_url)

    def spend_and_start(amount: float) -> dict:
        with SqlUnitOfWork(engine) as uow:
            entry = SpendEntry(
                candidate=contract["candidate"],
                option=contract["option"],
                envelope="sbc",
                year="2026-27",
                amount=amount,
                quarter=CURRENT,
            )
            record_spend(uow, "ceo", DEMO, [entry])
            run_id = run_service.start_run(
                uow, "ceo", DEMO, Policy(objective="expected"), scenarios=100
            )
            uow.commit()
            return uow.runs.get(DEMO, run_id).problem

    ref = f"{contract['candidate']}/{contract['option']}"
    remaining = contract["planned_total"] - contract["spent"]  # the demo spent some already
    assert remaining > 0
    problem = spend_and_start(remaining / 2)
    shown = {c["id"]: c for c in live_contracts(client)}[contract["id"]]
    assert shown["spent"] == pytest.approx(contract["spent"] + remaining / 2)
    assert ref in problem["policy"]["commitments"]
    problem = spend_and_start(remaining / 2)
    assert ref not in problem["policy"]["commitments"]
    with SqlUnitOfWork(engine) as uow:
        done = uow.contracts.get(DEMO, contract["id"])
        (audit,) = uow.audit.all(DEMO, entity="contract", entity_id=str(contract["id"]), limit=1)
    engine.dispose()
    assert (done.state.value, done.ended_in) == ("completed", CURRENT)
    assert (audit.action, audit.actor) == ("completed", "ceo")
    assert contract["id"] not in {c["id"] for c in live_contracts(client)}


def test_approving_a_run_that_drops_a_contracted_candidate_is_refused(inline_client):
    csrf = login(inline_client, "ceo")
    contract = live_contracts(inline_client)[0]
    run = start_run(inline_client, csrf, exclusions=[contract["candidate"]])
    assert run["status"] in ("optimal", "feasible")
    assert contract["candidate"] not in run["result"]["selected"]
    assert f"{contract['candidate']}/{contract['option']}" not in commitments_of(inline_client, run)
    refused = approve(inline_client, csrf, run["id"], [])
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert contract["candidate_name"] in detail and "end the contract first" in detail
    page = soup(inline_client.get(f"/missions/{DEMO}/runs/{run['id']}/approve"))
    assert contract["candidate_name"] in page.select_one("#contract-blocked").get_text()
    assert page.select_one("#approve-form button[type=submit]") is None
    quarter = inline_client.get(f"/api/v1/missions/{DEMO}/quarters/{CURRENT}").json()
    assert quarter["quarter"]["approved_run"] is None
    ended = api(
        inline_client,
        csrf,
        "POST",
        f"/contracts/{contract['id']}/end",
        json={"reason": "Excluded after the council's review"},
    )
    assert ended.status_code == 200
    assert approve(inline_client, csrf, run["id"], []).status_code == 200


def test_a_contract_follows_a_new_option_only_when_the_ceo_ticks_it_again(inline_client):
    csrf = login(inline_client, "ceo")
    contract = next(c for c in live_contracts(inline_client) if c["candidate"] == "atj-teesside")
    old = f"atj-teesside/{contract['option']}"
    run = start_run(inline_client, csrf, locks=["atj-teesside"], exclusions=[old])
    new_option = run["result"]["selected"]["atj-teesside"]
    assert new_option != contract["option"]
    page = soup(inline_client.get(f"/missions/{DEMO}/runs/{run['id']}/approve"))
    row = page.select_one('#changes tr[data-candidate="atj-teesside"]')
    assert f"Under contract for {contract['option_name']}" in row.get_text(" ", strip=True)
    # not ticked: the contract for the old option stays live
    assert approve(inline_client, csrf, run["id"], []).status_code == 200
    kept = {c["id"]: c for c in live_contracts(inline_client)}
    assert kept[contract["id"]]["option"] == contract["option"]
    # ticked again: the contract moves to the new option (the old one is superseded)
    assert approve(inline_client, csrf, run["id"], ["atj-teesside"]).status_code == 200
    after = [c for c in live_contracts(inline_client) if c["candidate"] == "atj-teesside"]
    assert [(c["option"], c["since"]) for c in after] == [(new_option, CURRENT)]
    every = inline_client.get(f"/api/v1/missions/{DEMO}/contracts").json()
    superseded = next(c for c in every if c["id"] == contract["id"])
    assert superseded["state"] == "ended" and "superseded" in superseded["end_reason"]


def test_the_approval_page_shows_live_contracts_as_already_contracted(inline_client):
    csrf = login(inline_client, "ceo")
    run = start_run(inline_client, csrf)
    page = soup(inline_client.get(f"/missions/{DEMO}/runs/{run['id']}/approve"))
    for contract in live_contracts(inline_client):
        row = page.select_one(f'#changes tr[data-candidate="{contract["candidate"]}"]')
        box = row.select_one("input[type=checkbox]")
        assert box.has_attr("checked") and box.has_attr("disabled")
        assert f"Contracted since {contract['since']}" in row.get_text(" ", strip=True)


def test_the_diagnosis_names_an_unmet_contract_by_its_candidate(client: TestClient, db_url: str):
    login(client, "ceo")
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        template = uow.runs.all(DEMO)[0]
        run_id = uow.runs.add(
            DEMO, template.model_copy(update={"id": None, "status": "queued", "result": None})
        )
        uow.runs.update(
            run_id,
            status="infeasible",
            result={
                "status": "infeasible",
                "solver": {"name": "HiGHS", "version": "1.16.0", "seconds": 0.1},
                "diagnosis": [
                    {
                        "rule": "commitment",
                        "key": ["atj-teesside/scale"],
                        "label": "contracted commitment atj-teesside/scale cannot be honoured",
                    }
                ],
            },
        )
        uow.commit()
    engine.dispose()
    items = soup(client.get(f"/missions/{DEMO}/runs/{run_id}")).select("#diagnosis li")
    text = items[0].get_text(" ", strip=True)
    assert "Teesside ethanol-to-jet (Scale: 150 kt/yr commercial plant)" in text
    assert "atj-teesside/scale" not in text


# -- B. what-if is a question, not a decision ----------------------------------------------------
def test_a_what_if_run_is_marked_everywhere_and_cannot_be_approved(inline_client, db_url: str):
    csrf = login(inline_client, "ceo")
    real_id = next(r["id"] for r in inline_client.get(f"/api/v1/missions/{DEMO}/runs").json())
    what_if = start_run(inline_client, csrf, budget_scale=1.1)
    assert (what_if["what_if"], what_if["budget_scale"]) == (True, 1.1)
    listed = inline_client.get(f"/api/v1/missions/{DEMO}/runs").json()
    assert {r["id"]: r["what_if"] for r in listed}[real_id] is False
    problem = inline_client.get(f"/api/v1/missions/{DEMO}/runs/{what_if['id']}/problem").json()
    mission = inline_client.get(f"/api/v1/missions/{DEMO}").json()
    spent = {
        (r["envelope"], r["year"]): r["spent"]
        for r in inline_client.get(f"/api/v1/missions/{DEMO}/spend").json()["by_envelope_year"]
    }
    envelope = mission["envelopes"][0]
    # the envelope at 110 %, less what it has spent this year
    assert problem["envelopes"][0]["budget"]["2026-27"] == pytest.approx(
        envelope["budget"]["2026-27"] * 1.1 - spent[(envelope["id"], "2026-27")]
    )
    label = "What-if: envelopes at 110 %"
    run_page = soup(inline_client.get(f"/missions/{DEMO}/runs/{what_if['id']}"))
    assert run_page.select_one("h1 .app-what-if").get_text(strip=True) == label
    assert run_page.select_one("#approve-link") is None
    runs_page = soup(inline_client.get(f"/missions/{DEMO}/runs"))
    row = runs_page.select_one(f'#runs a[href="/missions/{DEMO}/runs/{what_if["id"]}"]')
    assert row.find_parent("tr").select_one(".app-what-if").get_text(strip=True) == label
    compared = soup(
        inline_client.get(f"/missions/{DEMO}/runs/compare?run={real_id}&run={what_if['id']}")
    )
    budgets = compared.select_one("#compare-budgets").get_text(" ", strip=True)
    assert "The real budgets" in budgets and label in budgets
    # approval: not offered, and refused through the API and the form
    offered = inline_client.get(f"/missions/{DEMO}/runs/{what_if['id']}/approve")
    assert offered.status_code == 409 and "real budgets" in offered.text
    refused = api(
        inline_client, csrf, "POST", f"/runs/{what_if['id']}/approve", json={"reasons": {}}
    )
    assert refused.status_code == 409 and "real budgets" in refused.json()["detail"]
    form = inline_client.post(
        f"/missions/{DEMO}/runs/{what_if['id']}/approve",
        data={"csrf_token": csrf, "expected_approved": "none"},
    )
    assert form.status_code == 409
    quarter = inline_client.get(f"/api/v1/missions/{DEMO}/quarters/{CURRENT}").json()["quarter"]
    assert (quarter["state"], quarter["approved_run"]) == ("open", None)
    # Treasury's report shows a run on the real budgets, against the real budgets
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        report = allocation_report(uow, DEMO, CURRENT, "treasury")
        real = {e.id: e.total for e in uow.missions.get(DEMO).envelopes}
    engine.dispose()
    assert report.run.id != what_if["id"] and not report.run.what_if
    assert {k: v["budget"] for k, v in report.envelope_totals.items()} == real


def test_a_failed_stage_gate_leaves_the_contract_live_and_the_page_prompts_to_end_it(
    client: TestClient,
):
    csrf = login(client, "ceo")
    contract = live_contracts(client)[0]
    gate = api(
        client,
        csrf,
        "POST",
        f"/candidates/{contract['candidate']}/evidence",
        json={
            "kind": "stage_gate",
            "date": "2026-11-02",
            "summary": "Gate failed",
            "outcome": False,
            "option": contract["option"],
        },
    )
    assert gate.status_code == 201, gate.text
    still = {c["id"]: c for c in live_contracts(client)}
    assert still[contract["id"]]["failed_stage_gate"] == "2026-11-02: Gate failed"
    page = soup(client.get(f"/missions/{DEMO}/runs"))
    row = page.select_one(f'#contracts-table tr[data-contract="{contract["id"]}"]')
    assert "A stage gate failed" in row.select_one(".app-failed-gate").get_text()
