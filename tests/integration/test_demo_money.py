"""The demo tells a true money story (issue 15): four closed quarters with actual spend recorded,
some of it above plan, one candidate stopped after a failed stage gate with its contract ended
(a break cost) and its spend sunk, and the open quarter's problem planning only what remains.
On SQLite and PostgreSQL, from the demo database the suite loads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from support import DEMO, login

from optimiser.problem import Policy
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.demo.mission import CLOSED_QUARTERS, CURRENT_QUARTER
from portfolio.domain.model import ChangeKind, ContractState, QuarterState, SpendKind
from portfolio.services import ledger, runs

WING = "distributed-propulsion"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_four_closed_quarters_each_recorded_actual_spend(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        quarters = uow.missions.quarters(DEMO)
        entries = uow.spend.all(DEMO)
    closed = [q.label for q in quarters if q.state is QuarterState.closed]
    assert closed == CLOSED_QUARTERS and len(closed) >= 4
    assert [q.label for q in quarters if q.state is not QuarterState.closed] == [CURRENT_QUARTER]
    for label in closed:
        spent = sum(e.amount for e in entries if e.quarter == label and e.kind is SpendKind.actual)
        assert spent > 1.0, label
        assert all(e.year == ledger.financial_year(label) for e in entries if e.quarter == label)


def test_some_candidates_spent_above_their_approved_plan(engine: Engine) -> None:
    """A quarter's spend on a candidate compared with its share of the year's remaining plan in
    the allocation approved that quarter (a quarter of it in Q1, a third in Q2, ...)."""
    over: set[str] = set()
    under: set[str] = set()
    with SqlUnitOfWork(engine) as uow:
        entries = uow.spend.all(DEMO)
        for quarter in uow.missions.quarters(DEMO):
            if quarter.approved_run is None or quarter.state is not QuarterState.closed:
                continue
            year = ledger.financial_year(quarter.label)
            share = 1.0 / (5 - int(quarter.label[-1]))
            run = uow.runs.get(DEMO, quarter.approved_run)
            planned: dict[str, float] = defaultdict(float)
            for row in run.funding:
                if row.year == year:
                    planned[row.candidate] += row.amount * share
            actual: dict[str, float] = defaultdict(float)
            for e in entries:
                if e.quarter == quarter.label and e.kind is SpendKind.actual:
                    actual[e.candidate] += e.amount
            for candidate, amount in actual.items():
                (over if amount > planned[candidate] * 1.05 else under).add(candidate)
    assert "atj-teesside" in over
    assert len(under) > len(over) >= 2


def test_the_wing_was_stopped_its_contract_ended_with_a_break_cost_and_its_spend_is_sunk(
    engine: Engine,
) -> None:
    with SqlUnitOfWork(engine) as uow:
        (contract,) = uow.contracts.all(DEMO, WING)
        entries = uow.spend.all(DEMO, WING)
        changes = {c.candidate: c for c in uow.cycle.changes(DEMO, CLOSED_QUARTERS[3])}
        problem = runs.export_problem(uow, DEMO, Policy())
    assert contract.since == CLOSED_QUARTERS[0]
    assert contract.state is ContractState.ended
    assert contract.ended_in == CLOSED_QUARTERS[3]
    assert "Gate 1 failed" in contract.end_reason
    assert contract.break_cost == pytest.approx(0.3)
    breaks = [e for e in entries if e.kind is SpendKind.break_cost]
    assert [e.amount for e in breaks] == [pytest.approx(0.3)]
    actual = sum(e.amount for e in entries if e.kind is SpendKind.actual)
    assert 3.0 < actual < 6.0  # most of the £6m campaign was spent before the gate
    stop = changes[WING]
    assert stop.kind is ChangeKind.stop and "Gate 1 failed" in stop.reason
    # sunk: not a commitment any more, and restarting the campaign would cost only what remains
    assert not any(ref.startswith(WING) for ref in problem["policy"]["commitments"])
    wing = next(c for c in problem["candidates"] if c["id"] == WING)
    explore = next(o for o in wing["options"] if o["id"] == "explore")
    remaining = (
        explore["cost"] if isinstance(explore["cost"], float) else sum(explore["cost"].values())
    )
    assert remaining == pytest.approx(6.0 - actual, abs=1e-6)


def test_the_open_quarter_plans_from_this_year_with_what_remains(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        problem = runs.export_problem(uow, DEMO, Policy())
        mission = uow.missions.get(DEMO)
        spent = ledger.spent(uow, DEMO).by_envelope_year
    assert problem["years"][0] == ledger.financial_year(CURRENT_QUARTER) == "2026-27"
    assert "2025-26" not in problem["years"]
    sbc = next(e for e in problem["envelopes"] if e["id"] == "sbc")
    real = next(e for e in mission.envelopes if e.id == "sbc")
    assert spent[("sbc", "2026-27")] > 0
    assert sbc["budget"]["2026-27"] == pytest.approx(
        real.budget["2026-27"] - spent[("sbc", "2026-27")]
    )


def test_treasury_sees_the_story_in_programme_finance(client: TestClient) -> None:
    login(client, "treasury")
    view = client.get(f"/api/v1/missions/{DEMO}/finance").json()
    assert [h["quarter"] for h in view["history"]] == CLOSED_QUARTERS
    spent = [h["spent_to_date"] for h in view["history"]]
    assert spent == sorted(spent) and spent[0] > 0
    first_year = [x for x in view["lines"] if x["year"] == "2025-26"]
    assert first_year and all(x["ended"] and x["forecast"] == 0 for x in first_year)
    assert sum(x["spent"] for x in first_year) > 0
    page = client.get(f"/missions/{DEMO}/finance")
    assert page.status_code == 200
    assert "2025-26" in page.text
