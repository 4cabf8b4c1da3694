"""Property: on small random instances every objective's optimum equals exhaustive enumeration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimiser import milp
from optimiser.data import problem_data
from optimiser.milp import run_milp, run_milp_by_core, run_milp_from_core_start
from optimiser.model import build_model
from optimiser.objectives import objective_value, set_objective
from optimiser.problem import load_problem
from optimiser.scenarios import optimisation_scenarios
from optimiser.solve import solve

from .opt_factories import enumerate_best, random_document

OBJECTIVES = ["expected", "capped", "p_target", "cvar"]
ROOT_HEURISTICS_OFF = dict(milp.NO_ROOT_HEURISTICS)


@pytest.fixture(scope="module")
def milp_setting() -> Iterator[Callable[[str, Any], None]]:
    """Set a module constant of `optimiser.milp`, restored at the end of the module (module scope:
    hypothesis reuses the fixture across examples)."""
    saved: dict[str, Any] = {}

    def set_value(name: str, value: Any) -> None:
        saved.setdefault(name, getattr(milp, name))
        setattr(milp, name, value)

    yield set_value
    for name, value in saved.items():
        setattr(milp, name, value)


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
    seed: int, core: int, gap: float, milp_setting: Callable[[str, Any], None]
) -> None:
    """The reduced-cost core of `run_milp_by_core` grows until its answer is within the gap of
    the enumerated optimum, and its bound is never below that optimum."""
    milp_setting("CORE_SIZE", core)
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


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    objective=st.sampled_from(["cvar", "capped"]),
    core=st.integers(1, 3),
    proof_nodes=st.sampled_from([None, 0]),
    gap=st.sampled_from([0.0, 0.0, 0.05]),
)
def test_core_start_with_a_tiny_core_equals_exhaustive_enumeration(
    seed: int,
    objective: str,
    core: int,
    proof_nodes: int | None,
    gap: float,
    milp_setting: Callable[[str, Any], None],
) -> None:
    """`run_milp_from_core_start` with a core of 1–3 binaries: its start may be poor, yet the
    answer is within the gap of the enumerated optimum and the bound is never below it. With
    `proof_nodes=0` the run without root heuristics stops at its root, so the fallback (every
    heuristic, from the best portfolio so far) is what finishes the search."""
    milp_setting("START_CORE_MIN", core)
    milp_setting("START_CORE_SHARE", 0.0)
    milp_setting("START_CORE_LIMIT", 1.01)
    proof = {"mip_max_nodes": 2**31 - 1}
    if proof_nodes is not None:
        proof = {"mip_max_nodes": proof_nodes}
    # the fallback run restores every option the proof run changed to HiGHS's default
    milp_setting("NO_ROOT_HEURISTICS", {**ROOT_HEURISTICS_OFF, **proof})
    doc = random_document(seed, objective)
    best = enumerate_best(doc)
    data = problem_data(load_problem(doc))
    scenarios = optimisation_scenarios(data)
    m = build_model(data, scenarios)
    set_objective(m, scenarios, objective)
    out = run_milp_from_core_start(m, time_limit=60, gap=gap)
    if out is None:  # the LP relaxation has no optimum (it is infeasible only if the MILP is)
        assert best is None
        return
    if best is None:
        assert out.status == "infeasible"
        return
    assert out.status == "optimal" and out.x is not None
    value = objective_value(objective, data, scenarios, np.asarray(out.x))
    assert value <= best + 1e-6
    assert value >= best - gap * abs(best) - 1e-6
    assert out.bound is not None and out.bound >= best - 1e-6
