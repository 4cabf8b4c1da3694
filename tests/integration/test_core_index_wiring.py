"""The core index of a run resamples the council's own scores (issue 18): ``analytics_jobs``
hands the optimiser each member's submitted p, weight and impact from the scoring round the run's
estimates came from, the analysis runs on the demo's approved allocation with them (a few
resamples, for speed), and the run page and the report show each candidate by name with its
share, the share's 95 % interval and its class."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login

from optimiser.analytics import robustness
from optimiser.analytics.robustness import MemberScore, pool
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import OptimiserRun
from portfolio.services import analytics_jobs

RESAMPLES = 4


def approved_run(uow: SqlUnitOfWork) -> OptimiserRun:
    """The demo's latest approved allocation (what the report shows)."""
    approved = [q.approved_run for q in uow.missions.quarters(DEMO) if q.approved_run]
    return uow.runs.get(DEMO, approved[-1])


def option_keys(run: OptimiserRun) -> set[str]:
    return {f"{c['id']}/{o['id']}" for c in run.problem["candidates"] for o in c["options"]}


def test_the_council_inputs_are_the_members_scores_of_the_round_the_run_used(db_url: str) -> None:
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        run = approved_run(uow)
        council = analytics_jobs.council_inputs(uow, run)
        frozen = {
            f"{a.candidate}/{a.option}": a
            for a in uow.aggregates.all(DEMO)
            if a.quarter <= run.quarter
        }
        quarters = {a.quarter for a in frozen.values()}
        scores = {
            (s.candidate, s.option, s.member): s for q in quarters for s in uow.scores.all(DEMO, q)
        }
    engine.dispose()
    members = council["member_scores"]
    assert set(members) == option_keys(run)  # the demo's council scored every option
    assert council["spread"] == {}
    options = {f"{c['id']}/{o['id']}": o for c in run.problem["candidates"] for o in c["options"]}
    for key, given in members.items():
        agg = frozen[key]
        contributions = agg.data["contributions"]
        assert [m["member"] for m in given] == [c["member"] for c in contributions]
        assert [m["p_success"] for m in given] == [c["p"] for c in contributions]
        assert [m["weight"] for m in given] == [c["weight"] for c in contributions]
        for m in given:  # each member's own impact three-point, as they submitted it
            score = scores[(agg.candidate, agg.option, m["member"])]
            assert score.impact is not None
            assert m["impact"] == {
                "low": score.impact.low,
                "mode": score.impact.most_likely,
                "high": score.impact.high,
            }
        # pooling every member once gives back the impact in the run's problem: the right round
        _, impact = pool([MemberScore.model_validate(m) for m in given], [1.0] * len(given))
        assert impact is not None
        problem_impact = options[key]["impact"]
        assert impact.low == pytest.approx(problem_impact["low"])
        assert impact.most_likely == pytest.approx(problem_impact["mode"])
        assert impact.high == pytest.approx(problem_impact["high"])


@pytest.fixture
def analysed(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, dict[str, Any]]]:
    """The demo's approved allocation with its core index computed as the job runner does
    (``analytics_jobs.execute``) on RESAMPLES resamples; yields the run's id and the keyword
    arguments the optimiser's ``core_index`` was called with."""
    monkeypatch.setattr(analytics_jobs, "CORE_RESAMPLES", RESAMPLES)
    calls: list[dict[str, Any]] = []
    real = robustness.core_index

    def spy(problem: Any, **kw: Any) -> Any:
        calls.append(kw)
        return real(problem, **kw)

    monkeypatch.setattr(robustness, "core_index", spy)
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        run = approved_run(uow)
        assert run.id is not None
        analytics_jobs.queue(uow, "ceo", run, "core")
        uow.commit()
    status = analytics_jobs.execute(lambda: SqlUnitOfWork(engine), run.id, "core")
    engine.dispose()
    assert status == "done"
    [kwargs] = calls
    yield run.id, kwargs


def test_the_job_passes_the_members_scores_and_keeps_each_share_with_its_error(
    db_url: str, analysed: tuple[int, dict[str, Any]]
) -> None:
    run_id, kwargs = analysed
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        run = uow.runs.get(DEMO, run_id)
        names = {c.id: c.name for c in uow.candidates.all(DEMO)}
        stored = uow.analyses.get(run_id, "core")
    engine.dispose()
    assert set(kwargs["member_scores"]) == option_keys(run)
    assert kwargs["resamples"] == RESAMPLES
    assert stored is not None and stored.result is not None
    result = stored.result
    assert result["method"] == "council"
    assert result["sources"] == {"members": len(option_keys(run))}
    assert result["resamples"] == result["solved"] == RESAMPLES
    # a fresh optimisation seed for every resample, on as many scenarios as the run had
    assert len(set(result["scenario_seeds"])) == RESAMPLES
    assert result["scenario_count"] == run.problem["scenarios"]["count"]
    for row in result["candidates"]:
        assert row["name"] == names[row["candidate"]]
        assert row["low"] <= row["share"] <= row["high"]
        assert row["classification"] in ("core", "borderline", "exterior")
        assert row["se"] >= 0.0


def test_the_default_is_at_least_100_resamples() -> None:
    assert analytics_jobs.CORE_RESAMPLES >= 100


def test_the_run_page_and_the_report_show_the_core_index_by_name_with_intervals(
    db_url: str, analysed: tuple[int, dict[str, Any]], client: TestClient
) -> None:
    run_id, _ = analysed
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        result = uow.analyses.get(run_id, "core").result  # type: ignore[union-attr]
        quarter = uow.runs.get(DEMO, run_id).quarter
    engine.dispose()
    assert result is not None
    by_name = {row["name"]: row for row in result["candidates"]}
    classes = {"core": "Core", "borderline": "Borderline", "exterior": "Exterior"}
    login(client, "ceo")
    pages = {
        "run": f"/missions/{DEMO}/runs/{run_id}",
        "report": f"/missions/{DEMO}/report?quarter={quarter.replace(' ', '-')}",
    }
    for which, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, which
        page = BeautifulSoup(response.text, "html.parser")
        assert len(page.select("table#core")) == 1, which  # shown once
        section = page.select_one("#analysis-core")
        assert section is not None, which
        caption = section.select_one("table#core caption").get_text(" ", strip=True)
        assert f"over {RESAMPLES} re-solves" in caption
        assert "Expert Council's scores drawn again" in caption
        rows = section.select("table#core tbody tr")
        assert len(rows) == len(by_name)
        shares = []
        for tr in rows:
            name = tr.select_one("th").get_text(" ", strip=True).split(" (")[0]
            row = by_name[name]  # candidates by name, never by identifier
            share, interval, cls = (td.get_text(" ", strip=True) for td in tr.select("td"))
            assert share == f"{row['share'] * 100:.0f} %"
            assert interval == f"{row['low'] * 100:.0f}–{row['high'] * 100:.0f} %"
            assert cls == classes[row["classification"]]
            shares.append(row["share"])
        assert shares == sorted(shares, reverse=True)  # largest share first
