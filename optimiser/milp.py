"""Solving the MILP on HiGHS the fast way, exactly: a reduced-cost core for `expected`, a core
start for the scenario objectives (`cvar`, `capped`), and the chance constraints added lazily
(`solve_model`). A plain run of the whole model, and the solver adapters, are `optimiser.solvers`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt
import pulp

from optimiser.data import FloatArray, IntArray, ProblemData
from optimiser.feasibility import SelectionChecker
from optimiser.highs import INFEASIBLE, run_checked
from optimiser.lpmodel import Model
from optimiser.model import build_model
from optimiser.objectives import objective_value, set_objective
from optimiser.result import Progress
from optimiser.scenarios import Scenarios
from optimiser.solvers import (
    GRACE_S,
    HIGHS_OPTIONS,
    SOLVERS,
    BulkHiGHS,
    MilpOutcome,
    load_highs,
    objective_of,
    progress_event,
    run_milp,
    solver_version,
    x_values,
)

__all__ = [
    "SOLVERS",
    "MilpOutcome",
    "run_milp",
    "run_milp_by_core",
    "run_milp_from_core_start",
    "solve_model",
    "solver_version",
]

CORE_SIZE = 200  # binaries left free in the first restricted MILP of `run_milp_by_core`


@dataclass
class _Relaxed:
    """A model loaded into one HiGHS instance with its LP relaxation solved (binaries relaxed),
    ready for restricted MILPs: binaries ordered by |reduced cost| (0 for fractional ones)."""

    started: float  # perf_counter time of the call that loaded the model
    deadline: float
    h: Any  # highspy.Highs
    variables: list[pulp.LpVariable]
    cols: npt.NDArray[np.int32]  # HiGHS columns of the binaries
    upper: float  # the LP bound (model objective units)
    fixed_at: FloatArray  # LP values of the binaries, rounded
    penalty: FloatArray  # |reduced cost| of binaries at a bound, 0 for fractional ones
    order: IntArray  # binaries by increasing penalty
    fractional: int
    constant: float
    name: str
    version: str
    binaries: FloatArray = field(default_factory=lambda: np.zeros(0))  # of the last solution

    def restrict(self, size: int) -> None:
        """Free the `size` binaries of least penalty, fix the others at their LP values."""
        n = len(self.cols)
        free = np.zeros(n, dtype=bool)
        free[self.order[:size]] = True
        lower = np.where(free, 0.0, self.fixed_at)
        upper = np.where(free, 1.0, self.fixed_at)
        self.h.changeColsBounds(n, self.cols, lower, upper)

    def run(self, time_limit: float, options: dict[str, Any] | None = None) -> bool:
        """Solve the current MILP; True when it has a solution (then copied into the model, and
        its binaries kept in `self.binaries`)."""
        for option, value in (options or {}).items():
            self.h.setOptionValue(option, value)
        self.h.setOptionValue("time_limit", max(0.1, time_limit))
        run_checked(self.h, "a MILP restricted to a core of the candidates")
        if self.h.getInfo().primal_solution_status != 2:
            return False
        col_value = np.asarray(self.h.getSolution().col_value)
        for v in self.variables:
            v.varValue = float(col_value[v.index])
        self.binaries = col_value[self.cols].copy()
        return True

    def status(self) -> Any:
        return self.h.getModelStatus()

    def dual_bound(self) -> float:
        """The last MILP run's bound (model objective units; +inf when it has none)."""
        bound = -float(self.h.getInfo().mip_dual_bound) + self.constant
        return bound if math.isfinite(bound) else math.inf

    def set_start(self, binaries: FloatArray | None = None) -> None:
        """HiGHS's starting solution: these binary values, or the last run's (HiGHS completes
        the continuous variables). Call it after any change of bounds, which discards it."""
        values = self.binaries if binaries is None else binaries
        self.h.setSolution(len(self.cols), self.cols, values)


def _relaxed(
    m: Model,
    *,
    gap: float,
    time_limit: float,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    clock_start: float | None,
    lp_time_limit: float = math.inf,
) -> _Relaxed | MilpOutcome | None:
    """Load m into HiGHS and solve its LP relaxation: `infeasible` outcome, or None if unsolved
    (within `lp_time_limit` seconds and the time limit, which counts from now)."""
    t0 = time.perf_counter()
    origin = t0 if clock_start is None else clock_start
    deadline = t0 + time_limit
    name, ver = solver_version("highs")
    lp = m.prob
    options = {**HIGHS_OPTIONS, "output_flag": False, "mip_rel_gap": gap}
    lp_limit = max(0.1, min(deadline - t0, lp_time_limit))
    # its callbacks report progress, honour should_stop and stop HiGHS past the deadline
    builder = BulkHiGHS(
        start=None,
        on_event=progress_event(on_progress, should_stop, origin, "MILP"),
        deadline=deadline + GRACE_S,
        mip=False,
    )
    h, variables = load_highs(m, {**options, "time_limit": lp_limit}, builder)
    binaries = [
        v for v in variables if v.cat == pulp.LpInteger and v.lowBound == 0 and v.upBound == 1
    ]
    cols = np.array([v.index for v in binaries], dtype=np.int32)
    constant = float(getattr(lp.objective, "constant", 0.0) or 0.0)
    status = run_checked(h, "the LP relaxation")
    if status in INFEASIBLE:
        return MilpOutcome("infeasible", None, None, None, time.perf_counter() - t0, name, ver)
    if status != highspy.HighsModelStatus.kOptimal:
        return None
    solution = h.getSolution()
    upper = -h.getInfo().objective_function_value + constant
    values = np.asarray(solution.col_value)[cols]
    at_bound = (values < 1e-6) | (values > 1 - 1e-6)
    penalty = np.where(at_bound, np.abs(np.asarray(solution.col_dual)[cols]), 0.0)
    n = len(cols)
    h.changeColsIntegrality(n, cols, np.full(n, highspy.HighsVarType.kInteger))
    return _Relaxed(
        t0,
        deadline,
        h,
        variables,
        cols,
        upper,
        np.round(values),
        penalty,
        np.argsort(penalty, kind="stable"),
        int((~at_bound).sum()),
        constant,
        name,
        ver,
    )


def run_milp_by_core(
    m: Model,
    *,
    time_limit: float,
    gap: float,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    clock_start: float | None = None,
) -> MilpOutcome | None:
    """Solve a knapsack-like MILP on HiGHS through a small core; None if the LP is not solved.

    HiGHS's root heuristics propagate every rounding through the long budget and share rows, which
    costs O(n²) at a thousand options although the LP relaxation is almost integral. So: solve the
    LP relaxation (bound UB, reduced costs r), leave the binaries with the smallest |r| free (the
    core) and fix the others at their LP values, and solve that small MILP (incumbent z). Any
    solution better than z keeps every binary with |r| > UB − z at its LP value (reduced-cost
    fixing), so when all the fixed binaries pass that test the core's bound holds for the whole
    model; otherwise the core grows to include them and is solved again from z. In general a
    solution that moves a fixed binary is worth at most UB − min fixed |r|, so the bound of the
    whole model is max(core bound, that), and the core only has to grow until this is within the
    gap. Exact: the status and bound are those of the whole model. One HiGHS instance serves every
    step.
    """
    r = _relaxed(
        m,
        gap=gap,
        time_limit=time_limit,
        on_progress=on_progress,
        should_stop=should_stop,
        clock_start=clock_start,
    )
    if not isinstance(r, _Relaxed):
        return r
    t0, deadline = r.started, r.deadline
    name, ver = r.name, r.version
    n = len(r.cols)
    size = min(n, CORE_SIZE + r.fractional)
    r.restrict(size)
    while True:
        has_x = r.run(deadline - time.perf_counter())
        status = r.status()
        whole = size >= n
        seconds = time.perf_counter() - t0
        if not has_x:
            if status == highspy.HighsModelStatus.kInfeasible and not whole:
                size = min(n, size * 4)  # the core alone has no feasible point
                r.restrict(size)
                continue
            if status == highspy.HighsModelStatus.kInfeasible:
                return MilpOutcome("infeasible", None, None, None, seconds, name, ver)
            return MilpOutcome("no_solution", None, None, r.upper, seconds, name, ver)
        x = x_values(m)
        z = objective_of(m)
        # a solution that moves a fixed binary is worth at most UB − (the smallest fixed |r|)
        outside = -math.inf if whole else r.upper - float(r.penalty[r.order[size]])
        inner = min(r.dual_bound(), r.upper)
        bound = min(r.upper, max(inner, outside, z))
        tolerance = max(gap * abs(z), 1e-9)
        proven = status == highspy.HighsModelStatus.kOptimal
        if proven and bound - z <= tolerance + 1e-12:
            return MilpOutcome("optimal", x, z, bound, seconds, name, ver)
        if not proven or time.perf_counter() >= deadline:
            return MilpOutcome("feasible", x, z, bound, seconds, name, ver)
        needed = int(np.searchsorted(r.penalty[r.order], r.upper - z - tolerance, side="left"))
        size = min(n, max(size * 2, needed + CORE_SIZE // 2))
        r.restrict(size)  # before set_start: a change of bounds discards HiGHS's start
        r.set_start()


# HiGHS's root heuristics (RINS, RENS, the reduced-cost sub-MIP, feasibility jump) and restarts:
# switched off when the incumbent is already good, since each sub-MIP re-solves the whole
# scenario model (measured: 2.3 of 4.7 s at cvar n = 50 x S = 2000)
NO_ROOT_HEURISTICS = {
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
    "mip_allow_restart": False,
}
# binaries left free in the core that finds a starting portfolio, besides those fractional in the
# LP: START_CORE_SHARE of them less START_CORE_MIN, at least START_CORE_MIN (measured on the
# generated instances: 10 finds the optimum at n = 50 and costs a third of 20; at n = 200 a core
# of 40 missed it by 0.5 %, so that the proof run failed, and 80 found it)
START_CORE_MIN = 10
START_CORE_SHARE = 0.2
START_CORE_LIMIT = 0.5  # a core this large a share of the binaries is no shortcut: plain MILP
# the LP relaxation of a scenario model is not always cheap (capped at n = 1000 x S = 5000: 45 s,
# where HiGHS's MILP presolve makes its root LP easy): past this share of the time limit (at
# least LP_TIME_MIN seconds) the model goes to HiGHS as it is
LP_TIME_SHARE = 0.1
LP_TIME_MIN = 1.0
PROOF_TIME_FACTOR = 5.0  # the proof run gets this multiple of the time spent so far ...
PROOF_TIME_MIN = 2.0  # ... and at least this many seconds, before the fallback


_Portfolio = tuple[FloatArray, float, FloatArray]  # x, objective, binaries


def run_milp_from_core_start(
    m: Model,
    *,
    time_limit: float,
    gap: float,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    clock_start: float | None = None,
) -> MilpOutcome | None:
    """Solve a scenario MILP (`cvar`, `capped`) from a starting portfolio found on a core.

    HiGHS proves these models two to four times faster from a good incumbent with its root
    heuristics off than on its own, but from a poor one without heuristics it can take minutes.
    So: solve the LP relaxation; solve the MILP restricted to a core (the binaries fractional in
    the LP and the next 10 to 20 % by smallest |reduced cost| free, the others fixed at their
    LP values) with HiGHS's heuristics — a good portfolio, no proof; then the whole model from
    it without root heuristics, for at most five times the time spent so far (≥ 2 s); if that
    has not proved the gap, the whole model again with every heuristic, from the best portfolio
    found. Exact: the status and bound are the whole model's. None (the caller then solves the
    model as it is) when the LP is not solved within a tenth of the time limit (≥ 1 s) or the
    core would be half the binaries or more.
    """
    r = _relaxed(
        m,
        gap=gap,
        time_limit=time_limit,
        on_progress=on_progress,
        should_stop=should_stop,
        clock_start=clock_start,
        lp_time_limit=max(LP_TIME_MIN, LP_TIME_SHARE * time_limit),
    )
    if not isinstance(r, _Relaxed):
        return r
    n = len(r.cols)
    size = min(n, max(START_CORE_MIN, int(START_CORE_SHARE * n) - START_CORE_MIN) + r.fractional)
    if size >= START_CORE_LIMIT * n:
        return None
    r.restrict(size)
    found = r.run(r.deadline - time.perf_counter())
    best: _Portfolio | None = None
    r.restrict(n)  # before set_start: a change of bounds discards HiGHS's starting solution
    if found:
        best = (x_values(m), objective_of(m), r.binaries)  # type: ignore[assignment]
        r.set_start()
    return _prove_whole(m, r, best, gap, should_stop)


def _prove_whole(
    m: Model,
    r: _Relaxed,
    best: _Portfolio | None,
    gap: float,
    should_stop: Callable[[], bool] | None,
) -> MilpOutcome:
    """The whole model from the core's portfolio `best` (None if the core found none): without
    root heuristics for PROOF_TIME_FACTOR times the time spent so far (≥ PROOF_TIME_MIN), then,
    unless that proved the gap, with every heuristic from the best portfolio found."""
    t0, deadline = r.started, r.deadline
    defaults = {option: r.h.getOptionValue(option)[1] for option in NO_ROOT_HEURISTICS}
    bound = math.inf
    proof = min(
        deadline - time.perf_counter(),
        max(PROOF_TIME_MIN, PROOF_TIME_FACTOR * (time.perf_counter() - t0)),
    )
    runs = [(NO_ROOT_HEURISTICS, proof), (defaults, math.inf)] if best else [(defaults, math.inf)]
    status = None
    for options, limit in runs:
        stopped = bool(should_stop and should_stop()) or time.perf_counter() >= deadline
        if best is not None and stopped:
            break
        found = r.run(min(limit, deadline - time.perf_counter()), options)
        status = r.status()
        if status in INFEASIBLE:
            seconds = time.perf_counter() - t0
            return MilpOutcome("infeasible", None, None, None, seconds, r.name, r.version)
        bound = min(bound, r.dual_bound())
        if found and (best is None or objective_of(m) > best[1]):
            best = (x_values(m), objective_of(m), r.binaries)  # type: ignore[assignment]
        if status == highspy.HighsModelStatus.kOptimal:
            break
        if best is not None:
            r.set_start(best[2])
    seconds = time.perf_counter() - t0
    if best is None:
        return MilpOutcome(
            "no_solution", None, None, min(bound, r.upper), seconds, r.name, r.version
        )
    x, z, _ = best
    bound = max(min(bound, r.upper), z)
    proven = status == highspy.HighsModelStatus.kOptimal or bound - z <= max(gap * abs(z), 1e-9)
    state = "optimal" if proven else "feasible"
    return MilpOutcome(state, x, z, bound, seconds, r.name, r.version)


def solve_model(
    data: ProblemData,
    scenarios: Scenarios,
    kind: str,
    checker: SelectionChecker,
    *,
    solver: str,
    deadline: float,
    gap: float,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    clock_start: float | None = None,
) -> tuple[MilpOutcome, float]:
    """Build and solve the MILP of objective `kind`; returns the outcome and the build seconds.

    The scenario-counting families — the P(any success) floor (one row per distinct success
    pattern) and the overrun chance constraint (a binary and up to Y rows per scenario) — are
    added lazily: the model is first solved without them, and if that optimum already meets
    them it is optimal for the full model too (it solves a relaxation); otherwise the full
    model is solved. `cvar` on many scenarios (`optimiser.cvarcuts.applies`) generates its
    tail's rows as they are needed (`optimiser.cvarcuts.solve_cvar_by_rows`).
    """
    origin = time.perf_counter() if clock_start is None else clock_start
    policy = data.problem.policy
    q = policy.min_p_any_success
    lazy = (q is not None and q > 0) or policy.max_overrun_probability is not None
    build = 0.0
    core_start = solver == "highs" and kind in ("cvar", "capped")
    from optimiser import cvarcuts  # built on this module's strategies

    by_rows = cvarcuts.applies(data, scenarios, kind, solver)
    fallback: FloatArray | None = None  # a repaired relaxed optimum, if the full model fails
    for with_p_any in [False, True] if lazy else [True]:
        share = 0.6 if lazy and not with_p_any else 1.0
        progress = {"on_progress": on_progress, "should_stop": should_stop, "clock_start": origin}
        if by_rows:  # the CVaR tail's rows generated as they are needed
            limit = max(0.1, (deadline - time.perf_counter()) * share)
            out, seconds = cvarcuts.solve_cvar_by_rows(
                data,
                scenarios,
                with_p_any=with_p_any,
                time_limit=limit,
                gap=gap,
                **progress,  # type: ignore[arg-type]
            )
            build += seconds
        else:
            tb = time.perf_counter()
            m = build_model(data, scenarios, with_p_any=with_p_any)
            set_objective(m, scenarios, kind)
            build += time.perf_counter() - tb
            if on_progress is not None:
                on_progress(
                    Progress(time.perf_counter() - origin, None, None, f"built {kind} model")
                )
            limit = max(0.1, (deadline - time.perf_counter()) * share)
            core = None
            if solver == "highs" and kind == "expected":
                core = run_milp_by_core(m, time_limit=limit, gap=gap, **progress)  # type: ignore[arg-type]
            elif core_start:
                core = run_milp_from_core_start(m, time_limit=limit, gap=gap, **progress)  # type: ignore[arg-type]
                core_start = core is not None  # not again with the floor if the LP was too slow
            out = core or run_milp(m, solver=solver, time_limit=limit, gap=gap, **progress)  # type: ignore[arg-type]
        if with_p_any and fallback is not None:  # verified feasible: trust it over the model
            return _better(data, scenarios, kind, out, fallback), build
        if with_p_any or out.status == "infeasible":
            return out, build
        if out.x is not None and not checker.violations(out.x):
            return out, build
        if out.x is not None:
            fallback = checker.repaired(out.x)
        if should_stop is not None and should_stop():
            return MilpOutcome(
                "no_solution", None, None, out.bound, out.seconds, out.solver, out.version
            ), build
    raise AssertionError("unreachable")  # pragma: no cover


def _better(
    data: ProblemData, scenarios: Scenarios, kind: str, out: MilpOutcome, fallback: FloatArray
) -> MilpOutcome:
    """The full model's outcome, or the repaired relaxed optimum when the full model found
    nothing better within its time (then `feasible`, with the full model's bound)."""
    if out.x is not None and out.status == "optimal":
        return out
    mine = objective_value(kind, data, scenarios, fallback)
    if out.x is not None and objective_value(kind, data, scenarios, out.x) >= mine:
        return out
    return MilpOutcome("feasible", fallback, None, out.bound, out.seconds, out.solver, out.version)
