"""Solving a PuLP model on HiGHS (default) or CBC: the solver adapters and a plain run.

- HiGHS through `BulkHiGHS`: PuLP's HiGHS interface with the model built in bulk (a few numpy
  calls instead of a call per row), a warm start (x only; HiGHS completes the rest), and a
  callback that reports progress, honours a stop request and interrupts HiGHS past a deadline
  (its own time limit is honoured only between phases).
- CBC through PuLP's command-line runner (a subprocess: no progress callback); its log gives the
  final gap.
- `run_milp`: one solve of the whole model; `MilpOutcome` what a run gives, in the model's
  (maximised) objective.
The strategies built on these (the reduced-cost core, the core start, the lazy chance
constraints) are `optimiser.milp`.
"""

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

from optimiser.data import FloatArray
from optimiser.errors import SolverError
from optimiser.highs import INFEASIBLE, check_status, highs_version
from optimiser.lpmodel import Model
from optimiser.result import Progress

SOLVERS = ("highs", "cbc")
HIGHS_OPTIONS: dict[str, Any] = {"mip_abs_gap": 1e-9, "random_seed": 0}
GRACE_S = 0.25  # past its time limit, a HiGHS run is interrupted from its callbacks


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
        return "HiGHS", highs_version()
    try:
        return "CBC", f"bundled with PuLP {version('pulp')}"
    except PackageNotFoundError:  # pragma: no cover
        return "CBC", "unknown"


class BulkHiGHS(pulp.HiGHS):  # type: ignore[misc]
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
        self.run_status: Any = None

    def callSolver(self, lp: pulp.LpProblem) -> None:
        """PuLP's run, keeping what ``run()`` returned (PuLP drops it)."""
        self.run_status = lp.solverModel.run()

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
        self.model_status = check_status(h, self.run_status, "the MILP")
        return super().findSolutionValues(lp)


def progress_event(
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    origin: float,
    phase: str,
) -> Callable[[float, float, float], bool] | None:
    """The `BulkHiGHS` event: progress at most once a second; True when the caller wants a stop."""
    if on_progress is None and should_stop is None:
        return None
    last = [0.0]

    def event(elapsed: float, incumbent: float, bound: float) -> bool:
        now = time.perf_counter()
        if on_progress is not None and now - last[0] >= 1.0:
            last[0] = now
            on_progress(Progress(now - origin, finite(incumbent), finite(bound), phase))
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
) -> MilpOutcome:
    """Solve `m.prob`; report status, solution x, objective and bound (model objective units)."""
    if solver not in SOLVERS:
        raise SolverError(f"unknown solver {solver!r}: choose one of {', '.join(SOLVERS)}")
    t0 = time.perf_counter()
    origin = t0 if clock_start is None else clock_start
    name, ver = solver_version(solver)
    warm = None if start is None else start_values(m, start)
    if solver == "highs":
        options: dict[str, Any] = dict(HIGHS_OPTIONS)
        highs = BulkHiGHS(
            start=warm,
            on_event=progress_event(on_progress, should_stop, origin, phase),
            deadline=None if time_limit is None else t0 + time_limit + GRACE_S,
            msg=False,
            timeLimit=time_limit,
            gapRel=gap,
            **options,
        )
        m.prob.solve(highs)
        x = x_values(m)
        model_status = highs.model_status
        constant = float(getattr(m.prob.objective, "constant", 0.0) or 0.0)
        bound = -highs.info.get("mip_dual_bound", math.nan) + constant
        has_x = x is not None and highs.info.get("primal_status", 0) == 2
        seconds = time.perf_counter() - t0
        if model_status == highspy.HighsModelStatus.kOptimal and has_x:
            obj = objective_of(m)
            if not math.isfinite(bound) or not has_integers(m):
                bound = obj
            return MilpOutcome("optimal", x, obj, max(bound, obj), seconds, name, ver)
        if model_status in INFEASIBLE:
            return MilpOutcome("infeasible", None, None, None, seconds, name, ver)
        if has_x:
            obj = objective_of(m)
            return MilpOutcome("feasible", x, obj, finite(bound), seconds, name, ver)
        return MilpOutcome("no_solution", None, None, finite(bound), seconds, name, ver)
    return run_cbc(m, time_limit, gap, warm, t0, name, ver)


def run_cbc(
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
    x = x_values(m)
    if x is None or status != pulp.LpStatusOptimal:
        return MilpOutcome("no_solution", None, None, None, seconds, name, ver)
    obj = objective_of(m)
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


def load_highs(
    m: Model, options: dict[str, Any], builder: BulkHiGHS | None = None
) -> tuple[Any, list[pulp.LpVariable]]:
    """`m` loaded into a new HiGHS instance with `options` set (each variable's `index` its
    column), and its variables; `builder` (with its callbacks) builds it, a plain one if None."""
    lp = m.prob
    variables = lp.variables()
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    for option, value in options.items():
        h.setOptionValue(option, value)
    lp.solverModel = h
    builder = BulkHiGHS(start=None, on_event=None, mip=False) if builder is None else builder
    lp.variables = lambda: variables
    try:
        builder.buildSolverModel(lp)
    finally:
        del lp.variables
    return h, variables


def start_values(m: Model, start: FloatArray) -> dict[str, float]:
    """The warm start of `run_milp`: x by variable name."""
    return {v.name: float(start[k]) for k, v in enumerate(m.x)}


def x_values(m: Model) -> FloatArray | None:
    """x of the last solution, rounded to 0/1 (None if the solver set none)."""
    values = [v.varValue for v in m.x]
    if any(v is None for v in values):
        return None
    return np.array([1.0 if float(v) > 0.5 else 0.0 for v in values])


def objective_of(m: Model) -> float:
    """The model's objective at the last solution."""
    return float(pulp.value(m.prob.objective) or 0.0)


def has_integers(m: Model) -> bool:
    """Whether the model has integer variables (else a solve's objective is its bound)."""
    return any(v.cat == pulp.LpInteger for v in m.prob.variables())


def finite(value: float) -> float | None:
    """`value`, or None when it is not finite."""
    return value if math.isfinite(value) else None
