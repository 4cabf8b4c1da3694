"""solve(): the p_target strategy, honest status and bound, progress, stop, result consistency."""

from __future__ import annotations

import time
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from benchmarks.instances import generate
from optimiser import branch, ptarget
from optimiser.baselines import expected_knapsack, greedy_by_ratio
from optimiser.data import problem_data
from optimiser.evaluate import evaluate_portfolio
from optimiser.feasibility import SelectionChecker
from optimiser.milp import run_milp
from optimiser.model import build_model
from optimiser.objectives import objective_value, set_objective
from optimiser.problem import Problem, load_problem
from optimiser.result import Progress
from optimiser.scenarios import optimisation_scenarios
from optimiser.search import local_search
from optimiser.solve import solve

from .opt_factories import candidate, option, problem


def generated(n: int, s: int, objective: str, **kw: Any) -> Problem:
    doc = generate(n, s, seed=3, objective=objective, **kw)
    doc["evaluation"]["count"] = 1000
    return load_problem(doc)


@pytest.mark.parametrize(
    ("branch_max_free", "method"), [(24, "branch and bound"), (0, "enumeration")]
)
def test_small_p_target_problems_are_solved_exactly(
    branch_max_free: int, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten free candidates: the branch and bound, or (when more candidates are free than it
    takes) enumeration of every selection, gives the same proven optimum."""
    monkeypatch.setattr(ptarget, "BRANCH_MAX_FREE", branch_max_free)
    cands = [
        candidate(f"c{i}", platform=f"p{i % 3}", cost=10, p=0.5, impact=3.0) for i in range(10)
    ]
    result = solve(problem(cands, budget=50, objective="p_target", target=6.0))
    assert result.status == "optimal" and result.solver.method == method
    assert result.solver.gap == 0
    assert result.objective is not None and round(result.objective, 4) == 0.86


def test_a_p_target_problem_with_twenty_candidates_is_proved_optimal_by_branch_and_bound() -> None:
    """Benchmark seed 1, n = 20 x S = 500: 9 million selections fit the total budget, too many
    to enumerate; the branch and bound proves the optimum 0.5846 (HiGHS needs 58 s for it)."""
    result = solve(load_problem(generate(20, 500, seed=1, objective="p_target")), time_limit=30)
    assert result.status == "optimal" and result.solver.method == "branch and bound"
    assert result.objective is not None and round(result.objective, 4) == 0.5846
    assert result.solver.gap == 0


def test_an_unreachable_minimum_spend_is_found_infeasible_by_the_branch_and_bound() -> None:
    """No candidate can be added that would bring UKRI's spend to its minimum: the tree's
    minimum-spend test cuts every selection at the first candidate, so the answer is `infeasible`
    at once, with the diagnosis naming the minimum."""
    doc = generate(20, 500, seed=1, objective="p_target")
    doc["envelopes"][1]["min_spend"] = 1e6
    result = solve(load_problem(doc), time_limit=30)
    assert result.status == "infeasible" and result.solver.method == "branch and bound"
    assert result.solver.seconds < 5
    assert result.diagnosis and result.diagnosis[0]["rule"] == "min_spend"


def test_a_branch_and_bound_out_of_time_hands_its_portfolio_and_bound_to_the_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no time for the branch and bound, the search and the MILP take over from whatever it
    found, and the bound reported stays valid: never below the proven optimum."""
    monkeypatch.setattr(ptarget, "BRANCH_SHARE", 0.0)
    seen: list[Progress] = []
    p = load_problem(generate(20, 500, seed=1, objective="p_target"))
    result = solve(p, time_limit=4, on_progress=seen.append)
    assert result.solver.method == "local search + milp"
    assert any(s.phase == "branch and bound stopped" for s in seen)
    assert result.objective is not None and result.solver.bound is not None
    optimum = 0.584567  # P(target) 0.588 less the switching charge
    assert result.objective <= optimum + 1e-6 <= result.solver.bound + 2e-6


def test_large_p_target_reports_an_honest_bound_and_beats_the_deterministic_portfolio() -> None:
    p = generated(60, 400, "p_target")
    result = solve(p, time_limit=6)
    assert result.status in ("optimal", "feasible")
    assert result.objective is not None and result.solver.bound is not None
    assert result.solver.bound >= result.objective - 1e-9
    if result.status == "feasible":
        assert result.solver.gap is not None and result.solver.gap > p.policy.gap
    data = problem_data(p)
    scen = optimisation_scenarios(data)
    m = build_model(data, scen)
    set_objective(m, scen, "expected")
    deterministic = run_milp(m, gap=0.005)
    assert deterministic.x is not None
    assert result.objective >= objective_value("p_target", data, scen, deterministic.x) - 1e-12


def test_progress_is_reported_while_solving() -> None:
    seen: list[Progress] = []
    solve(generated(40, 300, "p_target"), time_limit=4, on_progress=seen.append)
    assert seen and all(p.elapsed >= 0 for p in seen)
    assert any(p.incumbent is not None for p in seen)


def test_a_stopped_solve_is_never_reported_optimal() -> None:
    result = solve(generated(60, 400, "p_target"), time_limit=30, should_stop=lambda: True)
    assert result.status in ("feasible", "error")


def test_a_branch_and_bound_stopped_midway_returns_its_best_portfolio() -> None:
    """Ctrl-C during the branch and bound (n = 20 x S = 500, stopped at the 40th check of the
    flag, after its first portfolios): the best portfolio so far comes back `feasible`, with a
    bound not below the proven optimum."""
    checks = [0]

    def stop() -> bool:
        checks[0] += 1
        return checks[0] > 40

    p = load_problem(generate(20, 500, seed=1, objective="p_target"))
    result = solve(p, time_limit=30, should_stop=stop)
    assert result.status == "feasible" and result.selected
    assert result.objective is not None and result.solver.bound is not None
    optimum = 0.584567
    assert result.objective <= optimum + 1e-6 <= result.solver.bound + 2e-6


@pytest.mark.parametrize("objective", ["cvar", "capped"])
def test_a_scenario_solve_stopped_midway_returns_its_best_portfolio(objective: str) -> None:
    """n = 80 goes through the core start (LP, core MILP, proof run). Stopped (Ctrl-C) at the
    fourth check of the stop flag, it returns the best portfolio found so far with an honest bound:
    `optimal` only if that bound already proves the gap."""
    p = generated(80, 400, objective)
    checks = [0]

    def stop() -> bool:
        checks[0] += 1
        return checks[0] > 3

    result = solve(p, time_limit=30, should_stop=stop)
    assert result.status in ("feasible", "optimal") and result.selected
    data = problem_data(p)
    x = data.selection_vector(result.selected)
    scen = optimisation_scenarios(data)
    assert result.objective == pytest.approx(objective_value(objective, data, scen, x))
    assert result.solver.bound is not None and result.solver.bound >= result.objective - 1e-9
    if result.status == "optimal":
        assert result.solver.gap is not None and result.solver.gap <= p.policy.gap + 1e-9


def test_spend_and_funding_agree_with_the_selected_costs() -> None:
    result = solve(generated(30, 300, "cvar"), time_limit=30)
    assert result.status in ("optimal", "feasible")
    funded = sum(row.amount for row in result.funding)
    assert result.spend.total == pytest.approx(funded)
    assert sum(result.spend.by_envelope.values()) == pytest.approx(funded)
    assert sum(result.spend.by_platform.values()) == pytest.approx(funded)
    p = generated(30, 300, "cvar")
    data = problem_data(p)
    x = data.selection_vector(result.selected)
    assert result.spend.total == pytest.approx(float(data.total_cost @ x))


def test_the_reported_objective_recomputes_from_the_selection() -> None:
    for objective in ("expected", "capped", "cvar", "p_target"):
        p = generated(25, 300, objective)
        result = solve(p, time_limit=20)
        data = problem_data(p)
        x = data.selection_vector(result.selected)
        value = objective_value(objective, data, optimisation_scenarios(data), x)
        assert result.objective == pytest.approx(value, abs=1e-9)


def test_in_and_out_of_sample_metrics_are_both_reported() -> None:
    result = solve(generated(25, 300, "capped"), time_limit=20)
    assert result.metrics.in_sample is not None and result.metrics.out_of_sample is not None
    assert result.metrics.in_sample.scenarios == 300
    assert result.metrics.out_of_sample.scenarios == 1000
    assert result.metrics.out_of_sample.expected_cost is not None


def test_solver_details_are_in_the_result() -> None:
    result = solve(problem([candidate("a")], objective="capped"), solver="cbc")
    assert result.solver.name == "CBC" and result.solver.seconds >= 0
    highs = solve(problem([candidate("a")], objective="capped"))
    assert highs.solver.name == "HiGHS" and highs.solver.version.count(".") == 2
    assert highs.solver.gap is not None and highs.solver.bound is not None


def test_greedy_ranks_by_benefit_per_cost_within_the_budget() -> None:
    cands = [
        candidate("big", cost=60, p=0.5, impact=10),  # 5 / 60 = 0.083
        candidate("cheap", cost=30, p=0.5, impact=6),  # 3 / 30 = 0.1
        candidate("mid", cost=40, p=0.5, impact=7.2),
    ]  # 3.6 / 40 = 0.09
    p = problem(cands, budget=100)
    assert greedy_by_ratio(p) == {"cheap": "main", "mid": "main"}
    assert expected_knapsack(p) == {"big": "main", "mid": "main"}


def test_evaluate_portfolio_uses_fresh_scenarios_by_default() -> None:
    opts = [option("explore", 5, 0.6, 1.0), option("scale", 20, 0.3, 4.0)]
    p = problem([candidate("a", options=opts)], target=3.0)
    metrics = evaluate_portfolio(p, {"a": "scale"})
    assert metrics.scenarios == 500
    assert abs(metrics.p_target - 0.3) < 0.06
    in_sample = evaluate_portfolio(
        p, {"a": "scale"}, scenarios=optimisation_scenarios(problem_data(p))
    )
    assert in_sample.scenarios == 200
    assert np.isclose(in_sample.expected_impact, in_sample.p_any_success * 4.0)


def test_a_large_p_target_problem_with_a_short_time_limit_still_returns_a_portfolio() -> None:
    result = solve(generated(400, 300, "p_target"), time_limit=4)
    assert result.status == "feasible" and result.selected
    assert result.solver.bound is not None and result.objective is not None
    assert result.solver.bound >= result.objective


def test_kicks_take_p_target_from_a_local_optimum_to_the_proven_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """n = 20 x S = 500 (benchmark seed 1): local search stops at 0.5786; the proven optimum
    (HiGHS with scenario-dominance rows, 58 s) is 0.5846. The walk is seeded and bounded by a kick
    count here, not by the clock, so the test is deterministic."""
    monkeypatch.setattr(ptarget, "KICKS", 300)
    data = problem_data(load_problem(generate(20, 500, seed=1, objective="p_target")))
    scen = optimisation_scenarios(data)
    checker = SelectionChecker(data, scen)
    m = build_model(data, scen)
    set_objective(m, scen, "expected")
    start = run_milp(m, gap=0.005).x
    assert start is not None
    local = local_search(data, scen, checker, start, deadline=time.perf_counter() + 60)
    local_value = objective_value("p_target", data, scen, local)
    x, _ = ptarget.iterated_local_search(
        data, scen, checker, local, local_value, deadline=time.perf_counter() + 120
    )
    assert checker.is_feasible(x)
    assert round(local_value, 4) == 0.5786
    assert round(objective_value("p_target", data, scen, x), 4) == 0.5846


def test_a_long_branch_and_bound_reports_progress_between_portfolios(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between better portfolios the tree still reports (here after every chunk): the elapsed
    time grows, the bound of what is left never falls below the optimum and never rises, and the
    last report before the proof is the optimum with its bound."""
    monkeypatch.setattr(branch, "REPORT_EVERY", 0.0)
    seen: list[Progress] = []
    p = load_problem(generate(20, 500, seed=1, objective="p_target"))
    result = solve(p, time_limit=30, on_progress=seen.append)
    assert result.status == "optimal" and result.solver.method == "branch and bound"
    tree = [s for s in seen if s.phase == "branch and bound"]
    repeats = sum(a.incumbent == b.incumbent for a, b in pairwise(tree))
    assert repeats >= 20  # reports that bring no better portfolio
    assert all(a.elapsed <= b.elapsed for a, b in pairwise(tree))
    bounds = [s.bound for s in tree if s.bound is not None and s.incumbent is not None]
    optimum = 0.584567
    assert all(b >= optimum - 2e-6 for b in bounds)
    assert all(a >= b - 1e-12 for a, b in pairwise(bounds))
