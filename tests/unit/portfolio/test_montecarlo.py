"""The 95 % interval of a share (Wilson score, ``portfolio.domain.montecarlo``) against
hand-computed
numbers and an exact binomial coverage calculation; how it is written; and the in-sample against
out-of-sample checks built on it (``portfolio.domain.sample_fit``)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from optimiser.result import Result
from portfolio.domain import montecarlo, sample_fit
from portfolio.domain.model import OptimiserRun, Rag
from portfolio.domain.quarterly_update import UpdateContext, draft_update

Z = 1.96


# -- the interval rule, by hand -------------------------------------------------------------------
def test_half_of_a_hundred_scenarios_gives_the_hand_computed_wilson_interval():
    # z² = 3.8416, z²/n = 0.038416; centre = (0.5 + 0.019208) / 1.038416 = 0.5
    # half = 1.96 / 1.038416 · sqrt(0.0025 + 3.8416 / 40000) = 1.887490 · 0.0509513 = 0.096170
    iv = montecarlo.share_interval(0.5, 100)
    assert iv.low == pytest.approx(0.403830, abs=1e-6)
    assert iv.high == pytest.approx(0.596170, abs=1e-6)
    assert (iv.value, iv.scenarios) == (0.5, 100)


def test_seventy_three_percent_of_three_hundred_gives_the_hand_computed_interval():
    # centre = (0.73 + 3.8416/600) / (1 + 3.8416/300) = 0.7364027 / 1.0128053 = 0.7270921
    # half = 1.96 / 1.0128053 · sqrt(0.73 · 0.27 / 300 + 3.8416 / 360000)
    #      = 1.9352187 · sqrt(0.000657 + 0.00001067111) = 1.9352187 · 0.0258394 = 0.0500049
    iv = montecarlo.share_interval(0.73, 300)
    assert iv.low == pytest.approx(0.7270921 - 0.0500049, abs=1e-6)
    assert iv.high == pytest.approx(0.7270921 + 0.0500049, abs=1e-6)


def test_no_scenario_counting_still_leaves_an_interval_above_zero():
    # at p = 0 the upper end is z² / (n + z²) = 3.8416 / 1003.8416
    iv = montecarlo.share_interval(0.0, 1000)
    assert iv.low == 0.0
    assert iv.high == pytest.approx(3.8416 / 1003.8416, rel=1e-9)
    # and at p = 1 the lower end is n / (n + z²)
    full = montecarlo.share_interval(1.0, 20_000)
    assert full.high == 1.0
    assert full.low == pytest.approx(20_000 / 20_003.8416, rel=1e-9)


@pytest.mark.parametrize(("p", "n"), [(0.5, 100), (0.73, 300), (0.02, 300), (0.509, 20_000)])
def test_each_end_is_a_share_whose_normal_band_just_reaches_the_estimate(p: float, n: int):
    """The Wilson interval inverts the score test: at either end q, |p − q| = z·sqrt(q(1−q)/n)."""
    iv = montecarlo.share_interval(p, n)
    for q in (iv.low, iv.high):
        assert abs(p - q) == pytest.approx(Z * math.sqrt(q * (1 - q) / n), rel=1e-9)


def test_away_from_the_ends_it_is_the_normal_interval_to_a_hundredth_of_a_point():
    p, n = 0.509, 20_000
    iv = montecarlo.share_interval(p, n)
    margin = Z * montecarlo.share_error(p, n)
    assert iv.low == pytest.approx(p - margin, abs=1e-4)
    assert iv.high == pytest.approx(p + margin, abs=1e-4)


def _binomial_pmf(k: int, n: int, p: float) -> float:
    log = (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )
    return math.exp(log)


@pytest.mark.parametrize("p", [0.02, 0.1, 0.5, 0.7, 0.95])
def test_the_interval_covers_the_true_share_about_95_times_in_100(p: float):
    """Exactly, over every outcome k of n = 300 scenarios (no sampling): the share of outcomes
    whose interval holds the true p is close to 95 %."""
    n = 300
    coverage = sum(
        _binomial_pmf(k, n, p)
        for k in range(n + 1)
        if (iv := montecarlo.share_interval(k / n, n)).low <= p <= iv.high
    )
    assert 0.93 <= coverage <= 0.97


def test_a_share_needs_a_scenario():
    with pytest.raises(ValueError, match="at least one scenario"):
        montecarlo.share_interval(0.5, 0)


# -- which numbers get an interval ----------------------------------------------------------------
def test_a_metrics_block_gives_intervals_for_its_shares_only():
    block = {"p_target": 0.5, "p_any_success": 1.0, "expected_impact": 9.1, "scenarios": 100}
    found = montecarlo.intervals(block)
    assert set(found) == {"p_target", "p_any_success"}
    assert found["p_target"] == montecarlo.share_interval(0.5, 100)
    assert montecarlo.interval(block, "expected_impact") is None
    assert montecarlo.interval({"p_target": 0.5}, "p_target") is None  # no scenario count
    assert montecarlo.interval({"p_overrun": None, "scenarios": 10}, "p_overrun") is None


def test_a_results_intervals_keep_in_and_out_of_sample_apart():
    metrics = {
        "in_sample": {"p_target": 0.73, "scenarios": 300},
        "out_of_sample": {"p_target": 0.69, "p_overrun": 0.25, "scenarios": 20_000},
    }
    found = montecarlo.result_intervals(metrics)
    assert found["in_sample"]["p_target"] == montecarlo.share_interval(0.73, 300)
    assert found["out_of_sample"]["p_overrun"] == montecarlo.share_interval(0.25, 20_000)
    assert montecarlo.result_intervals(None) == {}


# -- how it is written ----------------------------------------------------------------------------
def test_an_interval_is_written_with_one_decimal_and_more_only_where_needed():
    assert (
        montecarlo.interval_text(montecarlo.share_interval(0.5, 100))
        == "50.0 % (95 % interval 40.4–59.6 %)"
    )
    # 0 of 20,000: the upper end 0.019 % would read 0.0 % with one decimal
    assert (
        montecarlo.interval_text(montecarlo.share_interval(0.0, 20_000))
        == "0.00 % (95 % interval 0.00–0.02 %)"
    )
    assert montecarlo.interval_words(montecarlo.share_interval(0.509, 20_000)) == (
        "50.9 %",
        "95 % interval 50.2–51.6 %",
    )


def _letter_context(**changes: Any) -> UpdateContext:
    data: dict[str, Any] = {
        "mission_name": "Net zero aviation",
        "target": 9.0,
        "unit": "MtCO2e/yr",
        "deadline": dt.date(2035, 3, 31),
        "quarter": "2026-27 Q3",
        "rag": Rag.amber,
        "p_target": 0.509,
        "expected_impact": 9.1,
        "spend_total": 500.0,
        "n_funded": 12,
        "next_quarter": "2026-27 Q4",
    }
    data.update(changes)
    return UpdateContext(**data)


def test_the_update_letter_gives_p_target_with_its_interval_and_scenario_count():
    letter = draft_update(_letter_context(p_target_scenarios=20_000))
    assert "is 51% (95% interval 50–52%), tested on 20,000 scenarios" in letter
    # without a scenario count there is no interval to state
    assert "is 51%, tested on scenarios the optimiser" in draft_update(_letter_context())


# -- in sample against out of sample --------------------------------------------------------------
def run(
    run_id: int,
    objective: str = "cvar",
    *,
    oos: float = 0.5,
    ins: float | None = None,
    n_out: int = 20_000,
    n_in: int = 300,
    quarter: str = "2026-27 Q3",
    status: str = "optimal",
    budget_scale: float = 1.0,
    **extra: float,
) -> OptimiserRun:
    means = {"expected_impact": 0.0, "cvar_shortfall": 0.0}
    metrics = {
        "in_sample": {"p_target": oos if ins is None else ins, "scenarios": n_in, **means, **extra},
        "out_of_sample": {"p_target": oos, "scenarios": n_out, **means, **extra},
    }
    return OptimiserRun(
        id=run_id,
        mission="m",
        quarter=quarter,
        objective=objective,
        status=status,
        started_by="ceo",
        created_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
        problem={},
        result=Result.model_validate(
            {
                "status": status if status in ("optimal", "feasible", "infeasible") else "error",
                "metrics": metrics,
                "solver": {"name": "HiGHS", "version": "test", "seconds": 0.0},
            }
        ),
        budget_scale=budget_scale,
    )


def test_in_sample_flattering_beyond_monte_carlo_error_is_a_gap():
    # 80 % of 300 against 60 % of 20,000: 20 points, margin 1.96·sqrt(.16·.84... ) ≈ 4.6 points
    (gap,) = sample_fit.sample_gaps(run(1, ins=0.80, oos=0.60))
    assert gap.metric == "p_target" and gap.beyond_error and gap.flatters
    assert gap.points == pytest.approx(20.0)
    se_in, se_out = montecarlo.share_error(0.8, 300), montecarlo.share_error(0.6, 20_000)
    assert gap.margin_points == pytest.approx(100 * Z * math.hypot(se_in, se_out), rel=0.01)


def test_a_share_compared_at_one_takes_its_error_from_its_interval():
    """All 300 optimisation scenarios against 99.95 % of 20,000: sqrt(p(1−p)/n) is 0 at p = 1,
    which would call the 0.05-point gap real; the interval's error, (1 − 300/303.8416)/3.92 =
    0.32 points, does not."""
    iv = montecarlo.share_interval(1.0, 300)
    assert montecarlo.interval_error(iv) == pytest.approx((1 - 300 / 303.8416) / (2 * Z))
    d = montecarlo.compare_metric(
        {"p_any_success": 1.0, "scenarios": 300},
        {"p_any_success": 0.9995, "scenarios": 20_000},
        "p_any_success",
    )
    assert d is not None and not d.significant
    assert d.margin == pytest.approx(Z * 0.0032, abs=2e-4)
    # away from the ends the interval's error is the textbook one, to a fraction of a percent
    mid = montecarlo.share_interval(0.503, 20_000)
    assert montecarlo.interval_error(mid) == pytest.approx(
        montecarlo.share_error(0.503, 20_000), rel=1e-3
    )


def test_in_and_out_of_sample_within_monte_carlo_error_are_no_gap():
    (gap,) = sample_fit.sample_gaps(run(1, ins=0.62, oos=0.60))  # 2 points, margin ≈ 5.5
    assert not gap.beyond_error


def test_fewer_overruns_in_sample_than_out_is_the_flattering_side():
    gaps = {
        g.metric: g
        for g in sample_fit.sample_gaps(
            run(1, oos=0.5, n_in=300, p_overrun=0.0)  # the same p_overrun in and out: no gap
        )
    }
    assert not gaps["p_overrun"].beyond_error
    r = run(1, oos=0.5)
    assert r.result is not None
    assert r.in_sample is not None and r.out_of_sample is not None
    r.in_sample.p_overrun = 0.05
    r.out_of_sample.p_overrun = 0.20
    overrun = next(g for g in sample_fit.sample_gaps(r) if g.metric == "p_overrun")
    assert overrun.beyond_error and overrun.flatters


def test_a_p_target_run_beaten_out_of_sample_by_a_cvar_run_is_told_which():
    p_run = run(3, "p_target", oos=0.48)
    weaker, stronger = run(1, oos=0.49), run(2, oos=0.52)
    (check,) = sample_fit.objective_checks(p_run, [p_run, weaker, stronger])
    assert check.cvar_run.id == 2 and check.p_target_run.id == 3
    assert check.beyond_error and check.points == pytest.approx(4.0)
    assert check.optimisation_scenarios == 300
    assert check.suggested_scenarios == 2000  # four times 300 is fewer than 2,000
    # and the CVaR run's page names the P(target) run it beats
    assert [c.p_target_run.id for c in sample_fit.objective_checks(stronger, [p_run])] == [3]


def test_a_small_lead_is_within_error_and_a_lower_cvar_run_gives_no_advice():
    p_run = run(3, "p_target", oos=0.505)
    (check,) = sample_fit.objective_checks(p_run, [run(1, oos=0.509)])
    assert not check.beyond_error
    assert sample_fit.objective_checks(p_run, [run(1, oos=0.40)]) == []


def test_only_cvar_runs_of_the_same_quarter_and_budgets_that_found_a_portfolio_count():
    p_run = run(3, "p_target", oos=0.40)
    others = [
        run(1, oos=0.6, quarter="2026-27 Q2"),
        run(2, oos=0.6, budget_scale=1.2),
        run(4, oos=0.6, status="infeasible"),
        run(5, "expected", oos=0.6),
    ]
    assert sample_fit.objective_checks(p_run, others) == []
    assert sample_fit.objective_checks(run(6, "expected", oos=0.3), [p_run]) == []


def test_more_scenarios_are_suggested_up_to_what_a_run_allows():
    assert sample_fit.suggested_scenarios(300) == 2000
    assert sample_fit.suggested_scenarios(2000) == 8000
    assert sample_fit.suggested_scenarios(10_000) == 20_000
    assert sample_fit.suggested_scenarios(20_000) is None
