"""Money across quarters in the problem file (issue 15): spent money is sunk, the problem plans
only what remains, the switching cost is stated in money, and the CEO's policy is kept per
mission. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from support import DEMO, login

from optimiser.problem import Policy, load_problem
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import SpendEntry
from portfolio.domain.money import loss_share_of, switching_rate
from portfolio.services import ledger, runs

QUARTER = "2026-27 Q3"
YEAR = "2026-27"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _spend(
    engine: Engine, candidate: str, option: str, envelope: str, amount: float, year: str = YEAR
) -> None:
    with SqlUnitOfWork(engine) as uow:
        ledger.record_spend(
            uow,
            "ceo",
            DEMO,
            [
                SpendEntry(
                    candidate=candidate,
                    option=option,
                    envelope=envelope,
                    year=year,
                    amount=amount,
                    quarter=QUARTER,
                )
            ],
        )
        uow.commit()


def _problem(engine: Engine, **policy: object) -> dict[str, object]:
    with SqlUnitOfWork(engine) as uow:
        return runs.export_problem(uow, DEMO, Policy.model_validate(policy))


def _option(problem: dict[str, object], candidate: str, option: str) -> dict[str, object]:
    cand = next(c for c in problem["candidates"] if c["id"] == candidate)  # type: ignore[attr-defined]
    return next(o for o in cand["options"] if o["id"] == option)  # type: ignore[no-any-return]


def _a_candidate(engine: Engine) -> tuple[str, str, str, dict[str, float], float]:
    """A demo candidate nothing was spent on yet and with no cost actuals, with an option planned
    in the current year, and an envelope it may use."""
    with SqlUnitOfWork(engine) as uow:
        spent = ledger.spent(uow, DEMO).by_candidate
        uplifted = {e.candidate for e in uow.evidence.all(DEMO) if e.cost_actual is not None}
        for c in uow.candidates.all(DEMO):
            if c.id in spent or c.id in uplifted:
                continue
            for o in c.options:
                if o.cost_profile.get(YEAR, 0) > 2 and o.cost_range is not None:
                    total = sum(o.cost_profile.values())
                    return c.id, o.id, c.eligible_envelopes[0], dict(o.cost_profile), total
    raise AssertionError("the demo has no such candidate")


def test_the_problem_plans_only_the_remaining_years_and_money(engine: Engine) -> None:
    problem = _problem(engine)
    assert problem["version"] == 2
    assert problem["years"][0] == YEAR  # the current quarter's financial year first
    candidate, option, envelope, profile, _ = _a_candidate(engine)
    before_option = _option(problem, candidate, option)
    budgets = {e["id"]: e["budget"] for e in problem["envelopes"]}  # type: ignore[attr-defined]
    _spend(engine, candidate, option, envelope, 2.0)
    after = _problem(engine)
    option_after = _option(after, candidate, option)
    # the option's remaining cost is its plan less the £2m spent, spread like the plan
    remaining = sum(option_after["cost"].values())  # type: ignore[attr-defined]
    assert remaining == pytest.approx(sum(before_option["cost"].values()) - 2.0)  # type: ignore[attr-defined]
    ratios = {y: v / profile[y] for y, v in option_after["cost"].items()}  # type: ignore[attr-defined]
    assert max(ratios.values()) == pytest.approx(min(ratios.values()))
    # its remaining three-point cost is the council's less what was spent
    low_before = before_option["cost_range"]["low"]  # type: ignore[index]
    assert option_after["cost_range"]["low"] == pytest.approx(max(0.0, low_before - 2.0))  # type: ignore[index]
    # the envelope has £2m less this year; other envelopes and years are untouched
    after_budgets = {e["id"]: e["budget"] for e in after["envelopes"]}  # type: ignore[attr-defined]
    assert after_budgets[envelope][YEAR] == pytest.approx(budgets[envelope][YEAR] - 2.0)
    for e, budget in budgets.items():
        for y, amount in budget.items():
            if (e, y) != (envelope, YEAR):
                assert after_budgets[e][y] == pytest.approx(amount)
    load_problem(after)  # a valid version 2 file


def test_a_stopped_candidates_spend_stays_sunk(engine: Engine) -> None:
    candidate, option, envelope, _, _ = _a_candidate(engine)
    _spend(engine, candidate, option, envelope, 3.0)
    excluded = _problem(engine, exclusions=[candidate])
    budget = next(e for e in excluded["envelopes"] if e["id"] == envelope)["budget"]  # type: ignore[attr-defined,index]
    plain = _problem(engine)
    assert budget == next(e for e in plain["envelopes"] if e["id"] == envelope)["budget"]  # type: ignore[attr-defined,index]
    with SqlUnitOfWork(engine) as uow:
        mission = uow.missions.get(DEMO)
        spent = ledger.spent(uow, DEMO).by_envelope_year[(envelope, YEAR)]
    original = next(e for e in mission.envelopes if e.id == envelope).budget[YEAR]
    assert spent > 3.0  # the demo's spend this year, and the £3m
    assert budget[YEAR] == pytest.approx(original - spent)  # not refunded by stopping it


def test_an_overspend_beyond_a_years_budget_is_taken_from_the_next_years() -> None:
    left = ledger.remaining_budget(
        {"2026-27": 10.0, "2027-28": 20.0}, {"2026-27": 14.0}, ["2026-27", "2027-28"]
    )
    assert left == {"2026-27": 0.0, "2027-28": 16.0}
    assert ledger.remaining_profile({"2025-26": 4, "2026-27": 6}, 5.0, ["2026-27"]) == {
        "2026-27": 5.0
    }
    assert ledger.remaining_profile({"2026-27": 4, "2027-28": 6}, 12.0, ["2026-27"]) == {}


def test_spend_in_a_year_that_has_not_started_is_refused_naming_the_field(engine: Engine) -> None:
    candidate, option, envelope, _, _ = _a_candidate(engine)
    with SqlUnitOfWork(engine) as uow, pytest.raises(Exception) as caught:
        ledger.record_spend(
            uow,
            "ceo",
            DEMO,
            [
                SpendEntry(
                    candidate=candidate,
                    option=option,
                    envelope=envelope,
                    year="2027-28",
                    amount=1.0,
                    quarter=QUARTER,
                )
            ],
        )
    assert ("year", "2027-28 has not started: spend is recorded once it is made") in getattr(
        caught.value, "errors", []
    )


def test_the_switching_cost_is_stated_in_money_and_the_policy_is_kept(
    client: TestClient, engine: Engine
) -> None:
    csrf = login(client, "ceo")
    started = client.post(
        f"/api/v1/missions/{DEMO}/runs",
        json={
            "policy": {"objective": "p_target", "over_programming": 0.15, "time_limit_s": 5},
            "scenarios": 200,
            "switching_loss": 0.1,
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert started.status_code == 202, started.text
    with SqlUnitOfWork(engine) as uow:
        run = uow.runs.get(DEMO, started.json()["id"])
        mission = uow.missions.get(DEMO)
    gamma = run.problem["policy"]["switching_cost"]
    assert gamma == pytest.approx(0.1 * switching_rate(run.problem))
    assert loss_share_of(run.problem) == pytest.approx(0.1)
    # 10 % of a programme of hundreds of £m is a small charge per £m in P(target)
    assert 0 < gamma < 0.001
    assert mission.policy is not None
    assert mission.policy["switching_loss"] == pytest.approx(0.1)
    assert mission.policy["policy"]["over_programming"] == 0.15
    page = client.get(f"/missions/{DEMO}/runs")
    assert 'name="over_programming" type="text" value="15"' in page.text or (
        'value="15"' in page.text and "over_programming" in page.text
    )
    assert 'name="switching_loss"' in page.text


def test_overrun_risk_is_in_the_report_the_letter_and_the_open_data(client: TestClient) -> None:
    login(client, "treasury")
    report = client.get(f"/missions/{DEMO}/report?quarter=2026-27%20Q2")
    assert report.status_code == 200
    assert 'id="risk-overrun"' in report.text and "Expected overspend (£m)" in report.text
    public = client.get(f"/missions/{DEMO}/updates/2026-27-Q2/allocation.json").json()
    assert {"p_target", "p_overrun", "expected_overspend_m", "spent_to_date_m"} <= set(
        public["risk"]
    )
    assert 0 <= public["risk"]["p_overrun"] <= 1
    letter = client.get(f"/missions/{DEMO}/updates/2026-27-Q2")
    assert letter.status_code == 200
    assert "of scenarios the realised spend runs over the money available" in letter.text


def test_a_run_page_names_the_software_that_solved_it(client: TestClient) -> None:
    login(client, "treasury")
    runs_ = client.get(f"/api/v1/missions/{DEMO}/runs").json()
    solved = next(r for r in runs_ if r["status"] in ("optimal", "feasible"))
    page = client.get(f"/missions/{DEMO}/runs/{solved['id']}")
    assert 'id="software"' in page.text
    assert "highspy" in page.text and "mission-portfolio" in page.text
