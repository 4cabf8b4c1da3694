"""Optimiser runs from the web, the API and the CLI: each run keeps the exact problem file it
solved and its result, both downloadable, and re-solving the file gives the same portfolio."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

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
from portfolio.domain.model import OptimiserRun
from portfolio.services.runs import INTERRUPTED

FORM = {
    "objective": "expected",
    "max_platform_share": "40",
    "min_platforms": "3",
    "min_moonshot_share": "10",
    "min_rising_star_share": "10",
    "max_organisation_share": "100",
    "carry_forward": "on",
    "correlation": "0.5",
    "cvar_alpha": "0.9",
    "cvar_lambda": "1",
    "scenarios": "300",
    "seed": "3",
    "time_limit_s": "30",
    "solver": "highs",
    "note": "test run",
}


@pytest.fixture
def inline_client(db_url: str):
    """A client whose runs execute inside the request, so tests need not wait."""
    app = create_app(Settings(database_url=db_url, secret_key="x" * 40, run_jobs_inline=True))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def start(client: TestClient, **changes: str):
    csrf = login(client, "ceo")
    return client.post(
        f"/missions/{DEMO}/runs",
        data={**FORM, **changes, "csrf_token": csrf},
        follow_redirects=False,
    )


def run_url(response) -> str:
    """The page of the run just started: the start redirects to the optimiser page, which marks
    the new run (``?started=N``)."""
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert location.path == f"/missions/{DEMO}/runs"
    return f"/missions/{DEMO}/runs/{parse_qs(location.query)['started'][0]}"


def test_the_ceo_runs_the_optimiser_and_sees_the_allocation_with_its_metrics(inline_client):
    response = start(inline_client)
    assert response.status_code == 303
    page = BeautifulSoup(inline_client.get(run_url(response)).text, "html.parser")
    assert "Optimal" in page.h1.get_text()
    metrics = page.select_one("#metrics").get_text(" ", strip=True)
    assert "Out of sample" in metrics and "Probability of reaching 9 MtCO2e/yr" in metrics
    rows = page.select("#allocation tbody tr")
    assert len(rows) >= 4
    run = inline_client.get(f"/api/v1/missions/{DEMO}/runs").json()[0]
    assert (run["status"], run["objective"], run["note"]) == ("optimal", "expected", "test run")


def test_a_run_keeps_its_exact_problem_file_and_resolving_it_gives_the_same_portfolio(
    inline_client,
):
    location = run_url(start(inline_client))
    problem = inline_client.get(f"{location}/problem.json")
    result = inline_client.get(f"{location}/result.json")
    assert problem.status_code == result.status_code == 200
    assert "attachment" in problem.headers["content-disposition"]
    document = problem.json()
    assert document["policy"]["max_platform_share"] == 0.4
    assert document["policy"]["min_platforms"] == 3
    assert document["scenarios"] == {"count": 300, "seed": 3}
    again = solve(load_problem(document))
    assert again.selected == result.json()["selected"]


def test_the_hedging_rules_of_the_form_hold_in_the_allocation(inline_client):
    location = run_url(start(inline_client, max_platform_share="30", min_platforms="4"))
    result = inline_client.get(f"{location}/result.json").json()
    spend = result["spend"]
    assert len(spend["by_platform"]) >= 4
    assert max(spend["by_platform"].values()) <= 0.30 * spend["total"] + 1e-6


def test_an_impossible_policy_says_why_in_words(inline_client):
    location = run_url(start(inline_client, min_platforms="30"))
    page = BeautifulSoup(inline_client.get(location).text, "html.parser")
    assert "Infeasible" in page.h1.get_text()
    diagnosis = page.select_one("#diagnosis").get_text(" ", strip=True)
    assert "platform" in diagnosis.lower()


def test_bad_form_values_are_named_and_no_run_is_started(inline_client):
    login(inline_client, "ceo")
    before = len(inline_client.get(f"/api/v1/missions/{DEMO}/runs").json())
    response = start(inline_client, max_platform_share="140", scenarios="ten")
    assert response.status_code == 422
    summary = BeautifulSoup(response.text, "html.parser").select_one(".govuk-error-summary")
    text = summary.get_text(" ", strip=True)
    assert "Largest share of spend on one platform (%): must be a percentage from 0 to 100" in text
    assert "Scenarios: must be a whole number" in text
    assert len(inline_client.get(f"/api/v1/missions/{DEMO}/runs").json()) == before


def test_council_members_and_treasury_see_runs_but_cannot_start_one(inline_client):
    location = run_url(start(inline_client))
    for username in ("council1", "treasury"):
        csrf = login(inline_client, username)
        assert inline_client.get(location).status_code == 200
        assert "Run the optimiser" not in inline_client.get(f"/missions/{DEMO}/runs").text
        refused = inline_client.post(f"/missions/{DEMO}/runs", data={**FORM, "csrf_token": csrf})
        assert refused.status_code == 403


def test_a_run_in_the_background_shows_progress_then_its_result(client: TestClient):
    location = run_url(start(client))
    run_id = int(location.rsplit("/", 1)[1])
    first = client.get(location)
    assert first.status_code == 200
    client.app.state.jobs.wait(run_id, timeout=120)
    final = client.get(location)
    assert 'http-equiv="refresh"' not in final.text
    assert "Optimal" in BeautifulSoup(final.text, "html.parser").h1.get_text()


def test_runs_left_running_by_a_stopped_server_are_marked_failed_at_start_up(db_url: str):
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        run_id = uow.runs.add(
            DEMO,
            OptimiserRun(
                mission=DEMO,
                quarter="2026-27 Q3",
                objective="expected",
                status="running",
                started_by="ceo",
                created_at=uow.now(),
                problem={},
            ),
        )
        uow.commit()
    app = create_app(Settings(database_url=db_url, secret_key="x" * 40))
    with SqlUnitOfWork(engine) as uow:
        run = uow.runs.get(DEMO, run_id)
    assert run.status == "failed" and run.error == INTERRUPTED
    app.state.jobs.shutdown()
    app.state.engine.dispose()
    engine.dispose()


def test_the_api_starts_a_run_and_returns_its_result(inline_client):
    csrf = login(inline_client, "ceo")
    response = inline_client.post(
        f"/api/v1/missions/{DEMO}/runs",
        headers={"X-CSRF-Token": csrf},
        json={"policy": {"objective": "expected", "min_platforms": 3}, "scenarios": 200},
    )
    assert response.status_code == 202
    run = inline_client.get(f"/api/v1/missions/{DEMO}/runs/{response.json()['id']}").json()
    assert run["status"] == "optimal"
    assert run["result"]["format"] == "mission-portfolio/result"
    bad = inline_client.post(
        f"/api/v1/missions/{DEMO}/runs",
        headers={"X-CSRF-Token": csrf},
        json={"policy": {"objective": "luck"}},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "policy.objective"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_export_problem_writes_the_file_the_web_would_solve(db_url: str, tmp_path):
    runner = CliRunner()
    db = db_url.removeprefix("sqlite:///")
    exported = runner.invoke(cli, ["export-problem", DEMO, "--db", db, "--objective", "expected"])
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.stdout)
    problem = load_problem(document)
    assert problem.policy.objective == "expected"
    assert len(problem.candidates) >= 20
    path = tmp_path / "problem.json"
    path.write_text(exported.stdout)
    solved = runner.invoke(cli, ["solve", str(path), "--time-limit", "30"])
    assert solved.exit_code == 0
    assert json.loads(solved.stdout)["status"] == "optimal"
    unknown = runner.invoke(cli, ["export-problem", "nope", "--db", db])
    assert unknown.exit_code == 1 and "no mission nope" in unknown.output


def test_the_run_list_links_each_run(inline_client):
    start(inline_client)
    page = inline_client.get(f"/missions/{DEMO}/runs").text
    assert re.search(rf'href="/missions/{DEMO}/runs/\d+"', page)
