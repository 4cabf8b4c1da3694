"""P(target) runs with many scenarios (10,000, as the web's optimiser form allows) on the branch
and bound's path: commitments or locks that cost more than all the money there is make the
problem infeasible, which the run reports with its diagnosis. The tree used to crash building
its completion tables ("index 0 is out of bounds for axis 0 with size 0"), and the web run failed
with "the solver failed: ..."."""

from __future__ import annotations

from typing import Any

import pytest

from optimiser.problem import load_problem
from optimiser.solve import solve

from .opt_factories import candidate, document, option

SCENARIOS = {"count": 10_000, "seed": 3}


def mission(budget: float, **policy: Any) -> dict[str, Any]:
    """Six candidates (one with two nested options) on three platforms; p_target."""
    cands = [
        candidate(
            "a",
            platform="p1",
            options=[option("explore", 8.0, 0.7, 2.0), option("scale", 30.0, 0.5, 5.0)],
        ),
        candidate("b", platform="p1", cost=12.0, p=0.6, impact=2.5),
        candidate("c", platform="p2", cost=15.0, p=0.5, impact=3.0),
        candidate("d", platform="p2", cost=10.0, p=0.8, impact=1.5),
        candidate("e", platform="p3", cost=20.0, p=0.4, impact=4.0),
        candidate("f", platform="p3", cost=6.0, p=0.9, impact=1.0),
    ]
    return document(
        cands,
        budget=budget,
        target=5.0,
        scenarios=SCENARIOS,
        objective="p_target",
        time_limit_s=20,
        **policy,
    )


def test_with_enough_money_a_portfolio_is_proved_optimal_on_ten_thousand_scenarios() -> None:
    result = solve(load_problem(mission(60.0, commitments=["a/scale"])))
    assert result.status == "optimal"
    assert result.solver.method == "branch and bound"
    assert result.solver.scenarios == 10_000
    assert result.selected["a"] == "scale"
    assert result.spend.total <= 60.0 + 1e-9


@pytest.mark.parametrize(
    "policy",
    [
        {"commitments": ["a/scale", "c/main", "e/main"]},  # 65 committed against 60
        {"locks": ["a", "e"], "commitments": ["c/main", "b/main"]},  # at least 8+20+15+12 = 55
    ],
    ids=["commitments", "locks"],
)
def test_unaffordable_commitments_are_infeasible_not_a_crash(policy: dict[str, Any]) -> None:
    budget = 60.0 if "locks" not in policy else 50.0
    result = solve(load_problem(mission(budget, **policy)))
    assert result.status == "infeasible"
    assert result.solver.method == "branch and bound"
    assert result.solver.scenarios == 10_000
    assert result.diagnosis
    assert not result.selected
