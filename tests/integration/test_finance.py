"""Treasury's programme finance through the web page, its CSV and Excel downloads, the JSON API
and the CLI: the figures add up (headroom = budget − spent − forecast) against values worked out
here from the approved run's funding rows, the live contracts and the ledger; only Treasury, the
Mission CEO and administrators see it. On SQLite and PostgreSQL (the CLI on SQLite)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from support import DEMO, login
from typer.testing import CliRunner

from api.cli import app as cli_app
from optimiser.problem import Policy
from optimiser.result import FundingRow, Metrics, MetricsPair, Result, SolverInfo
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import (
    Contract,
    Envelope,
    Mission,
    OptimiserRun,
    Quarter,
    QuarterState,
    Role,
    RunRecord,
    SpendEntry,
    SpendKind,
)
from portfolio.services import ledger
from portfolio.services import missions as services
from portfolio.services.finance import build_finance

# the demo mission is in 2026-27 Q3, which has no approved allocation yet; its four closed
# quarters (2025-26 Q3 to 2026-27 Q2) have one each and recorded spend. 2025-26, its first year,
# has ended.
CURRENT = "2026-27 Q3"
LATEST_APPROVED = "2026-27 Q2"
APPROVED = ["2025-26 Q3", "2025-26 Q4", "2026-27 Q1", LATEST_APPROVED]
ENDED = "2025-26"
YEAR = "2026-27"
FIGURES = ("budget", "spent", "contracted", "forecast", "headroom")
SPEND = [  # (candidate, option, envelope, amount, kind)
    ("continuous-descent", "demonstrate", "sbc", 3.0, SpendKind.actual),  # contracted
    ("ai-atc-sequencing", "explore", "ukri", 1.25, SpendKind.actual),  # not funded
    ("contrail-routing", "scale", "sbc", 0.5, SpendKind.break_cost),  # contracted, a break cost
]
OTHER = "other-mission"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def record(engine: Engine, slug: str = DEMO, spend: list[Any] = SPEND) -> None:
    with SqlUnitOfWork(engine) as uow:
        ledger.record_spend(
            uow,
            "ceo",
            slug,
            [
                SpendEntry(
                    candidate=c,
                    option=o,
                    envelope=e,
                    year=YEAR,
                    amount=a,
                    kind=k,
                    quarter=CURRENT,
                )
                for c, o, e, a, k in spend
            ],
        )
        uow.commit()


def expected(engine: Engine) -> tuple[dict[tuple[str, str], dict[str, float]], OptimiserRun]:
    """Per (envelope name, year) the five figures, worked out from the stored data directly: a
    funding row is forecast less the actual spend recorded on it after its run was made."""
    with SqlUnitOfWork(engine) as uow:
        mission = uow.missions.get(DEMO)
        quarters = uow.missions.quarters(DEMO)
        approved = [q for q in quarters if q.approved_run is not None]
        assert [q.label for q in approved][-1] == LATEST_APPROVED
        assert next(q for q in quarters if q.label == CURRENT).approved_run is None
        run = uow.runs.get(DEMO, approved[-1].approved_run or 0)
        live = {c.candidate for c in uow.contracts.live(DEMO)}
        entries = uow.spend.all(DEMO)
    assert live, "the demo has live contracts"
    assert run.result is not None
    since: dict[tuple[str, str, str, str], float] = {}
    for e in entries:
        assert e.recorded_at is not None
        if e.kind is SpendKind.actual and e.recorded_at > run.created_at:
            key = (e.candidate, e.option, e.envelope, e.year)
            since[key] = since.get(key, 0.0) + e.amount
    out = {}
    for envelope in mission.envelopes:
        for year in mission.years:
            rows = [
                (f.candidate, max(0.0, f.amount - since.get(key, 0.0)))
                for f in run.funding
                if f.envelope == envelope.id
                and f.year == year
                and year != ENDED
                and (key := (f.candidate, f.option, f.envelope, f.year))
            ]
            budget = envelope.budget.get(year, 0.0)
            spent = sum(e.amount for e in entries if (e.envelope, e.year) == (envelope.id, year))
            forecast = sum(amount for _, amount in rows)
            out[(envelope.name, year)] = {
                "budget": budget,
                "spent": spent,
                "contracted": sum(amount for c, amount in rows if c in live),
                "forecast": forecast,
                "headroom": budget - spent - forecast,
            }
    return out, run


def spent_now(engine: Engine, envelope: str = "sbc", year: str = YEAR) -> float:
    with SqlUnitOfWork(engine) as uow:
        return ledger.spent(uow, DEMO).by_envelope_year.get((envelope, year), 0.0)


def approx(value: float) -> Any:
    return pytest.approx(value, abs=1e-6)


def number(text: str) -> float:
    return float(text.split()[0].replace(",", ""))


# -- the JSON API --------------------------------------------------------------------------------
def test_the_api_figures_add_up_to_the_approved_runs_funding_and_the_ledger(
    client: TestClient, engine: Engine
):
    before = spent_now(engine)
    record(engine)
    want, run = expected(engine)
    assert want[("Single business case", YEAR)]["spent"] == approx(before + 3.5)  # break cost in
    assert want[("Single business case", YEAR)]["contracted"] > 0
    login(client, "treasury")
    view = client.get(f"/api/v1/missions/{DEMO}/finance").json()
    assert view["quarter"] == CURRENT
    got = {(x["envelope_name"], x["year"]): {k: x[k] for k in FIGURES} for x in view["lines"]}
    assert got.keys() == want.keys()
    for key, figures in want.items():
        assert got[key] == {k: approx(v) for k, v in figures.items()}, key
        line = next(x for x in view["lines"] if (x["envelope_name"], x["year"]) == key)
        assert line["ended"] is (key[1] == ENDED)
    # every row, totals included, has headroom = budget − spent − forecast, and the totals sum
    for row in [*view["lines"], *view["envelopes"], *view["years"], view["total"]]:
        assert row["headroom"] == approx(row["budget"] - row["spent"] - row["forecast"])
        assert row["contracted"] <= row["forecast"] + 1e-9
    for figure in FIGURES:
        assert view["total"][figure] == approx(sum(v[figure] for v in want.values()))
        for total in view["envelopes"]:
            assert total[figure] == approx(
                sum(v[figure] for (e, _), v in want.items() if e == total["envelope_name"])
            )
        for total in view["years"]:
            assert total[figure] == approx(
                sum(v[figure] for (_, y), v in want.items() if y == total["year"])
            )
    # the demo's spend in 2026-27 Q2 was recorded after that quarter's run: counted once, as spent
    planned = sum(f.amount for f in run.funding)
    assert view["total"]["forecast"] < planned - 1.0
    # the risk is the approved allocation's, out of sample; and the policy it was run with
    oos = run.out_of_sample
    assert oos is not None
    allocation = view["allocation"]
    assert allocation["quarter"] == LATEST_APPROVED
    assert allocation["run"] == run.id
    assert allocation["p_overrun"] == oos.p_overrun
    assert allocation["expected_overspend"] == approx(oos.expected_overspend)
    assert allocation["p_target"] == oos.p_target
    assert allocation["over_programming"] == run.problem["policy"].get("over_programming", 0.0)
    assert allocation["max_overrun_probability"] == run.problem["policy"].get(
        "max_overrun_probability"
    )
    assert allocation["approved_at"].endswith("+00:00")


def test_the_history_lists_each_approved_quarter_with_the_spend_recorded_by_its_end(
    client: TestClient, engine: Engine
):
    record(engine)  # recorded in 2026-27 Q3: after every approved quarter
    login(client, "ceo")
    history = client.get(f"/api/v1/missions/{DEMO}/finance").json()["history"]
    assert [h["quarter"] for h in history] == APPROVED
    with SqlUnitOfWork(engine) as uow:
        entries = uow.spend.all(DEMO)
        for h in history:
            run = uow.runs.get(DEMO, h["run"])
            assert run.result is not None
            assert run.out_of_sample is not None
            assert h["planned_remaining"] == approx(sum(f.amount for f in run.funding))
            assert h["p_overrun"] == run.out_of_sample.p_overrun
            assert h["state"] == "closed"
            by_its_end = sum(e.amount for e in entries if e.quarter <= h["quarter"])
            assert h["spent_to_date"] == approx(by_its_end) and by_its_end > 0
            assert h["what_if"] is False


# -- the page ------------------------------------------------------------------------------------
def test_the_page_shows_the_same_figures_and_says_the_risk_is_the_whole_programmes(
    client: TestClient, engine: Engine
):
    record(engine)
    want, run = expected(engine)
    login(client, "treasury")
    mission_page = BeautifulSoup(client.get(f"/missions/{DEMO}").text, "html.parser")
    links = {a.get_text(strip=True): a["href"] for a in mission_page.select("#navigation a")}
    assert links["Finance"] == f"/missions/{DEMO}/finance"
    response = client.get(f"/missions/{DEMO}/finance")
    assert response.status_code == 200
    page = BeautifulSoup(response.text, "html.parser")
    assert page.select_one("h1").get_text(strip=True) == "Programme finance"
    names = {"sbc": "Single business case", "ukri": "UKRI envelope"}
    shown = 0
    for row in page.select("#finance tbody tr"):
        envelope, year = row["data-envelope"], row["data-year"]
        cells = {td["data-figure"]: number(td.get_text(" ", strip=True)) for td in row("td")}
        if envelope in names and year != "all":
            for figure, value in want[(names[envelope], year)].items():
                assert cells[figure] == pytest.approx(value, abs=0.005), (envelope, year, figure)
            shown += 1
        assert cells["headroom"] == pytest.approx(
            cells["budget"] - cells["spent"] - cells["forecast"], abs=0.015
        )
    assert shown == len(want)
    source = page.select_one("#allocation-source").get_text(" ", strip=True)
    assert f"allocation approved in {LATEST_APPROVED}" in source
    assert f"{CURRENT} has no approved allocation yet" in source
    assert run.out_of_sample is not None and run.out_of_sample.p_overrun is not None
    p_overrun = run.out_of_sample.p_overrun
    shown_p = page.select_one("#p-overrun dd").get_text(strip=True)
    assert shown_p.endswith(" %") and float(shown_p[:-2]) == pytest.approx(
        p_overrun * 100, abs=0.05
    )
    assert "whole programme, all envelopes and years together" in (
        page.select_one("#risk-scope").get_text(" ", strip=True)
    )
    quarters = [tr["data-quarter"] for tr in page.select("#history tbody tr")]
    assert quarters == APPROVED
    downloads = {a["href"] for a in page.select("#download-links a")}
    assert downloads == {
        f"/missions/{DEMO}/finance.xlsx",
        f"/missions/{DEMO}/finance.csv",
        f"/missions/{DEMO}/finance.csv?table=history",
    }


def test_only_treasury_the_ceo_and_administrators_see_programme_finance(client: TestClient):
    urls = [
        f"/missions/{DEMO}/finance",
        f"/missions/{DEMO}/finance.csv",
        f"/missions/{DEMO}/finance.xlsx",
        f"/api/v1/missions/{DEMO}/finance",
    ]
    login(client, "council1")
    assert [client.get(url).status_code for url in urls] == [403] * len(urls)
    page = BeautifulSoup(client.get(f"/missions/{DEMO}").text, "html.parser")
    assert "Finance" not in [a.get_text(strip=True) for a in page.select("#navigation a")]
    for username in ("treasury", "ceo", "admin"):
        client.cookies.clear()
        login(client, username)
        assert [client.get(url).status_code for url in urls] == [200] * len(urls), username


# -- downloads -----------------------------------------------------------------------------------
def test_the_csv_downloads_parse_and_hold_the_same_figures(client: TestClient, engine: Engine):
    record(engine)
    want, _ = expected(engine)
    login(client, "treasury")
    response = client.get(f"/missions/{DEMO}/finance.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="uk-air-travel-finance.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    lines = {
        (r["Envelope"], r["Financial year"]): r
        for r in rows
        if r["Envelope"] != "All envelopes" and r["Financial year"] != "All years"
    }
    assert lines.keys() == want.keys()
    for key, figures in want.items():
        for figure, value in figures.items():
            assert float(lines[key][f"{figure.capitalize()} (£m)"]) == approx(value)
    (total,) = [
        r for r in rows if (r["Envelope"], r["Financial year"]) == ("All envelopes", "All years")
    ]
    assert float(total["Headroom (£m)"]) == approx(sum(v["headroom"] for v in want.values()))
    history = client.get(f"/missions/{DEMO}/finance.csv", params={"table": "history"})
    quarters = [
        r["Quarter"] for r in csv.DictReader(io.StringIO(history.content.decode("utf-8-sig")))
    ]
    assert quarters == APPROVED
    assert client.get(f"/missions/{DEMO}/finance.csv", params={"table": "x"}).status_code == 422


def test_the_excel_download_has_a_sheet_by_envelope_and_year_and_one_of_history(
    client: TestClient, engine: Engine
):
    record(engine)
    want, _ = expected(engine)
    login(client, "admin")
    response = client.get(f"/missions/{DEMO}/finance.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["By envelope and year", "History"]
    header, *rows = [list(r) for r in book["By envelope and year"].iter_rows(values_only=True)]
    records = [dict(zip(header, r, strict=True)) for r in rows]
    for key, figures in want.items():
        (row,) = [r for r in records if (r["Envelope"], r["Financial year"]) == key]
        assert row["Headroom (£m)"] == approx(figures["headroom"])
        assert row["Contracted (£m)"] == approx(figures["contracted"])
        assert row["Year ended"] == ("yes" if key[1] == ENDED else "no")
    history = list(book["History"].iter_rows(values_only=True))
    assert history[0][0] == "Quarter"
    assert [r[0] for r in history[1:]] == APPROVED


# -- before the first approval -------------------------------------------------------------------
def add_unapproved_mission(engine: Engine) -> float:
    """A copy of the demo mission with an open quarter, one candidate and £4m spent, and no
    approved allocation; Treasury reviews it. Returns its whole budget."""
    with SqlUnitOfWork(engine) as uow:
        demo = uow.missions.get(DEMO)
        candidate = uow.candidates.get(DEMO, "ai-atc-sequencing")
        mission = demo.model_copy(update={"slug": OTHER, "name": "Other mission"})
        services.create_mission(uow, "test", mission)
        uow.missions.add_quarter(OTHER, Quarter(label=CURRENT))
        services.register_candidate(uow, "test", OTHER, candidate)
        services.assign_role(uow, "test", OTHER, "treasury", Role.treasury_reviewer)
        uow.commit()
    record(engine, OTHER, [("ai-atc-sequencing", "explore", "sbc", 4.0, SpendKind.actual)])
    return sum(sum(e.budget.values()) for e in demo.envelopes)


def test_before_any_approval_the_page_says_so_and_shows_budget_and_spent(
    client: TestClient, engine: Engine
):
    budget = add_unapproved_mission(engine)
    login(client, "treasury")
    view = client.get(f"/api/v1/missions/{OTHER}/finance").json()
    assert view["allocation"] is None
    assert view["history"] == []
    assert view["total"] == {
        "budget": approx(budget),
        "spent": approx(4.0),
        "contracted": 0,
        "forecast": 0,
        "headroom": approx(budget - 4.0),
    }
    page = BeautifulSoup(client.get(f"/missions/{OTHER}/finance").text, "html.parser")
    assert "No quarter has an approved allocation yet" in page.select_one("#no-allocation").text
    assert page.select_one("#risk") is None
    row = page.select_one('#finance tr[data-envelope="sbc"][data-year="2026-27"]')
    cells = {td["data-figure"]: number(td.get_text(" ", strip=True)) for td in row("td")}
    assert cells == {"budget": 80, "spent": 4, "contracted": 0, "forecast": 0, "headroom": 76}


# -- the view model, from hand-made data (no database) -------------------------------------------
def _run(run_id: int, quarter: str, funding: list[tuple[str, str, float]], **kw: Any) -> Any:
    result = Result(
        status="optimal",
        funding=[
            FundingRow(candidate=c, option="x", envelope="core", year=y, amount=a)
            for c, y, a in funding
        ],
        metrics=MetricsPair(
            out_of_sample=Metrics(
                p_target=0.6,
                expected_impact=1.0,
                cvar_shortfall=0.0,
                p_overrun=0.2,
                expected_overspend=1.5,
            )
        ),
        solver=SolverInfo(name="highs", version="1", seconds=0.1),
    )
    return RunRecord(
        id=run_id,
        mission="m",
        quarter=quarter,
        objective="p_target",
        status="optimal",
        started_by="ceo",
        created_at=dt.datetime(2027, 1, 1),
        result=result.model_dump(mode="json"),
        **kw,
    )


POLICY = Policy(over_programming=0.1, max_overrun_probability=0.25)
"""What the runs above were solved under (their problem files' ``policy``)."""

MISSION = Mission(
    slug="m",
    name="M",
    target=1.0,
    deadline=dt.date(2030, 3, 31),
    years=["2026-27", "2027-28"],
    envelopes=[Envelope(id="core", name="Core fund", budget={"2026-27": 10, "2027-28": 20})],
)
ENTRIES = [
    SpendEntry(
        candidate="a", option="x", envelope="core", year="2026-27", amount=3.0, quarter="2026-27 Q4"
    ),
    SpendEntry(
        candidate="b",
        option="x",
        envelope="core",
        year="2027-28",
        amount=1.0,
        quarter="2027-28 Q1",
        kind=SpendKind.break_cost,
    ),
]


def test_a_year_that_has_ended_has_no_forecast_and_a_what_if_is_shown_as_one():
    quarters = [
        Quarter(label="2026-27 Q4", state=QuarterState.closed, approved_run=1),
        Quarter(label="2027-28 Q1"),  # current, not approved: the forecast is 2026-27 Q4's
    ]
    run = _run(
        1,
        "2026-27 Q4",
        [("a", "2026-27", 4.0), ("a", "2027-28", 6.0), ("b", "2027-28", 5.0)],
        budget_scale=1.1,
    )
    contracts = [Contract(candidate="a", option="x", since="2026-27 Q4")]
    view = build_finance(MISSION, quarters, quarters[1], {1: run}, {1: POLICY}, ENTRIES, contracts)
    past, now = view.lines
    assert (past.ended, past.spent, past.forecast, past.contracted, past.headroom) == (
        True,
        3.0,
        0.0,
        0.0,
        7.0,
    )
    assert (now.ended, now.spent, now.forecast, now.contracted, now.headroom) == (
        False,
        1.0,
        11.0,
        6.0,
        8.0,
    )
    assert view.total.model_dump() == {
        "budget": 30.0,
        "spent": 4.0,
        "contracted": 6.0,
        "forecast": 11.0,
        "headroom": 15.0,
    }
    (history,) = view.history
    assert view.allocation == history
    assert history.what_if is True
    assert history.planned_remaining == 15.0  # all its rows, the ended year's too
    assert history.spent_to_date == 3.0  # the 2027-28 Q1 entry came after
    assert (history.over_programming, history.max_overrun_probability) == (0.1, 0.25)


def test_the_current_quarters_own_approved_allocation_is_the_forecast():
    quarters = [
        Quarter(label="2026-27 Q4", state=QuarterState.closed, approved_run=1),
        Quarter(label="2027-28 Q1", state=QuarterState.approved, approved_run=2),
    ]
    runs = {
        1: _run(1, "2026-27 Q4", [("a", "2027-28", 6.0)]),
        2: _run(2, "2027-28 Q1", [("a", "2027-28", 9.0)]),
    }
    view = build_finance(MISSION, quarters, quarters[1], runs, {1: POLICY, 2: POLICY}, ENTRIES, [])
    assert view.allocation is not None and view.allocation.quarter == "2027-28 Q1"
    assert view.lines[1].forecast == 9.0
    assert view.lines[1].contracted == 0.0  # no live contract
    assert [h.spent_to_date for h in view.history] == [3.0, 4.0]


# -- the command line (SQLite) -------------------------------------------------------------------
runner = CliRunner()


@pytest.fixture
def demo_file(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A SQLite file holding the demo mission, for the CLI's ``--db``."""
    templates = request.getfixturevalue("sqlite_templates")
    url = templates.copy("demo")
    yield Path(url.removeprefix("sqlite:///"))
    templates.drop(url)


def test_the_cli_writes_the_same_view_as_json(demo_file: Path, tmp_path: Path):
    engine = make_engine(f"sqlite:///{demo_file}")
    try:
        record(engine)
        want, _ = expected(engine)
    finally:
        engine.dispose()
    result = runner.invoke(cli_app, ["finance", DEMO, "--format", "json", "--db", str(demo_file)])
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    got = {(x["envelope_name"], x["year"]): {k: x[k] for k in FIGURES} for x in view["lines"]}
    assert got == {key: {k: approx(v) for k, v in f.items()} for key, f in want.items()}
    assert view["allocation"]["quarter"] == LATEST_APPROVED
    text = runner.invoke(cli_app, ["finance", DEMO, "--db", str(demo_file)])
    assert text.exit_code == 0, text.output
    assert "Forecast from the allocation approved in 2026-27 Q2" in text.stdout
    out = tmp_path / "finance.xlsx"
    written = runner.invoke(
        cli_app, ["finance", DEMO, "--format", "xlsx", "--output", str(out), "--db", str(demo_file)]
    )
    assert written.exit_code == 0, written.output
    assert load_workbook(out).sheetnames == ["By envelope and year", "History"]
    refused = runner.invoke(cli_app, ["finance", DEMO, "--format", "xlsx", "--db", str(demo_file)])
    assert refused.exit_code == 2
    assert "--format xlsx needs --output" in refused.stderr
