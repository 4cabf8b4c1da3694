"""Running a PuLP model on HiGHS (default) or CBC, with warm start, progress and interruption."""

from __future__ import annotations

import math
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import highspy
import numpy as np
import pulp

from optimiser.data import FloatArray, ProblemData
from optimiser.errors import SolverError
from optimiser.feasibility import SelectionChecker
from optimiser.model import Model, build_model
from optimiser.objectives import set_objective
from optimiser.result import Progress
from optimiser.scenarios import Scenarios

SOLVERS = ("highs", "cbc")


@dataclass
class MilpOutcome:
    """What a MILP run gave, in the model's (maximised) objective."""

    status: str  # optimal | feasible | infeasible | no_solution
    x: FloatArray | None
    objective: float | None
    bound: float | None
    seconds: float
    solver: str
    version: str


def solver_version(solver: str) -> tuple[str, str]:
    """Display name and version of a solver."""
    if solver == "highs":
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        return "HiGHS", f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"
    try:
        return "CBC", f"bundled with PuLP {version('pulp')}"
    except PackageNotFoundError:  # pragma: no cover
        return "CBC", "unknown"


class _HiGHS(pulp.HiGHS):  # type: ignore[misc]
    """PuLP's HiGHS with a bulk model build, a warm start and a progress/interrupt callback."""

    def __init__(
        self,
        *,
        start: dict[str, float] | None,
        on_event: Callable[[float, float, float], bool] | None,
        deadline: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.start = start
        self.on_event = on_event
        # HiGHS honours its time limit only between phases: a sub-MIP or a long LP can overrun it
        # by many seconds, so the interrupt callbacks also stop it at this perf_counter time
        self.deadline = deadline
        self.info: dict[str, float] = {}

    def actualSolve(self, lp: pulp.LpProblem) -> Any:
        """PuLP's solve, with `lp.variables()` (a walk over every constraint) computed once."""
        variables = lp.variables()
        lp.variables = lambda: variables  # the model does not change during a solve
        try:
            return super().actualSolve(lp)
        finally:
            del lp.variables

    def buildSolverModel(self, lp: pulp.LpProblem) -> None:
        h = lp.solverModel
        inf = highspy.kHighsInf
        sign = -1.0 if lp.sense == pulp.LpMaximize else 1.0
        variables = lp.variables()
        n = len(variables)
        lower = np.array([-inf if v.lowBound is None else v.lowBound for v in variables], float)
        upper = np.array([inf if v.upBound is None else v.upBound for v in variables], float)
        cost = np.array([sign * lp.objective.get(v, 0.0) for v in variables], float)
        h.addVars(n, lower, upper)
        h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        for j, v in enumerate(variables):
            v.index = j
        ints = np.array([v.index for v in variables if v.cat == pulp.LpInteger], dtype=np.int32)
        if len(ints) and self.mip:
            h.changeColsIntegrality(
                len(ints), ints, np.full(len(ints), highspy.HighsVarType.kInteger)
            )
        rows_lo: list[float] = []
        rows_hi: list[float] = []
        starts: list[int] = []
        index: list[int] = []
        values: list[float] = []
        for i, c in enumerate(lp.constraints.values()):
            c.index = i
            starts.append(len(index))
            for v, a in c.items():
                if a != 0:
                    index.append(v.index)
                    values.append(a)
            lb, ub = c.getLb(), c.getUb()
            rows_lo.append(-inf if lb is None else lb)
            rows_hi.append(inf if ub is None else ub)
        if rows_lo:
            h.addRows(
                len(rows_lo),
                np.array(rows_lo, float),
                np.array(rows_hi, float),
                len(index),
                np.array(starts, dtype=np.int32),
                np.array(index, dtype=np.int32),
                np.array(values, float),
            )
        if self.start is not None:
            # a partial solution (x only): HiGHS completes it by fixing x and solving the LP
            known = [(v.index, self.start[v.name]) for v in variables if v.name in self.start]
            h.setSolution(
                len(known),
                np.array([j for j, _ in known], dtype=np.int32),
                np.array([val for _, val in known], dtype=float),
            )
        if self.on_event is not None or self.deadline is not None:
            h.cbMipInterrupt.subscribe(self._event)
            h.cbSimplexInterrupt.subscribe(self._lp_event)
            h.cbIpmInterrupt.subscribe(self._lp_event)

    def _late(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    def _event(self, e: Any) -> None:
        out = e.data_out
        stop = self._late()
        if self.on_event is not None:
            stop = (
                self.on_event(
                    float(out.running_time),
                    -float(out.mip_primal_bound),
                    -float(out.mip_dual_bound),
                )
                or stop
            )
        if stop:
            e.data_in.user_interrupt = True

    def _lp_event(self, e: Any) -> None:
        if self._late():
            e.data_in.user_interrupt = True

    def findSolutionValues(self, lp: pulp.LpProblem) -> Any:
        h = lp.solverModel
        info = h.getInfo()
        self.info = {
            "mip_dual_bound": float(info.mip_dual_bound),
            "objective": float(info.objective_function_value),
            "primal_status": float(info.primal_solution_status),
            "mip_gap": float(info.mip_gap),
        }
        self.model_status = h.getModelStatus()
        return super().findSolutionValues(lp)


HIGHS_OPTIONS: dict[str, Any] = {"mip_abs_gap": 1e-9, "random_seed": 0}


def _progress_event(
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    origin: float,
    phase: str,
) -> Callable[[float, float, float], bool] | None:
    """The `_HiGHS` event: progress at most once a second; True when the caller wants a stop."""
    if on_progress is None and should_stop is None:
        return None
    last = [0.0]

    def event(elapsed: float, incumbent: float, bound: float) -> bool:
        now = time.perf_counter()
        if on_progress is not None and now - last[0] >= 1.0:
            last[0] = now
            on_progress(Progress(now - origin, _finite(incumbent), _finite(bound), phase))
        return bool(should_stop and should_stop())

    return event


def run_milp(
    m: Model,
    *,
    solver: str = "highs",
    time_limit: float | None = None,
    gap: float = 0.0,
    start: FloatArray | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    phase: str = "MILP",
    clock_start: float | None = None,
    threads: int | None = None,
) -> MilpOutcome:
    """Solve `m.prob`; report status, solution x, objective and bound (model objective units)."""
    if solver not in SOLVERS:
        raise SolverError(f"unknown solver {solver!r}: choose one of {', '.join(SOLVERS)}")
    t0 = time.perf_counter()
    origin = t0 if clock_start is None else clock_start
    name, ver = solver_version(solver)
    warm = None if start is None else _start_values(m, start)
    if solver == "highs":
        options: dict[str, Any] = dict(HIGHS_OPTIONS)
        if threads:
            options["threads"] = threads
        highs = _HiGHS(
            start=warm,
            on_event=_progress_event(on_progress, should_stop, origin, phase),
            deadline=None if time_limit is None else t0 + time_limit + GRACE_S,
            msg=False,
            timeLimit=time_limit,
            gapRel=gap,
            **options,
        )
        m.prob.solve(highs)
        x = _x_values(m)
        model_status = highs.model_status
        constant = float(getattr(m.prob.objective, "constant", 0.0) or 0.0)
        bound = -highs.info.get("mip_dual_bound", math.nan) + constant
        has_x = x is not None and highs.info.get("primal_status", 0) == 2
        seconds = time.perf_counter() - t0
        if model_status == highspy.HighsModelStatus.kOptimal and has_x:
            obj = _objective(m)
            if not math.isfinite(bound) or not _has_integers(m):
                bound = obj
            return MilpOutcome("optimal", x, obj, max(bound, obj), seconds, name, ver)
        if model_status in (
            highspy.HighsModelStatus.kInfeasible,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return MilpOutcome("infeasible", None, None, None, seconds, name, ver)
        if has_x:
            obj = _objective(m)
            return MilpOutcome("feasible", x, obj, _finite(bound), seconds, name, ver)
        return MilpOutcome("no_solution", None, None, _finite(bound), seconds, name, ver)
    return _run_cbc(m, time_limit, gap, warm, t0, name, ver)


GRACE_S = 0.25  # past its time limit, a HiGHS run is interrupted from its callbacks
CORE_SIZE = 200  # binaries left free in the first restricted MILP of `run_milp_by_core`


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
    t0 = time.perf_counter()
    origin = t0 if clock_start is None else clock_start
    name, ver = solver_version("highs")
    deadline = t0 + time_limit
    lp = m.prob
    variables = lp.variables()
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    options = {**HIGHS_OPTIONS, "output_flag": False, "mip_rel_gap": gap}
    for option, value in {**options, "time_limit": max(0.1, time_limit)}.items():
        h.setOptionValue(option, value)
    lp.solverModel = h
    # its callbacks report progress, honour should_stop and stop HiGHS past the deadline
    builder = _HiGHS(
        start=None,
        on_event=_progress_event(on_progress, should_stop, origin, "MILP"),
        deadline=deadline + GRACE_S,
        mip=False,
    )
    lp.variables = lambda: variables
    try:
        builder.buildSolverModel(lp)
    finally:
        del lp.variables
    binaries = [
        v for v in variables if v.cat == pulp.LpInteger and v.lowBound == 0 and v.upBound == 1
    ]
    cols = np.array([v.index for v in binaries], dtype=np.int32)
    constant = float(getattr(lp.objective, "constant", 0.0) or 0.0)
    h.run()
    status = h.getModelStatus()
    if status in (
        highspy.HighsModelStatus.kInfeasible,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    ):
        return MilpOutcome("infeasible", None, None, None, time.perf_counter() - t0, name, ver)
    if status != highspy.HighsModelStatus.kOptimal:
        return None
    solution = h.getSolution()
    upper = -h.getInfo().objective_function_value + constant
    values = np.asarray(solution.col_value)[cols]
    at_bound = (values < 1e-6) | (values > 1 - 1e-6)
    penalty = np.where(at_bound, np.abs(np.asarray(solution.col_dual)[cols]), 0.0)
    order = np.argsort(penalty, kind="stable")
    fixed_at = np.round(values)
    n = len(cols)
    h.changeColsIntegrality(n, cols, np.full(n, highspy.HighsVarType.kInteger))
    size = min(n, CORE_SIZE + int((~at_bound).sum()))
    while True:
        free = np.zeros(n, dtype=bool)
        free[order[:size]] = True
        lower = np.where(free, 0.0, fixed_at)
        upper_bounds = np.where(free, 1.0, fixed_at)
        h.changeColsBounds(n, cols, lower, upper_bounds)
        h.setOptionValue("time_limit", max(0.1, deadline - time.perf_counter()))
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        has_x = info.primal_solution_status == 2
        whole = size >= n
        seconds = time.perf_counter() - t0
        if not has_x:
            if status == highspy.HighsModelStatus.kInfeasible and not whole:
                size = min(n, size * 4)  # the core alone has no feasible point
                continue
            if status == highspy.HighsModelStatus.kInfeasible:
                return MilpOutcome("infeasible", None, None, None, seconds, name, ver)
            return MilpOutcome("no_solution", None, None, upper, seconds, name, ver)
        col_value = np.asarray(h.getSolution().col_value)
        for v in variables:
            v.varValue = float(col_value[v.index])
        x = _x_values(m)
        z = _objective(m)
        # a solution that moves a fixed binary is worth at most UB − (the smallest fixed |r|)
        outside = -math.inf if whole else upper - float(penalty[order[size]])
        inner = -float(info.mip_dual_bound) + constant
        bound = min(upper, max(inner if math.isfinite(inner) else upper, outside, z))
        tolerance = max(gap * abs(z), 1e-9)
        proven = status == highspy.HighsModelStatus.kOptimal
        if proven and bound - z <= tolerance + 1e-12:
            return MilpOutcome("optimal", x, z, bound, seconds, name, ver)
        if not proven or time.perf_counter() >= deadline:
            return MilpOutcome("feasible", x, z, bound, seconds, name, ver)
        needed = int(np.searchsorted(penalty[order], upper - z - tolerance, side="left"))
        size = min(n, max(size * 2, needed + CORE_SIZE // 2))
        h.setSolution(n, cols, col_value[cols])


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

    The P(any success) floor (one row per distinct success pattern) is added lazily: the model
    is first solved without it, and if that optimum already meets the floor it is optimal for
    the full model too (it solves a relaxation); otherwise the full model is solved.
    """
    origin = time.perf_counter() if clock_start is None else clock_start
    q = data.problem.policy.min_p_any_success
    lazy = q is not None and q > 0
    build = 0.0
    for with_p_any in [False, True] if lazy else [True]:
        tb = time.perf_counter()
        m = build_model(data, scenarios, with_p_any=with_p_any)
        set_objective(m, scenarios, kind)
        build += time.perf_counter() - tb
        if on_progress is not None:
            on_progress(Progress(time.perf_counter() - origin, None, None, f"built {kind} model"))
        share = 0.6 if lazy and not with_p_any else 1.0
        limit = max(0.1, (deadline - time.perf_counter()) * share)
        progress = {"on_progress": on_progress, "should_stop": should_stop, "clock_start": origin}
        core = None
        if solver == "highs" and kind == "expected":
            core = run_milp_by_core(m, time_limit=limit, gap=gap, **progress)  # type: ignore[arg-type]
        out = core or run_milp(m, solver=solver, time_limit=limit, gap=gap, **progress)  # type: ignore[arg-type]
        if with_p_any or out.status == "infeasible":
            return out, build
        if out.x is not None and not checker.violations(out.x):
            return out, build
        if should_stop is not None and should_stop():
            return MilpOutcome(
                "no_solution", None, None, out.bound, out.seconds, out.solver, out.version
            ), build
    raise AssertionError("unreachable")  # pragma: no cover


def _run_cbc(
    m: Model,
    time_limit: float | None,
    gap: float,
    warm: dict[str, float] | None,
    t0: float,
    name: str,
    ver: str,
) -> MilpOutcome:
    """CBC through PuLP (a subprocess: no progress callback); its log gives the final gap."""
    if warm is not None:
        for v in m.prob.variables():
            v.setInitialValue(warm.get(v.name, 0.0))
    fd, log_path = tempfile.mkstemp(suffix=".log", prefix="cbc-")
    os.close(fd)
    try:
        cbc = pulp.PULP_CBC_CMD(
            msg=False,
            timeLimit=time_limit,
            gapRel=gap,
            warmStart=warm is not None,
            logPath=log_path,
            threads=1,
        )
        try:
            status = m.prob.solve(cbc)
        except pulp.PulpSolverError:  # e.g. interrupted before writing a solution
            status = pulp.LpStatusNotSolved
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            log = fh.read()
    finally:
        os.unlink(log_path)
    seconds = time.perf_counter() - t0
    if status == pulp.LpStatusInfeasible or "infeasible" in log.lower().split("result -")[-1][:80]:
        return MilpOutcome("infeasible", None, None, None, seconds, name, ver)
    x = _x_values(m)
    if x is None or status != pulp.LpStatusOptimal:
        return MilpOutcome("no_solution", None, None, None, seconds, name, ver)
    obj = _objective(m)
    proven = m.prob.sol_status == pulp.LpSolutionOptimal and "Optimal solution found" in log
    bound = obj if proven else _cbc_bound(log, obj)
    return MilpOutcome("optimal" if proven else "feasible", x, obj, bound, seconds, name, ver)


def _cbc_bound(log: str, obj: float) -> float | None:
    """CBC prints 'Gap: g' (relative) at the end of a stopped solve; the bound follows from it."""
    match = re.findall(r"Gap:\s+([-\d.eE+]+)", log)
    if not match:
        return None
    rel = float(match[-1])
    return obj + rel * max(abs(obj), 1e-9)


def _start_values(m: Model, start: FloatArray) -> dict[str, float]:
    return {v.name: float(start[k]) for k, v in enumerate(m.x)}


def _x_values(m: Model) -> FloatArray | None:
    values = [v.varValue for v in m.x]
    if any(v is None for v in values):
        return None
    return np.array([1.0 if float(v) > 0.5 else 0.0 for v in values])


def _objective(m: Model) -> float:
    return float(pulp.value(m.prob.objective) or 0.0)


def _has_integers(m: Model) -> bool:
    return any(v.cat == pulp.LpInteger for v in m.prob.variables())


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
