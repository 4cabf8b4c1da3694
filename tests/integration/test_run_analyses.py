"""Analyses with every run (issue 17): a run that finds a portfolio gets its frontier, core index
and price of policy queued by the system and shown on its page; charts drawn once per run and
data, kept in the database and drawn again only when their data change; chart labels as people
read them (chronological years, names exactly as registered, envelope and platform names).

The analyses' re-solves take 5–20 s each on this machine; their own correctness is tested in
tests/unit/optimiser/test_opt_analytics.py and test_report.py. Here ``fast_analyses`` replaces
``analytics_jobs.compute`` by results of the same shape, built from the run's own candidates, so
what is tested is what this slice adds: queueing, running, showing, caching.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import matplotlib
import pytest
from bs4 import BeautifulSoup
from fake_analyses import fake_compute
from fastapi.testclient import TestClient
from support import DEMO, csrf_of, login

from api import charts
from api.app import create_app
from api.jobs import JobRunner
from api.settings import Settings
from optimiser.problem import Policy
from portfolio.adapters import database
from portfolio.adapters.unit_of_work import SqlUnitOfWork, session_factory
from portfolio.domain.model import RunAnalysis
from portfolio.services import analytics_jobs, quarters, runs

SECRET = "run-analyses-test-secret-key-0123456789-abcdef"
Q2 = "2026-27-Q2"
HYPHENATED = "19-seat fuel-cell regional aircraft"  # a demo candidate's registered name


def soup(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


@pytest.fixture
def fast_analyses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analytics_jobs, "compute", fake_compute)


def _client(db_url: str, *, auto: bool) -> Iterator[TestClient]:
    app = create_app(
        Settings(database_url=db_url, secret_key=SECRET, run_jobs_inline=True, auto_analyses=auto)
    )
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def auto_client(db_url: str, fast_analyses: None) -> Iterator[TestClient]:
    """Runs and their analyses execute inside the request; automatic analyses on."""
    yield from _client(db_url, auto=True)


@pytest.fixture
def manual_client(db_url: str) -> Iterator[TestClient]:
    """Runs execute inside the request; automatic analyses off (the tests' default)."""
    yield from _client(db_url, auto=False)


def start_run(client: TestClient, **settings: Any) -> int:
    """The CEO starts a quick run through the API (the web form does the same); returns its id."""
    login(client, "ceo")
    response = client.post(
        f"/api/v1/missions/{DEMO}/runs",
        json={"policy": {"objective": "expected"}, "scenarios": 300, "seed": 3, **settings},
        headers={"X-CSRF-Token": csrf_of(client)},
    )
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def analyses_of(client: TestClient, run_id: int) -> dict[str, RunAnalysis]:
    with SqlUnitOfWork(client.app.state.sessionmaker) as uow:  # type: ignore[attr-defined]
        return uow.analyses.for_run(run_id)


# -- analyses with every run ---------------------------------------------------------------------
def test_a_finished_run_gets_its_frontier_core_and_price_from_the_system(auto_client):
    run_id = start_run(auto_client)
    analyses = analyses_of(auto_client, run_id)
    assert set(analyses) == {"frontier", "core", "price"}
    assert {a.status for a in analyses.values()} == {"done"}
    assert {a.requested_by for a in analyses.values()} == {"system"}
    audit = auto_client.get(f"/api/v1/missions/{DEMO}/audit").json()
    requested = [a for a in audit if a["entity"] == "analysis" and a["action"] == "requested"]
    assert {a["entity_id"] for a in requested} == {f"{run_id}:{k}" for k in analyses}
    assert {a["actor"] for a in requested} == {"system"}
    assert all(a["after"] == {"automatic": f"run {run_id} finished"} for a in requested)


def test_the_run_page_shows_each_analysis_its_summary_and_its_chart(auto_client):
    run_id = start_run(auto_client)
    page = soup(auto_client.get(f"/missions/{DEMO}/runs/{run_id}"))
    rows = {
        r["data-kind"]: r.get_text(" ", strip=True)
        for r in page.select("#analytics-table tr[data-kind]")
    }
    assert set(rows) == {"frontier", "core", "price"}
    assert all("Done" in text and "started automatically" in text for text in rows.values())
    frontier = page.select_one("#analysis-frontier").get_text(" ", strip=True)
    assert "P(target) is 20.0 % at 50 % of the budget and 70.0 % at 150 % of the budget" in frontier
    assert "This portfolio (100 % of the budget): 50.0 %" in frontier
    core = page.select_one("#analysis-core").get_text(" ", strip=True)
    assert "are funded almost always (core)" in core
    price = page.select_one("#analysis-price").get_text(" ", strip=True)
    assert "The costliest rule is “Platform share ≤ 45 %”" in price and "+1.2 points" in price
    images = page.select(".app-analysis .app-chart img")
    assert {img.find_parent("figure")["id"] for img in images} == {"chart-frontier", "chart-core"}
    for img in images:
        assert img["alt"].strip()
        svg = auto_client.get(img["src"])
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert page.select_one('meta[http-equiv="refresh"]') is None  # nothing left running


def test_analyses_still_running_refresh_the_run_page(auto_client):
    run_id = start_run(auto_client)
    with SqlUnitOfWork(auto_client.app.state.sessionmaker) as uow:  # type: ignore[attr-defined]
        core = uow.analyses.get(run_id, "core")
        assert core is not None
        uow.analyses.put(core.with_changes(status="running", progress={"done": 3, "total": 20}))
        uow.commit()
    page = soup(auto_client.get(f"/missions/{DEMO}/runs/{run_id}"))
    assert page.select_one('meta[http-equiv="refresh"]') is not None
    row = page.select_one('#analytics-table tr[data-kind="core"]').get_text(" ", strip=True)
    assert "Running" in row and "3 of 20 re-solves" in row


def test_no_analysis_is_queued_when_the_setting_is_off(manual_client):
    run_id = start_run(manual_client)
    assert analyses_of(manual_client, run_id) == {}
    page = soup(manual_client.get(f"/missions/{DEMO}/runs/{run_id}"))
    assert "No analysis of this run yet" in page.select_one("#analyses-none").get_text()
    # the CEO (run_analytics) can still start one by hand, and comes back to the run page
    form = page.select_one('#analytics-table tr[data-kind="core"] form')
    assert form is not None and form.select_one('input[name="back"]')["value"] == "run"


def test_a_what_if_run_gets_no_automatic_analyses(auto_client):
    run_id = start_run(auto_client, budget_scale=0.8)
    assert analyses_of(auto_client, run_id) == {}
    page = soup(auto_client.get(f"/missions/{DEMO}/runs/{run_id}"))
    assert (
        "A what-if run gets no analyses automatically"
        in page.select_one("#analyses-what-if").get_text()
    )


def test_an_analysis_started_from_the_run_page_comes_back_to_it_with_a_banner(
    manual_client, fast_analyses
):
    run_id = start_run(manual_client)
    response = manual_client.post(
        f"/missions/{DEMO}/runs/{run_id}/analytics/price",
        data={"csrf_token": csrf_of(manual_client), "back": "run"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/missions/{DEMO}/runs/{run_id}#analyses"
    page = soup(manual_client.get(response.headers["location"]))
    assert (
        f"Price of policy of run {run_id} has started."
        in page.select_one("#success-banner").get_text()
    )
    assert "Done" in page.select_one('#analytics-table tr[data-kind="price"]').get_text()


def test_the_setting_comes_from_mp_auto_analyses_and_is_on_by_default(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv("MP_AUTO_ANALYSES")
    assert Settings(secret_key=SECRET).auto_analyses is True
    for off in ("0", "false", "no", "off"):
        monkeypatch.setenv("MP_AUTO_ANALYSES", off)
        assert Settings(secret_key=SECRET).auto_analyses is False
    monkeypatch.setenv("MP_AUTO_ANALYSES", "1")
    assert Settings.from_env().auto_analyses is True


def test_an_analysis_waits_for_a_solve_so_it_never_holds_up_a_run(
    db_url: str, monkeypatch: pytest.MonkeyPatch
):
    """The analysis thread starts nothing while a run of the server is solving."""
    solving, release = threading.Event(), threading.Event()
    started: list[float] = []

    def slow_solve(new_uow: Any, run_id: int, should_stop: Any = None, **_: Any) -> str:
        solving.set()
        release.wait(10)
        return "optimal"

    def analyse(new_uow: Any, run_id: int, kind: str) -> str:
        started.append(time.monotonic())
        return "done"

    monkeypatch.setattr("api.jobs.execute_run", slow_solve)
    monkeypatch.setattr(analytics_jobs, "execute", analyse)
    engine = database.make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:  # a queued run for the runner to take
        run_id = runs.start_run(uow, "ceo", DEMO, Policy(objective="expected"), scenarios=100)
        uow.commit()
    jobs = JobRunner(
        session_factory(engine, None)
    )  # no database URL: solves on a thread of their own
    try:
        jobs.submit(run_id)
        assert solving.wait(5)
        jobs.submit_analysis(1, "core")
        time.sleep(0.5)
        assert started == [], "the analysis started while a run was solving"
        ended = time.monotonic()
        release.set()
        assert jobs.wait(run_id, timeout=5) == "optimal"
        assert jobs.wait_analysis(1, "core", timeout=5) == "done"
        assert started and started[0] >= ended
    finally:
        release.set()
        jobs.shutdown()
        engine.dispose()


# -- charts drawn once, kept, drawn again for new data ------------------------------------------
class Draws:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = charts._svg

        def counting(fig: Any) -> bytes:
            self.count += 1
            return original(fig)

        monkeypatch.setattr(charts, "_svg", counting)


def report_charts(client: TestClient) -> dict[str, str]:
    page = soup(client.get(f"/missions/{DEMO}/report?quarter={Q2}"))
    return {
        img.find_parent("figure")["id"].removeprefix("chart-"): img["src"]
        for img in page.select(".app-chart img")
    }


def test_a_chart_is_drawn_once_and_the_same_bytes_served_after(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    draws = Draws(monkeypatch)
    login(client, "treasury")
    srcs = report_charts(client)
    assert len(srcs) >= 6
    first = {name: client.get(src).content for name, src in srcs.items()}
    assert draws.count == len(srcs)
    again = {name: client.get(src) for name, src in report_charts(client).items()}
    assert draws.count == len(srcs), "a kept chart was drawn again"
    assert {name: r.content for name, r in again.items()} == first
    # another server process on the same database serves the kept drawings too
    other = create_app(settings)
    try:
        with TestClient(other) as second:
            login(second, "treasury")
            assert {n: second.get(s).content for n, s in report_charts(second).items()} == first
    finally:
        other.state.engine.dispose()
    assert draws.count == len(srcs)
    # without the page's key (an old bookmark), the chart is the same and still not redrawn
    plain = client.get(f"/missions/{DEMO}/report/charts/platform.svg?quarter={Q2}")
    assert plain.content == first["platform"] and draws.count == len(srcs)


def test_new_data_give_a_new_drawing(client: TestClient, monkeypatch: pytest.MonkeyPatch):
    draws = Draws(monkeypatch)
    login(client, "treasury")
    run_id = client.get(f"/api/v1/missions/{DEMO}/quarters/2026-27 Q2").json()["quarter"][
        "approved_run"
    ]

    def put_core(share: float) -> None:
        with SqlUnitOfWork(client.app.state.sessionmaker) as uow:  # type: ignore[attr-defined]
            uow.analyses.put(
                RunAnalysis(
                    run=run_id,
                    kind="core",
                    status="done",
                    result={
                        "solved": 20,
                        "candidates": [
                            {"name": HYPHENATED, "share": share, "classification": "borderline"}
                        ],
                    },
                    requested_by="system",
                    created_at=uow.now(),
                    finished_at=uow.now(),
                )
            )
            uow.commit()

    put_core(0.4)
    before = report_charts(client)["core"]
    svg = client.get(before).content
    count = draws.count
    assert client.get(before).content == svg and draws.count == count
    put_core(0.6)  # a new result of the analysis
    after = report_charts(client)["core"]
    assert after != before
    assert client.get(after).content != svg and draws.count == count + 1
    with SqlUnitOfWork(client.app.state.sessionmaker) as uow:  # type: ignore[attr-defined]
        assert uow.charts.of_mission(DEMO, "core", before.rsplit("v=", 1)[1]) is None  # dropped


# -- what the charts and the report say ----------------------------------------------------------
def test_the_financial_year_chart_is_chronological_with_the_years_as_written(client: TestClient):
    login(client, "treasury")
    page = soup(client.get(f"/missions/{DEMO}/report?quarter={Q2}"))
    alt = page.select_one("#chart-year img")["alt"]
    years = ["2026-27", "2027-28", "2028-29", "2029-30"]
    positions = [alt.index(y) for y in years]
    assert positions == sorted(positions), alt
    svg = client.get(page.select_one("#chart-year img")["src"]).text
    assert all(y in svg for y in years) and "2028 29" not in svg
    data = [th.get_text() for th in page.select("#data-by_year th")]
    assert data == years


def test_bar_labels_are_the_names_exactly_as_registered():
    chart = charts.bars("Core index", {HYPHENATED: 0.9, "Teesside ethanol-to-jet": 0.5}, "share")
    svg = chart.svg.decode()
    assert HYPHENATED in svg and "Teesside ethanol-to-jet" in svg
    assert "19 seat" not in svg and "fuel cell" not in svg


def test_envelopes_and_platforms_are_named_in_the_charts_and_the_report(client: TestClient):
    login(client, "treasury")
    response = client.get(f"/missions/{DEMO}/report?quarter={Q2}")
    page = soup(response)
    envelope_svg = client.get(page.select_one("#chart-envelope img")["src"]).text
    assert "Single business case" in envelope_svg and "UKRI envelope" in envelope_svg
    assert ">sbc<" not in envelope_svg and ">ukri<" not in envelope_svg
    platform_svg = client.get(page.select_one("#chart-platform img")["src"]).text
    assert "HEFA sustainable aviation fuel" in platform_svg and "Hefa saf" not in platform_svg
    header = page.select_one("#funding thead").get_text(" ", strip=True)
    assert "Single business case 2026-27" in header and "sbc 2026-27" not in header
    text = page.get_text(" ", strip=True)
    for mangled in ("Cvar", "P target", "E saf", "Hefa saf"):
        assert mangled not in text, mangled


def test_maths_text_stays_off_whatever_changed_the_global_settings():
    label = "$\\frac{1}{$ costs $5m"
    with matplotlib.rc_context({"text.parse_math": True}):
        svg = charts.bars("Shares", {label: 1.0}, "£m").svg.decode()
    assert "\\frac{1}{" in svg and "$5m" in svg


def test_the_policy_is_a_table_in_words_on_the_report_and_the_run_page(client: TestClient):
    login(client, "treasury")
    report = soup(client.get(f"/missions/{DEMO}/report?quarter={Q2}"))
    rules = {
        r.select_one("th").get_text(strip=True): r.select_one("td").get_text(strip=True)
        for r in report.select("#report-policy tbody tr")
    }
    assert rules["Objective"] == "Expected impact with a shortfall penalty (CVaR)"
    assert rules["Largest share of spend on one platform"] == "45 %"
    assert "Distributed electric propulsion wing" in rules["Excluded"]
    assert "{" not in report.select_one("#report-policy").get_text()
    run_link = report.select_one('a[href*="/runs/"]')["href"]
    run_page = soup(client.get(run_link))
    policy = run_page.select_one("#policy").get_text(" ", strip=True)
    assert "Largest share of spend on one platform 45 %" in policy and "{" not in policy
    assert "Cvar" not in run_page.get_text() and "Hefa saf" not in run_page.get_text()
    platforms = run_page.select_one("#spend-by_platform").get_text(" ", strip=True)
    assert "HEFA sustainable aviation fuel" in platforms


def test_an_empty_reply_keeps_the_report_and_says_what_is_missing(client: TestClient):
    csrf = login(client, "treasury")
    client.post(
        f"/missions/{DEMO}/report/comments",
        data={"text": "Why so little on hydrogen?", "quarter": Q2, "csrf_token": csrf},
    )
    csrf = login(client, "ceo")
    page = soup(client.get(f"/missions/{DEMO}/report?quarter={Q2}"))
    action = page.select_one(".app-comment form")["action"]
    response = client.post(action, data={"reply": "  ", "csrf_token": csrf})
    assert response.status_code == 422
    summary = soup(response).select_one(".govuk-error-summary").get_text(" ", strip=True)
    assert "Reply" in summary and "write the reply" in summary


def test_on_start_up_the_runs_read_first_get_their_analyses_once(
    db_url: str, fast_analyses: None
) -> None:
    """The demo's runs were made without the job runner (and a database from before analyses
    were automatic has none): a server with automatic analyses starts the frontier, core index,
    price of policy and value of information of each mission's latest approved allocation and of
    the current quarter's latest run, once; older runs are left alone."""
    engine = database.make_engine(db_url)
    factory = session_factory(engine, None)
    with SqlUnitOfWork(factory) as uow:
        approved = [q.approved_run for q in uow.missions.quarters(DEMO) if q.approved_run]
        current = quarters.current_quarter(uow, DEMO)
        latest_now = next(r.id for r in uow.runs.all(DEMO) if r.quarter == current)
        targets = {approved[-1], latest_now}
        assert all(uow.analyses.for_run(r) == {} for r in targets)
    jobs = JobRunner(factory, auto_analyses=True)
    try:
        jobs.catch_up()
        for run_id in targets:
            for kind in analytics_jobs.CATCH_UP:
                assert jobs.wait_analysis(run_id, kind, timeout=60) == "done", (run_id, kind)
        with SqlUnitOfWork(factory) as uow:
            for run_id in targets:
                done = uow.analyses.for_run(run_id)
                assert sorted(done) == sorted(analytics_jobs.CATCH_UP)
                assert {a.requested_by for a in done.values()} == {analytics_jobs.SYSTEM}
            assert all(uow.analyses.for_run(r) == {} for r in approved[:-1])
        jobs.catch_up()  # nothing left to do: nothing queued again
        with SqlUnitOfWork(factory) as uow:
            for run_id in targets:
                assert all(a.status == "done" for a in uow.analyses.for_run(run_id).values())
    finally:
        jobs.shutdown()
        engine.dispose()
