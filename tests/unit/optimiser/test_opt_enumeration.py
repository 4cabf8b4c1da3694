"""Property: on small random instances every objective's optimum equals exhaustive enumeration."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimiser import branch, cvarcuts, milp
from optimiser.branch import branch_and_bound, fractional_knapsack, tranche_increments
from optimiser.data import problem_data
from optimiser.feasibility import SelectionChecker
from optimiser.milp import run_milp, run_milp_by_core, run_milp_from_core_start
from optimiser.model import build_model
from optimiser.objectives import TIE_BREAK_TOTAL, objective_value, set_objective
from optimiser.problem import load_problem
from optimiser.ptarget import allowed_choices, knapsack_bound
from optimiser.scenarios import optimisation_scenarios
from optimiser.solve import solve

from .opt_factories import enumerate_best, random_document, random_document_v2

OBJECTIVES = ["expected", "capped", "p_target", "cvar"]
ROOT_HEURISTICS_OFF = dict(milp.NO_ROOT_HEURISTICS)


def _constants_of(module: ModuleType) -> Iterator[Callable[[str, Any], None]]:
    """A setter for `module`'s constants, restoring them afterwards (for module-scoped fixtures:
    hypothesis reuses a fixture across examples)."""
    saved: dict[str, Any] = {}

    def set_value(name: str, value: Any) -> None:
        saved.setdefault(name, getattr(module, name))
        setattr(module, name, value)

    yield set_value
    for name, value in saved.items():
        setattr(module, name, value)


@pytest.fixture(scope="module")
def milp_setting() -> Iterator[Callable[[str, Any], None]]:
    """Set a module constant of `optimiser.milp`, restored at the end of the module."""
    yield from _constants_of(milp)


@pytest.fixture(scope="module")
def cvarcuts_setting() -> Iterator[Callable[[str, Any], None]]:
    """Set a module constant of `optimiser.cvarcuts`, restored at the end of the module."""
    yield from _constants_of(cvarcuts)


@pytest.fixture(scope="module")
def branch_setting() -> Iterator[Callable[[str, Any], None]]:
    """Set a module constant of `optimiser.branch`, restored at the end of the module."""
    yield from _constants_of(branch)


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


@settings(max_examples=80, derandomize=True, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    start=st.sampled_from([0.0, 0.5, 2.0]),
    version=st.sampled_from([1, 2]),
    gap=st.sampled_from([0.0, 0.0, 0.05]),
)
def test_cvar_by_tail_rows_equals_exhaustive_enumeration(
    seed: int,
    start: float,
    version: int,
    gap: float,
    cvarcuts_setting: Callable[[str, Any], None],
) -> None:
    """`cvarcuts.solve_cvar_by_rows` (used for every scenario count here), starting from rows
    for none, half or twice the tail's scenarios, so that the master is often solved again:
    the answer is within the gap of the enumerated optimum, its objective is its exact value
    and the reported bound is never below the optimum; version 2 adds the money rules (the
    overrun chance constraint) and the P(any success) floor is on at random."""
    cvarcuts_setting("MIN_SCENARIOS", 1)
    cvarcuts_setting("START_TAIL_FACTOR", start)
    doc = (random_document_v2 if version == 2 else random_document)(seed, "cvar")
    doc["policy"]["cvar_lambda"] = doc["policy"]["cvar_lambda"] or 1.0
    doc["policy"]["gap"] = gap
    best = enumerate_best(doc)
    problem = load_problem(doc)
    result = solve(problem)
    assert any(str(p["phase"]).startswith("CVaR master") for p in result.solver.progress) or (
        result.status == "infeasible"
    )
    if best is None:
        assert result.status == "infeasible"
        return
    assert result.status == "optimal" and result.objective is not None
    assert result.objective <= best + 1e-6
    assert result.objective >= best - gap * abs(best) - 1e-6
    data = problem_data(problem)
    x = np.asarray(data.selection_vector(result.selected), dtype=float)
    exact = objective_value("cvar", data, optimisation_scenarios(data), x)
    assert abs(result.objective - exact) <= 1e-9
    assert result.solver.bound is not None and result.solver.bound >= best - 1e-6


@settings(max_examples=100, derandomize=True, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    table=st.sampled_from([1e7, 0.0]),
    chunk=st.sampled_from([2e6, 1.0]),
    steps=st.sampled_from([1e7, 0.0]),
)
def test_branch_and_bound_equals_exhaustive_enumeration(
    seed: int,
    table: float,
    chunk: float,
    steps: float,
    branch_setting: Callable[[str, Any], None],
) -> None:
    """The P(target) branch and bound finds the enumerated optimum, with exact tables over the
    last candidates (`table=1e7`) or the stepped programme alone (`table=0`), the programme on
    128 budget steps or on 1 (`steps=0`, as for a million scenarios), in chunks of many nodes or
    of one."""
    branch_setting("TABLE_ELEMENTS", table)
    branch_setting("CHUNK_ELEMENTS", chunk)
    branch_setting("STEP_ELEMENTS", steps)
    doc = random_document(seed, "p_target")
    best = enumerate_best(doc)
    data = problem_data(load_problem(doc))
    scenarios = optimisation_scenarios(data)
    checker = SelectionChecker(data, scenarios)
    out = branch_and_bound(
        data, scenarios, checker, allowed_choices(data, checker), deadline=math.inf
    )
    assert out.complete
    if best is None:
        assert out.x is None
        return
    assert out.x is not None and checker.is_feasible(out.x)
    assert abs(objective_value("p_target", data, scenarios, out.x) - best) <= 1e-6
    assert abs(out.value - best) <= 1e-6 and abs(out.bound - best) <= 1e-6


@settings(max_examples=40, derandomize=True, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1), checks=st.integers(1, 6))
def test_branch_and_bound_stopped_early_keeps_a_valid_bound(seed: int, checks: int) -> None:
    """Stopped after a few chunks, the branch and bound returns a feasible portfolio (or none)
    and a bound that is never below the enumerated optimum."""
    doc = random_document(seed, "p_target")
    best = enumerate_best(doc)
    data = problem_data(load_problem(doc))
    scenarios = optimisation_scenarios(data)
    checker = SelectionChecker(data, scenarios)
    calls = [0]

    def stop() -> bool:
        calls[0] += 1
        return calls[0] > checks

    out = branch_and_bound(
        data,
        scenarios,
        checker,
        allowed_choices(data, checker),
        deadline=math.inf,
        should_stop=stop,
    )
    if out.x is not None:
        assert checker.is_feasible(out.x)
        value = objective_value("p_target", data, scenarios, out.x)
        assert out.value <= value <= out.value + TIE_BREAK_TOTAL
    if best is None:
        assert out.x is None
        return
    # value and bound are scores: the tie-break (at most TIE_BREAK_TOTAL) is subtracted
    assert out.bound >= best - TIE_BREAK_TOTAL - 1e-9
    assert out.value <= best + 1e-9
    if out.complete:
        assert abs(out.value - best) <= 1e-6


@settings(max_examples=60, derandomize=True, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1), steps=st.sampled_from([1, 3, 128]))
def test_branch_and_bound_completion_bound_covers_every_affordable_completion(
    seed: int, steps: int, branch_setting: Callable[[str, Any], None]
) -> None:
    """Per scenario, at every depth and budget left, the tree's completion bound is at least the
    capped impact of every completion that budget affords: at budgets equal to a completion's
    cost and at the edges of the budget steps too, where rounding would first go wrong."""
    branch_setting("TABLE_ELEMENTS", 0.0)  # the stepped programme at every depth
    branch_setting("STEPS", steps)
    data = problem_data(load_problem(random_document(seed, "p_target")))
    scenarios = optimisation_scenarios(data)
    choices = allowed_choices(data, SelectionChecker(data, scenarios))
    if any(not c for c in choices):
        return
    tree = branch._Tree(data, scenarios, choices)
    for d in range(tree.depth, -1, -1):
        if math.prod(len(c) for c in tree.cost[d:]) > 50_000:
            break
        costs, gains = np.zeros(1), np.zeros((1, tree.width))
        for j in range(d, tree.depth):
            costs = (tree.cost[j][:, None] + costs[None, :]).reshape(-1)
            gains = (tree.impact[j][:, None, :] + gains[None, :, :]).reshape(len(costs), -1)
        edges = np.arange(tree.steps + 1) * tree.unit
        lefts = np.unique(np.concatenate([costs, edges, np.nextafter(edges, -np.inf)]))
        lefts = lefts[(lefts >= 0) & (lefts <= tree.budget)]
        bound = tree.completion(d, lefts)
        for left, row in zip(lefts, bound, strict=True):
            affordable = costs <= left
            if affordable.any():
                best = gains[affordable].max(axis=0)
                assert (row >= best - 1e-5 * (1.0 + best)).all()


@settings(max_examples=60, derandomize=True, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_knapsack_bound_is_never_below_the_enumerated_optimum(seed: int) -> None:
    """The cheap P(target) bound reported when nothing better is proved is a valid bound."""
    doc = random_document(seed, "p_target")
    best = enumerate_best(doc)
    data = problem_data(load_problem(doc))
    scenarios = optimisation_scenarios(data)
    bound = knapsack_bound(data, scenarios, SelectionChecker(data, scenarios))
    assert 0.0 <= bound <= 1.0
    if best is not None:
        assert bound >= best - 1e-9


def test_tranche_increments_count_one_option_per_candidate() -> None:
    """Two nested tranches of one candidate (impact 6 for 1, 7 for 2) and a second candidate:
    with budget for everything, a knapsack over the increments reaches 7 + 2, not 6 + 7 + 2."""
    impact = np.array([[6.0, 7.0, 2.0], [6.0, 5.0, 0.0]])  # scenarios x options
    cost = np.array([1.0, 2.0, 4.0])
    gains, costs = tranche_increments(impact, cost, np.array([0, 0, 1]))
    assert costs.tolist() == [1.0, 1.0, 4.0]
    assert gains.tolist() == [[6.0, 1.0, 2.0], [6.0, 0.0, 0.0]]
    value, _ = fractional_knapsack(gains, costs, np.array([6.0]), dtype=np.float64)
    assert value[0].tolist() == [9.0, 6.0]
