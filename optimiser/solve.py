"""Solve a problem document: scenarios, model, objective, solver, diagnosis, evaluation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optimiser.data import FloatArray, ProblemData, problem_data
from optimiser.diagnose import diagnose
from optimiser.errors import SolverError
from optimiser.evaluate import flags_of, funding_rows, metrics_of, spend_of
from optimiser.feasibility import SelectionChecker
from optimiser.milp import MilpOutcome, solve_model, solver_version
from optimiser.objectives import objective_value, tie_break_weights
from optimiser.problem import Problem
from optimiser.ptarget import solve_p_target
from optimiser.result import MetricsPair, Progress, Result, SolverInfo
from optimiser.scenarios import Scenarios, evaluation_scenarios, optimisation_scenarios
from optimiser.software import software_versions

MAX_PROGRESS_KEPT = 100


@dataclass
class _Run:
    """What one call of `solve` has learned so far, for the result's `solver` block."""

    name: str
    version: str
    started: float
    scenarios: int = 0
    method: str = ""
    build_seconds: float = 0.0
    log: list[Progress] = field(default_factory=list)

    def info(self, status: str | None = None) -> SolverInfo:
        return SolverInfo(
            name=self.name,
            version=self.version,
            seconds=round(time.perf_counter() - self.started, 4),
            method=self.method,
            scenarios=self.scenarios,
            build_seconds=round(self.build_seconds, 4),
            progress=[_progress_dict(p) for p in self.log[-MAX_PROGRESS_KEPT:]],
            status=status,
            environment=software_versions(),
        )


def solve(
    problem: Problem,
    *,
    solver: str = "highs",
    time_limit: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Result:
    """Optimise `problem`'s objective; never raises for infeasibility (status `infeasible`) nor
    for a solver failure (status `error`, with the solver's own status and message)."""
    name, ver = solver_version(solver)
    run = _Run(name, ver, time.perf_counter())
    try:
        result = _solve(problem, run, solver, time_limit, on_progress, should_stop)
    except SolverError as exc:
        result = Result(status="error", solver=run.info(exc.status), message=str(exc))
    result.version = problem.version  # a version 2 problem gets a version 2 result
    return result


def _solve(
    problem: Problem,
    run: _Run,
    solver: str,
    time_limit: float | None,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
) -> Result:
    t0 = run.started
    limit = problem.policy.time_limit_s if time_limit is None else time_limit
    data = problem_data(problem)
    scenarios = optimisation_scenarios(data)
    run.scenarios = scenarios.count
    checker = SelectionChecker(data, scenarios)
    kind = problem.policy.objective

    def report(p: Progress) -> None:
        run.log.append(p)
        if on_progress is not None:
            on_progress(p)

    if kind == "p_target":
        pt = solve_p_target(
            data,
            scenarios,
            checker,
            solver=solver,
            time_limit=limit,
            gap=problem.policy.gap,
            report=report,
            should_stop=should_stop,
            clock_start=t0,
        )
        status, x, bound, run.method = pt.status, pt.x, pt.bound, pt.method
    else:
        out, run.build_seconds = solve_model(
            data,
            scenarios,
            kind,
            checker,
            solver=solver,
            deadline=t0 + limit,
            gap=problem.policy.gap,
            on_progress=report,
            should_stop=should_stop,
            clock_start=t0,
        )
        status, x, run.method = out.status, out.x, "milp"
        bound = _objective_bound(data, out)

    if status == "infeasible":
        report(Progress(time.perf_counter() - t0, None, None, "diagnosing infeasibility"))
        diagnosis = diagnose(data, scenarios, solver=solver, time_limit=min(10.0, limit))
        return Result(
            status="infeasible",
            solver=run.info(),
            diagnosis=diagnosis,
            message="no portfolio satisfies every rule",
        )
    if x is None:
        return Result(
            status="error",
            solver=run.info(),
            message="no portfolio was found within the time limit",
        )
    return _result(data, scenarios, kind, x, status, bound, run.info())


def _objective_bound(data: ProblemData, out: MilpOutcome) -> float | None:
    """The MILP bound in objective units (the tie-break may have lowered it by at most Σε)."""
    if out.bound is None:
        return None
    return out.bound + float(tie_break_weights(data).sum())


def _result(
    data: ProblemData,
    scenarios: Scenarios,
    kind: str,
    x: FloatArray,
    status: str,
    bound: float | None,
    solver: SolverInfo,
) -> Result:
    value = objective_value(kind, data, scenarios, x)
    # the bound the solver proved, as it is: `optimal` means within the policy gap, and the
    # reported gap says how far within (it is not rounded down to zero)
    if bound is None:
        bound = value if status == "optimal" else None
    else:
        bound = max(bound, value)
    solver.bound = None if bound is None else round(bound, 12)
    solver.gap = (
        None if bound is None else round(max(0.0, bound - value) / max(abs(value), 1e-9), 12)
    )
    funding = funding_rows(data, x)
    if funding is None:  # cannot happen for a feasible selection; kept honest if it does
        return Result(status="error", solver=solver, message="the selection cannot be funded")
    return Result(
        status="optimal" if status == "optimal" else "feasible",
        objective=round(value, 12),
        selected=data.selection_dict(x),
        funding=funding,
        metrics=MetricsPair(
            in_sample=metrics_of(data, scenarios, x),
            out_of_sample=metrics_of(data, evaluation_scenarios(data), x),
        ),
        spend=spend_of(data, x, funding),
        flags=flags_of(data, x),
        solver=solver,
    )


def _progress_dict(p: Progress) -> dict[str, object]:
    return {
        "elapsed": round(p.elapsed, 3),
        "incumbent": p.incumbent,
        "bound": p.bound,
        "phase": p.phase,
    }


def selection_vector(problem: Problem, selected: dict[str, str]) -> FloatArray:
    """x of a {candidate: option} mapping (helper for callers holding only a `Problem`)."""
    return np.asarray(problem_data(problem).selection_vector(selected), dtype=float)
