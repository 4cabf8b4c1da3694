"""Scenario sampling: nested, correlated, PERT-bounded, seeded; explicit scenarios used as given."""

from __future__ import annotations

import numpy as np

from optimiser.data import problem_data
from optimiser.scenarios import optimisation_scenarios, sample_scenarios
from optimiser.solve import solve

from .opt_factories import candidate, option, problem


def nested_problem(correlation: float = 0.5):  # type: ignore[no-untyped-def]
    opts = [option("explore", 5, 0.6, 1.0), option("scale", 20, 0.3, 4.0)]
    opts[1]["impact"] = {"low": 2.0, "mode": 3.0, "high": 8.0}
    cands = [
        candidate("a", options=opts, platform="h2"),
        candidate("b", platform="h2", p=0.5),
        candidate("c", platform="saf", p=0.5),
    ]
    return problem(cands, correlation=correlation, scenarios={"count": 20000, "seed": 3})


def test_a_smaller_p_option_succeeds_only_when_the_bigger_p_option_would() -> None:
    scen = optimisation_scenarios(problem_data(nested_problem()))
    explore, scale = scen.success[:, 0], scen.success[:, 1]
    assert not (scale & ~explore).any()
    assert abs(explore.mean() - 0.6) < 0.02 and abs(scale.mean() - 0.3) < 0.02


def test_candidates_on_one_platform_fail_together_more_than_across_platforms() -> None:
    scen = optimisation_scenarios(problem_data(nested_problem(correlation=0.6)))
    b, c, a = scen.success[:, 2], scen.success[:, 3], scen.success[:, 0]
    same = np.corrcoef(a, b)[0, 1]
    across = np.corrcoef(a, c)[0, 1]
    assert same > 0.25 and abs(across) < 0.03


def test_pert_impacts_stay_within_low_and_high_with_the_pert_mean() -> None:
    scen = optimisation_scenarios(problem_data(nested_problem()))
    drawn = scen.impact[scen.success[:, 1], 1]
    assert drawn.min() >= 2.0 and drawn.max() <= 8.0
    assert abs(drawn.mean() - (2 + 4 * 3 + 8) / 6) < 0.05


def test_the_same_seed_gives_the_same_scenarios_and_a_different_seed_does_not() -> None:
    data = problem_data(nested_problem())
    one, two = sample_scenarios(data, 500, 11), sample_scenarios(data, 500, 11)
    assert np.array_equal(one.impact, two.impact)
    assert not np.array_equal(one.impact, sample_scenarios(data, 500, 12).impact)


def test_the_same_problem_solves_to_the_same_result_every_time() -> None:
    p = nested_problem()
    p = p.model_copy(
        update={
            "policy": p.policy.model_copy(update={"objective": "p_target"}),
            "mission": p.mission.model_copy(update={"target": 4.0}),
        }
    )
    first, second = solve(p), solve(p)
    assert first.model_dump(exclude={"solver"}) == second.model_dump(exclude={"solver"})


def test_explicit_scenarios_are_used_exactly_as_given() -> None:
    impact = {"a/main": [0.0, 1.5, 3.0], "b/main": [2.0, 0.0, 0.25]}
    p = problem([candidate("a"), candidate("b")], scenarios={"impact": impact})
    scen = optimisation_scenarios(problem_data(p))
    assert scen.impact.tolist() == [[0.0, 2.0], [1.5, 0.0], [3.0, 0.25]]
    result = solve(p)
    assert result.metrics.in_sample is not None
    assert result.metrics.in_sample.expected_impact == (0 + 2 + 1.5 + 3 + 0.25) / 3
    assert result.metrics.out_of_sample is not None
    assert result.metrics.out_of_sample.scenarios == 500
