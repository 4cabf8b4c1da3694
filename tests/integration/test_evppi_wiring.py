"""The value of information as EVPPI in the product: the manual "Value of information" analysis
draws from the council's Beta belief as of the run's quarter, stores the expected value of
partial perfect information per candidate with its error, and the report and the run page show
it by name, ± its 95 % margin, ranking only what is separated from Monte-Carlo noise.

The page tests use ``fake_analyses`` (a result of the real shape, at once); the real sweep is
tested in tests/unit/optimiser/test_evppi.py and timed in benchmarks/evppi.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fake_analyses import fake_compute
from fastapi.testclient import TestClient
from support import DEMO, csrf_of, login

from api.app import create_app
from api.settings import Settings
from optimiser.problem import load_problem
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import RunAnalysis
from portfolio.services import analytics_jobs, beliefs

SECRET = "evppi-wiring-test-secret-key-0123456789-abcdef"
Q2 = "2026-27-Q2"


def soup(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


@pytest.fixture
def jobs_client(db_url: str) -> Iterator[TestClient]:
    """Analyses execute inside the request that starts them."""
    app = create_app(Settings(database_url=db_url, secret_key=SECRET, run_jobs_inline=True))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def uow_of(client: TestClient) -> SqlUnitOfWork:
    return SqlUnitOfWork(client.app.state.sessionmaker)  # type: ignore[attr-defined]


def approved_run(client: TestClient) -> int:
    quarter = client.get(f"/api/v1/missions/{DEMO}/quarters/2026-27 Q2").json()["quarter"]
    return int(quarter["approved_run"])


def start_voi(client: TestClient, run_id: int, back: str = "") -> Any:
    return client.post(
        f"/missions/{DEMO}/runs/{run_id}/analytics/voi",
        data={"csrf_token": csrf_of(client), **({"back": back} if back else {})},
        follow_redirects=False,
    )


# -- the council's belief, as of the run's quarter -----------------------------------------------
def test_the_belief_is_each_options_posterior_weight_as_of_the_runs_quarter(jobs_client):
    login(jobs_client, "ceo")
    run_id = approved_run(jobs_client)
    with uow_of(jobs_client) as uow:
        run = uow.runs.find(run_id)
        assert run is not None
        spread = analytics_jobs.belief_spread(uow, run)
        keys = {f"{c['id']}/{o['id']}" for c in run.problem["candidates"] for o in c["options"]}
        assert spread and set(spread) <= keys
        # the same figure as the candidate's belief page, from that quarter's aggregates and
        # evidence only
        cand = next(c for c in uow.candidates.all(DEMO) if f"{c.id}/{c.options[0].id}" in spread)
        aggregates = {
            (a.candidate, a.option): a for a in uow.aggregates.all(DEMO) if a.quarter <= run.quarter
        }
        evidence = [e for e in uow.evidence.all(DEMO, cand.id) if e.quarter <= run.quarter]
        belief = beliefs.candidate_belief(uow, DEMO, cand, aggregates=aggregates, evidence=evidence)
        last = belief.options[0].steps[-1]
        assert spread[f"{cand.id}/{cand.options[0].id}"] == {
            "concentration": pytest.approx(last.alpha + last.beta)
        }
        assert all(v["concentration"] >= 2.0 for v in spread.values())  # n0 is at least 2


def test_starting_it_passes_the_belief_and_the_runs_portfolio_to_the_sweep(
    jobs_client, monkeypatch: pytest.MonkeyPatch
):
    seen: dict[str, Any] = {}

    def spy(
        problem: Any,
        kind: str,
        names: Any,
        on_progress: Any = None,
        selected: Any = None,
        **options: Any,
    ) -> dict[str, Any]:
        seen.update(kind=kind, selected=selected, **options)
        return fake_compute(problem, kind, names, on_progress, selected, **options)

    monkeypatch.setattr(analytics_jobs, "compute", spy)
    login(jobs_client, "treasury")
    run_id = approved_run(jobs_client)
    assert start_voi(jobs_client, run_id).status_code == 303
    assert seen["kind"] == "voi"
    with uow_of(jobs_client) as uow:
        run = uow.runs.find(run_id)
        assert run is not None and run.result is not None
        assert seen["selected"] == run.result.selected
        assert seen["beliefs"] == analytics_jobs.belief_spread(uow, run)
        assert uow.analyses.get(run_id, "voi").status == "done"  # type: ignore[union-attr]


def test_compute_returns_evppi_rows_by_name_with_their_error(monkeypatch: pytest.MonkeyPatch):
    """The real sweep on a small problem: a probability known exactly is not swept, every row
    carries its estimate, error and verdict, and the names are the registered ones."""
    monkeypatch.setenv("DASK_SCHEDULER", "")
    doc = {
        "mission": {"name": "m", "target": 5.0, "unit": "Mt"},
        "years": ["2026-27"],
        "envelopes": [{"id": "sbc", "budget": {"2026-27": 20}}],
        "candidates": [
            {
                "id": cid,
                "platform": cid,
                "eligible_envelopes": ["sbc"],
                "options": [
                    {
                        "id": "main",
                        "cost": 10,
                        "p_success": p,
                        "impact": {"low": impact, "mode": impact, "high": impact},
                    }
                ],
            }
            for cid, p, impact in (("a", 0.5, 5.0), ("b", 0.7, 3.0), ("c", 0.8, 2.0))
        ],
        "policy": {
            "objective": "p_target",
            "min_platforms": 0,
            "max_platform_share": 1.0,
            "dal": None,
            "correlation": 0.0,
            "time_limit_s": 10,
        },
        "scenarios": {"count": 500, "seed": 3},
        "evaluation": {"count": 2000, "seed": 5},
    }
    names = {"a": "Alpha plant", "b": "Beta trial", "c": "Gamma fuel"}
    result = analytics_jobs.compute(
        load_problem(doc),
        "voi",
        names,
        selected={"a": "main", "b": "main"},
        beliefs={"c/main": {"sd": 0.0}, "a/main": {"concentration": 2.0}},
    )
    assert result["method"] == "evppi" and result["belief"] == "council"
    assert result["objective"] == "p_target" and result["unit"] == "Mt"
    rows = {r["candidate"]: r for r in result["rows"]}
    assert {r["name"] for r in rows.values()} == set(names.values())
    assert rows["c"]["status"] == "certain" and rows["c"]["evppi"] == 0.0
    for row in rows.values():
        assert {"estimate", "error", "lower", "upper", "separated", "rank", "draws"} <= set(row)
        assert row["evppi"] >= 0.0 and row["error"] >= 0.0
    summary = analytics_jobs.summary("voi", result)
    assert "Monte-Carlo noise" in summary


# -- the pages -----------------------------------------------------------------------------------
def test_the_report_shows_evppi_by_name_with_its_margin_and_what_is_separated_from_noise(
    jobs_client, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(analytics_jobs, "compute", fake_compute)
    login(jobs_client, "treasury")
    run_id = approved_run(jobs_client)
    response = start_voi(jobs_client, run_id)
    page = soup(jobs_client.get(response.headers["location"]))
    assert (
        f"Value of information (EVPPI) of run {run_id} has started."
        in page.select_one("#success-banner").get_text()
    )
    assert "Done" in page.select_one('#analytics-table tr[data-kind="voi"]').get_text()
    with uow_of(jobs_client) as uow:
        result = uow.analyses.get(run_id, "voi").result  # type: ignore[union-attr]
    assert result is not None
    first, second, third = result["rows"][:3]
    section = page.select_one("#analysis-voi")
    text = section.get_text(" ", strip=True)
    assert f"Learning the true probability of success of {first['name']}" in text
    assert "separated from Monte-Carlo noise" in text
    table = section.select_one("#evppi")
    rows = {tr.select_one("th").get_text(strip=True): tr for tr in table.select("tbody tr")}
    assert set(rows) == {first["name"], second["name"]}  # the swept candidates
    top = rows[first["name"]]
    assert top["data-separated"] == "yes"
    assert "Rank 1" in top.get_text() and "separated from noise" in top.get_text()
    assert "±" in top.get_text() and "8 of 48 draws" in top.get_text()
    noisy = rows[second["name"]]
    assert noisy["data-separated"] == "no" and "Within noise" in noisy.get_text()
    assert third["name"] in section.select_one("#evppi-certain").get_text()
    screened = section.select_one("#evppi-screened").get_text()
    assert all(r["name"] in screened for r in result["rows"][3:])
    assert "voi" not in [t.get("id") for t in page.select("table")]  # the old EVPI table is gone
    # the run page shows the same once it has been run
    run_page = soup(jobs_client.get(f"/missions/{DEMO}/runs/{run_id}"))
    assert run_page.select_one("#analysis-voi #evppi") is not None


def test_a_result_of_the_earlier_method_asks_to_be_run_again(jobs_client):
    login(jobs_client, "treasury")
    run_id = approved_run(jobs_client)
    with uow_of(jobs_client) as uow:
        uow.analyses.put(
            RunAnalysis(
                run=run_id,
                kind="voi",
                status="done",
                result={"rows": [{"candidate": "x", "name": "X", "evpi": 0.01, "rank": 1}]},
                requested_by="ceo",
                created_at=uow.now(),
                finished_at=uow.now(),
            )
        )
        uow.commit()
    page = soup(jobs_client.get(f"/missions/{DEMO}/report?quarter={Q2}"))
    section = page.select_one("#analysis-voi")
    assert "Computed by an earlier method" in section.get_text()
    assert section.select_one("#evppi") is None
