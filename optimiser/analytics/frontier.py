"""Efficient frontiers: re-solve across a grid of budgets or of risk appetites (CVaR λ).

Every point is solved on the SAME optimisation scenarios and evaluated on the SAME out-of-sample
scenarios as the problem as given (budgets and λ do not enter scenario generation, and the seeds
are kept), so the points differ only by the budget or λ and are comparable.

Budget frontier: every envelope's budget in every year is multiplied by the fraction. Minimum
spends are kept as given, so that the set of admissible portfolios only grows with the budget
and, solved to optimality, the objective on the optimisation scenarios is non-decreasing in the
budget. Only where a point is infeasible with the minimum spends as given (the scaled budget can
no longer meet them) is it re-solved with each minimum spend scaled by the same fraction; such a
point is marked `min_spend_scaled` and stands outside that monotonicity. Out-of-sample P(target)
and expected impact usually rise with the budget too, but only the in-sample objective is
guaranteed to: a bigger budget may buy a different portfolio that does slightly worse on fresh
scenarios, or one that trades P(target) for the objective actually optimised.

The grid always contains the problem as given (fraction 1 / the policy's λ); that point is marked
`is_given` and its index is `given_index`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from optimiser.analytics.parallel import (
    Progress,
    SolveSummary,
    SolveTask,
    map_solves,
    run_summary_task,
)
from optimiser.problem import Envelope, Problem, SampledScenarios

MIN_SPEND_RULE = (
    "minimum spends kept as given; scaled with the budget only where a point is infeasible "
    "without it (min_spend_scaled)"
)


class FrontierPoint(SolveSummary):
    """One re-solve of the frontier: its setting and its `SolveSummary`."""

    fraction: float | None = None
    cvar_lambda: float | None = None
    total_budget: float = 0.0
    is_given: bool = False
    min_spend_scaled: bool = False


class Frontier(BaseModel):
    """A budget or risk frontier; metrics are out of sample unless named in-sample."""

    kind: Literal["budget", "risk"]
    objective: str
    points: list[FrontierPoint] = Field(default_factory=list)
    given_index: int | None = None
    scenario_count: int | None = None
    scenario_seed: int | None = None
    evaluation_count: int = 0
    evaluation_seed: int = 0
    note: str = ""


def budget_frontier(
    problem: Problem,
    fractions: Sequence[float] = (0.5, 0.75, 1.0, 1.25, 1.5),
    *,
    solver: str = "highs",
    time_limit: float | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    on_progress: Progress | None = None,
) -> Frontier:
    """Re-solve `problem` with every envelope's budget scaled by each fraction (1.0 added)."""
    grid = sorted({round(float(f), 12) for f in fractions} | {1.0})
    if grid[0] < 0:
        raise ValueError(f"fractions: must be at least 0, got {grid[0]}")
    tasks = [SolveTask(scaled_budget(problem, f), solver, time_limit) for f in grid]
    summaries = map_solves(
        run_summary_task, tasks, workers=workers, scheduler=scheduler, on_progress=on_progress
    )
    retry = [
        j
        for j, s in enumerate(summaries)
        if s.status == "infeasible" and _has_min_spend(problem) and grid[j] < 1.0
    ]
    if retry:
        again = map_solves(
            run_summary_task,
            [
                SolveTask(scaled_budget(problem, grid[j], scale_min_spend=True), solver, time_limit)
                for j in retry
            ],
            workers=workers,
            scheduler=scheduler,
        )
        rescued = dict(zip(retry, again, strict=True))
    else:
        rescued = {}
    points = []
    for j, (f, s) in enumerate(zip(grid, summaries, strict=True)):
        scaled = j in rescued
        chosen = rescued[j] if scaled else s
        points.append(
            FrontierPoint(
                **chosen.model_dump(),
                fraction=f,
                total_budget=round(_total_budget(problem) * f, 9),
                is_given=f == 1.0,
                min_spend_scaled=scaled,
            )
        )
    return _frontier(problem, "budget", problem.policy.objective, points, MIN_SPEND_RULE)


def risk_frontier(
    problem: Problem,
    lambdas: Sequence[float] = (0.0, 0.5, 1.0, 2.0, 5.0),
    *,
    solver: str = "highs",
    time_limit: float | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    on_progress: Progress | None = None,
) -> Frontier:
    """Re-solve with objective `cvar` for each λ (the policy's λ is added and marked given when
    the problem's objective is `cvar`; otherwise no point is the problem as given)."""
    policy = problem.policy
    given = policy.cvar_lambda if policy.objective == "cvar" else None
    grid = sorted(
        {round(float(v), 12) for v in lambdas} | ({given} if given is not None else set())
    )
    if grid and grid[0] < 0:
        raise ValueError(f"lambdas: must be at least 0, got {grid[0]}")
    tasks = [SolveTask(with_cvar_lambda(problem, lam), solver, time_limit) for lam in grid]
    summaries = map_solves(
        run_summary_task, tasks, workers=workers, scheduler=scheduler, on_progress=on_progress
    )
    total = round(_total_budget(problem), 9)
    points = [
        FrontierPoint(
            **s.model_dump(),
            cvar_lambda=lam,
            total_budget=total,
            is_given=given is not None and lam == given,
        )
        for lam, s in zip(grid, summaries, strict=True)
    ]
    note = f"objective cvar at alpha {policy.cvar_alpha:g}, lambda varied"
    return _frontier(problem, "risk", "cvar", points, note)


def scaled_budget(problem: Problem, fraction: float, *, scale_min_spend: bool = False) -> Problem:
    """`problem` with every envelope's yearly budget (and, if asked, minimum spend) × fraction."""
    envelopes = [
        Envelope(
            id=e.id,
            name=e.name,
            budget={y: b * fraction for y, b in e.budget.items()},
            min_spend=(
                e.min_spend * fraction
                if scale_min_spend and e.min_spend is not None
                else e.min_spend
            ),
        )
        for e in problem.envelopes
    ]
    return problem.model_copy(update={"envelopes": envelopes})


def with_cvar_lambda(problem: Problem, lam: float) -> Problem:
    """`problem` with objective `cvar` and CVaR weight λ."""
    policy = problem.policy.model_copy(update={"objective": "cvar", "cvar_lambda": lam})
    return problem.model_copy(update={"policy": policy})


def _has_min_spend(problem: Problem) -> bool:
    return any(e.min_spend for e in problem.envelopes)


def _total_budget(problem: Problem) -> float:
    return float(sum(sum(e.budget.values()) for e in problem.envelopes))


def _frontier(
    problem: Problem,
    kind: Literal["budget", "risk"],
    objective: str,
    points: list[FrontierPoint],
    note: str,
) -> Frontier:
    spec = problem.scenarios
    sampled = spec if isinstance(spec, SampledScenarios) else None
    given = [j for j, p in enumerate(points) if p.is_given]
    return Frontier(
        kind=kind,
        objective=objective,
        points=points,
        given_index=given[0] if given else None,
        scenario_count=sampled.count if sampled else None,
        scenario_seed=sampled.seed if sampled else None,
        evaluation_count=problem.evaluation.count,
        evaluation_seed=problem.evaluation.seed,
        note=note,
    )
