"""Maximising P(target): exact when small, else local search + a bounding MILP.

The textbook model (a binary per scenario) does not close beyond toy sizes and its time-limited
answer is often worse than the deterministic portfolio (DESIGN.md, "Tractability"). So:
1. If few candidates are free to choose after locks, exclusions and DAL caps (BRANCH_MAX_FREE,
   BRANCH_WORK), branch and bound over them (`optimiser.branch`) for up to BRANCH_SHARE of the
   time limit: exact when it finishes, else its best portfolio and bound are handed on to 3.
2. Else, if the selections are few (many candidates, very few scenarios), enumerate them all,
   vectorised over scenarios, and confirm the best in order with the exact rule checker. The
   branch and bound does this better where it applies: it never scores a selection its bound
   rules out, and its share and budget tests spare the checker most infeasible ones (the
   enumeration spent 2.9 s confirming 5,000 of those at n = 16 x S = 500, the tree 0.1 s).
3. Otherwise start from the `expected`, `cvar` and `capped` portfolios, improve each by local
   search (add / drop / change option / swap, then drop-one-add-two and drop-two-add-one; every
   move scored over all scenarios at once in numpy, feasibility confirmed only for improving
   moves, equal-P moves ranked by capped impact), walk over local optima from the best by seeded
   kicks (`iterated_local_search`), then give the rest of the time to the scenario MILP (each
   scenario's row on the residual target the forced options leave, impacts capped at it, and no
   row for scenarios no budget-feasible portfolio reaches: `optimiser.ptbound`; warm-started from
   the best portfolio): it may improve it, and its dual bound — or the cheaper `knapsack_bound`,
   or on large models (RELAXATION_SIZE) the LP bound of the relaxation with residual cuts that
   replaces the first short MILP, if lower — is reported. `optimal` only when the bound
   proves it. Never worse than the starting portfolios on the same scenarios. Where HiGHS could not
   be stopped in time (long scenario rows, n ≈ 1000) the MILP is skipped and the search continues.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optimiser.branch import (
    branch_and_bound,
    fractional_knapsack,
    selection_matrix,
    tranche_increments,
)
from optimiser.data import FloatArray, ProblemData
from optimiser.feasibility import SelectionChecker
from optimiser.milp import MilpOutcome, run_milp, solve_model
from optimiser.model import build_model
from optimiser.objectives import TOL, objective_value, set_objective, tie_break_weights
from optimiser.ptbound import Relaxation, root_cuts, set_p_target_objective
from optimiser.result import Progress
from optimiser.scenarios import Scenarios
from optimiser.search import local_search, selection_scores

ENUMERATION_WORK = 3e8  # selections x scenarios evaluated by brute force
MAX_CONFIRMATIONS = 5000
# branch and bound first up to this many free candidates, and while 2^free x S is at most
# BRANCH_WORK: its tree roughly doubles with each free candidate and its nodes cost ∝ S. Measured
# (`python -m benchmarks.run --ptarget-exact`, stepped completion bound): 18 free x S = 5000
# (1.3e9) 0.2–1.4 s, 22 x 500 (2.1e9) 2.3–2.4 s, 21 x 5000 (1.0e10) 2.1–2.9 s; 22 x 2000 and
# 22 x 5000 (2.1e10) take 10–14 s, but stopped at 5 s they hand the search a start from which it
# ended at least as high as alone on all four (0.7535 / 0.6070 against 0.7525 / 0.6035 at S = 2000)
BRANCH_MAX_FREE = 24
BRANCH_WORK = 3e10
BRANCH_SHARE = 0.5  # of the time limit, after which the search below takes over
KICKS = 2000  # rounds of iterated local search at most
# ... and it stops after this many rounds without a better portfolio: on the generated n = 20 and
# n = 50 instances every improvement came within 80 rounds of the previous one
STALL_KICKS = 150
KICK_SHARE = 0.6  # of the time left after the starting portfolios' searches and a first MILP
# ... and on large models (RELAXATION_SIZE), where the last MILP round's bound is still falling
# when it stops: at n = 200 x S = 5000, 120 s, the kicks (25 s at 0.6) found no better portfolio
# and the MILP's bound went from 0.9776 (the LP bound's; the MILP's own 0.980 after 18 s) to
# 0.9665 with the kicks at 0.15 (gap 10.8 -> 9.6 %; seed 2: 12.8 -> 11.5 %, same portfolios).
# Only when that leaves the MILP round at least LARGE_MILP_SECONDS: there its first bound came
# 6-17 s after it started (load average 3-5), and a round too short to run leaves its time unused
LARGE_KICK_SHARE = 0.15
LARGE_MILP_SECONDS = 20.0
FIRST_MILP_SHARE = 0.15  # of the time left after the starting portfolios' searches
# nonzeros x mean row length of the scenario rows beyond which the P(target) MILP is skipped:
# measured, n = 1000 x S = 500 (2.4e8) overran a 5 s limit by 15 s inside HiGHS's root rounding
# heuristics; every n <= 200 cell of the benchmark (up to 9.6e7) stays within its limit
MILP_PROPAGATION_LIMIT = 1.5e8
# the scenario MILP's rows on residual targets, unreachable scenarios left out
# (`optimiser.ptbound`); False gives the textbook rows (`set_objective`), which
# `python -m benchmarks.run --ptarget-gap` measures beside them
STRENGTHENED_ROWS = True
# scenario rows x free options from which the short first MILP round is replaced by the LP bound
# of the relaxation with residual cuts (`optimiser.ptbound.root_cuts`) for RELAXATION_SHARE of the
# time left. Measured at n = 200 x S = 5000 (4981 rows x 389 options, 1.9e6), 120 s limit: the
# first MILP round overran its 9 s to 35 s and ended with no bound (the knapsack bound 0.9966 was
# reported); the LP alone gives 0.983 in 9 s, 0.979 with cuts in 27 s. At n = 50 x S = 2000
# (1.8e5) the MILP's own bound (0.848) is better than the LP's with cuts (0.867)
RELAXATION_SIZE = 1e6
RELAXATION_SHARE = 0.35


@dataclass
class PTargetOutcome:
    status: str  # optimal | feasible | infeasible | no_solution
    x: FloatArray | None
    bound: float | None  # upper bound on the objective (incl. switching charge)
    method: str
    milp: MilpOutcome | None = None


Report = Callable[[Progress], None]


def solve_p_target(
    data: ProblemData,
    scenarios: Scenarios,
    checker: SelectionChecker,
    *,
    solver: str,
    time_limit: float,
    gap: float,
    report: Report,
    should_stop: Callable[[], bool] | None,
    clock_start: float,
) -> PTargetOutcome:
    """Best P(target) portfolio within the time limit, with an honest bound."""
    choices = allowed_choices(data, checker)
    n_selections = math.prod(len(c) for c in choices)  # exact integer: no overflow
    free = sum(len(c) > 1 for c in choices)
    branch = free <= BRANCH_MAX_FREE and 2.0**free * scenarios.count <= BRANCH_WORK
    if not branch and n_selections * scenarios.count <= ENUMERATION_WORK:
        outcome = enumerate_selections(data, scenarios, checker, choices)
        if outcome is not None:
            return outcome
    start: FloatArray | None = None
    start_bound: float | None = None
    if branch:
        tree = branch_and_bound(
            data,
            scenarios,
            checker,
            choices,
            deadline=clock_start + BRANCH_SHARE * time_limit,
            should_stop=should_stop,
            report=report,
            clock_start=clock_start,
        )
        if tree.complete:
            if tree.x is None:
                return PTargetOutcome("infeasible", None, None, "branch and bound")
            value = objective_value("p_target", data, scenarios, tree.x)
            return PTargetOutcome("optimal", tree.x, value, "branch and bound")
        start, start_bound = tree.x, tree.bound + float(tie_break_weights(data).sum())
        elapsed = time.perf_counter() - clock_start
        report(
            Progress(
                elapsed,
                tree.value if start is not None else None,
                tree.bound,
                "branch and bound stopped",
            )
        )
    search = _Search(
        data, scenarios, checker, solver, time_limit, gap, report, should_stop, clock_start
    )
    return _search_and_bound(search, start, start_bound)


def allowed_choices(data: ProblemData, checker: SelectionChecker) -> list[list[int]]:
    """Per candidate, the option indices it may take (-1 = unfunded) after locks and exclusions."""
    policy = data.problem.policy
    must = [data.refs_to_options(r) for r in [*policy.locks, *policy.commitments]]
    out = []
    for i in range(data.n_candidates):
        ks = [int(k) for k in data.options_of(i) if not checker.forbidden[k]]
        for group in must:
            if set(group) <= set(data.options_of(i).tolist()):
                ks = [k for k in ks if k in group]
        forced = any(set(g) <= set(data.options_of(i).tolist()) for g in must)
        out.append(ks if forced else [-1, *ks])
    return out


def enumerate_selections(
    data: ProblemData, scenarios: Scenarios, checker: SelectionChecker, choices: list[list[int]]
) -> PTargetOutcome | None:
    """Score every selection, then confirm the best ones in order; None if too many fail."""
    sizes = [len(c) for c in choices]
    total = int(np.prod(sizes, dtype=np.int64))
    chunk = max(1, int(5e6 // max(scenarios.count, data.n_options, 1)))
    scores = np.empty(total)
    for start in range(0, total, chunk):
        xs = _selections(data, choices, np.arange(start, min(total, start + chunk)))
        scores[start : start + len(xs)] = selection_scores(data, scenarios, xs)
    order = np.argsort(-scores, kind="stable")
    for n, idx in enumerate(order):
        if n >= MAX_CONFIRMATIONS:
            return None
        x = _selections(data, choices, np.array([idx]))[0]
        if checker.is_feasible(x):
            value = objective_value("p_target", data, scenarios, x)
            return PTargetOutcome("optimal", x, value, "enumeration")
    return PTargetOutcome("infeasible", None, None, "enumeration")


def _selections(data: ProblemData, choices: list[list[int]], codes: np.ndarray) -> FloatArray:
    """Selections numbered in mixed radix over the per-candidate choices."""
    picks = np.empty((len(codes), len(choices)), dtype=np.int64)
    rest = codes.copy()
    for i, options in enumerate(choices):
        picks[:, i] = rest % len(options)
        rest //= len(options)
    return selection_matrix(data.n_options, [np.asarray(c) for c in choices], picks)


def iterated_local_search(
    data: ProblemData,
    scenarios: Scenarios,
    checker: SelectionChecker,
    best: FloatArray,
    best_value: float,
    *,
    deadline: float,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[FloatArray, float]:
    """A walk over local optima: re-draw the choice of 3–8 random candidates of the current
    portfolio, search locally again, and move there when the result is feasible and at most two
    scenarios worse (P(target) has wide plateaus); keep the best seen. Until the deadline, KICKS
    rounds, or STALL_KICKS rounds without a better portfolio.

    Seeded, so a run that is not cut short by its deadline is repeatable. Measured on the generated
    n = 20 instances (3 s): S = 500 seed 1 goes from the local optimum 0.5786 to the proven optimum
    0.5846, seed 3 from 0.511 to 0.553; S = 2000 seed 1 from 0.547 to 0.574; n = 50 × S = 2000 from
    0.691 to 0.700. Moving only to better portfolios, or dropping funded options instead of
    re-drawing, found less.
    """
    rng = np.random.default_rng(0)
    choices = allowed_choices(data, checker)
    movable = [i for i, c in enumerate(choices) if len(c) > 1]
    if not movable:
        return best, best_value
    current, current_value = best, best_value
    slack = 2.0 / scenarios.count
    last_gain = 0
    for kick in range(KICKS):
        if time.perf_counter() >= deadline or (should_stop and should_stop()):
            break
        if kick - last_gain >= STALL_KICKS:  # the walk has stalled: leave the time to the MILP
            break
        x = current.copy()
        size = min(len(movable), int(rng.integers(3, 9)))
        for i in rng.choice(movable, size=size, replace=False).tolist():
            x[data.options_of(i)] = 0.0
            pick = choices[i][int(rng.integers(len(choices[i])))]
            if pick >= 0:
                x[pick] = 1.0
        y = local_search(data, scenarios, checker, x, deadline=deadline, should_stop=should_stop)
        value = float(selection_scores(data, scenarios, y[None, :])[0])
        if value < current_value - slack or not checker.is_feasible(y):
            continue
        current, current_value = y, value
        if value > best_value + 1e-12:
            best, best_value, last_gain = y, value, kick
    return best, best_value


def knapsack_bound(data: ProblemData, scenarios: Scenarios, checker: SelectionChecker) -> float:
    """A valid upper bound on P(target): the share of scenarios in which the target is reachable
    by the LP (fractional) knapsack over the allowed options' tranche increments (at most one
    option per candidate), with impacts capped at T and the total of every envelope's budget as
    capacity. Cheap, and far below 1 when budgets bind."""
    target = data.target
    if target <= TOL:
        return 1.0
    allowed = np.flatnonzero(~checker.forbidden)
    capacity = np.array([data.planned_total + 1e-9])
    a = np.minimum(scenarios.impact[:, allowed], target)
    items = tranche_increments(a, data.total_cost[allowed], data.candidate_of[allowed])
    gain, _ = fractional_knapsack(*items, capacity, dtype=np.float64)
    return float((gain[0] >= target - 1e-9).mean())


class _Infeasible(Exception):
    """A scenario model proved that no portfolio meets every rule: the search ends there."""


@dataclass
class _Search:
    """The state of step 3 (module docstring): the best portfolio found so far and its score
    over the scenarios, the best upper bound, and the last scenario MILP."""

    data: ProblemData
    scenarios: Scenarios
    checker: SelectionChecker
    solver: str
    time_limit: float
    gap: float
    report: Report
    should_stop: Callable[[], bool] | None
    clock_start: float
    deadline: float = field(init=False)
    nonzeros: float = field(init=False)  # nonzero impacts of the scenarios
    # building a scenario model costs about 1.5 µs per nonzero impact (and HiGHS's presolve of it
    # does not watch the clock): scenario models that cannot finish in their time are skipped
    build_estimate: float = field(init=False)
    bound: float | None = None
    best: FloatArray | None = None
    best_value: float = -np.inf
    milp: MilpOutcome | None = None
    overrun: float = 0.0  # how far past its limit the last MILP round ran (presolve ignores it)
    # the scenario rows of the MILP, strengthened (`optimiser.ptbound`), built at its first round
    relaxation: Relaxation | None = None

    def __post_init__(self) -> None:
        # a solver overruns its deadline a little, and the results need writing
        self.deadline = self.clock_start + 0.85 * self.time_limit
        self.nonzeros = float(np.count_nonzero(self.scenarios.impact))
        self.build_estimate = 1.5e-6 * self.nonzeros

    def stopping(self) -> bool:
        return bool(self.should_stop and self.should_stop())

    def keep_best(self, candidates: tuple[FloatArray, ...], margin: float = 0.0) -> float:
        """Make the candidate scoring more than `margin` above the best so far the best; returns
        the last candidate's score."""
        value = self.best_value
        for candidate in candidates:
            value = selection_scores(self.data, self.scenarios, candidate[None, :])[0]
            if value > self.best_value + margin:
                self.best, self.best_value = candidate, value
        return float(value)

    def portfolio(self, kind: str, deadline: float) -> FloatArray | None:
        """The MILP portfolio of objective `kind` found by `deadline`, if any."""
        out, _ = solve_model(
            self.data,
            self.scenarios,
            kind,
            self.checker,
            solver=self.solver,
            deadline=deadline,
            gap=0.005,
            should_stop=self.should_stop,
            clock_start=self.clock_start,
        )
        if out.status == "infeasible":
            raise _Infeasible
        return out.x

    def from_starting_portfolios(self) -> None:
        """Local search from the `expected`, `cvar` and `capped` portfolios in turn, each MILP
        given its share of the time then left and each search a quarter of the rest."""
        # the deterministic start is cheap and is the fallback, so it may use up to half; on
        # small models the MILP is effective, so the other starts get less
        shares = (0.5, 0.25, 0.25) if self.data.n_options > 150 else (0.3, 0.1, 0.1)
        for kind, share in zip(("expected", "cvar", "capped"), shares, strict=True):
            remaining = self.deadline - time.perf_counter()
            if remaining <= 0.05 or self.stopping():
                break
            if kind != "expected" and remaining * share < 4 * self.build_estimate:
                continue
            x = self.portfolio(kind, time.perf_counter() + max(0.05, remaining * share))
            if x is None:
                continue
            search_end = time.perf_counter() + max(
                0.0, (self.deadline - time.perf_counter()) * 0.25
            )
            polished = local_search(
                self.data,
                self.scenarios,
                self.checker,
                x,
                deadline=search_end,
                should_stop=self.should_stop,
            )
            # the start itself too: the search ranks by a surrogate
            value = self.keep_best((x, polished))
            message = f"local search from the {kind} portfolio"
            self.report(Progress(time.perf_counter() - self.clock_start, value, None, message))

    def milp_round(self, limit: float) -> None:
        """The scenario MILP from the best portfolio for `limit` seconds (less what the last
        round overran); its portfolio and its local search's kept when better, its bound when
        lower. Skipped when too short to build and run."""
        if limit - self.overrun <= 0.1 + 2 * self.build_estimate or self.stopping():
            return
        m = build_model(self.data, self.scenarios)
        if not STRENGTHENED_ROWS:
            set_objective(m, self.scenarios, "p_target")
        else:
            set_p_target_objective(m, self.relaxed(), [])
        allowed = min(limit, self.deadline - time.perf_counter()) - self.overrun
        if allowed <= 0.1:
            return
        started = time.perf_counter()
        milp = self.milp = run_milp(
            m,
            solver=self.solver,
            time_limit=allowed,
            gap=self.gap,
            start=self.best,
            on_progress=self.report,
            should_stop=self.should_stop,
            phase="P(target) MILP",
            clock_start=self.clock_start,
        )
        self.overrun = max(self.overrun, time.perf_counter() - started - allowed)
        if milp.status == "infeasible":
            raise _Infeasible
        if milp.x is not None and self.checker.is_feasible(milp.x):
            polished = local_search(
                self.data,
                self.scenarios,
                self.checker,
                milp.x,
                deadline=self.deadline,
                should_stop=self.should_stop,
            )
            self.keep_best((milp.x, polished), margin=1e-12)
        if milp.bound is not None:
            tie = float(tie_break_weights(self.data).sum())
            bound = self.bound if self.bound is not None else np.inf
            self.bound = min(bound, milp.bound + tie)

    def relaxed(self) -> Relaxation:
        """The strengthened scenario rows (`optimiser.ptbound`), built once."""
        if self.relaxation is None:
            choices = allowed_choices(self.data, self.checker)
            self.relaxation = Relaxation(self.data, self.scenarios, choices)
        return self.relaxation

    def large(self) -> bool:
        """Whether the scenario rows times the free options reach RELAXATION_SIZE."""
        rel = self.relaxed()
        return len(rel.residual) * rel.width >= RELAXATION_SIZE

    def relaxation_bound(self, seconds: float) -> None:
        """The LP bound of the relaxation with residual cuts (`ptbound.root_cuts`) found in
        `seconds`, kept when lower. A bound on P(target), so on P(target) − charges too."""
        if seconds <= 0.1 or self.stopping():
            return
        _, bound = root_cuts(self.relaxed(), time.perf_counter() + seconds)
        if bound is not None:
            self.bound = bound if self.bound is None else min(self.bound, bound)
            elapsed = time.perf_counter() - self.clock_start
            incumbent = self.best_value if self.best is not None else None
            self.report(Progress(elapsed, incumbent, self.bound, "P(target) LP bound"))

    def kick(self, best: FloatArray, share: float = KICK_SHARE) -> FloatArray:
        """Iterated local search from `best` for `share` of the time left (P(target) is a step
        function with many local optima); returns the best portfolio."""
        kick_end = time.perf_counter() + max(0.0, self.deadline - time.perf_counter()) * share
        best, self.best_value = iterated_local_search(
            self.data,
            self.scenarios,
            self.checker,
            best,
            self.best_value,
            deadline=kick_end,
            should_stop=self.should_stop,
        )
        self.best = best
        incumbent = objective_value("p_target", self.data, self.scenarios, best)
        elapsed = time.perf_counter() - self.clock_start
        self.report(Progress(elapsed, incumbent, None, "local search"))
        return best

    def polish(self, best: FloatArray) -> None:
        """Local search from `best` until the deadline."""
        self.best = local_search(
            self.data,
            self.scenarios,
            self.checker,
            best,
            deadline=self.deadline,
            should_stop=self.should_stop,
        )
        self.best_value = selection_scores(self.data, self.scenarios, self.best[None, :])[0]

    def outcome(self) -> PTargetOutcome:
        """The best portfolio, `optimal` when the MILP proved it or the bound is within the gap."""
        milp, bound = self.milp, self.bound
        if self.best is None:
            return PTargetOutcome("no_solution", None, bound, "local search + milp", milp)
        value = objective_value("p_target", self.data, self.scenarios, self.best)
        if bound is not None:
            bound = max(bound, value)
        proven = (milp is not None and milp.status == "optimal") or (
            bound is not None and bound - value <= max(self.gap * abs(value), 1e-9)
        )
        return PTargetOutcome(
            "optimal" if proven else "feasible",
            self.best,
            value if proven else bound,
            "local search + milp",
            milp,
        )


def _search_and_bound(
    search: _Search, start: FloatArray | None, start_bound: float | None
) -> PTargetOutcome:
    """Step 3 of the module docstring, from `start` (with its bound) when given."""
    data, scenarios, checker = search.data, search.scenarios, search.checker
    cheap_bound = knapsack_bound(data, scenarios, checker)
    search.bound = cheap_bound if start_bound is None else min(cheap_bound, start_bound)
    if start is not None:
        search.keep_best((start,))
    # skip the scenario MILP when it cannot be built and run in time, or when HiGHS's root
    # heuristics would propagate roundings through long scenario rows for longer than the limit
    # with no callback to stop them (the knapsack bound is then the one reported, and the time
    # goes to the local search instead)
    propagation = search.nonzeros * search.nonzeros / max(1, scenarios.count)
    use_milp = propagation <= MILP_PROPAGATION_LIMIT
    try:
        search.from_starting_portfolios()
        if search.best is None and not search.stopping():
            # nothing yet (a busy machine, a hard model): the deterministic portfolio, all the
            # time left
            x = search.portfolio("expected", search.clock_start + 0.95 * search.time_limit)
            if x is not None:
                search.keep_best((x,))
        _improve(search, use_milp)
    except _Infeasible:
        return PTargetOutcome("infeasible", None, None, "milp")
    return search.outcome()


def _improve(search: _Search, use_milp: bool) -> None:
    """A short MILP first (small or easy models are proved optimal there in well under a
    second), then, unless proved, kicks and a last MILP round (or local search without MILP).
    For models whose MILP root takes longer than that first share (RELAXATION_SIZE), the
    relaxation's LP bound with residual cuts instead of the short MILP, and fewer kicks
    (LARGE_KICK_SHARE) when the last MILP round then has time for its bound to fall."""
    large = use_milp and search.large()
    if large:
        search.relaxation_bound((search.deadline - time.perf_counter()) * RELAXATION_SHARE)
    elif use_milp and search.best is not None:
        search.milp_round((search.deadline - time.perf_counter()) * FIRST_MILP_SHARE)
    proved = search.milp is not None and search.milp.status == "optimal"
    if search.best is not None and not proved:
        left = search.deadline - time.perf_counter()
        few = large and left * (1.0 - LARGE_KICK_SHARE) >= LARGE_MILP_SECONDS
        best = search.kick(search.best, LARGE_KICK_SHARE if few else KICK_SHARE)
        if not use_milp:
            search.polish(best)
        else:
            search.milp_round(search.deadline - time.perf_counter())
    elif search.best is None and use_milp:
        search.milp_round(search.deadline - time.perf_counter())
