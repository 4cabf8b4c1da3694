"""A stronger P(target) MILP: scenario rows with residual targets, and residual cuts.

The textbook row of scenario s is Σ_k min(a[s,k], T)·x[k] ≥ T·z[s]. Three valid strengthenings
(each keeps every feasible portfolio x with z[s] = 1 exactly when x reaches the target in s):

1. The options every portfolio funds (a lock or commitment with one allowed option) give base
   impact b[s]; scenarios with b[s] ≥ T always count (a constant), and the others need the
   residual r[s] = T − b[s] from the free options: Σ_free min(a[s,k], r[s])·x[k] ≥ r[s]·z[s].
2. A scenario whose residual no budget-feasible portfolio can reach — the fractional knapsack of
   the free candidates' tranche increments (`optimiser.branch.tranche_increments`, one option per
   candidate) over all the planned money left after the forced options — counts at no portfolio:
   it gets no z (the textbook model drops only those unreachable with unlimited money).
3. Residual cuts: for any set F of options with Σ_{k∈F} a[s,k] < r[s], let d = r[s] − that sum;
   then Σ_{k∉F} min(a[s,k], d)·x[k] ≥ d·z[s]. Valid because a portfolio that reaches the target
   gets at most Σ_F a[s,k] from F, so at least d from the others, and capping each term at d keeps
   a sum that reached d at d or more. F = ∅ is the row of 1; with F the options a solution funds,
   a scenario it does not reach gets z[s] ≤ (what the other options add, capped) / d — the
   textbook row credits it a[s]·x / T instead (0.85 for a portfolio that reaches 85 % of T).
   They are separated at fractional LP points (`root_cuts`): F runs over the prefixes of the
   options sorted by their LP value, the most violated cut per scenario is added, and the LP of a
   relaxation (one option per candidate, all the planned money: `Relaxation`) is solved again.
   This is the strengthened big-M of Qiu, Ahmed, Dey & Wolsey (2014) and Song, Luedtke &
   Küçükyavuz (2014) taken conditionally on a set of funded options.

Measured on the generated n = 50 × S = 2000 instance (benchmarks/README.md, "P(target) proven
gaps"): the relaxation's LP bound 0.906 falls to 0.867 with residual cuts; cover cuts, tried too
(z[s] ≤ Σ_{k∈C} x[k] for sets C without which s is out of reach) moved it only to 0.894. HiGHS's
own root cuts on the whole model reach 0.848 either way (it spends 30 s and more at the root and
branches on no node), so `optimiser.ptarget` uses 1 and 2 and adds no residual cuts: given to
HiGHS they cost 6 s and ended at the same bound. The gap that remains is the LP's: its fractional
portfolio funds 28 candidates fully and 11 in part, which lifts many scenarios over the target
that no whole portfolio lifts together (the rounded LP portfolio reaches 0.707).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import pulp

from optimiser.branch import fractional_knapsack, tranche_increments
from optimiser.data import FloatArray, IntArray, ProblemData
from optimiser.highs import run_checked
from optimiser.lpmodel import Model, linear
from optimiser.objectives import TOL, merged_rows, tie_break_weights
from optimiser.scenarios import Scenarios

# rounds of residual cuts at most, and the least violation of a cut worth adding
CUT_ROUNDS = 12
MIN_VIOLATION = 1e-4
MAX_PREFIXES = 64  # sets F tried per separation (each costs rows x options)


@dataclass
class Cut:
    """Σ_j coef[j]·x[options[j]] ≥ d·z[row] (row: index into `Relaxation.rows`)."""

    row: int
    options: IntArray
    coef: FloatArray
    d: float


class Relaxation:
    """The scenario rows of 1 and 2 (module docstring), merged when identical: `rows` (L x free
    options, min(a, r)), `residual` (L), `counts` (L, scenarios per row), `met` (scenarios the
    forced options reach), over the options `free` (allowed and not forced)."""

    def __init__(self, data: ProblemData, scenarios: Scenarios, choices: list[list[int]]):
        target = data.target
        self.count = scenarios.count
        forced = [c[0] for c in choices if len(c) == 1 and c[0] >= 0]
        self.free: IntArray = np.array(
            [k for c in choices if len(c) > 1 for k in c if k >= 0], dtype=np.int64
        )
        self.candidate: IntArray = np.unique(data.candidate_of[self.free], return_inverse=True)[1]
        self.cost: FloatArray = data.total_cost[self.free]
        total = data.planned_total
        self.budget = total + 1e-7 * (1.0 + total) - float(data.total_cost[forced].sum())
        capped = np.minimum(scenarios.impact, target)
        base = capped[:, forced].sum(axis=1)
        met = base >= target - TOL
        residual = np.maximum(target - base, 0.0)
        a = np.minimum(capped[:, self.free], residual[:, None])
        gains, costs = tranche_increments(a, self.cost, self.candidate)
        budget = np.array([max(self.budget, 0.0)])
        reach = fractional_knapsack(gains, costs, budget, dtype=np.float64)[0][0]
        live = ~met & (reach >= residual - TOL - 1e-9 * (1.0 + target))
        self.met = int(met.sum())
        rows, counts = np.column_stack([a[live], residual[live]]), np.ones(int(live.sum()))
        if len(rows):
            rows, counts = merged_rows(rows)
        self.rows: FloatArray = rows[:, :-1]
        self.residual: FloatArray = rows[:, -1]
        self.counts: FloatArray = counts

    @property
    def width(self) -> int:
        return len(self.free)


def separate(rel: Relaxation, y: FloatArray, z: FloatArray) -> list[Cut]:
    """The most violated residual cut of each row at the LP point (y over `rel.free`, z over
    rows), F a prefix of the options by decreasing y; none for rows violated by less than
    MIN_VIOLATION."""
    order = np.argsort(-y, kind="stable")
    support = order[y[order] > 1e-6]
    # prefixes end where y drops, at most MAX_PREFIXES of them (evenly spread over the support)
    ends = [m for m in range(1, len(support)) if y[support[m]] < y[support[m - 1]] - 1e-9]
    ends.append(len(support))
    if len(ends) > MAX_PREFIXES:
        ends = [ends[int(i)] for i in np.linspace(0, len(ends) - 1, MAX_PREFIXES)]
    rows = np.flatnonzero(z > MIN_VIOLATION)  # a cut's right-hand side is never negative
    a, residual = rel.rows[rows], rel.residual[rows]
    best = np.full(len(rows), np.inf)
    best_f = np.zeros(len(rows), dtype=np.int64)
    inside = np.zeros(rel.width, dtype=bool)
    for m in ends:
        inside[support[:m]] = True
        d = residual - a[:, inside].sum(axis=1)
        ok = d > 1e-9 * (1.0 + residual)
        safe = np.where(ok, d, 1.0)
        rhs = (np.minimum(a[:, ~inside], safe[:, None]) @ y[~inside]) / safe
        better = ok & (rhs < best)
        best[better] = rhs[better]
        best_f[better] = m
    cuts = []
    for i in np.flatnonzero(best < z[rows] - MIN_VIOLATION):
        j = rows[i]
        outside = np.ones(rel.width, dtype=bool)
        outside[support[: best_f[i]]] = False
        d = float(rel.residual[j] - rel.rows[j, ~outside].sum())
        coef = np.minimum(rel.rows[j, outside], d)
        keep = np.flatnonzero(coef > 0)
        cuts.append(Cut(int(j), np.flatnonzero(outside)[keep], coef[keep], d))
    return cuts


class _LP:
    """The LP relaxation of the P(target) model over `Relaxation` (budget: one row of all the
    planned money; at most one option per candidate) in HiGHS, maximising Σ counts·z / S."""

    def __init__(self, rel: Relaxation):
        self.rel = rel
        h = self.h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
        n, rows = rel.width, len(rel.residual)
        inf = highspy.kHighsInf
        h.addVars(n + rows, np.zeros(n + rows), np.ones(n + rows))
        cost = np.concatenate([np.zeros(n), -rel.counts / rel.count])
        h.changeColsCost(n + rows, np.arange(n + rows, dtype=np.int32), cost)
        for i in np.unique(rel.candidate):
            idx = np.flatnonzero(rel.candidate == i).astype(np.int32)
            h.addRow(-inf, 1.0, len(idx), idx, np.ones(len(idx)))
        h.addRow(-inf, rel.budget, n, np.arange(n, dtype=np.int32), rel.cost)
        for j in range(rows):
            nz = np.flatnonzero(rel.rows[j])
            idx = np.concatenate([nz, [n + j]]).astype(np.int32)
            values = np.concatenate([rel.rows[j, nz], [-rel.residual[j]]])
            h.addRow(-TOL, inf, len(idx), idx, values)

    def add(self, cut: Cut) -> None:
        n = self.rel.width
        idx = np.concatenate([cut.options, [n + cut.row]]).astype(np.int32)
        values = np.concatenate([cut.coef, [-cut.d]])
        self.h.addRow(-TOL, highspy.kHighsInf, len(idx), idx, values)

    def solve(self, time_limit: float) -> tuple[FloatArray, FloatArray, float] | None:
        """(y, z, bound) at the LP optimum; None when not solved in time."""
        self.h.setOptionValue("time_limit", max(0.05, time_limit))
        status = run_checked(self.h, "the LP relaxation of the P(target) residual cuts")
        if status != highspy.HighsModelStatus.kOptimal:
            return None
        values = np.asarray(self.h.getSolution().col_value)
        n = self.rel.width
        bound = -float(self.h.getInfo().objective_function_value) + self.rel.met / self.rel.count
        return values[:n], values[n:], bound


def root_cuts(
    rel: Relaxation, deadline: float, rounds: int = CUT_ROUNDS
) -> tuple[list[Cut], float | None]:
    """Residual cuts separated at the LP relaxation's optima, round after round until none is
    violated, `rounds` or the deadline; with the last LP bound (a valid upper bound on P(target)
    before charges; None if no LP was solved)."""
    if not len(rel.residual):
        return [], rel.met / rel.count
    lp = _LP(rel)
    cuts: list[Cut] = []
    bound = None
    for _ in range(rounds + 1):
        solved = lp.solve(deadline - time.perf_counter())
        if solved is None:
            break
        y, z, bound = solved
        if time.perf_counter() >= deadline:
            break
        found = separate(rel, y, z)
        if not found:
            break
        for cut in found:
            lp.add(cut)
        cuts.extend(found)
    return cuts, bound


def set_p_target_objective(m: Model, rel: Relaxation, cuts: list[Cut]) -> None:
    """The strengthened P(target) rows and residual cuts in `m` (built by `build_model`), and its
    objective: P(target) − switching charge − tie-break, as `set_objective(m, _, "p_target")`."""
    xs = m.xs[rel.free]
    z = m.prob.add_variable_dicts("z", range(len(rel.residual)), cat=pulp.LpBinary)
    for j, row in enumerate(rel.rows):
        nz = np.flatnonzero(row)
        expr = pulp.LpAffineExpression([(xs[q], float(row[q])) for q in nz])
        expr.addterm(z[j], -float(rel.residual[j]))
        m.add(
            expr,
            ">=",
            -TOL,
            family="p_target_row",
            key=(j,),
            label="a scenario reaches the target",
            unit="impact",
        )
    for n, cut in enumerate(cuts):
        expr = pulp.LpAffineExpression(
            [(xs[q], float(c)) for q, c in zip(cut.options, cut.coef, strict=True)]
        )
        expr.addterm(z[cut.row], -cut.d)
        m.add(
            expr, ">=", -TOL, family="p_target_cut", key=(n,), label="a residual cut", unit="impact"
        )
    share = linear([z[j] for j in range(len(rel.residual))], rel.counts / rel.count)
    share += rel.met / rel.count
    m.prob.setObjective(share - m.penalty - linear(m.xs, tie_break_weights(m.data)))
