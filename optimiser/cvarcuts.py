"""CVaR on many scenarios: the tail's rows generated as they are needed (`solve_cvar_by_rows`).

The `cvar` model (`optimiser.objectives`) has a shortfall row and variable per scenario,
u_s ≥ T − Σ_k a[s,k]x[k] − η (a = min(impact, T)), but only the scenarios in the tail of the
chosen portfolio — a share 1 − α of them, those whose shortfall passes η — change its value.
Leaving a row out relaxes the model (u_s is then free to be 0). So, in the spirit of the
L-shaped method for CVaR (Künzi-Bay & Mayer, 2006), with the tail's rows as the cuts:

1. **LP**: the LP relaxation with the rows of the largest shortfalls of a spread portfolio
   (every option at the budget's share), in one HiGHS instance; then, round after round, the rows
   of every scenario whose shortfall at the LP point passes its η are added and the LP is solved
   again (warm), until none is missing: that is the LP relaxation of the whole model.
2. **Master MILP**: every rule, and the rows of the scenarios past η at the LP point plus the
   largest shortfalls there (START_TAIL_FACTOR times the tail's size). A relaxation of the whole
   model, so its proven bound bounds the whole model. Solved by `run_milp_from_core_start` (the
   plain HiGHS run when that declines).
3. **Exact check**: the master's portfolio is scored on every scenario (`objective_value`). If
   that is within the gap of the bound, done; otherwise the scenarios of its tail still without
   a row get theirs and the master is solved again. (When every scenario of its tail has a row,
   the exact value is at least the master's, so this ends.)

The answer's objective is always its exact value on all the scenarios and its bound the smallest
master bound: `optimal` means within the policy gap of the whole model, as elsewhere.

Aggregated cuts (one θ ≥ scale·Σ_{s∈C}(T − a_s·x − η) per tail C, as Künzi-Bay & Mayer) were
the first form tried: Kelley on the LP needed about 140 cuts and 4 s at n = 200 × S = 5,000, and
the optimiser's own earlier trial found such cuts weak at the nodes of the MILP
(benchmarks/README.md); a row per tail scenario is as strong as the whole model where it matters.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import pulp

from optimiser.data import FloatArray, IntArray, ProblemData
from optimiser.highs import INFEASIBLE, run_checked
from optimiser.lpmodel import Model, linear
from optimiser.milp import run_milp_from_core_start
from optimiser.model import build_model
from optimiser.objectives import objective_value, tie_break_weights
from optimiser.result import Progress
from optimiser.scenarios import Scenarios
from optimiser.solvers import HIGHS_OPTIONS, MilpOutcome, load_highs, run_milp, solver_version

MIN_SCENARIOS = 1000  # fewer scenarios: the whole model is small enough as it is
START_TAIL_FACTOR = 1.5  # rows in the first master: this times the tail's (1 − α)·S (2 is slower)
LP_ROUNDS = 50
LP_TOL = 1e-7  # relative to the target: a shortfall past η by more than this gets its row
LP_TIME_SHARE = 0.2  # of the time limit, at most, for the LP's row generation
MAX_MASTERS = 20


def applies(data: ProblemData, scenarios: Scenarios, kind: str, solver: str) -> bool:
    """Whether `solve_cvar_by_rows` is the way to solve this model."""
    lam = data.problem.policy.cvar_lambda
    return kind == "cvar" and solver == "highs" and lam > 0 and scenarios.count >= MIN_SCENARIOS


@dataclass
class _Tail:
    """The tail's data: a = min(impact, T) (S x K), the target and scale = 1/((1 − α)S)."""

    a: FloatArray
    target: float
    scale: float
    lam: float

    def shortfall(self, x: FloatArray) -> FloatArray:
        """T − a·x per scenario (negative when the target is passed)."""
        return np.asarray(self.target - self.a @ x, dtype=float)


def _tail(data: ProblemData, scenarios: Scenarios) -> _Tail:
    policy = data.problem.policy
    scale = 1.0 / ((1.0 - policy.cvar_alpha) * scenarios.count)
    a = np.minimum(scenarios.impact, data.target)
    return _Tail(np.ascontiguousarray(a), data.target, scale, policy.cvar_lambda)


def _master(
    data: ProblemData, scenarios: Scenarios, tail: _Tail, rows: IntArray, with_p_any: bool
) -> Model:
    """Every rule and the shortfall rows u_s of the scenarios `rows`; the objective
    mean − λ(η + scale·Σ u) − penalty − tie-break, as `optimiser.objectives` writes it."""
    m = build_model(data, scenarios, with_p_any=with_p_any)
    eta = pulp.LpVariable("eta", lowBound=0)
    u = m.prob.add_variable_dicts("u_s", range(len(rows)), lowBound=0)
    xs = m.xs
    for j, s in enumerate(rows.tolist()):
        row = tail.a[s]
        nz = np.flatnonzero(row)
        expr = pulp.LpAffineExpression(list(zip(xs[nz].tolist(), row[nz].tolist(), strict=True)))
        expr.addterm(u[j], 1.0)
        expr.addterm(eta, 1.0)
        m.add(
            expr,
            ">=",
            tail.target,
            family="cvar_row",
            key=(s,),
            label="shortfall of a scenario",
            unit="impact",
        )
    expr = linear([u[j] for j in range(len(rows))], np.full(len(rows), tail.scale))
    expr.addterm(eta, 1.0)
    mean = linear(m.xs, scenarios.impact.mean(axis=0))
    weights = tie_break_weights(data)
    m.prob.setObjective(mean - tail.lam * expr - m.penalty - linear(m.xs, weights))
    m.aux["eta"] = eta
    return m


def _lp_rows(
    m: Model, tail: _Tail, first: IntArray, deadline: float
) -> tuple[FloatArray, float] | None:
    """Row generation on the LP relaxation of `m` (a master without rows): the rows of the
    scenarios `first`, then, round after round, of every scenario whose shortfall at the LP
    point passes η by more than LP_TOL, until none does (or LP_ROUNDS, or the deadline). The
    last LP point (x, η); None when the LP is infeasible (then so is the whole model)."""
    options = {**HIGHS_OPTIONS, "output_flag": False}
    h, _ = load_highs(m, options)
    cols = np.array([v.index for v in m.x], dtype=np.int32)
    eta_col = m.aux["eta"].index
    inside = np.zeros(tail.a.shape[0], dtype=bool)
    new = first
    x = np.zeros(len(cols))
    eta = 0.0
    for _ in range(LP_ROUNDS):
        inside[new] = True
        _add_rows(h, tail, new, cols, eta_col)
        h.setOptionValue("time_limit", max(0.1, deadline - time.perf_counter()))
        status = run_checked(h, "the LP relaxation of the CVaR tail model")
        if status in INFEASIBLE:
            return None
        if status != highspy.HighsModelStatus.kOptimal:
            break
        values = np.asarray(h.getSolution().col_value)
        x, eta = values[cols], float(values[eta_col])
        over = tail.shortfall(x) - eta
        new = np.flatnonzero((over > LP_TOL * max(1.0, tail.target)) & ~inside)
        if len(new) == 0 or time.perf_counter() > deadline:
            break
    return x, eta


def _add_rows(h: Any, tail: _Tail, new: IntArray, cols: Any, eta_col: int) -> None:
    """Add to HiGHS instance `h` a column u_s (objective −λ·scale, maximised) and the row
    a_s·x + u_s + η ≥ T of each scenario s in `new`."""
    count = len(new)
    if count == 0:
        return
    first = h.getNumCol()
    h.addVars(count, np.zeros(count), np.full(count, highspy.kHighsInf))
    u_cols = np.arange(first, first + count, dtype=np.int32)
    h.changeColsCost(count, u_cols, np.full(count, tail.lam * tail.scale))  # HiGHS minimises
    block = tail.a[new]
    row_of, col_of = np.nonzero(block)
    per_row = np.bincount(row_of, minlength=count) + 2
    starts = np.concatenate([[0], np.cumsum(per_row)[:-1]]).astype(np.int32)
    # each row: its nonzero x terms in column order, then u_s, then η
    position = np.arange(len(row_of)) + 2 * row_of  # two more entries in each row before
    index = np.empty(int(per_row.sum()), dtype=np.int32)
    value = np.empty(int(per_row.sum()))
    index[position], value[position] = cols[col_of], block[row_of, col_of]
    ends = starts + per_row
    index[ends - 2], value[ends - 2] = u_cols, 1.0
    index[ends - 1], value[ends - 1] = eta_col, 1.0
    lower = np.full(count, tail.target)
    h.addRows(count, lower, np.full(count, highspy.kHighsInf), len(index), starts, index, value)


def _largest(loss: FloatArray, size: int) -> IntArray:
    return np.asarray(np.argsort(-loss, kind="stable")[:size], dtype=np.int64)


def _start_rows(tail: _Tail, data: ProblemData, scenarios: Scenarios) -> IntArray:
    """The LP's first rows: the largest shortfalls of a spread portfolio (every option at the
    same fraction, the budget's share of the cost of everything), START_TAIL_FACTOR times the
    tail's size."""
    total = float(data.total_cost.sum())
    share = min(1.0, data.planned_total / total) if total > 0 else 1.0
    size = min(tail.a.shape[0], math.ceil(START_TAIL_FACTOR / tail.scale))
    return np.sort(_largest(tail.shortfall(np.full(data.n_options, share)), size))


def _more_rows(tail: _Tail, x: FloatArray, eta: float) -> IntArray:
    """The first master's rows: every scenario past η at the LP point and the largest shortfalls
    there, START_TAIL_FACTOR times the tail's size (the LP's other rows are left out)."""
    size = min(tail.a.shape[0], math.ceil(START_TAIL_FACTOR / tail.scale))
    loss = tail.shortfall(x)
    chosen = np.union1d(_largest(loss, size), np.flatnonzero(loss > eta))
    return np.asarray(chosen, dtype=np.int64)


def _exact(data: ProblemData, scenarios: Scenarios, x: FloatArray) -> float:
    """The model's objective of portfolio x computed exactly on every scenario."""
    return objective_value("cvar", data, scenarios, x) - float(tie_break_weights(data) @ x)


def _solve_master(m: Model, time_limit: float, gap: float, progress: dict[str, Any]) -> MilpOutcome:
    out = run_milp_from_core_start(m, time_limit=time_limit, gap=gap, **progress)
    return out or run_milp(m, time_limit=time_limit, gap=gap, **progress)


def solve_cvar_by_rows(
    data: ProblemData,
    scenarios: Scenarios,
    *,
    with_p_any: bool,
    time_limit: float,
    gap: float,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    clock_start: float | None = None,
) -> tuple[MilpOutcome, float]:
    """The `cvar` MILP solved with the tail's rows generated as needed (module docstring);
    the outcome (exact objective, the whole model's bound) and the seconds spent building."""
    t0 = time.perf_counter()
    origin = t0 if clock_start is None else clock_start
    deadline = t0 + time_limit
    name, ver = solver_version("highs")
    progress = {"on_progress": on_progress, "should_stop": should_stop, "clock_start": origin}
    tail = _tail(data, scenarios)
    tb = time.perf_counter()
    m = _master(data, scenarios, tail, np.zeros(0, dtype=np.int64), with_p_any)
    build = time.perf_counter() - tb
    lp = _lp_rows(m, tail, _start_rows(tail, data, scenarios), t0 + LP_TIME_SHARE * time_limit)
    if lp is None:
        return MilpOutcome(
            "infeasible", None, None, None, time.perf_counter() - t0, name, ver
        ), build
    rows = _more_rows(tail, *lp)
    best: tuple[FloatArray, float] | None = None
    bound = math.inf
    status = "no_solution"
    for round_ in range(MAX_MASTERS):
        tb = time.perf_counter()
        m = _master(data, scenarios, tail, rows, with_p_any)
        build += time.perf_counter() - tb
        _report(on_progress, origin, f"CVaR master {round_ + 1}: {len(rows)} scenario rows")
        out = _solve_master(m, max(0.1, deadline - time.perf_counter()), gap, progress)
        if out.status == "infeasible":  # a relaxation of the whole model: so is the whole model
            return MilpOutcome(
                "infeasible", None, None, None, time.perf_counter() - t0, name, ver
            ), build
        if out.bound is not None:
            bound = min(bound, out.bound)
        if out.x is None:
            break
        value = _exact(data, scenarios, out.x)
        if best is None or value > best[1]:
            best = (out.x, value)
        status = "optimal" if bound - best[1] <= max(gap * abs(best[1]), 1e-9) else "feasible"
        if status == "optimal" or out.status != "optimal":
            break
        eta = float(m.aux["eta"].varValue or 0.0)
        missing = _missing(tail, out.x, eta, rows)
        stopped = bool(should_stop and should_stop()) or time.perf_counter() >= deadline
        if len(missing) == 0 or stopped:
            break
        rows = np.union1d(rows, missing)
    seconds = time.perf_counter() - t0
    if best is None:
        return MilpOutcome("no_solution", None, None, _finite(bound), seconds, name, ver), build
    x, value = best
    return MilpOutcome(status, x, value, max(bound, value), seconds, name, ver), build


def _missing(tail: _Tail, x: FloatArray, eta: float, rows: IntArray) -> IntArray:
    """The scenarios in x's tail (past the master's η or x's own VaR) without a row yet."""
    loss = tail.shortfall(x)
    tail_count = max(1, math.ceil(1.0 / tail.scale))
    var = float(np.sort(loss)[::-1][min(len(loss), tail_count) - 1])
    past = np.flatnonzero(loss > min(eta, var) - 1e-9)
    return np.asarray(np.setdiff1d(past, rows), dtype=np.int64)


def _report(on_progress: Callable[[Progress], None] | None, origin: float, phase: str) -> None:
    if on_progress is not None:
        on_progress(Progress(time.perf_counter() - origin, None, None, phase))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
