"""The Expert Council in the web and the API: blind scoring, the round, flags, calibration, seed
questions and challenges — and the aggregates reaching the optimiser's problem file."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login

from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.services import ledger
from portfolio.services.runs import export_problem

QUARTER = "2026-27 Q3"
# council6 has not scored the current quarter in the demo; lh2-tank has one option (explore…)


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def option_ids(client: TestClient, candidate: str) -> list[str]:
    return [
        o["id"]
        for o in client.get(f"/api/v1/missions/{DEMO}/candidates/{candidate}").json()["options"]
    ]


def full_scores(options: list[str]) -> dict[str, str]:
    data = {}
    for i, _ in enumerate(options):
        p = f"options.{i}"
        data.update(
            {
                f"{p}.p_success": "0.4",
                f"{p}.trl": "4",
                f"{p}.confidence": "medium",
                f"{p}.cost.low": "5",
                f"{p}.cost.most_likely": "7",
                f"{p}.cost.high": "12",
                f"{p}.impact.low": "0.1",
                f"{p}.impact.most_likely": "0.4",
                f"{p}.impact.high": "1",
                f"{p}.rationale": "test",
            }
        )
    return data


def version_on_page(client: TestClient, candidate: str) -> str:
    """The version the scoring form was opened on (its hidden field, which it must send)."""
    page = soup(client.get(f"/missions/{DEMO}/scoring/{candidate}"))
    return page.select_one("input[name=version]")["value"]


def my_etag(client: TestClient, candidate: str) -> str:
    """The ETag of the caller's own scores of ``candidate``: a PUT must send it in If-Match."""
    return client.get(f"/api/v1/missions/{DEMO}/scoring/{candidate}/mine").headers["ETag"]


def test_others_scores_stay_hidden_until_the_member_submits_web_and_api(client: TestClient):
    csrf = login(client, "council6")
    page = soup(client.get(f"/missions/{DEMO}/scoring/lh2-tank"))
    assert page.select_one("#blind-notice") is not None
    assert page.select_one("#member-scores") is None
    api = client.get(f"/api/v1/missions/{DEMO}/scoring/lh2-tank")
    assert api.status_code == 403
    assert client.get(f"/api/v1/missions/{DEMO}/aggregates").json() == [
        a
        for a in client.get(f"/api/v1/missions/{DEMO}/aggregates").json()
        if a["candidate"] != "lh2-tank"
    ]
    options = option_ids(client, "lh2-tank")
    response = client.post(
        f"/missions/{DEMO}/scoring/lh2-tank",
        data={
            **full_scores(options),
            "action": "submit",
            "csrf_token": csrf,
            "version": version_on_page(client, "lh2-tank"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = soup(client.get(f"/missions/{DEMO}/scoring/lh2-tank"))
    assert page.select_one("#blind-notice") is None
    members = page.select_one("#member-scores").get_text(" ", strip=True)
    # members named as people read them (council1 and council6 of the demo)
    assert "Dr Asha Patel" in members and "Dr Kwame Asante-Boateng" in members
    assert page.select_one("#candidate-aggregate") is not None
    api = client.get(f"/api/v1/missions/{DEMO}/scoring/lh2-tank")
    assert api.status_code == 200
    assert {s["member"] for s in api.json()["scores"]} >= {"council1", "council6"}


def test_a_draft_can_be_partial_but_a_submission_must_be_complete_and_is_final(
    client: TestClient,
):
    csrf = login(client, "council6")
    options = option_ids(client, "ev-trainer")
    draft = {
        "options.0.p_success": "0.3",
        "action": "draft",
        "csrf_token": csrf,
        "version": version_on_page(client, "ev-trainer"),
    }
    assert (
        client.post(
            f"/missions/{DEMO}/scoring/ev-trainer", data=draft, follow_redirects=False
        ).status_code
        == 303
    )
    assert (
        client.get(f"/api/v1/missions/{DEMO}/scoring").json()["my_status"]["ev-trainer"] == "draft"
    )
    draft["version"] = version_on_page(client, "ev-trainer")
    incomplete = client.post(
        f"/missions/{DEMO}/scoring/ev-trainer", data={**draft, "action": "submit"}
    )
    assert incomplete.status_code == 422
    summary = soup(incomplete).select_one(".govuk-error-summary").get_text(" ", strip=True)
    # named as the form labels the field, under its option's name
    assert "Explore: fleet trial at two flying schools — Total cost (£m): required to submit" in (
        summary
    )
    assert soup(incomplete).select_one("#f-options-0-p_success")["value"] == "0.3"
    complete = {
        **full_scores(options),
        "action": "submit",
        "csrf_token": csrf,
        "version": draft["version"],
    }
    assert (
        client.post(
            f"/missions/{DEMO}/scoring/ev-trainer", data=complete, follow_redirects=False
        ).status_code
        == 303
    )
    again = client.put(
        f"/api/v1/missions/{DEMO}/scoring/ev-trainer",
        headers={"X-CSRF-Token": csrf, "If-Match": my_etag(client, "ev-trainer")},
        json={"submit": True, "options": {options[0]: {"p_success": 0.9}}},
    )
    assert again.status_code == 409
    assert "final" in again.json()["detail"]


def test_a_member_may_declare_themselves_not_competent(client: TestClient):
    csrf = login(client, "council6")
    response = client.put(
        f"/api/v1/missions/{DEMO}/scoring/lh2-tank",
        headers={"X-CSRF-Token": csrf, "If-Match": my_etag(client, "lh2-tank")},
        json={"submit": True, "not_competent": True},
    )
    assert response.status_code == 200
    # the same status as the scoring page shows (one definition: council.my_status)
    assert response.json()["my_status"]["lh2-tank"] == "not competent"
    page = soup(client.get(f"/missions/{DEMO}/scoring"))
    row = next(r for r in page.select("#my-scores tr") if "lh2-tank" in str(r))
    assert "Not competent" in row.get_text()
    scores = client.get(f"/api/v1/missions/{DEMO}/scoring/lh2-tank").json()["scores"]
    mine = [s for s in scores if s["member"] == "council6"]
    assert mine and all(s["not_competent"] for s in mine)


def test_the_ceo_sees_flags_for_disagreement_single_sector_and_few_scorers(client: TestClient):
    login(client, "ceo")
    table = soup(client.get(f"/missions/{DEMO}/scoring")).select_one("#aggregates")
    dac = " ".join(
        r.get_text(" ", strip=True)
        for r in table.select('tr[data-candidate="dac-fischer-tropsch"]')
    )
    assert "Large disagreement" in dac
    tank = " ".join(
        r.get_text(" ", strip=True) for r in table.select('tr[data-candidate="lh2-tank"]')
    )
    assert "Single sector" in tank and "Few scorers" in tank
    assert "Academia" in tank


def test_treasury_reads_aggregates_but_cannot_score_or_run_the_round(client: TestClient):
    csrf = login(client, "treasury")
    assert client.get(f"/api/v1/missions/{DEMO}/scoring/lh2-tank").status_code == 200
    assert (
        client.post(f"/missions/{DEMO}/scoring/close", data={"csrf_token": csrf}).status_code == 403
    )
    assert (
        client.put(
            f"/api/v1/missions/{DEMO}/scoring/lh2-tank", headers={"X-CSRF-Token": csrf}, json={}
        ).status_code
        == 403
    )


def test_closing_the_round_freezes_aggregates_that_the_problem_file_then_uses(
    client: TestClient,
    db_url: str,
):
    csrf = login(client, "ceo")
    live = {
        (a["candidate"], a["option"]): a["aggregate"]
        for a in client.get(f"/api/v1/missions/{DEMO}/aggregates").json()
    }
    assert (
        client.post(
            f"/api/v1/missions/{DEMO}/scoring/close", headers={"X-CSRF-Token": csrf}
        ).json()["state"]
        == "closed"
    )
    again = client.post(f"/api/v1/missions/{DEMO}/scoring/close", headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409
    reopen = client.post(f"/api/v1/missions/{DEMO}/scoring/open", headers={"X-CSRF-Token": csrf})
    assert reopen.status_code == 409
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        problem = export_problem(uow, DEMO)
        frozen = {(a.candidate, a.option): a.data for a in uow.aggregates.all(DEMO, QUARTER)}
        spent_on = ledger.spent(uow, DEMO).by_option
    engine.dispose()
    assert frozen
    with_evidence = {e["candidate"] for e in evidence_of(client)}
    checked = 0
    for candidate in problem["candidates"]:
        for option in candidate["options"]:
            key = (candidate["id"], option["id"])
            assert key in frozen
            assert option["impact"]["mode"] == frozen[key]["impact"]["most_likely"]
            if candidate["id"] not in with_evidence:  # evidence would update p and cost
                assert option["p_success"] == frozen[key]["p"] == live[key]["p"]
                # what was spent leaves only the rest of the council's cost to plan
                assert option["cost_range"]["mode"] == pytest.approx(
                    max(0.0, frozen[key]["cost"]["most_likely"] - spent_on.get(key, 0.0))
                )
                checked += 1
    assert checked > 10
    traced = next(iter(frozen.values()))["contributions"]
    assert traced and {"member", "weight", "p"} <= set(traced[0])


def evidence_of(client: TestClient) -> list[dict]:
    return client.get(f"/api/v1/missions/{DEMO}/evidence").json()


def test_changing_the_aggregation_method_is_audited(client: TestClient):
    csrf = login(client, "ceo")
    response = client.post(
        f"/missions/{DEMO}/scoring/method",
        data={"method": "classical", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    entry = client.get(f"/api/v1/missions/{DEMO}/audit").json()[0]
    assert entry["before"] == {"aggregation": "equal"}
    assert entry["after"] == {"aggregation": "classical"}
    assert client.get(f"/api/v1/missions/{DEMO}/scoring").json()["method"] == "classical"


def test_the_calibration_page_shows_resolved_forecasts_and_the_brier_score(client: TestClient):
    login(client, "council2")
    page = soup(client.get(f"/missions/{DEMO}/council/members/council1"))
    rows = page.select("#forecasts tbody tr")
    assert len(rows) >= 2
    assert (
        "succeeded" in page.select_one("#forecasts").get_text()
        or "failed" in page.select_one("#forecasts").get_text()
    )
    brier = float(page.select_one("#brier").get_text(strip=True))
    assert 0 <= brier <= 1
    assert page.select_one("#calibration-chart") is not None
    records = soup(client.get(f"/missions/{DEMO}/council")).select("#council-records tbody tr")
    assert len(records) == 7


def test_seed_questions_show_the_classical_model_and_members_answer_open_ones(
    client: TestClient,
):
    csrf = login(client, "council3")
    page = soup(client.get(f"/missions/{DEMO}/council/seeds"))
    assert len(page.select("#classical-results tbody tr")) == 8  # 7 members + decision maker
    response = client.post(
        f"/missions/{DEMO}/council/seeds/answers",
        data={
            "saf-share-2030.q5": "5",
            "saf-share-2030.q50": "9",
            "saf-share-2030.q95": "14",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    bad = client.post(
        f"/missions/{DEMO}/council/seeds/answers",
        data={
            "saf-share-2030.q5": "9",
            "saf-share-2030.q50": "5",
            "saf-share-2030.q95": "14",
            "csrf_token": csrf,
        },
    )
    assert bad.status_code == 422 and "q5 &lt; q50 &lt; q95" in bad.text
    csrf = login(client, "ceo")
    assert (
        client.post(
            f"/missions/{DEMO}/council/seeds/saf-share-2030/realization",
            data={"realization": "10.5", "csrf_token": csrf},
            follow_redirects=False,
        ).status_code
        == 303
    )
    page = soup(client.get(f"/missions/{DEMO}/council/seeds"))
    assert "10.5" in page.select_one("#seed-questions").get_text()


def test_a_member_challenges_a_candidate_and_the_ceo_replies(client: TestClient):
    csrf = login(client, "council5")
    response = client.post(
        f"/missions/{DEMO}/candidates/ev-trainer/challenges",
        data={"text": "Battery degradation is ignored.", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = soup(client.get(f"/missions/{DEMO}/candidates/ev-trainer"))
    form = page.select_one("#challenges ~ .app-challenge form")
    assert form is None  # members cannot reply
    csrf = login(client, "ceo")
    page = soup(client.get(f"/missions/{DEMO}/candidates/ev-trainer"))
    action = page.select(".app-challenge form")[-1]["action"]
    client.post(action, data={"reply": "We will ask for cycle-life data.", "csrf_token": csrf})
    text = soup(client.get(f"/missions/{DEMO}/candidates/ev-trainer")).get_text(" ")
    assert "Battery degradation is ignored." in text and "cycle-life data" in text
    actions = [
        (e["entity"], e["action"]) for e in client.get(f"/api/v1/missions/{DEMO}/audit").json()[:2]
    ]
    assert actions == [("challenge", "replied"), ("challenge", "created")]


def test_a_council_member_sees_only_aggregates_of_candidates_they_submitted(client: TestClient):
    login(client, "council6")
    page = soup(client.get(f"/missions/{DEMO}/scoring"))
    assert not page.select("#aggregates tr[data-candidate]")
    login(client, "council1")  # has submitted everything in the demo
    page = soup(client.get(f"/missions/{DEMO}/scoring"))
    assert len({r["data-candidate"] for r in page.select("#aggregates tr[data-candidate]")}) > 10
