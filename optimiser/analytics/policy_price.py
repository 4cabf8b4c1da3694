"""Price of policy: what each rule costs — relax that one rule, re-solve, compare.

Rules priced (only those active in the problem):
- hedging: `max_platform_share` < 1 (→ 1), `min_platforms` > 0 (→ 0), `min_moonshot_share` > 0
  (→ 0), `min_rising_star_share` > 0 (→ 0), `max_organisation_share` < 1 (→ 1),
  `min_p_any_success` (→ none);
- the ring-fence of each envelope: its `min_spend` (→ none) and its eligibility restriction
  (every candidate may draw on it), each priced on its own;
- the DAL cap (`dal_mode` "cap" → "flag");
- each lock and each exclusion (removed).
Commitments are contracts, not choices, and are not priced. Each family owns its relaxations
(`optimiser.families`, `Family.relaxations`) and where they stand in this list.

Every relaxed problem keeps the problem's scenarios and seeds, so `delta_objective` is the change
of the optimised objective on the same optimisation scenarios: relaxing a rule only enlarges the
set of admissible portfolios, so solved to optimality it is ≥ 0 (up to the 1e-7 tie-break). The
out-of-sample changes (P(target), expected impact, CVaR) are on the same evaluation scenarios; they
are reported as they come and may be negative for objectives other than `p_target`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from optimiser.analytics.parallel import (
    Progress,
    SolveSummary,
    SolveTask,
    map_solves,
    run_summary_task,
)
from optimiser.families import FAMILIES, Relaxation
from optimiser.problem import Problem

__all__ = ["PriceRow", "Relaxation", "price_of_policy", "relaxations_of"]


class PriceRow(BaseModel):
    """The cost of one rule: the relaxed solve against the problem as given."""

    rule: str  # family: max_platform_share, min_spend, eligibility, dal_cap, lock, exclusion, …
    key: str  # the field, envelope id or reference relaxed
    label: str
    relaxed_to: str
    status: str
    base_status: str
    objective: float | None = None
    base_objective: float | None = None
    delta_objective: float | None = None
    p_target: float | None = None
    delta_p_target: float | None = None
    expected_impact: float | None = None
    delta_expected_impact: float | None = None
    cvar_shortfall: float | None = None
    delta_cvar_shortfall: float | None = None
    spend: float = 0.0
    delta_spend: float | None = None
    added: dict[str, str] = Field(default_factory=dict)
    dropped: dict[str, str] = Field(default_factory=dict)


def price_of_policy(
    problem: Problem,
    *,
    solver: str = "highs",
    time_limit: float | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    on_progress: Progress | None = None,
) -> list[PriceRow]:
    """Relax each active rule in turn (module docstring); one row per rule, in that order."""
    relaxations = relaxations_of(problem)
    tasks = [SolveTask(problem, solver, time_limit)]
    tasks += [SolveTask(r.problem, solver, time_limit) for r in relaxations]
    summaries = map_solves(
        run_summary_task, tasks, workers=workers, scheduler=scheduler, on_progress=on_progress
    )
    base = summaries[0]
    return [_row(r, s, base) for r, s in zip(relaxations, summaries[1:], strict=True)]


def relaxations_of(problem: Problem) -> list[Relaxation]:
    """Every active rule of `problem` and the problem with that one rule relaxed: each family's
    relaxations (`Family.relaxations`), in the table's order (`Relaxation.order`)."""
    found = [r for family in FAMILIES for r in family.relaxations(problem)]
    return sorted(found, key=lambda r: r.order)


def _row(r: Relaxation, s: SolveSummary, base: SolveSummary) -> PriceRow:
    both = s.solved and base.solved
    added = {c: o for c, o in s.selected.items() if base.selected.get(c) != o} if both else {}
    dropped = {c: o for c, o in base.selected.items() if s.selected.get(c) != o} if both else {}
    return PriceRow(
        rule=r.rule,
        key=r.key,
        label=r.label,
        relaxed_to=r.relaxed_to,
        status=s.status,
        base_status=base.status,
        objective=s.objective,
        base_objective=base.objective,
        delta_objective=_delta(s.objective, base.objective, both),
        p_target=s.p_target,
        delta_p_target=_delta(s.p_target, base.p_target, both),
        expected_impact=s.expected_impact,
        delta_expected_impact=_delta(s.expected_impact, base.expected_impact, both),
        cvar_shortfall=s.cvar_shortfall,
        delta_cvar_shortfall=_delta(s.cvar_shortfall, base.cvar_shortfall, both),
        spend=s.spend,
        delta_spend=_delta(s.spend, base.spend, both),
        added=added,
        dropped=dropped,
    )


def _delta(new: float | None, old: float | None, both: bool) -> float | None:
    if not both or new is None or old is None:
        return None
    return round(new - old, 12)
