"""Price of policy: what each rule costs — relax that one rule, re-solve, compare.

Rules priced (only those active in the problem):
- hedging: `max_platform_share` < 1 (→ 1), `min_platforms` > 0 (→ 0), `min_moonshot_share` > 0
  (→ 0), `min_rising_star_share` > 0 (→ 0), `max_organisation_share` < 1 (→ 1),
  `min_p_any_success` (→ none);
- the ring-fence of each envelope: its `min_spend` (→ none) and its eligibility restriction
  (every candidate may draw on it), each priced on its own;
- the DAL cap (`dal_mode` "cap" → "flag");
- each lock and each exclusion (removed).
Commitments are contracts, not choices, and are not priced.

Every relaxed problem keeps the problem's scenarios and seeds, so `delta_objective` is the change
of the optimised objective on the same optimisation scenarios: relaxing a rule only enlarges the
set of admissible portfolios, so solved to optimality it is ≥ 0 (up to the 1e-7 tie-break). The
out-of-sample changes (P(target), expected impact, CVaR) are on the same evaluation scenarios; they
are reported as they come and may be negative for objectives other than `p_target`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from optimiser.analytics.parallel import (
    Progress,
    SolveSummary,
    SolveTask,
    map_solves,
    run_summary_task,
)
from optimiser.problem import Candidate, Envelope, Policy, Problem


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


@dataclass(frozen=True)
class Relaxation:
    """One rule and the problem without it."""

    rule: str
    key: str
    label: str
    relaxed_to: str
    problem: Problem


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
    """Every active rule of `problem` and the problem with that one rule relaxed."""
    policy = problem.policy
    out: list[Relaxation] = []

    def relax_policy(rule: str, label: str, relaxed_to: str, **update: Any) -> None:
        changed = policy.model_copy(update=update)
        out.append(
            Relaxation(
                rule, rule, label, relaxed_to, problem.model_copy(update={"policy": changed})
            )
        )

    if policy.max_platform_share < 1:
        relax_policy(
            "max_platform_share",
            f"Platform share ≤ {_pct(policy.max_platform_share)}",
            "100 %",
            max_platform_share=1.0,
        )
    if policy.min_platforms > 0:
        relax_policy(
            "min_platforms", f"At least {policy.min_platforms} platforms", "0", min_platforms=0
        )
    if policy.min_moonshot_share > 0:
        relax_policy(
            "min_moonshot_share",
            f"Moonshot share ≥ {_pct(policy.min_moonshot_share)}",
            "0 %",
            min_moonshot_share=0.0,
        )
    if policy.min_rising_star_share > 0:
        relax_policy(
            "min_rising_star_share",
            f"Rising-star share ≥ {_pct(policy.min_rising_star_share)}",
            "0 %",
            min_rising_star_share=0.0,
        )
    if policy.max_organisation_share < 1:
        relax_policy(
            "max_organisation_share",
            f"Organisation share ≤ {_pct(policy.max_organisation_share)}",
            "100 %",
            max_organisation_share=1.0,
        )
    if policy.min_p_any_success:
        relax_policy(
            "min_p_any_success",
            f"P(at least one success) ≥ {_pct(policy.min_p_any_success)}",
            "none",
            min_p_any_success=None,
        )
    for j, env in enumerate(problem.envelopes):
        name = env.name or env.id
        if env.min_spend:
            out.append(
                Relaxation(
                    "min_spend",
                    env.id,
                    f"{name} minimum spend £{env.min_spend:g}m",
                    "none",
                    _with_envelope(problem, j, min_spend=None),
                )
            )
        if any(env.id not in c.eligible_envelopes for c in problem.candidates):
            out.append(
                Relaxation(
                    "eligibility",
                    env.id,
                    f"Eligibility for {name}",
                    "every candidate eligible",
                    _widened(problem, env.id),
                )
            )
    if policy.dal is not None and policy.dal_mode == "cap":
        relax_policy(
            "dal_cap",
            f"Awards above the DAL (£{policy.dal:g}m) need Treasury approval",
            "flag only",
            dal_mode="flag",
        )
    for ref in policy.locks:
        out.append(
            Relaxation(
                "lock",
                ref,
                f"Lock on {ref}",
                "removed",
                _with_policy(problem, locks=[r for r in policy.locks if r != ref]),
            )
        )
    for ref in policy.exclusions:
        out.append(
            Relaxation(
                "exclusion",
                ref,
                f"Exclusion of {ref}",
                "removed",
                _with_policy(problem, exclusions=[r for r in policy.exclusions if r != ref]),
            )
        )
    return out


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


def _pct(share: float) -> str:
    return f"{share * 100:g} %"


def _with_policy(problem: Problem, **update: Any) -> Problem:
    policy: Policy = problem.policy.model_copy(update=update)
    return problem.model_copy(update={"policy": policy})


def _with_envelope(problem: Problem, j: int, **update: Any) -> Problem:
    envelopes: list[Envelope] = list(problem.envelopes)
    envelopes[j] = envelopes[j].model_copy(update=update)
    return problem.model_copy(update={"envelopes": envelopes})


def _widened(problem: Problem, envelope: str) -> Problem:
    """`problem` with every candidate eligible for `envelope`."""
    return problem.model_copy(
        update={"candidates": [_eligible(c, envelope) for c in problem.candidates]}
    )


def _eligible(cand: Candidate, envelope: str) -> Candidate:
    if envelope in cand.eligible_envelopes:
        return cand
    return cand.model_copy(update={"eligible_envelopes": [*cand.eligible_envelopes, envelope]})
