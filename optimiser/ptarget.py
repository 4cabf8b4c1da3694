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
   kicks (`iterated_local_search`), then give the rest of the time to the textbook MILP (impacts
   capped at the target, warm-started from the best portfolio): it may improve it, and its dual
   bound — or the cheaper `knapsack_bound` if lower — is reported. `optimal` only when the bound
   proves it. Never worse than the starting portfolios on the same scenarios. Where HiGHS could not
   be stopped in time (long scenario rows, n ≈ 1000) the MILP is skipped and the search continues.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

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
FIRST_MILP_SHARE = 0.15  # of the time left after the starting portfolios' searches
# nonzeros x mean row length of the scenario rows beyond which the P(target) MILP is skipped:
# measured, n = 1000 x S = 500 (2.4e8) overran a 5 s limit by 15 s inside HiGHS's root rounding
# heuristics; every n <= 200 cell of the benchmark (up to 9.6e7) stays within its limit
MILP_PROPAGATION_LIMIT = 1.5e8


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
    return _search_and_bound(
        data,
        scenarios,
        checker,
        solver=solver,
        time_limit=time_limit,
        gap=gap,
        report=report,
        should_stop=should_stop,
        clock_start=clock_start,
        start=start,
        start_bound=start_bound,
    )


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


def _search_and_bound(
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
    start: FloatArray | None = None,
    start_bound: float | None = None,
) -> PTargetOutcome:
    deadline = clock_start + 0.85 * time_limit  # a solver overruns a little; results need writing
    cheap_bound = knapsack_bound(data, scenarios, checker)
    if start_bound is not None:
        cheap_bound = min(cheap_bound, start_bound)
    best: FloatArray | None = start
    best_value = (
        -np.inf if start is None else float(selection_scores(data, scenarios, start[None, :])[0])
    )
    # shares of the time then left; the deterministic start is cheap and is the fallback, so it
    # may use up to half; on small models the MILP is effective, so the other starts get less
    shares = (0.5, 0.25, 0.25) if data.n_options > 150 else (0.3, 0.1, 0.1)
    # building a scenario model costs about 1.5 µs per nonzero impact (and HiGHS's presolve of it
    # does not watch the clock): skip scenario models that cannot finish in their share of time
    nonzeros = float(np.count_nonzero(scenarios.impact))
    build_estimate = 1.5e-6 * nonzeros
    for kind, share in zip(("expected", "cvar", "capped"), shares, strict=True):
        remaining = deadline - time.perf_counter()
        if remaining <= 0.05 or (should_stop and should_stop()):
            break
        if kind != "expected" and remaining * share < 4 * build_estimate:
            continue
        out, _ = solve_model(
            data,
            scenarios,
            kind,
            checker,
            solver=solver,
            deadline=time.perf_counter() + max(0.05, remaining * share),
            gap=0.005,
            should_stop=should_stop,
            clock_start=clock_start,
        )
        if out.status == "infeasible":
            return PTargetOutcome("infeasible", None, None, "milp")
        if out.x is None:
            continue
        search_end = time.perf_counter() + max(0.0, (deadline - time.perf_counter()) * 0.25)
        x = local_search(
            data, scenarios, checker, out.x, deadline=search_end, should_stop=should_stop
        )
        for candidate in (out.x, x):  # the start itself too: the search ranks by a surrogate
            value = selection_scores(data, scenarios, candidate[None, :])[0]
            if value > best_value:
                best, best_value = candidate, value
        report(
            Progress(
                time.perf_counter() - clock_start,
                float(value),
                None,
                f"local search from the {kind} portfolio",
            )
        )
    if best is None and not (should_stop and should_stop()):
        # nothing yet (a busy machine, a hard model): the deterministic portfolio, all the time left
        out, _ = solve_model(
            data,
            scenarios,
            "expected",
            checker,
            solver=solver,
            deadline=clock_start + 0.95 * time_limit,
            gap=0.005,
            should_stop=should_stop,
            clock_start=clock_start,
        )
        if out.status == "infeasible":
            return PTargetOutcome("infeasible", None, None, "milp")
        if out.x is not None:
            best, best_value = out.x, selection_scores(data, scenarios, out.x[None, :])[0]
    milp: MilpOutcome | None = None
    bound: float | None = cheap_bound
    # skip the scenario MILP when it cannot be built and run in time, or when HiGHS's root
    # heuristics would propagate roundings through long scenario rows for longer than the limit
    # with no callback to stop them (the knapsack bound is then the one reported, and the time
    # goes to the local search instead)
    propagation = nonzeros * nonzeros / max(1, scenarios.count)
    use_milp = propagation <= MILP_PROPAGATION_LIMIT

    overrun = [0.0]  # how far past its limit the last MILP round ran (presolve ignores the clock)

    def milp_round(limit: float) -> bool:
        """The scenario MILP from the best portfolio for `limit` seconds; True if infeasible."""
        nonlocal best, best_value, milp, bound
        if limit - overrun[0] <= 0.1 + 2 * build_estimate or (should_stop and should_stop()):
            return False
        m = build_model(data, scenarios)
        set_objective(m, scenarios, "p_target")
        allowed = min(limit, deadline - time.perf_counter()) - overrun[0]
        if allowed <= 0.1:
            return False
        started = time.perf_counter()
        milp = run_milp(
            m,
            solver=solver,
            time_limit=allowed,
            gap=gap,
            start=best,
            on_progress=report,
            should_stop=should_stop,
            phase="P(target) MILP",
            clock_start=clock_start,
        )
        overrun[0] = max(overrun[0], time.perf_counter() - started - allowed)
        if milp.status == "infeasible":
            return True
        if milp.x is not None and checker.is_feasible(milp.x):
            polished = local_search(
                data, scenarios, checker, milp.x, deadline=deadline, should_stop=should_stop
            )
            for candidate in (milp.x, polished):
                value = selection_scores(data, scenarios, candidate[None, :])[0]
                if value > best_value + 1e-12:
                    best, best_value = candidate, value
        if milp.bound is not None:
            tie = float(tie_break_weights(data).sum())
            bound = min(bound if bound is not None else np.inf, milp.bound + tie)
        return False

    # a short MILP first: small or easy models are proved optimal here in well under a second
    if use_milp and best is not None:
        if milp_round((deadline - time.perf_counter()) * FIRST_MILP_SHARE):
            return PTargetOutcome("infeasible", None, None, "milp")
    if best is not None and not (milp is not None and milp.status == "optimal"):
        # P(target) is a step function with many local optima: kick and search again
        kick_end = time.perf_counter() + max(0.0, deadline - time.perf_counter()) * KICK_SHARE
        best, best_value = iterated_local_search(
            data,
            scenarios,
            checker,
            best,
            best_value,
            deadline=kick_end,
            should_stop=should_stop,
        )
        incumbent = objective_value("p_target", data, scenarios, best)
        report(Progress(time.perf_counter() - clock_start, incumbent, None, "local search"))
        if not use_milp:
            best = local_search(
                data, scenarios, checker, best, deadline=deadline, should_stop=should_stop
            )
            best_value = selection_scores(data, scenarios, best[None, :])[0]
        elif milp_round(deadline - time.perf_counter()):
            return PTargetOutcome("infeasible", None, None, "milp")
    elif best is None and use_milp and milp_round(deadline - time.perf_counter()):
        return PTargetOutcome("infeasible", None, None, "milp")
    if best is None:
        return PTargetOutcome("no_solution", None, bound, "local search + milp", milp)
    value = objective_value("p_target", data, scenarios, best)
    if bound is not None:
        bound = max(bound, value)
    proven = (milp is not None and milp.status == "optimal") or (
        bound is not None and bound - value <= max(gap * abs(value), 1e-9)
    )
    return PTargetOutcome(
        "optimal" if proven else "feasible",
        best,
        value if proven else bound,
        "local search + milp",
        milp,
    )
