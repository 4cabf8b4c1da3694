"""Treasury approvals above the Delegated Authority Limit, which only Treasury decides, never
the person who asked; and the command line for contracts and approvals. Web, JSON API and CLI,
on SQLite and PostgreSQL."""

from __future__ import annotations

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from money_flow import CURRENT, api, soup
from support import DEMO, login
from typer.testing import CliRunner

from api.cli import app as cli
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import Candidate, Role
from portfolio.services import csvio
from portfolio.services import missions as services


# -- segregation of duties for the Delegated Authority Limit --------------------------------------
def above_dal(client: TestClient) -> list[dict]:
    dal = client.get(f"/api/v1/missions/{DEMO}").json()["dal"]
    return [
        c
        for c in client.get(f"/api/v1/missions/{DEMO}/candidates").json()
        if not c["treasury_approved"]
        and any(sum(o["cost_profile"].values()) > dal for o in c["options"])
    ]


def test_only_a_treasury_reviewer_decides_a_dal_exception_and_each_step_is_audited(
    client: TestClient,
):
    csrf = login(client, "ceo")
    candidate, other = above_dal(client)[:2]
    page_url = f"/missions/{DEMO}/candidates/{candidate['id']}"
    form = soup(client.get(page_url)).select_one("#treasury-request-form")
    assert form is not None
    action = form["action"]
    no_reason = client.post(action, data={"csrf_token": csrf, "reason": " "})
    assert no_reason.status_code == 422
    assert "Reason for asking Treasury" in soup(no_reason).select_one(".govuk-error-summary").text
    asked = client.post(
        action,
        data={"csrf_token": csrf, "reason": "Only the scale tranche reaches the target"},
        follow_redirects=False,
    )
    assert asked.status_code == 303
    page = soup(client.get(page_url))
    assert page.select_one("#treasury-request-form") is None
    assert "Waiting for Treasury" in page.select_one("#treasury-requests").get_text()
    (request,) = client.get(f"/api/v1/missions/{DEMO}/approvals").json()
    assert (request["state"], request["requested_by"], request["candidate"]) == (
        "requested",
        "ceo",
        candidate["id"],
    )
    twice = api(
        client, csrf, "POST", "/approvals", json={"candidate": candidate["id"], "reason": "x"}
    )
    assert twice.status_code == 409
    small = next(
        c["id"]
        for c in client.get(f"/api/v1/missions/{DEMO}/candidates").json()
        if all(sum(o["cost_profile"].values()) <= 50 for o in c["options"])
    )
    needless = api(client, csrf, "POST", "/approvals", json={"candidate": small, "reason": "x"})
    assert needless.status_code == 409 and "need no Treasury approval" in needless.text
    decide = f"/approvals/{request['id']}/decide"
    # the CEO and the council cannot decide; nor see the page (council)
    assert (
        api(
            client, csrf, "POST", decide, json={"decision": "approve", "reason": "mine"}
        ).status_code
        == 403
    )
    ceo_form = client.post(
        f"/missions/{DEMO}{decide}", data={"csrf_token": csrf, "decision": "approve", "reason": "x"}
    )
    assert ceo_form.status_code == 403
    council = login(client, "council1")
    assert client.get(f"/missions/{DEMO}/approvals").status_code == 403
    assert (
        api(
            client, council, "POST", decide, json={"decision": "approve", "reason": "x"}
        ).status_code
        == 403
    )
    nav = soup(client.get(f"/missions/{DEMO}")).select_one("#navigation").get_text()
    assert "Approvals" not in nav

    treasury = login(client, "treasury")
    nav = soup(client.get(f"/missions/{DEMO}")).select_one("#navigation").get_text()
    assert "Approvals" in nav
    listing = soup(client.get(f"/missions/{DEMO}/approvals"))
    card = listing.select_one(f'[data-approval="{request["id"]}"]')
    assert card["data-candidate"] == candidate["id"]
    assert candidate["name"] in card.get_text()
    action = card.select_one("form")["action"]
    no_reason = client.post(action, data={"csrf_token": treasury, "decision": "approve"})
    assert no_reason.status_code == 422
    assert "Reason for the decision" in soup(no_reason).select_one(".govuk-error-summary").text
    approved = client.post(
        action,
        data={"csrf_token": treasury, "decision": "approve", "reason": "Value for money shown"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    stored = client.get(f"/api/v1/missions/{DEMO}/candidates/{candidate['id']}").json()
    assert stored["treasury_approved"] is True
    again = client.post(
        action, data={"csrf_token": treasury, "decision": "refuse", "reason": "Changed my mind"}
    )
    assert again.status_code == 409
    audit = client.get(f"/api/v1/missions/{DEMO}/audit?limit=20").json()
    actions = [(e["entity"], e["entity_id"], e["action"], e["actor"]) for e in audit]
    assert ("candidate", candidate["id"], "treasury approved", "treasury") in actions
    assert ("treasury_approval", str(request["id"]), "approved", "treasury") in actions
    assert ("treasury_approval", str(request["id"]), "requested", "ceo") in actions

    # a refusal leaves the candidate unapproved
    csrf = login(client, "ceo")
    second = api(
        client, csrf, "POST", "/approvals", json={"candidate": other["id"], "reason": "Scale"}
    )
    assert second.status_code == 201, second.text
    treasury = login(client, "treasury")
    refused = api(
        client,
        treasury,
        "POST",
        f"/approvals/{second.json()['id']}/decide",
        json={"decision": "refuse", "reason": "Cost case not made"},
    )
    assert refused.status_code == 200 and refused.json()["state"] == "refused"
    assert refused.json()["decision_reason"] == "Cost case not made"
    stored = client.get(f"/api/v1/missions/{DEMO}/candidates/{other['id']}").json()
    assert stored["treasury_approved"] is False


def test_a_person_cannot_decide_their_own_request_even_holding_both_roles(
    client: TestClient, db_url: str
):
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        services.assign_role(uow, "admin", DEMO, "ceo", Role.treasury_reviewer)
        uow.commit()
    engine.dispose()
    csrf = login(client, "ceo")
    candidate = above_dal(client)[0]
    asked = api(
        client, csrf, "POST", "/approvals", json={"candidate": candidate["id"], "reason": "x"}
    )
    assert asked.status_code == 201
    own = api(
        client,
        csrf,
        "POST",
        f"/approvals/{asked.json()['id']}/decide",
        json={"decision": "approve", "reason": "Looks fine to me"},
    )
    assert own.status_code == 403 and "cannot decide" in own.json()["detail"]
    stored = client.get(f"/api/v1/missions/{DEMO}/candidates/{candidate['id']}").json()
    assert stored["treasury_approved"] is False


def form_values(page: BeautifulSoup) -> dict[str, object]:
    data: dict[str, object] = {
        i["name"]: i.get("value", "")
        for i in page.select("form#candidate-form input, form input")
        if i.get("type") not in ("checkbox", "radio") and i.get("name")
    }
    data.update({t["name"]: t.get_text() for t in page.select("form textarea")})
    for box in page.select("form input[type=checkbox][checked]"):
        data.setdefault(box["name"], [])
        data[box["name"]].append(box["value"])  # type: ignore[union-attr]
    for radio in page.select("form input[type=radio][checked]"):
        data[radio["name"]] = radio["value"]
    for option in page.select("form select option[selected]"):
        data[option.find_parent("select")["name"]] = option["value"]
    return data


def test_the_ceo_cannot_set_treasury_approved_through_the_form_the_api_or_a_csv(
    client: TestClient,
):
    csrf = login(client, "ceo")
    candidate = above_dal(client)[0]
    cid = candidate["id"]
    edit_page = soup(client.get(f"/missions/{DEMO}/candidates/{cid}/edit"))
    assert edit_page.select_one("[name=treasury_approved]") is None
    data = form_values(edit_page)
    data.update({"csrf_token": csrf, "treasury_approved": "on"})
    edited = client.post(
        f"/missions/{DEMO}/candidates/{cid}/edit", data=data, follow_redirects=False
    )
    assert edited.status_code == 303
    assert (
        client.get(f"/api/v1/missions/{DEMO}/candidates/{cid}").json()["treasury_approved"] is False
    )

    put = api(
        client, csrf, "PUT", f"/candidates/{cid}", json={**candidate, "treasury_approved": True}
    )
    assert put.status_code == 422
    assert [e["field"] for e in put.json()["errors"]] == ["treasury_approved"]
    new = {**candidate, "id": "approved-by-me", "treasury_approved": True, "registered_by": None}
    created = api(client, csrf, "POST", "/candidates", json=new)
    assert (
        created.status_code == 422 and created.json()["errors"][0]["field"] == "treasury_approved"
    )
    assert client.get(f"/api/v1/missions/{DEMO}/candidates/approved-by-me").status_code == 404

    years = client.get(f"/api/v1/missions/{DEMO}").json()["years"]
    text = csvio.candidates_to_csv([Candidate.model_validate(candidate)], years)
    lines = text.splitlines()
    lines[0] += ",treasury_approved"
    lines[1:] = [line + ",true" for line in lines[1:] if line]
    upload = client.post(
        f"/missions/{DEMO}/import/candidates",
        data={"csrf_token": csrf},
        files={"file": ("candidates.csv", ("\r\n".join(lines) + "\r\n").encode(), "text/csv")},
    )
    assert upload.status_code == 422 and "treasury_approved" in upload.text
    assert (
        client.get(f"/api/v1/missions/{DEMO}/candidates/{cid}").json()["treasury_approved"] is False
    )

    # an approved candidate keeps its approval when the CEO edits it, through the form or the API
    approved = next(
        c
        for c in client.get(f"/api/v1/missions/{DEMO}/candidates").json()
        if c["treasury_approved"]
    )
    body = {k: v for k, v in approved.items() if k != "treasury_approved"}
    body["name"] = approved["name"] + " (renamed)"
    kept = api(client, csrf, "PUT", f"/candidates/{approved['id']}", json=body)
    assert kept.status_code == 200 and kept.json()["treasury_approved"] is True
    dropped = api(
        client,
        csrf,
        "PUT",
        f"/candidates/{approved['id']}",
        json={**approved, "treasury_approved": False},
    )
    assert dropped.status_code == 422


# -- the command line ----------------------------------------------------------------------------
def test_the_cli_lists_and_ends_contracts_and_asks_and_decides_treasury_approvals(db_url: str):
    def run(*args: str):
        return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": db_url})

    listed = run("contracts", "list", DEMO)
    assert listed.exit_code == 0, listed.output
    first = listed.output.splitlines()[0]
    contract_id = first.split()[0]
    assert "since 2025-26 Q3" in first
    no_reason = run("contracts", "end", DEMO, contract_id, "--reason", " ", "--as", "ceo")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    not_ceo = run("contracts", "end", DEMO, contract_id, "--reason", "x", "--as", "council1")
    assert not_ceo.exit_code == 2 and "Mission CEO" in not_ceo.output
    ended = run(
        "contracts",
        "end",
        DEMO,
        contract_id,
        "--reason",
        "Site lost",
        "--break-cost",
        "1.25",
        "--as",
        "ceo",
    )
    assert ended.exit_code == 0, ended.output
    assert "break cost of £1.25m" in ended.output
    assert not any(
        line.split()[0] == contract_id
        for line in run("contracts", "list", DEMO).output.splitlines()
    )
    everything = run("contracts", "list", DEMO, "--all").output
    assert f"[ended in {CURRENT}]" in everything

    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        mission = uow.missions.get(DEMO)
        candidate = next(
            c
            for c in uow.candidates.all(DEMO)
            if not c.treasury_approved and any(o.total_cost > mission.dal for o in c.options)
        )
    asked = run(
        "approvals", "request", DEMO, candidate.id, "--reason", "Scale needed", "--as", "ceo"
    )
    assert asked.exit_code == 0, asked.output
    (line,) = run("approvals", "list", DEMO).output.splitlines()
    approval_id = line.split()[0]
    assert "requested" in line and candidate.name in line
    by_ceo = run(
        "approvals", "decide", DEMO, approval_id, "approve", "--reason", "x", "--as", "ceo"
    )
    assert by_ceo.exit_code == 2 and "Treasury reviewer" in by_ceo.output
    decided = run(
        "approvals", "decide", DEMO, approval_id, "approve", "--reason", "Fine", "--as", "treasury"
    )
    assert decided.exit_code == 0, decided.output
    with SqlUnitOfWork(engine) as uow:
        assert uow.candidates.get(DEMO, candidate.id).treasury_approved is True
    engine.dispose()
