"""The strengthened P(target) model (`optimiser.ptbound`): every bound it gives is at or above the
optimum found by exhaustive enumeration, its MILP's optimum is that optimum, and the product's
search path (branch and bound and enumeration switched off) never reports a bound below it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import highspy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimiser import ptarget
from optimiser.data import problem_data
from optimiser.errors import SolverError
from optimiser.feasibility import SelectionChecker
from optimiser.milp import run_milp
from optimiser.model import build_model
from optimiser.objectives import TIE_BREAK_TOTAL, objective_value
from optimiser.problem import load_problem
from optimiser.ptarget import allowed_choices, solve_p_target
from optimiser.ptbound import Relaxation, root_cuts, separate, set_p_target_objective
from optimiser.scenarios import optimisation_scenarios

from .opt_factories import candidate, document, enumerate_best, random_document
from .test_opt_solver_errors import _BrokenHighs


def _instance(seed: int) -> tuple[Any, Any, SelectionChecker, Relaxation]:
    data = problem_data(load_problem(random_document(seed, "p_target")))
    scenarios = optimisation_scenarios(data)
    checker = SelectionChecker(data, scenarios)
    return data, scenarios, checker, Relaxation(data, scenarios, allowed_choices(data, checker))


@settings(max_examples=40, derandomize=True, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_strengthened_milp_with_residual_cuts_equals_exhaustive_enumeration(seed: int) -> None:
    """Residual rows, the scenarios no budget-feasible portfolio reaches left out, and every cut
    the LP rounds separate: the MILP's optimum is still the enumerated one (a cut that removed
    an optimal portfolio would make it lower), and the cuts' LP bound is not below it."""
    doc = random_document(seed, "p_target")
    best = enumerate_best(doc)
    data, scenarios, _, rel = _instance(seed)
    cuts, lp_bound = root_cuts(rel, time.perf_counter() + 30.0)
    m = build_model(data, scenarios)
    set_p_target_objective(m, rel, cuts)
    out = run_milp(m)
    if best is None:
        assert out.status == "infeasible"
        return
    assert out.status == "optimal" and out.x is not None
    assert abs(objective_value("p_target", data, scenarios, np.asarray(out.x)) - best) <= 1e-6
    assert lp_bound is not None and lp_bound >= best - 1e-9


@settings(max_examples=40, derandomize=True, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1), draws=st.integers(1, 20))
def test_every_residual_cut_holds_at_every_selection(seed: int, draws: int) -> None:
    """Cuts separated at random fractional points hold at random complete selections with z[s]
    = 1 exactly where the selection reaches the target (feasible or not: the cuts only use the
    one-option-per-candidate structure, the forced options and the impacts)."""
    data, _, checker, rel = _instance(seed)
    rng = np.random.default_rng(seed)
    choices = allowed_choices(data, checker)
    for _ in range(draws):
        cuts = separate(rel, rng.random(rel.width), np.ones(len(rel.residual)))
        x = np.zeros(data.n_options)
        for options in choices:
            pick = options[int(rng.integers(len(options)))]
            if pick >= 0:
                x[pick] = 1.0
        y = np.array([x[k] for k in rel.free])
        for cut in cuts:
            reached = rel.rows[cut.row] @ y >= rel.residual[cut.row] - 1e-9
            assert cut.coef @ y[cut.options] >= cut.d * reached - 1e-9


def test_a_residual_cut_takes_the_funded_options_out_of_the_target() -> None:
    """Scenario needing 10: options a (impact 8) and b (impact 6). The LP point y = (1, 0.5)
    reaches 11 ≥ 10 in the textbook row, but with F = {a} the cut is min(6, 2)·y_b ≥ 2·z, so
    z ≤ 0.5."""
    doc = document(
        [candidate("a", cost=1, impact=8.0), candidate("b", cost=1, impact=6.0)],
        budget=10,
        objective="p_target",
        target=10.0,
        scenarios={"impact": {"a/main": [8.0], "b/main": [6.0]}},
    )
    data = problem_data(load_problem(doc))
    scenarios = optimisation_scenarios(data)
    rel = Relaxation(data, scenarios, allowed_choices(data, SelectionChecker(data, scenarios)))
    (cut,) = separate(rel, np.array([1.0, 0.5]), np.array([1.0]))
    assert cut.d == pytest.approx(2.0)
    assert cut.options.tolist() == [1] and cut.coef.tolist() == [2.0]


def _search_path_holds(seed: int) -> None:
    """The product's path for large models (local search, the strengthened MILP and, when
    `ptarget.RELAXATION_SIZE` says so, the LP bound with residual cuts) on a small one: bound ≥
    enumerated optimum ≥ the value returned, and `optimal` (gap 0) means equal."""
    doc = random_document(seed, "p_target")
    best = enumerate_best(doc)
    data, scenarios, checker, _ = _instance(seed)
    out = solve_p_target(
        data,
        scenarios,
        checker,
        solver="highs",
        time_limit=5.0,
        gap=0.0,
        report=lambda p: None,
        should_stop=None,
        clock_start=time.perf_counter(),
    )
    if best is None:
        assert out.status == "infeasible"
        return
    assert out.x is not None and out.bound is not None
    value = objective_value("p_target", data, scenarios, out.x)
    assert out.bound >= best - TIE_BREAK_TOTAL - 1e-9
    assert best >= value - 1e-9
    if out.status == "optimal":
        assert abs(value - best) <= 1e-6


@pytest.fixture(scope="module")
def search_path() -> Iterator[pytest.MonkeyPatch]:
    """No branch and bound, no enumeration: the search path for every example of the module."""
    patch = pytest.MonkeyPatch()
    patch.setattr(ptarget, "BRANCH_MAX_FREE", -1)
    patch.setattr(ptarget, "ENUMERATION_WORK", 0)
    yield patch
    patch.undo()


@settings(
    max_examples=20, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_search_path_bound_is_never_below_the_enumerated_optimum(
    seed: int, search_path: pytest.MonkeyPatch
) -> None:
    _search_path_holds(seed)


@settings(
    max_examples=20, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_search_path_with_the_lp_bound_is_never_below_the_enumerated_optimum(
    seed: int, search_path: pytest.MonkeyPatch
) -> None:
    """Every model treated as large: the LP bound with residual cuts replaces the first MILP, and
    the kicks take LARGE_KICK_SHARE of the time left (however short the MILP round after)."""
    size, seconds = ptarget.RELAXATION_SIZE, ptarget.LARGE_MILP_SECONDS
    search_path.setattr(ptarget, "RELAXATION_SIZE", 0)
    search_path.setattr(ptarget, "LARGE_MILP_SECONDS", 0.0)
    try:
        _search_path_holds(seed)
    finally:
        search_path.setattr(ptarget, "RELAXATION_SIZE", size)
        search_path.setattr(ptarget, "LARGE_MILP_SECONDS", seconds)


def test_a_failing_lp_is_a_solver_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A HiGHS failure in the cut rounds' LP is an error with HiGHS's words, not a bound."""
    _, _, _, rel = _instance(3)
    assert len(rel.residual)
    real = highspy.Highs

    def broken() -> Any:
        return _BrokenHighs(real())  # type: ignore[no-untyped-call]

    monkeypatch.setattr(highspy, "Highs", broken)
    with pytest.raises(SolverError, match="HiGHS"):
        root_cuts(rel, time.perf_counter() + 5.0)
