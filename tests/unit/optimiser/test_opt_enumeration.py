"""Property: on small random instances every objective's optimum equals exhaustive enumeration."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimiser.data import problem_data
from optimiser.milp import run_milp, run_milp_by_core
from optimiser.model import build_model
from optimiser.objectives import objective_value, set_objective
from optimiser.problem import load_problem
from optimiser.scenarios import optimisation_scenarios
from optimiser.solve import solve

from .opt_factories import enumerate_best, random_document

OBJECTIVES = ["expected", "capped", "p_target", "cvar"]


@pytest.fixture(scope="module")
def monkeypatch_core() -> Iterator[Callable[[int], None]]:
    """Set `optimiser.milp.CORE_SIZE` (module scope: hypothesis reuses the fixture)."""
    import optimiser.milp as milp

    saved = milp.CORE_SIZE

    def set_size(size: int) -> None:
        milp.CORE_SIZE = size

    yield set_size
    milp.CORE_SIZE = saved


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


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    core=st.integers(1, 4),
    gap=st.sampled_from([0.0, 0.0, 0.05]),
)
def test_core_milp_with_a_tiny_core_equals_exhaustive_enumeration(
    seed: int, core: int, gap: float, monkeypatch_core: Callable[[int], None]
) -> None:
    """The reduced-cost core of `run_milp_by_core` grows until its answer is within the gap of
    the enumerated optimum, and its bound is never below that optimum."""
    monkeypatch_core(core)
    doc = random_document(seed, "expected")
    best = enumerate_best(doc)
    data = problem_data(load_problem(doc))
    scenarios = optimisation_scenarios(data)
    m = build_model(data, scenarios)
    set_objective(m, scenarios, "expected")
    out = run_milp_by_core(m, time_limit=60, gap=gap)
    assert out is not None
    if best is None:
        assert out.status == "infeasible"
        return
    assert out.status == "optimal" and out.x is not None
    value = objective_value("expected", data, scenarios, np.asarray(out.x))
    assert value <= best + 1e-6
    assert value >= best - gap * abs(best) - 1e-6
    assert out.bound is not None and out.bound >= best - 1e-6
