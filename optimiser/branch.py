"""Exact P(target) for models with few free candidates: branch and bound, vectorised over scenarios.

Candidates are decided one at a time; a node is a partial selection. The relaxation keeps each
candidate's allowed choices (locks, exclusions, DAL caps and eligibility already applied: the
families' `forbidden` and `must_fund`, through `allowed_choices`) and each family's necessary test
of partial selections (`Family.bound_holds`: budget flow cuts, share caps and floors, minimum
spends) at its loosest over what is still undecided (`_Rules`). Every other rule is left to the
exact `SelectionChecker`, which confirms complete selections best score first, so the answer is the
optimum of the whole model: a subtree is cut only when its bound is not above the score of a
confirmed portfolio.

Bound of a node with partial capped impacts P[s] and budget r left: scenario s still counts if
P[s] + C(r)[s] ≥ T, where C(r)[s] over-estimates the capped impact the undecided candidates can add
in s within r:
- over the last candidates in branching order (as many as a table of TABLE_ELEMENTS allows) it is
  exact: every affordable combination of their choices, sorted by cost, with the running maximum
  per scenario, read at r;
- over the candidates before those, a dynamic programme on STEPS budget steps of u (`_Tree._steps`):
  one choice per candidate, each cost rounded down to whole steps, ending in the table above. A
  fractional knapsack over the options instead lets both of a candidate's nested tranches count,
  and spends r twice, on the knapsack and on the table: on the hardest generated n = 20 × S = 5000
  instance it needed 150,000 nodes, this programme 77,000, and 107,000 on a single budget step.
The bound is (scenarios that still count) / S − the charges so far − the least charge the undecided
candidates must add (tie-break and switching charge are separable by candidate). Each scenario may
pick its own completion, which is what makes this a bound; the tree has 10⁴–10⁵ nodes on the
generated n = 20 instances.

Impacts are never negative (the problem schema), so a completion can only add to P: scenarios the
forced options already meet, and those no completion can reach, are left out of every array.
Branching order: the candidate whose best option has the widest spread of scenario impact first.
Nodes are expanded a chunk at a time, depth first and best bound first, so good portfolios come
early. When stopped (deadline, stop flag, too many confirmations) the best bound of the unexplored
chunks is still a valid upper bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimiser.data import BoolArray, FloatArray, IntArray, ProblemData
from optimiser.families import FAMILIES, Family, Partial, SwitchingCost
from optimiser.feasibility import SelectionChecker
from optimiser.objectives import tie_break_weights
from optimiser.result import Progress
from optimiser.scenarios import Scenarios
from optimiser.search import selection_scores

# float32 elements of each exact table over the last candidates (12 MB). On the generated n = 20
# instances at S = 500, 1e7 saves up to a third of the nodes but costs more to build than it saves
TABLE_ELEMENTS = 3e6
# nodes x scenarios expanded at once: small chunks dive to complete selections sooner, so the
# first good portfolio prunes sooner (n = 20 x S = 500 seed 1, knapsack bound: 29,000 nodes at
# 1e5, 56,000 at 2e6); larger ones spend less per node. With the stepped bound 3e5 against 1e5:
# nodes +1-12 %, time -10 to -25 % on n = 20 seeds 1, 2, 5 at S = 500 / 2000 / 5000
CHUNK_ELEMENTS = 3e5
# budget steps of the completion tables before the exact ones (`_Tree._steps`), at most ...
STEPS = 128
# ... and fewer (at least 1) when a table per depth would hold more float32 than this (40 MB)
STEP_ELEMENTS = 1e7
MAX_CONFIRMATIONS = 5000  # complete selections sent to the exact checker
REPORT_EVERY = 1.0  # seconds between progress reports while no better portfolio is found
# a scenario counts as reachable within this relative margin below the target, plus the float32
# rounding of a sum over every option: so one the bound counts as lost is lost by the exact float64
# test too
MARGIN = 1e-5


def _planned_money(data: ProblemData) -> float:
    """All the planned money any selection may cost: every envelope over the whole run
    (`ProblemData.planned_total`), with the budget rows' tolerance. The tree's budget."""
    total = data.planned_total
    return total + 1e-7 * (1.0 + total)


def _cheapest_selection(data: ProblemData, choices: list[list[int]]) -> float:
    """The least planned cost of any selection `choices` allow: each candidate's cheapest choice
    (unfunded costs nothing; a locked or committed candidate has no unfunded choice)."""
    return sum(min(float(data.total_cost[k]) if k >= 0 else 0.0 for k in c) for c in choices)


class _Rules:
    """Necessary tests of partial selections: each family's bound (`Family.bound_holds`) on the
    spend columns it follows (`Family.bound_columns`: the budget cuts, the spend of each group a
    share rule limits, the spend each envelope with a minimum may take), at their loosest over
    what the undecided candidates could still add. Column 0 is the planned total. At a complete
    selection the share tests are exact."""

    def __init__(
        self, data: ProblemData, options: list[IntArray], families: tuple[type[Family], ...]
    ):
        columns = [data.total_cost[:, None]]
        width = 1
        self.bounds: list[tuple[Family, slice]] = []
        for family in families:
            rule = family(data)
            found = rule.bound_columns() if rule.active else None
            if found is not None:
                columns.append(found)
                self.bounds.append((rule, slice(width, width + found.shape[1])))
                width += found.shape[1]
        self.spend = np.concatenate(columns, axis=1)  # K x columns
        # per depth: the most each column can still grow by over the candidates not yet decided
        most = np.array([self.spend[o[o >= 0]].max(axis=0, initial=0.0) for o in options])
        most = most.reshape(len(options), width)
        self.rest = np.concatenate([np.cumsum(most[::-1], axis=0)[::-1], np.zeros((1, width))])

    def possible(self, depth: int, spend: FloatArray, left: FloatArray) -> BoolArray:
        """Rows (partial selections with `depth` candidates decided) that may still be feasible."""
        ok: BoolArray = left >= 0
        total = spend[:, 0]
        more = np.minimum(left, self.rest[depth, 0])
        slack = 1e-7 * (1.0 + total + more)
        for rule, cols in self.bounds:
            part = Partial(spend[:, cols], self.rest[depth, cols], total, left, more, slack)
            ok &= rule.bound_holds(part)
        return ok


def fractional_knapsack(
    a: np.ndarray,
    cost: FloatArray,
    budgets: FloatArray,
    rows: int = 20_000,
    dtype: type[np.floating] = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Per scenario (row of a, S x m) and budget: the LP knapsack value over the m items and its
    right-hand slope in the budget (budgets x S each, in `dtype`). Items that cost nothing are
    always in. Computed `rows` scenarios at a time, so the float64 work arrays stay small."""
    value = np.empty((len(budgets), a.shape[0]), dtype)
    slope = np.empty_like(value)
    for at in range(0, a.shape[0], rows):
        v, r = _fractional_knapsack(a[at : at + rows].astype(float), cost, budgets)
        value[:, at : at + rows], slope[:, at : at + rows] = v, r
    return value, slope


def tranche_increments(
    a: np.ndarray, cost: FloatArray, candidate_of: IntArray
) -> tuple[np.ndarray, FloatArray]:
    """Items for a knapsack bound that funds at most one option per candidate: each candidate's
    options in order of cost become increments (the extra cost, and per scenario the rise of the
    best impact so far, S x items). Funding an option is taking its increments and those below
    it, so a knapsack over increments is a relaxation; over the options themselves a candidate's
    nested tranches would all count together."""
    gains, costs = [], []
    for i in np.unique(candidate_of):
        ks = np.flatnonzero(candidate_of == i)
        ks = ks[np.argsort(cost[ks], kind="stable")]
        below, best = 0.0, np.zeros(a.shape[0], a.dtype)
        for k in ks:
            higher = np.maximum(best, a[:, k])
            gains.append(higher - best)
            costs.append(float(cost[k]) - below)
            below, best = float(cost[k]), higher
    if not gains:
        return np.zeros((a.shape[0], 0), a.dtype), np.zeros(0)
    return np.stack(gains, axis=1), np.array(costs)


def _fractional_knapsack(
    a: FloatArray, cost: FloatArray, budgets: FloatArray
) -> tuple[FloatArray, FloatArray]:
    free = cost <= 0
    base = a[:, free].sum(axis=1)
    a, cost = a[:, ~free], cost[~free]
    s, m = a.shape
    if not m:
        return np.repeat(base[None, :], len(budgets), 0), np.zeros((len(budgets), s))
    ratio = a / cost[None, :]
    order = np.argsort(-ratio, axis=1, kind="stable")
    r_sorted = np.take_along_axis(ratio, order, axis=1)
    c_cum = np.cumsum(cost[order], axis=1)
    v_cum = np.cumsum(np.take_along_axis(a, order, axis=1), axis=1)
    rows = np.arange(s)[None, :]
    full = (c_cum[None, :, :] <= budgets[:, None, None]).sum(axis=2)  # items wholly in
    prev = np.maximum(full - 1, 0)
    got = np.where(full > 0, v_cum[rows, prev], 0.0)
    used = np.where(full > 0, c_cum[rows, prev], 0.0)
    slope = np.where(full < m, r_sorted[rows, np.minimum(full, m - 1)], 0.0)
    return base[None, :] + got + (budgets[:, None] - used) * slope, slope


@dataclass
class BranchOutcome:
    x: FloatArray | None  # the best confirmed portfolio
    value: float  # its score: P(target) − switching charge − tie-break (−inf if none)
    bound: float  # upper bound on the best score (tie-break included); the value when complete
    complete: bool
    nodes: int


@dataclass
class _Chunk:
    depth: int  # candidates decided
    partial: np.ndarray  # rows x live scenarios, float32: capped impact so far
    left: FloatArray  # rows: budget left
    spend: FloatArray  # rows x spend columns so far (`_Rules`)
    charge: FloatArray  # rows: charges so far
    codes: np.ndarray  # rows x depth: index into each decided candidate's choices
    bound: float  # the best bound among the rows


class _Tree:
    """What every node shares: per depth, the choices of the candidate decided there."""

    def __init__(
        self,
        data: ProblemData,
        scenarios: Scenarios,
        choices: list[list[int]],
        families: tuple[type[Family], ...] = FAMILIES,
    ):
        self.data = data
        s = scenarios.count
        target = data.target
        self.a = np.minimum(scenarios.impact, target).astype(np.float32)  # S x K
        margin = MARGIN + 2.0 * float(np.finfo(np.float32).eps) * data.n_options
        self.reach = np.float32(target * (1.0 - margin) - margin)
        tie = tie_break_weights(data)
        switching = SwitchingCost(data)
        zero = np.zeros(s, dtype=np.float32)

        def charge(i: int, k: int) -> float:
            """Tie-break and switching charge of candidate i's choice k (−1: unfunded)."""
            amount = float(data.total_cost[k]) if k >= 0 else 0.0
            value = float(tie[k]) if k >= 0 else 0.0
            return value + float(switching.charge(amount, i))

        self.base = zero.copy()
        self.base_charge = 0.0
        forced = []
        free = []
        for i, ks in enumerate(choices):
            if len(ks) == 1:
                self.base_charge += charge(i, ks[0])
                if ks[0] >= 0:
                    self.base += self.a[:, ks[0]]
                    forced.append(ks[0])
            else:
                free.append(i)

        def spread(i: int) -> float:
            return max(float(self.a[:, k].std()) for k in choices[i] if k >= 0)

        free.sort(key=lambda i: -spread(i))
        self.free = free
        chosen = [choices[i] for i in free]
        self.opt = [np.asarray(c) for c in chosen]  # option index per choice, -1 = unfunded
        self.impact = [np.stack([self.a[:, k] if k >= 0 else zero for k in c]) for c in chosen]
        self.cost = [np.array([data.total_cost[k] if k >= 0 else 0.0 for k in c]) for c in chosen]
        self.forced = forced
        self.rules = _Rules(data, self.opt, families)
        spend = self.rules.spend
        self.base_spend = spend[forced].sum(axis=0)
        no_spend = np.zeros(spend.shape[1])
        self.spend = [np.stack([spend[k] if k >= 0 else no_spend for k in c]) for c in chosen]
        self.charges = [np.array([charge(i, k) for k in choices[i]]) for i in free]
        least = [float(c.min()) for c in self.charges]
        self.least_charge = np.concatenate([np.cumsum(least[::-1])[::-1], [0.0]])
        self.budget = _planned_money(data) - float(data.total_cost[forced].sum())
        # scenarios met by the forced options alone count at every node, and those the
        # fractional knapsack of the free candidates' tranches on the whole budget cannot bring
        # to the target count at none: only the others ("live") enter the arrays
        free_options = np.array([k for o in self.opt for k in o if k >= 0], dtype=np.int64)
        gains, costs = tranche_increments(
            self.a[:, free_options],
            data.total_cost[free_options],
            data.candidate_of[free_options],
        )
        reachable = fractional_knapsack(gains, costs, np.array([max(self.budget, 0.0)]))[0][0]
        met = self.base >= self.reach
        live = np.flatnonzero(~met & (self.base + reachable >= self.reach))
        self.met = int(met.sum())
        self.width = len(live)
        self.base = self.base[live]
        self.a = self.a[live]
        self.impact = [a[:, live] for a in self.impact]
        self._tables()
        self._steps()

    @property
    def depth(self) -> int:
        return len(self.free)

    def _tables(self) -> None:
        """Exact completion tables for the last candidates: cost-sorted combinations."""
        s, nf = self.width, self.depth
        cost = np.zeros(1)
        impact = np.zeros((1, s), dtype=np.float32)
        self.table: dict[int, tuple[FloatArray, np.ndarray]] = {nf: (cost, impact)}
        d = nf
        while d > 0 and len(cost) * len(self.cost[d - 1]) * max(s, 16) <= TABLE_ELEMENTS:
            d -= 1
            c = (self.cost[d][:, None] + cost[None, :]).reshape(-1)
            a = (self.impact[d][:, None, :] + impact[None, :, :]).reshape(len(c), s)
            keep = np.flatnonzero(c <= self.budget)
            order = keep[np.argsort(c[keep], kind="stable")]
            cost, impact = c[order], a[order]
            self.table[d] = (cost, np.maximum.accumulate(impact, axis=0))
        self.exact_from = d

    def _steps(self) -> None:
        """Completion tables for the depths before the exact ones, on budget steps of u: per
        scenario, F_d[i] is at least the best capped impact the candidates from depth d on can add
        at a cost below (i + 1) u. A dynamic programme over candidates with costs rounded down to
        whole steps (so each may cost up to u less than it does), from the exact table at
        `exact_from`. Unlike a fractional knapsack it funds one option per candidate, which is
        what halves the nodes."""
        s, top = self.width, self.exact_from
        self.steps = int(np.clip(STEP_ELEMENTS // max(1, s * (top + 1)), 1, STEPS))
        self.unit = max(self.budget, 1e-9) / self.steps
        cost, best = self.table[top]
        below = np.searchsorted(cost, (np.arange(self.steps + 1) + 1) * self.unit) - 1
        table = np.where((below >= 0)[:, None], best[np.maximum(below, 0)], np.float32(0.0))
        self.stepped: dict[int, np.ndarray] = {top: table}
        for d in range(top - 1, -1, -1):
            # a choice of cost c takes floor(c / u) steps; fewer on rounding, never more
            shift = np.floor(self.cost[d] / self.unit * (1.0 - 1e-9)).astype(np.int64)
            table = np.zeros_like(table)
            for m, k in enumerate(shift):
                if k <= self.steps:
                    np.maximum(
                        table[k:],
                        self.stepped[d + 1][: self.steps + 1 - k] + self.impact[d][m],
                        out=table[k:],
                    )
            self.stepped[d] = table

    def completion(self, depth: int, left: FloatArray) -> np.ndarray:
        """rows x S: an upper bound on the capped impact the undecided candidates can add."""
        if depth < self.exact_from:
            # rounded up at a step's edge: the row must cover every cost up to `left`
            i = np.floor((left + 1e-9 * (1.0 + self.budget)) / self.unit).astype(np.int64)
            return np.take(self.stepped[depth], np.clip(i, 0, self.steps), axis=0)
        cost, best = self.table[depth]
        return best[np.searchsorted(cost, left, side="right") - 1]

    def selections(self, codes: np.ndarray) -> FloatArray:
        """x (rows x K) of complete selections given their choice codes."""
        xs = selection_matrix(self.data.n_options, self.opt, codes)
        xs[:, self.forced] = 1.0
        return xs


def selection_matrix(n_options: int, options: list[IntArray], picks: np.ndarray) -> FloatArray:
    """x (rows x K) from each row's pick (column j: an index into options[j], whose entries are
    option indices or -1 for unfunded)."""
    xs = np.zeros((len(picks), n_options))
    rows = np.arange(len(picks))
    for j, opts in enumerate(options):
        picked = opts[picks[:, j]]
        funded = picked >= 0
        xs[rows[funded], picked[funded]] = 1.0
    return xs


def branch_and_bound(
    data: ProblemData,
    scenarios: Scenarios,
    checker: SelectionChecker,
    choices: list[list[int]],
    *,
    deadline: float,
    should_stop: Callable[[], bool] | None = None,
    report: Callable[[Progress], None] | None = None,
    clock_start: float | None = None,
) -> BranchOutcome:
    """The P(target) optimum by branch and bound (see the module docstring)."""
    if any(not c for c in choices):  # a candidate that must be funded has no allowed option
        return BranchOutcome(None, -np.inf, -np.inf, True, 0)
    if _cheapest_selection(data, choices) > _planned_money(data):
        # the locked and committed options (and the cheapest choice of every other candidate)
        # cost more than all the money there is: no selection passes the tree's budget test, and
        # its completion tables would have no affordable row to start from
        return BranchOutcome(None, -np.inf, -np.inf, True, 0)
    families = tuple(type(rule) for rule in checker.rules)  # bounds of the rules checked
    tree = _Tree(data, scenarios, choices, families)
    search = _Search(tree, scenarios, checker, report, clock_start)
    while search.stack:
        if time.perf_counter() >= deadline or (should_stop and should_stop()):
            break
        if not search.expand(search.stack.pop()):
            break
        search.tick()
    return search.outcome()


class _Search:
    """The incumbent, the stack of unexplored chunks and the confirmations so far."""

    def __init__(
        self,
        tree: _Tree,
        scenarios: Scenarios,
        checker: SelectionChecker,
        report: Callable[[Progress], None] | None,
        clock_start: float | None,
    ):
        self.tree, self.scenarios, self.checker, self.report = tree, scenarios, checker, report
        self.started = time.perf_counter() if clock_start is None else clock_start
        self.reported = time.perf_counter()
        # every bound found is valid, so the lowest one found so far is reported
        self.lowest_bound = np.inf
        self.best: FloatArray | None = None
        self.best_value = -np.inf
        self.nodes = self.confirmations = 0
        self.unconfirmed = -np.inf  # the best score of complete selections left unchecked
        self.rows_per_chunk = max(1, int(CHUNK_ELEMENTS // max(tree.width, 1)))
        no_codes = np.zeros((1, 0), dtype=np.int16)
        if not tree.depth:  # nothing to decide: the forced selection is the only one
            self.stack: list[_Chunk] = []
            self.confirm(tree.selections(no_codes))
            return
        root = _Chunk(
            0,
            tree.base[None, :].copy(),
            np.array([tree.budget]),
            tree.base_spend[None, :].copy(),
            np.array([tree.base_charge]),
            no_codes,
            np.inf,
        )
        self.stack = [root]

    def expand(self, chunk: _Chunk) -> bool:
        """Decide the next candidate for every row of `chunk`; push the children worth exploring
        (or confirm them, when complete). False when the confirmations have run out."""
        tree = self.tree
        if chunk.bound <= self.best_value + 1e-12:
            return True
        d = chunk.depth
        m = len(tree.cost[d])
        parent = np.repeat(np.arange(len(chunk.left)), m)
        pick = np.tile(np.arange(m), len(chunk.left))
        left = chunk.left[parent] - tree.cost[d][pick]
        spend = chunk.spend[parent] + tree.spend[d][pick]
        ok = np.flatnonzero(tree.rules.possible(d + 1, spend, left))
        if len(ok) == 0:
            return True
        parent, pick, left, spend = parent[ok], pick[ok], left[ok], spend[ok]
        self.nodes += len(ok)
        partial = np.take(chunk.partial, parent, axis=0)
        partial += np.take(tree.impact[d], pick, axis=0)
        best_sum = tree.completion(d + 1, left)
        best_sum += partial
        # a sum of booleans per row is about twice as fast as count_nonzero along an axis
        reached = (best_sum >= tree.reach).sum(axis=1, dtype=np.int64)
        charge = chunk.charge[parent] + tree.charges[d][pick]
        bound = (tree.met + reached) / self.scenarios.count - charge - tree.least_charge[d + 1]
        keep = np.flatnonzero(bound > self.best_value + 1e-12)
        if len(keep) == 0:
            return True
        codes = np.concatenate([chunk.codes[parent], pick[:, None].astype(np.int16)], axis=1)
        if d + 1 == tree.depth:
            return self.confirm(tree.selections(codes[keep]))
        order = keep[np.argsort(bound[keep], kind="stable")]  # ascending: the best is popped first
        for at in range(0, len(order), self.rows_per_chunk):
            rows = order[at : at + self.rows_per_chunk]
            self.stack.append(
                _Chunk(
                    d + 1,
                    partial[rows],
                    left[rows],
                    spend[rows],
                    charge[rows],
                    codes[rows],
                    float(bound[rows].max()),
                )
            )
        return True

    def confirm(self, xs: FloatArray) -> bool:
        """Score complete selections exactly and take the best the checker accepts, if better
        than the incumbent. False when the confirmations run out before that is settled."""
        score = selection_scores(self.tree.data, self.scenarios, xs)
        for j in np.argsort(-score, kind="stable"):
            if score[j] <= self.best_value + 1e-12:
                return True
            if self.confirmations >= MAX_CONFIRMATIONS:
                self.unconfirmed = max(self.unconfirmed, float(score[j]))
                return False
            self.confirmations += 1
            if self.checker.is_feasible(xs[j]):
                self.best, self.best_value = xs[j], float(score[j])
                self.progress()
                return True
        return True

    def tick(self) -> None:
        """A progress report if none was made for REPORT_EVERY seconds."""
        if self.report is not None and time.perf_counter() - self.reported >= REPORT_EVERY:
            self.progress()

    def progress(self) -> None:
        """Report the elapsed time, the incumbent and the bound of what is left to explore."""
        if self.report is None:
            return
        self.reported = time.perf_counter()
        self.lowest_bound = min(self.lowest_bound, max(self.best_value, self._unexplored()))
        incumbent = self.best_value if self.best is not None else None
        bound = self.lowest_bound if np.isfinite(self.lowest_bound) else None
        self.report(Progress(self.reported - self.started, incumbent, bound, "branch and bound"))

    def _unexplored(self) -> float:
        """The best bound of what is left unexplored or unconfirmed."""
        return max([c.bound for c in self.stack] + [self.unconfirmed])

    def outcome(self) -> BranchOutcome:
        """The incumbent, and the lowest valid bound on the optimum found."""
        left_open = self._unexplored()
        complete = left_open <= self.best_value + 1e-12
        bound = min(self.lowest_bound, max(self.best_value, left_open))
        return BranchOutcome(self.best, self.best_value, bound, complete, self.nodes)
