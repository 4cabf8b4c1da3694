"""The core index resamples both uncertainties (issue 18): the council's scores (members
bootstrapped, re-centred on the problem's p) and the scenarios (a fresh seed per resample); at
least 100 resamples by default; each share with its Monte-Carlo error and a class that uses it;
checked against brute-force enumeration of every resample on a small instance."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from optimiser.analytics import robustness
from optimiser.analytics.robustness import (
    DEFAULT_RESAMPLES,
    RESAMPLING_DEFAULTS,
    MemberScore,
    classify,
    core_index,
    recentre,
    resampled_problem,
    resampled_problems,
)
from optimiser.data import problem_data
from optimiser.montecarlo import share_error, wilson_interval
from optimiser.problem import Problem
from optimiser.scenarios import optimisation_scenarios

from .opt_factories import candidate, problem

KNOWN = {"sd": 0.0}  # a Spread that keeps an option's p exactly


def three_for_two(objective: str = "expected", **policy: Any) -> Problem:
    """a and b (p = 0.6, known exactly) and x (p scored by the council, mean 0.55) compete for a
    budget that funds two of them; equal costs and impacts, so x is funded exactly when its
    resampled p beats 0.6 (objective `expected`: only p matters, not the scenarios)."""
    cands = [candidate(c, cost=10.0, p=0.6 if c != "x" else 0.55, impact=5.0) for c in "abx"]
    return problem(cands, budget=20.0, target=50.0, objective=objective, **policy)


def scores(*ps: float) -> list[MemberScore]:
    return [MemberScore(p_success=p, member=f"m{j}") for j, p in enumerate(ps)]


def shares(index: robustness.CoreIndex) -> dict[str, float]:
    return {r.candidate: r.share for r in index.rows}


# -- the council ----------------------------------------------------------------------------------


def test_wider_disagreement_with_the_same_mean_moves_a_borderline_share_away_from_zero() -> None:
    p = three_for_two()
    known = {"a/main": KNOWN, "b/main": KNOWN}
    narrow = core_index(
        p,
        resamples=60,
        seed=11,
        spread=known,
        member_scores={"x/main": scores(0.53, 0.55, 0.57)},
        workers=1,
    )
    wide = core_index(
        p,
        resamples=60,
        seed=11,
        spread=known,
        member_scores={"x/main": scores(0.25, 0.55, 0.85)},
        workers=1,
    )
    assert narrow.method == wide.method == "council"
    assert narrow.sources == {"members": 1, "fixed": 2}  # a and b known exactly
    # the members agree that x (0.53-0.57) is worse than a and b (0.6): never funded
    assert shares(narrow)["x"] == 0.0
    assert shares(narrow)["a"] == shares(narrow)["b"] == 1.0
    # same mean 0.55, but two of three members drawn high often make the pool beat 0.6
    x_wide = next(r for r in wide.rows if r.candidate == "x")
    assert 0.15 <= x_wide.share <= 0.6
    assert x_wide.classification == "borderline"
    assert x_wide.low > 0.0  # beyond Monte-Carlo error of "never"
    # a and b share the two places with x
    assert shares(wide)["a"] + shares(wide)["b"] + x_wide.share == pytest.approx(2.0)
    # deterministic with fixed seeds
    again = core_index(
        p,
        resamples=60,
        seed=11,
        spread=known,
        member_scores={"x/main": scores(0.25, 0.55, 0.85)},
        workers=1,
    )
    assert again == wide


def test_the_whole_panel_is_drawn_once_per_resample() -> None:
    """Two options scored by the same members: an optimistic member drawn twice lifts both."""
    p = problem([candidate("a", p=0.5), candidate("b", p=0.5)], budget=100.0)
    named = {
        "a/main": scores(0.2, 0.5, 0.8),
        "b/main": scores(0.2, 0.5, 0.8),
    }
    unnamed = {k: [MemberScore(p_success=m.p_success) for m in v] for k, v in named.items()}

    def draws(members: dict[str, list[MemberScore]]) -> np.ndarray:
        rng = np.random.default_rng(4)
        out = []
        for _ in range(300):
            q = resampled_problem(p, rng, 10.0, {}, members)
            out.append([q.candidates[0].options[0].p_success, q.candidates[1].options[0].p_success])
        return np.array(out)

    together, apart = draws(named), draws(unnamed)
    assert np.allclose(together[:, 0], together[:, 1])  # same members drawn for both options
    assert abs(np.corrcoef(apart.T)[0, 1]) < 0.2  # drawn independently per option
    # either way the pool of three draws from {0.2, 0.5, 0.8}: mean 0.5
    assert together.mean() == pytest.approx(0.5, abs=0.03)
    assert apart.mean() == pytest.approx(0.5, abs=0.03)


def test_an_option_the_drawn_panel_did_not_score_draws_from_its_own_scorers() -> None:
    p = problem([candidate("a", p=0.5), candidate("b", p=0.3)], budget=100.0)
    members = {
        "a/main": [MemberScore(p_success=p, member=f"m{j}") for j, p in enumerate([0.4, 0.6] * 5)],
        "b/main": [MemberScore(p_success=0.3, member="lonely")],  # one of eleven members
    }
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = resampled_problem(p, rng, 10.0, {}, members)
        assert q.candidates[1].options[0].p_success == pytest.approx(0.3)


def test_member_scores_are_recentred_on_the_problems_p() -> None:
    """Evidence since the round moved the option's p from the council's 0.5 to 0.8: the
    resamples keep the council's spread around 0.8, in log-odds."""
    assert recentre(0.5, 0.5, 0.8) == pytest.approx(0.8)
    assert recentre(0.3, 0.5, 0.5) == 0.3  # no evidence: the drawn pool itself
    assert recentre(0.3, 0.5, 0.0) == 0.0 and recentre(0.3, 0.5, 1.0) == 1.0  # certain
    low, high = recentre(0.2, 0.5, 0.8), recentre(0.8, 0.5, 0.8)
    assert 0.0 < low < 0.8 < high < 1.0
    assert np.log(high / (1 - high)) - np.log(0.8 / 0.2) == pytest.approx(np.log(0.8 / 0.2))

    p = problem([candidate("a", p=0.8)], budget=100.0)
    members = {"a/main": scores(0.3, 0.5, 0.7)}
    rng = np.random.default_rng(2)
    drawn = [
        resampled_problem(p, rng, 10.0, {}, members).candidates[0].options[0].p_success
        for _ in range(400)
    ]
    assert np.median(drawn) == pytest.approx(0.8, abs=0.03)
    assert 0.6 < min(drawn) and max(drawn) < 0.95


def test_member_impacts_are_pooled_and_replace_the_options_impact() -> None:
    from optimiser.problem import ThreePoint

    p = problem([candidate("a", p=0.5, impact=2.0)], budget=100.0)
    members = {
        "a/main": [
            MemberScore(p_success=0.5, member="m0", impact=ThreePoint(low=1, mode=2, high=3)),
            MemberScore(p_success=0.5, member="m1", impact=ThreePoint(low=2, mode=4, high=9)),
        ]
    }
    rng = np.random.default_rng(5)
    seen = set()
    for _ in range(40):
        impact = resampled_problem(p, rng, 10.0, {}, members).candidates[0].options[0].impact
        seen.add((impact.low, impact.high))
    assert seen == {(1, 3), (2, 9), (1, 9)}  # m0 twice, m1 twice, or both


# -- the scenarios --------------------------------------------------------------------------------


def test_each_resample_solves_on_its_own_scenario_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    p = three_for_two(objective="capped")
    seen: list[Any] = []
    real = robustness.map_solves

    def spy(fn: Any, tasks: list[Any], **kw: Any) -> Any:
        seen.extend(tasks)
        return real(fn, tasks, **kw)

    monkeypatch.setattr(robustness, "map_solves", spy)
    index = core_index(p, resamples=12, seed=3, workers=1)
    seeds = [t.problem.scenarios.seed for t in seen]
    assert len(seeds) == 12 and len(set(seeds)) == 12
    assert seeds == index.scenario_seeds
    assert all(t.problem.scenarios.count == p.scenarios.count for t in seen)
    assert index.scenario_count == p.scenarios.count
    # the same analysis seed gives the same seeds; another gives others
    assert resampled_problems(p, resamples=12, seed=3)[1] == seeds
    assert not set(resampled_problems(p, resamples=12, seed=4)[1]) & set(seeds)
    # fewer optimisation scenarios per resample, on request
    fewer, _ = resampled_problems(p, resamples=3, seed=3, scenarios=50)
    assert {v.scenarios.count for v in fewer} == {50}


def test_a_fresh_scenario_seed_alone_moves_a_close_call() -> None:
    """Nothing about the estimates is uncertain (every p known exactly); a and b differ only
    in their impact's spread, so which is funded depends on the scenarios drawn."""
    cands = [
        candidate("a", cost=10.0, p=0.5, impact=3.0),
        candidate(
            "b",
            cost=10.0,
            options=[
                {
                    "id": "main",
                    "cost": 10.0,
                    "p_success": 0.5,
                    "impact": {"low": 0.0, "mode": 3.0, "high": 6.0},
                }
            ],
        ),
    ]
    p = problem(
        cands, budget=10.0, target=3.5, objective="capped", scenarios={"count": 40, "seed": 1}
    )
    index = core_index(
        p, resamples=40, seed=1, spread={"a/main": KNOWN, "b/main": KNOWN}, workers=1
    )
    assert index.sources == {"fixed": 2}
    share_a = shares(index)["a"]
    assert 0.05 < share_a < 0.95  # not the same portfolio on every scenario set


# -- share, error, class ---------------------------------------------------------------------------


def test_at_least_100_resamples_by_default() -> None:
    assert DEFAULT_RESAMPLES >= 100
    assert RESAMPLING_DEFAULTS["resamples"] == DEFAULT_RESAMPLES
    p = problem([candidate("a", p=0.5), candidate("b", p=0.4)], budget=10.0, objective="expected")
    index = core_index(p, workers=1)
    assert index.resamples == DEFAULT_RESAMPLES and index.solved == DEFAULT_RESAMPLES
    assert len(set(index.scenario_seeds)) == DEFAULT_RESAMPLES


def test_the_class_uses_the_shares_interval() -> None:
    # 100 resamples: core needs 96 (95 of 100 has a 95 % interval from 0.888), exterior at most 4
    assert [classify(k / 100, 100) for k in (100, 96, 95, 50, 5, 4, 0)] == [
        "core",
        "core",
        "borderline",
        "borderline",
        "borderline",
        "exterior",
        "exterior",
    ]
    # all of 5 resamples is too few to call core: the interval starts at 0.57
    assert classify(1.0, 5) == "borderline"
    assert wilson_interval(1.0, 5)[0] == pytest.approx(0.5655, abs=1e-4)
    assert share_error(0.5, 100) == pytest.approx(0.05)


def test_each_row_carries_its_share_error_and_interval_and_locks_stay_core() -> None:
    p = three_for_two(objective="capped", locks=["a"], exclusions=["b"])
    index = core_index(
        p, resamples=5, seed=2, member_scores={"x/main": scores(0.3, 0.9)}, workers=1
    )
    rows = {r.candidate: r for r in index.rows}
    assert rows["a"].share == 1.0 and rows["a"].classification == "core"  # locked: by construction
    assert rows["b"].share == 0.0 and rows["b"].classification == "exterior"  # excluded
    for r in index.rows:
        assert r.se == pytest.approx(share_error(r.share, index.solved))
        assert (r.low, r.high) == pytest.approx(wilson_interval(r.share, index.solved))
        assert r.low <= r.share <= r.high


# -- against brute force ------------------------------------------------------------------------


def brute_force_choice(variant: Problem, budget: float) -> set[str]:
    """The capped-objective optimum of one resample by enumerating every affordable subset on
    the resample's own optimisation scenarios (single-option candidates, one budget year)."""
    data = problem_data(variant)
    impact = optimisation_scenarios(data).impact  # S x K, in data.keys order
    ids = [k.split("/")[0] for k in data.keys]
    cost = {c.id: float(c.options[0].cost) for c in variant.candidates}  # all in the first year
    target = variant.mission.target
    best, best_value = set(), -1.0
    for r in range(len(ids) + 1):
        for combo in itertools.combinations(range(len(ids)), r):
            if sum(cost[ids[k]] for k in combo) > budget + 1e-9:
                continue
            total = impact[:, list(combo)].sum(axis=1) if combo else np.zeros(impact.shape[0])
            value = float(np.minimum(target, total).mean())
            if value > best_value + 1e-9:
                best, best_value = {ids[k] for k in combo}, value
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_core_index_equals_brute_force_over_the_same_resamples(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    cands = []
    for j in range(5):
        low = float(rng.uniform(0.5, 2))
        high = low + float(rng.uniform(1, 4))
        cands.append(
            {
                "id": f"c{j}",
                "platform": "p1",
                "eligible_envelopes": ["sbc"],
                "options": [
                    {
                        "id": "main",
                        "cost": float(rng.integers(5, 12)),
                        "p_success": float(rng.uniform(0.3, 0.8)),
                        "impact": {"low": low, "mode": (low + high) / 2, "high": high},
                    }
                ],
            }
        )
    budget = 22.0
    p = problem(
        cands,
        budget=budget,
        target=9.0,
        objective="capped",
        scenarios={"count": 60, "seed": 5},
    )
    members = {
        "c0/main": scores(0.3, 0.5, 0.8),
        "c1/main": scores(0.4, 0.6, 0.9),
    }
    index = core_index(p, resamples=16, seed=seed, member_scores=members, workers=1)
    variants, _ = resampled_problems(p, resamples=16, seed=seed, member_scores=members)
    chosen = [brute_force_choice(v, budget) for v in variants]
    expected = {c["id"]: sum(c["id"] in s for s in chosen) / len(chosen) for c in cands}
    assert index.solved == 16
    assert shares(index) == pytest.approx(expected)
