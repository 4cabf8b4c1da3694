"""The quarterly cycle end to end: evidence and belief, approval, RAG, dissent, the update, closing
into a hash-chained audit pack, the public page, and what carries into the next quarter."""

from __future__ import annotations

import io
import itertools
import json
import zipfile

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from optimiser.problem import load_problem
from optimiser.solve import solve
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork

CURRENT = "2026-27 Q3"


@pytest.fixture
def inline_client(db_url: str):
    app = create_app(Settings(database_url=db_url, secret_key="x" * 40, run_jobs_inline=True))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def api(client: TestClient, csrf: str, method: str, path: str, **kwargs):
    return client.request(
        method, f"/api/v1/missions/{DEMO}{path}", headers={"X-CSRF-Token": csrf}, **kwargs
    )


def run_and_approve(client: TestClient, csrf: str, **policy) -> int:
    overrides = dict.fromkeys(
        [*policy.get("locks", []), *policy.get("exclusions", [])], "test override"
    )
    started = api(
        client,
        csrf,
        "POST",
        "/runs",
        json={
            "policy": {"objective": "expected", "min_platforms": 3, **policy},
            "scenarios": 300,
            "overrides": overrides,
        },
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    changes = client.get(f"/missions/{DEMO}/runs/{run_id}/approve")
    assert changes.status_code == 200
    page = soup(changes)
    reasons = {row["data-candidate"]: "test reason" for row in page.select("#changes tbody tr")}
    approved = api(
        client,
        csrf,
        "POST",
        f"/runs/{run_id}/approve",
        json={"reasons": reasons, "contracted": list(reasons)[:1]},
    )
    assert approved.status_code == 200, approved.text
    return run_id


def test_the_demo_holds_four_closed_quarters_and_an_open_one_with_content(client: TestClient):
    login(client, "ceo")
    quarters = client.get(f"/api/v1/missions/{DEMO}/quarters").json()
    assert [(q["label"], q["state"]) for q in quarters] == [
        ("2025-26 Q3", "closed"),
        ("2025-26 Q4", "closed"),
        ("2026-27 Q1", "closed"),
        ("2026-27 Q2", "closed"),
        (CURRENT, "open"),
    ]
    assert all(q["pack_hash"] for q in quarters[:4])
    for earlier, later in itertools.pairwise(quarters[:4]):
        assert later["pack_previous_hash"] == earlier["pack_hash"]
    assert client.get(f"/api/v1/missions/{DEMO}/runs").json()
    page = soup(client.get(f"/missions/{DEMO}"))
    assert len(page.select("#quarters tbody tr")) == 5
    assert page.select_one("#trajectory-chart") is not None


def test_recording_a_missed_milestone_lowers_the_posterior_on_the_candidate_page(
    client: TestClient,
):
    csrf = login(client, "council2")
    before = client.get(f"/missions/{DEMO}/candidates/ev-trainer")
    p_before = float(soup(before).select_one(".app-posterior").get_text())
    response = client.post(
        f"/missions/{DEMO}/candidates/ev-trainer/evidence",
        data={
            "kind": "milestone_missed",
            "summary": "Battery pack failed thermal test",
            "date": "2026-11-10",
            "diagnosticity": "2",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = soup(client.get(f"/missions/{DEMO}/candidates/ev-trainer"))
    assert float(page.select_one(".app-posterior").get_text()) < p_before
    assert "Battery pack failed thermal test" in page.get_text()
    recorded = client.get(f"/api/v1/missions/{DEMO}/evidence?candidate=ev-trainer").json()[-1]
    assert (recorded["quarter"], recorded["recorded_by"]) == (CURRENT, "council2")


def test_cost_actuals_uplift_the_remaining_cost_and_a_failed_gate_proposes_stopping(
    client: TestClient,
):
    csrf = login(client, "ceo")
    api(
        client,
        csrf,
        "POST",
        "/candidates/lh2-tank/evidence",
        json={
            "kind": "cost_actuals",
            "date": "2026-11-01",
            "summary": "Spend to date",
            "cost_actual": 6.0,
            "cost_planned": 4.0,
        },
    )
    outlook = (
        soup(client.get(f"/missions/{DEMO}/candidates/lh2-tank"))
        .select_one("#cost-outlook")
        .get_text(" ", strip=True)
    )
    assert "uplift × 1.5" in outlook
    # Issue 18: a failed gate is evidence (10 milestones × its diagnosticity), no longer p = 0.01.
    # The council holds lh2-tank's demonstrate option with high confidence (n0 = 10, p 0.22 after
    # the missed milestone), so it takes a decisive gate (diagnosticity 2: 2.65 / (12 + 20) =
    # 0.083) to bring every option below the kill threshold of 0.1.
    gate = api(
        client,
        csrf,
        "POST",
        "/candidates/lh2-tank/evidence",
        json={
            "kind": "stage_gate",
            "date": "2026-11-02",
            "summary": "Gate failed",
            "outcome": False,
            "diagnosticity": 2,
        },
    )
    assert gate.status_code == 201
    page = soup(client.get(f"/missions/{DEMO}/candidates/lh2-tank"))
    assert page.select_one("#kill-proposal") is not None
    dashboard = soup(client.get(f"/missions/{DEMO}")).select_one("#stop-proposals")
    assert dashboard is not None and "lh2" in str(dashboard)


def test_bad_evidence_names_the_field_and_writes_nothing(client: TestClient):
    csrf = login(client, "ceo")
    before = len(client.get(f"/api/v1/missions/{DEMO}/evidence").json())
    bad = api(
        client,
        csrf,
        "POST",
        "/candidates/lh2-tank/evidence",
        json={"kind": "cost_actuals", "date": "2026-11-01", "summary": "x"},
    )
    assert bad.status_code == 422 and "cost_actual" in bad.text
    form = client.post(
        f"/missions/{DEMO}/candidates/lh2-tank/evidence",
        data={"kind": "trl_change", "summary": "up", "trl": "12", "csrf_token": csrf},
    )
    assert form.status_code == 422
    assert (
        "Trl" in soup(form).select_one(".govuk-error-summary").get_text()
        or "TRL" in soup(form).select_one(".govuk-error-summary").get_text()
    )
    assert len(client.get(f"/api/v1/missions/{DEMO}/evidence").json()) == before


def test_approval_needs_a_reason_for_each_start_scale_and_stop(inline_client):
    csrf = login(inline_client, "ceo")
    run_id = api(
        inline_client,
        csrf,
        "POST",
        "/runs",
        json={"policy": {"objective": "expected"}, "scenarios": 300},
    ).json()["id"]
    refused = api(inline_client, csrf, "POST", f"/runs/{run_id}/approve", json={})
    assert refused.status_code == 422
    assert any(e["field"].startswith("reason.") for e in refused.json()["errors"])
    quarter = inline_client.get(f"/api/v1/missions/{DEMO}/quarters/{CURRENT}").json()
    assert quarter["quarter"]["state"] == "open"


def test_rag_follows_the_thresholds_and_the_ceo_may_override_with_a_reason(inline_client):
    csrf = login(inline_client, "ceo")
    run_and_approve(inline_client, csrf)
    view = inline_client.get(f"/api/v1/missions/{DEMO}/quarters/{CURRENT}").json()["quarter"]
    run = inline_client.get(f"/api/v1/missions/{DEMO}/runs/{view['approved_run']}").json()
    p = run["result"]["metrics"]["out_of_sample"]["p_target"]
    expected = "green" if p >= 0.7 else "amber" if p >= 0.4 else "red"
    assert view["rag"] == expected
    no_reason = api(inline_client, csrf, "POST", "/quarter/rag", json={"rag": "red"})
    assert no_reason.status_code == 422
    ok = api(
        inline_client,
        csrf,
        "POST",
        "/quarter/rag",
        json={"rag": "red", "reason": "Supply chain risk not in the model"},
    )
    assert ok.json()["quarter"]["rag_override"] == "red"
    assert ok.json()["quarter"]["rag"] == expected


def test_illegal_transitions_of_the_quarter_are_refused(inline_client):
    csrf = login(inline_client, "ceo")
    # open: no rating, no update, no closing
    assert (
        api(
            inline_client, csrf, "POST", "/quarter/rag", json={"rag": "red", "reason": "x"}
        ).status_code
        == 409
    )
    assert (
        api(
            inline_client, csrf, "PUT", "/quarter/update", json={"body": "text", "publish": True}
        ).status_code
        == 409
    )
    assert api(inline_client, csrf, "POST", "/quarter/close").status_code == 409
    csrf_member = login(inline_client, "council1")
    assert (
        api(inline_client, csrf_member, "POST", "/quarter/dissent", json={"text": "no"}).status_code
        == 409
    )
    csrf = login(inline_client, "ceo")
    run_and_approve(inline_client, csrf)
    # approved but not published: cannot close
    assert api(inline_client, csrf, "POST", "/quarter/close").status_code == 409
    # a failed run cannot be approved
    bad = api(
        inline_client,
        csrf,
        "POST",
        "/runs",
        json={"policy": {"objective": "expected", "min_platforms": 40}, "scenarios": 300},
    ).json()
    assert (
        api(inline_client, csrf, "POST", f"/runs/{bad['id']}/approve", json={}).status_code == 409
    )


def close_current(client: TestClient, csrf: str) -> dict:
    draft = api(client, csrf, "GET", "/quarter/draft-update").json()["body"]
    assert (
        api(
            client, csrf, "PUT", "/quarter/update", json={"body": draft, "publish": True}
        ).status_code
        == 200
    )
    closed = api(client, csrf, "POST", "/quarter/close")
    assert closed.status_code == 200, closed.text
    return closed.json()


def test_a_whole_quarter_closes_into_a_pack_that_reproduces_the_allocation_exactly(
    inline_client,
    db_url: str,
    tmp_path,
):
    csrf = login(inline_client, "ceo")
    run_id = run_and_approve(inline_client, csrf)
    csrf_member = login(inline_client, "council3")
    assert (
        api(
            inline_client,
            csrf_member,
            "POST",
            "/quarter/dissent",
            json={"text": "Too little on contrails."},
        ).status_code
        == 200
    )
    csrf = login(inline_client, "ceo")
    closed = close_current(inline_client, csrf)
    assert closed["quarter"]["state"] == "closed"
    quarters = inline_client.get(f"/api/v1/missions/{DEMO}/quarters").json()
    assert quarters[-1]["label"] == "2026-27 Q4" and quarters[-1]["state"] == "open"
    assert quarters[2]["pack_previous_hash"] == quarters[1]["pack_hash"]
    # the pack zip holds the problem file; re-solving it gives exactly the approved allocation
    pack = inline_client.get(f"/missions/{DEMO}/quarters/{CURRENT}/audit-pack.zip")
    assert pack.status_code == 200
    with zipfile.ZipFile(io.BytesIO(pack.content)) as z:
        problem = json.loads(z.read("problem.json"))
        result = json.loads(z.read("result.json"))
        content = json.loads(z.read("pack.json"))
    assert content["dissents"][0]["text"] == "Too little on contrails."
    again = solve(load_problem(problem)).model_dump(mode="json")
    assert again["selected"] == result["selected"]
    # the pack names the software that solved it, so a later re-solve can say if it differs
    assert content["run"]["software"] == result["solver"]["environment"]
    assert set(content["run"]["software"]) >= {"mission-portfolio", "python", "numpy", "pulp"}
    assert again["solver"]["environment"] == content["run"]["software"]
    assert again["funding"] == result["funding"]
    stored = inline_client.get(f"/api/v1/missions/{DEMO}/runs/{run_id}").json()["result"]
    assert stored["selected"] == again["selected"]
    # the chain verifies from the CLI
    verified = (
        CliRunner().invoke(cli, ["verify", DEMO, *_db_args(db_url)])
        if db_url.startswith("sqlite")
        else None
    )
    if verified is not None:
        assert verified.exit_code == 0, verified.output


def _db_args(url: str) -> list[str]:
    return ["--db", url.removeprefix("sqlite:///")]


def test_a_closed_quarter_is_frozen(inline_client):
    csrf = login(inline_client, "ceo")
    run_and_approve(inline_client, csrf)
    close_current(inline_client, csrf)
    # nothing about Q3 can change any more
    old_run = inline_client.get(f"/api/v1/missions/{DEMO}/quarters/{CURRENT}").json()["quarter"][
        "approved_run"
    ]
    assert api(inline_client, csrf, "POST", f"/runs/{old_run}/approve", json={}).status_code == 409
    page = inline_client.post(
        f"/missions/{DEMO}/quarters/{CURRENT}/rag",
        data={"rag": "red", "rag_reason": "x", "csrf_token": csrf},
    )
    assert page.status_code == 422 and "closed" in page.text
    update = inline_client.post(
        f"/missions/{DEMO}/quarters/{CURRENT}/update",
        data={"body": "rewrite", "action": "publish", "csrf_token": csrf},
    )
    assert update.status_code == 422
    trajectory = inline_client.get(f"/api/v1/missions/{DEMO}/trajectory").json()
    changed = [
        {**p, "planned_p_target": 0.01} if p["quarter"] == CURRENT else p for p in trajectory
    ]
    assert api(inline_client, csrf, "PUT", "/trajectory", json=changed).status_code == 409


def test_commitments_and_the_switching_cost_reach_the_next_quarters_problem(inline_client):
    csrf = login(inline_client, "ceo")
    run_id = run_and_approve(inline_client, csrf)
    contracted = [
        c
        for c in inline_client.get(f"/api/v1/missions/{DEMO}/quarters/{CURRENT}").json()["changes"]
        if c["contracted"]
    ]
    # the award ticked now joins the live contracts of earlier quarters; none is dropped
    live = inline_client.get(f"/api/v1/missions/{DEMO}/contracts?state=live").json()
    assert len(live) > 1
    assert {c["candidate"] for c in contracted} == {c["candidate"] for c in live}
    option_of = {x["candidate"]: x["option"] for x in live}
    assert all(c["option_after"] == option_of[c["candidate"]] for c in contracted)
    funded = inline_client.get(f"/api/v1/missions/{DEMO}/runs/{run_id}").json()["result"][
        "selected"
    ]
    close_current(inline_client, csrf)
    started = api(
        inline_client,
        csrf,
        "POST",
        "/runs",
        json={"policy": {"objective": "expected", "switching_cost": 0.3}, "scenarios": 300},
    ).json()
    problem = inline_client.get(f"/api/v1/missions/{DEMO}/runs/{started['id']}/problem").json()
    assert problem["policy"]["commitments"] == sorted(
        f"{c['candidate']}/{c['option_after']}" for c in contracted
    )
    assert problem["policy"]["previous"] == funded
    assert problem["policy"]["switching_cost"] == 0.3
    result = inline_client.get(f"/api/v1/missions/{DEMO}/runs/{started['id']}").json()["result"]
    for c in contracted:
        assert result["selected"][c["candidate"]] == c["option_after"]


def test_the_published_update_is_public_with_open_data_and_hides_sensitive_names(
    inline_client,
    db_url: str,
):
    csrf = login(inline_client, "ceo")
    run_and_approve(inline_client, csrf, locks=["fc-regional-19"])
    computed = api(inline_client, csrf, "POST", "/quarter/rag", json={"rag": None}).json()
    # an override equal to the computed rating is no override: choose one that differs
    other = "red" if computed["quarter"]["rag"] != "red" else "amber"
    rated = api(
        inline_client, csrf, "POST", "/quarter/rag", json={"rag": other, "reason": "Caution"}
    )
    assert rated.json()["quarter"]["rag_reason"] == "Caution", rated.text
    close_current(inline_client, csrf)
    inline_client.post("/logout", data={"csrf_token": csrf})
    inline_client.cookies.clear()
    page = inline_client.get(f"/missions/{DEMO}/updates/2026-27-Q3")
    assert page.status_code == 200
    text = soup(page).get_text(" ")
    assert "Delivery confidence" in text and "Caution" in text
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        sensitive = [c for c in uow.candidates.all(DEMO) if c.commercially_sensitive]
    engine.dispose()
    data = inline_client.get(f"/missions/{DEMO}/updates/2026-27-Q3/allocation.json").json()
    csv = inline_client.get(f"/missions/{DEMO}/updates/2026-27-Q3/allocation.csv").text
    for c in sensitive:
        for shown in (text, csv, json.dumps(data)):
            assert c.name not in shown and c.organisation not in shown
    assert any("hydrogen-fuel-cell" in r["candidate"] for r in data["allocation"])
    assert inline_client.get(f"/missions/{DEMO}/updates/2026-27-Q4").status_code == 404


def test_locks_need_a_reason_and_the_reason_goes_into_the_audit_pack(inline_client):
    csrf = login(inline_client, "ceo")
    form = {
        "objective": "expected",
        "max_platform_share": "50",
        "min_platforms": "2",
        "min_moonshot_share": "0",
        "min_rising_star_share": "0",
        "max_organisation_share": "100",
        "correlation": "0.5",
        "cvar_alpha": "0.9",
        "cvar_lambda": "1",
        "scenarios": "300",
        "seed": "1",
        "time_limit_s": "30",
        "solver": "highs",
        "override.contrail-routing": "lock",
        "csrf_token": csrf,
    }
    refused = inline_client.post(f"/missions/{DEMO}/runs", data=form)
    assert refused.status_code == 422
    assert "give the reason to lock this candidate" in refused.text
    form["override_reason.contrail-routing"] = "Ministerial priority"
    started = inline_client.post(f"/missions/{DEMO}/runs", data=form, follow_redirects=False)
    assert started.status_code == 303
    # back on the optimiser page, which marks the run just started
    run_id = int(started.headers["location"].split("?started=", 1)[1].split("#")[0])
    run = inline_client.get(f"/api/v1/missions/{DEMO}/runs/{run_id}").json()
    assert run["result"]["selected"].get("contrail-routing")


def test_runs_of_the_quarter_compare_side_by_side(inline_client):
    csrf = login(inline_client, "ceo")
    a = api(
        inline_client,
        csrf,
        "POST",
        "/runs",
        json={"policy": {"objective": "expected"}, "scenarios": 300},
    ).json()["id"]
    b = api(
        inline_client,
        csrf,
        "POST",
        "/runs",
        json={
            "policy": {"objective": "expected", "max_platform_share": 0.2, "min_platforms": 5},
            "scenarios": 300,
        },
    ).json()["id"]
    page = soup(inline_client.get(f"/missions/{DEMO}/runs/compare?run={a}&run={b}"))
    assert page.select_one("#compare-metrics") is not None
    assert page.select("#compare-allocation tr.app-diff")
    assert "Largest share of spend on one platform" in page.select_one("#compare-policy").get_text()
    one = inline_client.get(f"/missions/{DEMO}/runs/compare?run={a}")
    assert one.status_code == 422
