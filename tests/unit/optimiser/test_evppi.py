"""Value of information as EVPPI (optimiser.analytics.voi): never negative beyond its error, zero
for a probability known exactly and for a candidate without impact, and equal, within its error,
to an exact preposterior calculation that enumerates every portfolio and every outcome."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from optimiser.analytics.voi import (
    DrawTask,
    _plan,
    evppi,
    known_exactly,
    run_draw_task,
    stratified_mean,
)
from optimiser.errors import ProblemError
from optimiser.problem import Problem, load_problem

from .opt_factories import candidate, document, option, problem

Z = 1.96


def hedged(objective: str = "p_target", **policy: Any) -> Problem:
    """Four single-option candidates, two affordable at once; a is uncertain (p 0.5) and worth
    funding beside d unless its p is low, when b and c together are better."""
    cands = [
        candidate("a", platform="x", cost=10, p=0.5, impact=5.0),
        candidate("b", platform="y", cost=10, p=0.7, impact=3.0),
        candidate("c", platform="z", cost=10, p=0.8, impact=2.0),
        candidate("d", platform="w", cost=10, p=0.45, impact=5.0),
    ]
    doc = document(
        cands,
        budget=20,
        target=5.0,
        objective=objective,
        correlation=0.0,
        scenarios={"count": 2000, "seed": 3},
        **policy,
    )
    doc["evaluation"] = {"count": 20000, "seed": 11}
    return load_problem(doc)


# -- brute force: every portfolio, every outcome, every value of the belief ----------------------
def exact_value(prob: Problem, chosen: tuple[int, ...], p: list[float]) -> float:
    """The objective of funding `chosen` when candidate k succeeds with p[k], independently
    (correlation 0), with certain impacts: P(target) by enumerating the outcomes, or the
    expected impact."""
    impact = [c.options[0].impact.most_likely for c in prob.candidates]
    if prob.policy.objective == "expected":
        return sum(p[k] * impact[k] for k in chosen)
    total = 0.0
    for works in itertools.product((False, True), repeat=len(chosen)):
        chance = math.prod(p[k] if w else 1 - p[k] for k, w in zip(chosen, works, strict=True))
        reached = sum(impact[k] for k, w in zip(chosen, works, strict=True) if w)
        total += chance * (reached >= prob.mission.target - 1e-9)
    return total


def exact_evppi(prob: Problem, who: int, values: list[float]) -> float:
    """Σ_v π_v [max_x V_v(x) − V_v(x0)], x0 maximising Σ_v π_v V_v(x), over every affordable
    portfolio, the belief in candidate `who`'s p being `values`, equally likely."""
    budget = sum(prob.envelopes[0].budget.values())
    cost = [c.options[0].cost for c in prob.candidates]
    n = len(prob.candidates)
    portfolios = [
        chosen
        for size in range(n + 1)
        for chosen in itertools.combinations(range(n), size)
        if sum(cost[k] for k in chosen) <= budget + 1e-9  # type: ignore[misc]
    ]
    base = [c.options[0].p_success for c in prob.candidates]

    def worlds(v: float) -> list[float]:
        return [v if k == who else base[k] for k in range(n)]

    def expected(x: tuple[int, ...]) -> float:
        return float(np.mean([exact_value(prob, x, worlds(v)) for v in values]))

    x0 = max(portfolios, key=expected)
    gains = [
        max(exact_value(prob, x, worlds(v)) for x in portfolios) - exact_value(prob, x0, worlds(v))
        for v in values
    ]
    return float(np.mean(gains))


@pytest.mark.parametrize(
    ("objective", "values"),
    [("p_target", [0.1, 0.5, 0.9]), ("expected", [0.2, 0.4, 0.9])],
)
def test_evppi_agrees_with_an_exact_preposterior_calculation(
    objective: str, values: list[float]
) -> None:
    prob = hedged(objective)
    # the problem's p is the belief's mean: the decision without information is the Bayes one
    prob.candidates[0].options[0].p_success = float(np.mean(values))
    exact = exact_evppi(prob, 0, values)
    assert exact > 0.01  # the instance is built so that learning p can change the decision
    found = evppi(prob, candidates=["a"], values={"a/main": values}, draws=24, workers=1)
    (row,) = found.rows
    assert row.status == "swept" and row.draws == 24
    assert abs(row.estimate - exact) <= 3 * row.error + 0.005, (row.estimate, row.error, exact)
    assert row.separated and row.rank == 1


def test_the_prior_decision_is_the_problem_solved_as_given_and_scored_on_fresh_scenarios() -> None:
    prob = hedged()
    found = evppi(prob, candidates=["a"], values={"a/main": [0.1, 0.5, 0.9]}, draws=4, workers=1)
    assert found.prior == {"a": "main", "d": "main"}
    assert found.evaluation_scenarios == 20000 and found.objective == "p_target"
    # a draw at the problem's own p changes nothing: the difference is exactly 0
    same = run_draw_task(DrawTask("a", prob, found.prior, 2000, 5))
    assert not same.changed and same.gain == same.p_target_gain == 0.0
    # at p = 0.1 the informed decision is b and c, better out of sample on the same scenarios
    low = prob.model_copy(deep=True)
    low.candidates[0].options[0].p_success = 0.1
    outcome = run_draw_task(DrawTask("a", low, found.prior, 20000, 5))
    assert outcome.changed and outcome.selected == {"b": "main", "c": "main"}
    assert outcome.gain == pytest.approx(0.56 - 0.505, abs=0.015)
    assert outcome.gain == pytest.approx(outcome.value - outcome.prior_value)  # type: ignore[operator]


# -- never negative, zero when there is nothing to learn -------------------------------------------
def mixed(objective: str = "capped") -> Problem:
    """Six candidates on three platforms (one with nested options), budget 60, correlated."""
    cands = [
        candidate("a", platform="h2", cost=20, p=0.6, impact=4.0),
        candidate("b", platform="h2", cost=15, p=0.5, impact=3.0),
        candidate("c", platform="saf", cost=25, p=0.7, impact=5.0),
        candidate(
            "d",
            platform="saf",
            options=[option("explore", 5, 0.6, 1.0), option("scale", 30, 0.35, 6.0)],
        ),
        candidate("e", platform="bat", cost=10, p=0.4, impact=2.5),
        candidate("zero", platform="bat", cost=4, p=0.5, impact=0.0),
    ]
    return problem(cands, budget=60, target=6.0, objective=objective)


def test_evppi_is_never_negative_and_keeps_its_raw_estimate_and_error() -> None:
    found = evppi(mixed(), draws=8, concentration=3.0, screen=False, workers=2)
    assert {r.candidate for r in found.rows} == {"a", "b", "c", "d", "e", "zero"}
    for row in found.rows:
        assert row.evppi == max(0.0, row.estimate) and row.evppi >= 0.0
        assert row.error >= 0.0
        assert row.lower == pytest.approx(row.estimate - Z * row.error)
        assert row.upper == pytest.approx(row.estimate + Z * row.error)
        assert row.separated == (row.lower > 0.0)
        # non-negative in expectation: a negative estimate is within its error
        assert row.estimate >= -3 * row.error - 1e-12
    ranked = [r for r in found.rows if r.rank is not None]
    assert all(r.separated for r in ranked)
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
    assert [r.estimate for r in ranked] == sorted((r.estimate for r in ranked), reverse=True)
    assert found.rows[: len(ranked)] == ranked  # the separated ones come first


def test_evppi_is_zero_for_a_candidate_whose_p_is_known_exactly() -> None:
    prob = mixed()
    found = evppi(
        prob,
        spread=known_exactly(["a/main", "d/explore", "d/scale"]),
        draws=4,
        concentration=3.0,
        workers=1,
    )
    rows = {r.candidate: r for r in found.rows}
    for cid in ("a", "d"):
        row = rows[cid]
        assert row.status == "certain" and row.draws == 0
        assert row.evppi == row.estimate == row.error == 0.0 and not row.separated
    # a belief concentrated on p (n = 10^9) draws p itself: the decision never changes
    sharp = evppi(
        prob,
        candidates=["c"],
        spread={"c/main": {"concentration": 1e9}},
        draws=6,
        screen=False,
        workers=1,
    )
    (row,) = sharp.rows
    assert row.status == "swept" and row.changed == 0
    assert row.estimate == 0.0 and row.error == 0.0 and not row.separated


def test_a_certain_or_excluded_candidate_needs_no_re_solve() -> None:
    cands = [
        candidate("sure", platform="x", cost=10, p=1.0, impact=3.0),
        candidate("never", platform="y", cost=10, p=0.0, impact=3.0),
        candidate("out", platform="z", cost=10, p=0.5, impact=3.0),
        candidate("open", platform="w", cost=10, p=0.5, impact=3.0),
    ]
    prob = problem(cands, budget=30, target=4.0, objective="p_target", exclusions=["out"])
    found = evppi(prob, candidates=["sure", "never", "out"], draws=4, workers=1)
    assert {r.candidate: r.status for r in found.rows} == {
        "sure": "certain",
        "never": "certain",
        "out": "excluded",
    }
    assert found.solves == 1  # the decision without information, nothing else


def test_evppi_is_zero_within_its_error_for_a_zero_impact_candidate() -> None:
    found = evppi(mixed(), candidates=["zero"], draws=8, concentration=2.0, screen=False, workers=1)
    (row,) = found.rows
    assert row.status == "swept" and row.draws == 8
    assert abs(row.estimate) <= Z * row.error + 1e-12
    assert not row.separated and row.rank is None


def test_a_candidate_whose_decision_cannot_change_is_screened_with_two_re_solves() -> None:
    cands = [
        candidate("cheap", platform="x", cost=10, p=0.6, impact=5.0),
        candidate("dear", platform="y", cost=500, p=0.5, impact=9.0),  # never affordable
    ]
    prob = problem(cands, budget=20, target=4.0, objective="p_target")
    found = evppi(prob, candidates=["dear"], draws=6, workers=1)
    (row,) = found.rows
    assert row.status == "screened" and row.draws == 2 and row.changed == 0
    assert row.evppi == 0.0 and not row.separated
    low, high = row.p_drawn["main"]
    assert 0.0 < low < 0.5 < high < 1.0  # the two ends of the belief


def test_where_the_policy_limits_overruns_each_draw_also_fixes_the_realised_cost() -> None:
    """Cost matters to a rule only through the overrun limit: then a draw learns the option's
    realised total (a point of its cost range) with its p, and every draw is re-solved (the
    screen, which orders draws by p alone, does not apply)."""
    cands = [
        candidate("cheap", platform="x", cost=10, p=0.6, impact=5.0),
        candidate("dear", platform="y", cost=500, p=0.5, impact=9.0),  # never affordable
    ]
    doc = document(cands, budget=20, target=4.0, objective="p_target")
    doc["version"] = 2
    doc["policy"]["max_overrun_probability"] = 0.5
    doc["candidates"][0]["options"][0]["cost_range"] = {"low": 8, "mode": 10, "high": 30}
    prob = load_problem(doc)
    found = evppi(prob, candidates=["cheap", "dear"], draws=4, workers=1)
    rows = {r.candidate: r for r in found.rows}
    assert rows["cheap"].status == "swept" and rows["cheap"].draws == 4
    assert rows["dear"].status == "screened"  # no cost range: p alone is drawn, screened
    plan = _plan(prob, 0, 4, 0, 10.0, {}, {}, {})
    drawn = [v.candidates[0].options[0].cost_range for v in plan.variants]
    assert all(c is not None and c.low == c.most_likely == c.high for c in drawn)
    assert all(8 <= c.low <= 30 for c in drawn if c is not None)
    assert len({c.low for c in drawn if c is not None}) == 4  # each draw its own total


def test_explicit_scenarios_are_refused_as_carrying_no_probability_to_learn() -> None:
    prob = problem(
        [candidate("a", cost=5, p=0.5, impact=3.0)],
        scenarios={"impact": {"a/main": [0.0, 3.0, 3.0]}},
    )
    with pytest.raises(ProblemError, match="scenarios"):
        evppi(prob, workers=1)


def test_an_odd_number_of_draws_is_refused() -> None:
    with pytest.raises(ValueError, match="even"):
        evppi(mixed(), draws=5, workers=1)


# -- the error of a stratified mean --------------------------------------------------------------
def test_the_stratified_error_pairs_adjacent_strata_and_counts_the_pool() -> None:
    d = np.array([1.0, 1.0, 0.0, 0.0])
    mean, error = stratified_mean(d, pool=40)
    assert mean == 0.5
    assert error == pytest.approx(math.sqrt(0.0 + np.var(d, ddof=1) / 40))
    d = np.array([1.0, 0.0, 0.0, 0.0])
    mean, error = stratified_mean(d, pool=1_000_000)
    assert error == pytest.approx(math.sqrt(1.0 / 16 + np.var(d, ddof=1) / 1_000_000))
    assert stratified_mean(np.zeros(6), pool=48) == (0.0, 0.0)


# -- the same answer on a Dask cluster -----------------------------------------------------------
def test_evppi_gives_the_same_answer_on_a_dask_cluster() -> None:
    import distributed  # the test extras install dask[distributed]: this test must run

    prob = hedged()
    kwargs: dict[str, Any] = {"candidates": ["a"], "values": {"a/main": [0.1, 0.5, 0.9]}}
    local = evppi(prob, draws=6, workers=1, **kwargs)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = evppi(prob, draws=6, scheduler=client, **kwargs)
    assert remote.rows == local.rows and remote.prior == local.prior
