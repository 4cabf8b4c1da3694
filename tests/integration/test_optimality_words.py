"""How close to the best a run's portfolio is proven to be, in words (``optimiser.optimality``):
the run page, the allocation report, the JSON API and the CLI's report all give the one sentence
the run's result and policy make, for a proven run and for one stopped before its proof."""

from __future__ import annotations

import json
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, add_solved_run, login
from typer.testing import CliRunner

from api.cli import app as cli
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import OptimiserRun

CURRENT = "2026-27 Q3"


def stored(db_url: str, run_id: int) -> OptimiserRun:
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        run = uow.runs.get(DEMO, run_id)
    engine.dispose()
    return run


def add_stopped_run(db_url: str) -> int:
    """The current quarter's run stored again as a P(target) run stopped at its time limit: the
    same portfolio, status feasible, the solver's bound 0.95 above its value."""

    def as_p_target(problem: dict[str, Any]) -> dict[str, Any]:
        return {**problem, "policy": {**problem["policy"], "objective": "p_target", "gap": 0.005}}

    def stopped(result: dict[str, Any], problem: dict[str, Any]) -> dict[str, Any]:
        solver = {**result["solver"], "bound": 0.95, "gap": (0.95 - 0.62) / 0.62}
        return {**result, "status": "feasible", "objective": 0.62, "solver": solver}

    return add_solved_run(
        db_url, CURRENT, stopped, problem=as_p_target, status="feasible", objective="p_target"
    )


def words_on(page: str, selector: str) -> str:
    found = BeautifulSoup(page, "html.parser").select_one(selector)
    assert found is not None, f"no {selector}"
    return found.get_text(" ", strip=True)


def test_a_proven_run_says_so_on_its_page_and_in_the_json_api(client: TestClient, db_url: str):
    login(client, "ceo")
    run_id = next(
        r["id"]
        for r in client.get(f"/api/v1/missions/{DEMO}/runs").json()
        if r["quarter"] == CURRENT
    )
    run = stored(db_url, run_id)
    proof = run.optimality
    assert proof is not None and proof.proven and proof.words.startswith("Proven best")
    page = client.get(f"/missions/{DEMO}/runs/{run_id}")
    assert page.status_code == 200
    assert words_on(page.text, "#optimality") == proof.words
    as_json = client.get(f"/api/v1/missions/{DEMO}/runs/{run_id}").json()
    assert as_json["optimality"] == proof.model_dump(mode="json")
    # the list of runs carries no result, so no proof either
    assert all(r["optimality"] is None for r in client.get(f"/api/v1/missions/{DEMO}/runs").json())


def test_a_stopped_run_says_how_much_better_the_best_could_be_everywhere(
    client: TestClient, db_url: str
):
    run_id = add_stopped_run(db_url)
    proof = stored(db_url, run_id).optimality
    assert proof is not None and not proof.proven
    assert "at most 33.0 points (53.2 %) better" in proof.words
    login(client, "ceo")
    page = client.get(f"/missions/{DEMO}/runs/{run_id}")
    assert words_on(page.text, "#optimality") == proof.words
    as_json = client.get(f"/api/v1/missions/{DEMO}/runs/{run_id}").json()
    assert as_json["optimality"]["proven"] is False and as_json["optimality"]["bound"] == 0.95
    # the quarter's report shows its latest run (not yet approved), with the same sentence
    report = client.get(f"/missions/{DEMO}/report?quarter={CURRENT.replace(' ', '-')}")
    assert report.status_code == 200
    assert f"Run {run_id}" in report.text
    assert words_on(report.text, "#report-optimality") == proof.words
    twin = client.get(f"/api/v1/missions/{DEMO}/report", params={"quarter": CURRENT}).json()
    assert twin["report"]["optimality"]["words"] == proof.words


def test_the_comparison_says_which_runs_are_proven_best(client: TestClient, db_url: str):
    stopped = add_stopped_run(db_url)
    login(client, "ceo")
    proven = next(
        r["id"]
        for r in client.get(f"/api/v1/missions/{DEMO}/runs").json()
        if r["quarter"] == CURRENT and r["id"] != stopped
    )
    ids = [stopped, proven]
    page = client.get(f"/missions/{DEMO}/runs/compare", params={"run": ids})
    assert page.status_code == 200
    cells = BeautifulSoup(page.text, "html.parser").select("#compare-optimality td[data-run]")
    said = {int(c["data-run"]): c.get_text(" ", strip=True) for c in cells}
    assert said == {run_id: stored(db_url, run_id).optimality.summary for run_id in ids}  # type: ignore[union-attr]
    assert said[proven] == "Proven best" and said[stopped].startswith("Not proven best")
    twin = client.get(f"/api/v1/missions/{DEMO}/runs/compare", params={"run": ids}).json()
    assert [c["optimality"]["summary"] for c in twin["columns"]] == [said[i] for i in ids]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_cli_report_carries_the_proof(db_url: str):
    run_id = add_stopped_run(db_url)
    proof = stored(db_url, run_id).optimality
    assert proof is not None
    db = db_url.removeprefix("sqlite:///")
    out = CliRunner().invoke(cli, ["report", DEMO, "--quarter", "2026-27-Q3", "--db", db])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["optimality"] == proof.model_dump(mode="json")
