"""Analytics around a solve (DESIGN.md §5, issue 6): efficient frontiers, robustness core index,
value of information (EVPPI), the value of knowing the outcome (foresight) and price of policy.

Each analysis re-solves modified copies of a problem — on the problem's own optimisation and
evaluation seeds, so its points are comparable, except the core index, which draws a fresh
optimisation seed for every resample (it measures what the scenarios move too) — through
`map_solves` (local processes by default, a Dask cluster when a scheduler is given) and returns
pydantic models the web can cache as JSON.
"""

from optimiser.analytics.foresight import (
    OutcomePart,
    OutcomeRow,
    value_of_knowing_the_outcome,
)
from optimiser.analytics.frontier import Frontier, FrontierPoint, budget_frontier, risk_frontier
from optimiser.analytics.parallel import (
    SolveSummary,
    SolveTask,
    default_workers,
    map_solves,
    run_solve_task,
    run_summary_task,
    scheduler_from_env,
)
from optimiser.analytics.policy_price import PriceRow, price_of_policy
from optimiser.analytics.robustness import CoreIndex, CoreRow, MemberScore, Spread, core_index
from optimiser.analytics.voi import Evppi, EvppiRow, evppi

__all__ = [
    "CoreIndex",
    "CoreRow",
    "Evppi",
    "EvppiRow",
    "Frontier",
    "FrontierPoint",
    "MemberScore",
    "OutcomePart",
    "OutcomeRow",
    "PriceRow",
    "SolveSummary",
    "SolveTask",
    "Spread",
    "budget_frontier",
    "core_index",
    "default_workers",
    "evppi",
    "map_solves",
    "price_of_policy",
    "risk_frontier",
    "run_solve_task",
    "run_summary_task",
    "scheduler_from_env",
    "value_of_knowing_the_outcome",
]
