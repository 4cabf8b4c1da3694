"""Property: on small random instances every objective's optimum equals exhaustive enumeration."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimiser.data import problem_data
from optimiser.milp import run_milp
from optimiser.model import build_model
from optimiser.objectives import objective_value, set_objective
from optimiser.problem import load_problem
from optimiser.scenarios import optimisation_scenarios
from optimiser.solve import solve

from .opt_factories import enumerate_best, random_document

OBJECTIVES = ["expected", "capped", "p_target", "cvar"]


@settings(
    max_examples=100, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1), objective=st.sampled_from(OBJECTIVES))
def test_every_objective_optimum_equals_exhaustive_enumeration(seed: int, objective: str) -> None:
    doc = random_document(seed, objective)
    best = enumerate_best(doc)
    result = solve(load_problem(doc))
    if best is None:
        assert result.status == "infeasible"
        assert result.diagnosis
        return
    assert result.status == "optimal"
    assert result.objective is not None
    assert abs(result.objective - best) <= 1e-6


@settings(max_examples=30, derandomize=True, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_textbook_p_target_milp_equals_exhaustive_enumeration(seed: int) -> None:
    doc = random_document(seed, "p_target")
    best = enumerate_best(doc)
    data = problem_data(load_problem(doc))
    scenarios = optimisation_scenarios(data)
    m = build_model(data, scenarios)
    set_objective(m, scenarios, "p_target")
    out = run_milp(m)
    if best is None:
        assert out.status == "infeasible"
        return
    assert out.status == "optimal" and out.x is not None
    value = objective_value("p_target", data, scenarios, np.asarray(out.x))
    assert abs(value - best) <= 1e-6
