"""Analytics around a solve: frontiers, core index, value of information, price of policy, and the
parallel runner on local processes and on a Dask cluster."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import pytest

from optimiser.analytics import (
    budget_frontier,
    core_index,
    map_solves,
    price_of_policy,
    risk_frontier,
    scheduler_from_env,
    value_of_knowing_the_outcome,
)
from optimiser.analytics.policy_price import relaxations_of
from optimiser.analytics.robustness import MemberScore, classify, resampled_problem
from optimiser.errors import InfeasibleError, ProblemError
from optimiser.problem import Problem, load_problem
from optimiser.solve import solve

from .opt_factories import candidate, option, problem, random_document


def portfolio(objective: str = "capped", **policy: Any) -> Problem:
    """Six candidates on three platforms, one with nested options; budget 60 in the first year."""
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
        candidate("f", platform="bat", cost=12, p=0.8, impact=1.5),
    ]
    return problem(cands, budget=60, target=6.0, objective=objective, **policy)


def present(values: list[float | None]) -> list[float]:
    """The values, asserting that every one is there."""
    assert all(v is not None for v in values)
    return [v for v in values if v is not None]


def square(x: int) -> int:
    return x * x


def failing(x: int) -> int:
    raise ValueError(f"bad item {x}")


# -- parallel runner ------------------------------------------------------------------------------


def test_map_solves_keeps_input_order_and_reports_progress_on_local_processes() -> None:
    seen: list[tuple[int, int]] = []
    out = map_solves(
        square, list(range(7)), workers=2, on_progress=lambda d, n: seen.append((d, n))
    )
    assert out == [x * x for x in range(7)]
    assert seen[0] == (0, 7) and seen[-1] == (7, 7)
    assert [d for d, _ in seen] == list(range(8))


def test_map_solves_reraises_a_worker_error() -> None:
    with pytest.raises(ValueError, match="bad item"):
        map_solves(failing, [1, 2], workers=2)


# -- efficient frontier ---------------------------------------------------------------------------


@pytest.mark.parametrize("objective", ["expected", "capped"])
def test_budget_frontier_objective_never_falls_as_the_budget_grows(objective: str) -> None:
    p = portfolio(objective, max_platform_share=0.7, min_platforms=2)
    frontier = budget_frontier(p, fractions=(0.5, 0.75, 1.25, 1.5, 2.0), workers=2)
    fractions = present([pt.fraction for pt in frontier.points])
    assert fractions == [0.5, 0.75, 1.0, 1.25, 1.5, 2.0]  # the problem as given is added
    assert frontier.given_index == 2 and frontier.points[2].is_given
    assert [pt.total_budget for pt in frontier.points] == pytest.approx([60 * f for f in fractions])
    assert all(pt.status == "optimal" for pt in frontier.points)
    values = present([pt.objective for pt in frontier.points])
    # the same scenarios at every point and a growing feasible set: the optimum cannot fall
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(values))
    assert values[-1] > values[0]
    assert frontier.scenario_seed == 1 and frontier.evaluation_seed == 2
    # the given point is the problem as given
    assert frontier.points[2].selected == budget_frontier(p, fractions=(1.0,)).points[0].selected


def test_budget_frontier_keeps_minimum_spend_unless_the_point_is_infeasible() -> None:
    envelopes = [
        {"id": "sbc", "name": "SBC", "budget": {"2026-27": 40, "2027-28": 0}},
        {"id": "ukri", "name": "UKRI", "budget": {"2026-27": 30, "2027-28": 0}, "min_spend": 20},
    ]
    cands = [
        candidate("a", cost=10, p=0.6, impact=3.0, eligible=["sbc", "ukri"]),
        candidate("b", cost=10, p=0.5, impact=3.0, eligible=["ukri"]),
        candidate("c", cost=20, p=0.5, impact=4.0, eligible=["sbc"]),
        candidate("d", cost=5, p=0.5, impact=1.0, eligible=["ukri"]),
    ]
    p = problem(cands, envelopes=envelopes, objective="expected")
    frontier = budget_frontier(p, fractions=(0.5, 1.5), workers=1)
    low, given, high = frontier.points
    assert low.min_spend_scaled and low.status == "optimal"  # 15 < 20 of UKRI: scaled to 10
    assert not given.min_spend_scaled and not high.min_spend_scaled
    assert high.objective is not None and given.objective is not None
    assert high.objective >= given.objective - 1e-9


def test_risk_frontier_trades_expected_impact_for_a_smaller_shortfall_tail() -> None:
    p = portfolio("cvar", cvar_lambda=0.75, cvar_alpha=0.8)
    frontier = risk_frontier(p, lambdas=(0.0, 0.5, 2.0, 5.0), workers=1)
    assert [pt.cvar_lambda for pt in frontier.points] == [0.0, 0.5, 0.75, 2.0, 5.0]
    assert frontier.given_index == 2 and frontier.objective == "cvar"
    cvar = present([pt.cvar_shortfall_in_sample for pt in frontier.points])
    mean = present([pt.expected_impact_in_sample for pt in frontier.points])
    # exact optima of a weighted sum: the tail and the mean both fall as lambda grows
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(cvar))
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(mean))
    json.loads(frontier.model_dump_json())


# -- robustness core index ------------------------------------------------------------------------


def test_core_index_is_one_for_a_locked_candidate_and_zero_for_an_excluded_one() -> None:
    p = portfolio("capped", locks=["b"], exclusions=["c"])
    index = core_index(p, resamples=6, seed=3, concentration=4.0, workers=2)
    rows = {r.candidate: r for r in index.rows}
    assert index.solved == 6 and index.method == "beta"
    assert rows["b"].share == 1.0 and rows["b"].locked and rows["b"].classification == "core"
    assert rows["c"].share == 0.0 and rows["c"].excluded and rows["c"].classification == "exterior"
    assert all(0.0 <= r.share <= 1.0 for r in index.rows)
    assert sum(rows["d"].option_shares.values()) == pytest.approx(rows["d"].share)
    assert core_index(p, resamples=6, seed=3, concentration=4.0, workers=1) == index
    json.loads(index.model_dump_json())


def test_core_index_bootstraps_explicit_scenarios() -> None:
    impact = {
        "a/main": [5, 0, 5, 0, 5, 0],
        "b/main": [0, 5, 0, 5, 0, 0],
        "c/main": [3, 3, 0, 0, 3, 3],
    }
    cands = [candidate(c, cost=10) for c in "abc"]
    p = problem(cands, budget=20, objective="capped", scenarios={"impact": impact}, locks=["a"])
    p = p.model_copy(update={"policy": p.policy.model_copy(update={"exclusions": ["b"]})})
    index = core_index(p, resamples=4, workers=1)
    rows = {r.candidate: r.share for r in index.rows}
    assert index.method == "bootstrap"
    assert rows["a"] == 1.0 and rows["b"] == 0.0 and rows["c"] == 1.0


def test_resampled_p_keep_the_nested_order_of_a_candidates_options() -> None:
    p = portfolio()
    rng = np.random.default_rng(0)
    for _ in range(50):
        d = resampled_problem(p, rng, 2.0, {}, {}).candidates[3]
        assert d.options[0].p_success >= d.options[1].p_success


def test_member_scores_are_bootstrapped_and_pooled() -> None:
    p = portfolio()
    # the members pool to a's p of 0.6, so the draws are not re-centred (test_core_index.py)
    members = {"a/main": [MemberScore(p_success=0.2), MemberScore(p_success=0.8, weight=2.0)]}
    rng = np.random.default_rng(1)
    ps = {
        round(resampled_problem(p, rng, 10.0, {}, members).candidates[0].options[0].p_success, 9)
        for _ in range(40)
    }
    assert ps == {0.2, 0.6, 0.8}  # both members drawn (weighted pool), or one of them twice


def test_a_spread_sets_the_beta_and_a_bad_one_is_refused() -> None:
    p = portfolio("capped", locks=["a"])
    index = core_index(p, resamples=2, spread={"b/main": {"sd": 0.1}}, workers=1)
    assert index.solved == 2
    with pytest.raises(ProblemError, match=r"spread.b/main.sd"):
        core_index(p, resamples=2, spread={"b/main": {"sd": 0.6}}, workers=1)
    with pytest.raises(ProblemError, match="not a candidate/option"):
        core_index(p, resamples=2, spread={"zz/main": {"concentration": 5}}, workers=1)


def test_classification_thresholds() -> None:
    assert [classify(s) for s in (1.0, 0.9, 0.5, 0.1, 0.0)] == [
        "core",
        "core",
        "borderline",
        "exterior",
        "exterior",
    ]


# -- value of information -------------------------------------------------------------------------


def test_evpi_counts_what_knowing_an_outcome_first_would_win() -> None:
    # a and b cannot both be funded; each reaches the target in half of the scenarios
    impact = {
        "a/main": [6, 6, 0, 0],
        "b/main": [0, 0, 6, 6],
        "sure/main": [1, 1, 1, 1],
    }
    cands = [candidate("a", cost=10), candidate("b", cost=10), candidate("sure", cost=1)]
    p = problem(cands, budget=12, target=6.0, objective="p_target", scenarios={"impact": impact})
    rows = {r.candidate: r for r in value_of_knowing_the_outcome(p, method="p_target", workers=1)}
    assert rows["a"].evpi == pytest.approx(0.5) and rows["a"].rank in (1, 2)
    assert rows["a"].baseline_p_target == pytest.approx(0.5)
    assert rows["a"].informed_p_target == pytest.approx(1.0)
    assert rows["sure"].evpi == 0.0 and not rows["sure"].uncertain and rows["sure"].rank == 3


def test_evpi_is_never_negative_and_zero_without_uncertainty() -> None:
    cands = [
        candidate("a", platform="h2", cost=20, p=0.6, impact=4.0),
        candidate("b", platform="h2", cost=15, p=0.5, impact=3.0),
        candidate("c", platform="saf", cost=25, p=0.7, impact=5.0),
        candidate(
            "d",
            platform="saf",
            options=[option("explore", 5, 0.6, 1.0), option("scale", 30, 0.35, 6.0)],
        ),
        candidate("certain", platform="bat", cost=10, p=1.0, impact=2.5),
        candidate("hopeless", platform="bat", cost=5, p=0.0, impact=9.0),
    ]
    p = problem(cands, budget=60, target=6.0, objective="capped")
    rows = value_of_knowing_the_outcome(p, workers=2)
    assert [r.rank for r in rows] == list(range(1, 7))
    assert all(r.evpi >= 0.0 for r in rows)
    assert [r.evpi for r in rows] == sorted((r.evpi for r in rows), reverse=True)
    by_id = {r.candidate: r for r in rows}
    assert by_id["certain"].evpi == 0.0 and not by_id["certain"].uncertain
    assert by_id["hopeless"].evpi == 0.0 and not by_id["hopeless"].uncertain
    assert any(r.evpi > 0 for r in rows)
    for r in rows:
        assert sum(part.scenarios for part in r.parts) == r.scenarios == 200
        assert all(part.best_p_target >= part.without_information_p_target for part in r.parts)
    json.loads(rows[0].model_dump_json())


def test_evpi_is_zero_for_an_explicit_candidate_whose_impact_never_changes() -> None:
    rng = np.random.default_rng(4)
    impact = {f"{c}/main": [float(v) for v in rng.choice([0.0, 3.0, 5.0], size=24)] for c in "abcd"}
    impact["steady/main"] = [2.5] * 24
    cands = [candidate(c, cost=10, platform=c) for c in "abcd"] + [candidate("steady", cost=5)]
    p = problem(cands, budget=25, target=7.0, objective="p_target", scenarios={"impact": impact})
    rows = {r.candidate: r for r in value_of_knowing_the_outcome(p, method="p_target", workers=1)}
    assert rows["steady"].evpi == 0.0 and not rows["steady"].uncertain
    assert [part.scenarios for part in rows["steady"].parts] == [24]
    assert all(r.evpi >= 0.0 for r in rows.values())
    assert any(r.evpi > 0.0 for r in rows.values())


@pytest.mark.parametrize("seed", [1, 2, 4, 6])
def test_evpi_is_never_negative_on_random_instances(seed: int) -> None:
    p = load_problem(random_document(seed, "capped"))
    if solve(p).status == "infeasible":
        with pytest.raises(InfeasibleError):
            value_of_knowing_the_outcome(p, workers=1)
        return
    rows = value_of_knowing_the_outcome(p, method="p_target", impact_bins=3, workers=1)
    assert len(rows) == len(p.candidates)
    assert all(r.evpi >= 0.0 for r in rows)


# -- price of policy ------------------------------------------------------------------------------


def test_relaxing_any_rule_never_lowers_the_objective() -> None:
    envelopes = [
        {"id": "sbc", "name": "SBC", "budget": {"2026-27": 50, "2027-28": 10}},
        {"id": "ukri", "name": "UKRI", "budget": {"2026-27": 20, "2027-28": 10}, "min_spend": 15},
    ]
    cands = [
        candidate("a", platform="h2", cost=20, p=0.6, impact=4.0, organisation="X"),
        candidate(
            "b",
            platform="h2",
            cost=15,
            p=0.5,
            impact=3.0,
            eligible=["sbc", "ukri"],
            tier="moonshot",
            organisation="X",
        ),
        candidate("c", platform="saf", cost=14, p=0.7, impact=5.0, organisation="Y"),
        candidate(
            "d",
            platform="saf",
            eligible=["ukri"],
            organisation="Z",
            organisation_type="rising_star",
            options=[option("explore", 5, 0.6, 1.0), option("scale", 18, 0.35, 6.0)],
        ),
        candidate("e", platform="bat", cost=10, p=0.4, impact=2.5, organisation="Y"),
        candidate(
            "f",
            platform="bat",
            cost=12,
            p=0.8,
            impact=1.5,
            organisation="W",
            eligible=["sbc", "ukri"],
        ),
    ]
    p = problem(
        cands,
        envelopes=envelopes,
        target=7.0,
        objective="capped",
        max_platform_share=0.5,
        min_platforms=2,
        min_moonshot_share=0.1,
        min_rising_star_share=0.05,
        max_organisation_share=0.6,
        min_p_any_success=0.5,
        dal=16.0,
        dal_mode="cap",
        locks=["e"],
        exclusions=["c"],
    )
    rows = price_of_policy(p, workers=2)
    labels = [r.label for r in rows]
    assert labels == [
        "Platform share ≤ 50 %",
        "At least 2 platforms",
        "Moonshot share ≥ 10 %",
        "Rising-star share ≥ 5 %",
        "Organisation share ≤ 60 %",
        "P(at least one success) ≥ 50 %",
        "Eligibility for SBC",
        "UKRI minimum spend £15m",
        "Eligibility for UKRI",
        "Awards above the DAL (£16m) need Treasury approval",
        "Lock on e",
        "Exclusion of c",
    ]
    assert all(r.base_status == "optimal" and r.status == "optimal" for r in rows)
    assert all(r.delta_objective is not None and r.delta_objective >= -1e-6 for r in rows)
    exclusion = rows[-1]
    assert exclusion.delta_objective is not None and exclusion.delta_objective > 0
    assert "c" in exclusion.added
    json.loads(exclusion.model_dump_json())


@pytest.mark.parametrize("seed", [3, 5, 8, 13])
def test_price_of_policy_is_never_negative_on_random_instances(seed: int) -> None:
    p = load_problem(random_document(seed, ["capped", "p_target", "expected", "cvar"][seed % 4]))
    for row in price_of_policy(p, workers=1):
        if row.base_status == "infeasible":
            continue
        assert row.status in ("optimal", "feasible")
        assert row.delta_objective is not None and row.delta_objective >= -1e-6, row.label


def test_no_rule_to_price_without_active_rules() -> None:
    assert relaxations_of(problem([candidate("a")])) == []


# -- a Dask cluster gives the same answers as local processes -------------------------------------


def test_dask_cluster_gives_the_same_results_as_local_processes() -> None:
    import distributed  # the test extras install dask[distributed]: this test must run

    p = portfolio("capped", locks=["a"], exclusions=["c"])
    local_frontier = budget_frontier(p, fractions=(0.75, 1.25), workers=2)
    local_core = core_index(p, resamples=4, seed=5, workers=2)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        seen: list[tuple[int, int]] = []
        remote_frontier = budget_frontier(
            p,
            fractions=(0.75, 1.25),
            scheduler=client,
            on_progress=lambda d, n: seen.append((d, n)),
        )
        remote_core = core_index(p, resamples=4, seed=5, scheduler=cluster.scheduler_address)
    assert seen[-1] == (3, 3)

    def strip(points: list[Any]) -> list[dict[str, Any]]:
        return [pt.model_dump(exclude={"seconds"}) for pt in points]

    assert strip(remote_frontier.points) == strip(local_frontier.points)
    assert remote_core == local_core


def test_the_analyses_leave_the_problem_unchanged() -> None:
    p = portfolio("capped", locks=["a"])
    before = p.model_dump(mode="json")
    core_index(p, resamples=2, workers=1)
    budget_frontier(p, fractions=(0.5,), workers=1)
    value_of_knowing_the_outcome(p, candidates=["b"], workers=1)
    assert p.model_dump(mode="json") == before


def test_the_scheduler_comes_from_the_environment_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DASK_SCHEDULER", raising=False)
    assert scheduler_from_env() is None
    monkeypatch.setenv("DASK_SCHEDULER", "tcp://10.0.0.1:8786")
    assert scheduler_from_env() == "tcp://10.0.0.1:8786"
