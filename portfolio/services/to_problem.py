"""The optimiser problem a mission's current data gives (``mission-portfolio/problem`` version 2).

Money is remaining money (docs/problem-format.md, version 2): given the ledger's `Spent` and the
current quarter, `years` start at the current financial year, each option's `cost` is its
remaining planned spend and its `cost_range` its remaining three-point cost (the council's total
less the actual spend on it, times the candidate's cost-actuals uplift), and each envelope's
budget is what remains of it (`portfolio.services.ledger`). Spent money is sunk: it is not in the
problem.
"""

from __future__ import annotations

from typing import Any

from optimiser.problem import Policy, Problem, load_problem
from portfolio.domain.model import Candidate, FundingOption, Mission, ThreePoint
from portfolio.domain.run_policy import DEFAULT_SCENARIOS
from portfolio.services.ledger import Spent, remaining_budget, remaining_profile, remaining_years

DEFAULT_SEED = 42
EVALUATION_SCENARIOS = 20000
EVALUATION_SEED = 7


Estimates = dict[tuple[str, str], dict[str, Any]]


def _three(pooled: dict[str, Any]) -> dict[str, float]:
    """A three-point estimate (``low``, ``most_likely``, ``high``) as the problem file writes it."""
    return ThreePoint.model_validate(pooled).problem_file()


def _remaining_range(total: dict[str, float], actual: float, uplift: float) -> dict[str, float]:
    """A three-point total cost less the actual spend so far, times the uplift (the uplift scales
    the remaining cost only)."""
    return {k: max(0.0, v - actual) * uplift for k, v in total.items()}


def option_entry(
    candidate: Candidate,
    option: FundingOption,
    estimates: Estimates,
    *,
    years: list[str] | None = None,
    actual: float = 0.0,
) -> dict[str, Any]:
    """One option: its remaining planned cost profile over `years` (the budget rows use it; the
    whole registered profile when `years` is None), and the council's pooled p, impact and
    remaining three-point cost when a closed scoring round has them (else the estimates
    registered with the candidate)."""
    cost = (
        dict(option.cost_profile)
        if years is None
        else remaining_profile(option.cost_profile, actual, years)
    )
    entry: dict[str, Any] = {
        "id": option.id,
        "name": option.name,
        "cost": cost,
        "p_success": option.p_success,
        "impact": option.impact.problem_file(),
    }
    total_range = option.cost_range.problem_file() if option.cost_range is not None else None
    uplift = 1.0
    pooled = estimates.get((candidate.id, option.id))
    if pooled is not None:
        entry["p_success"] = pooled["p"]
        entry["impact"] = _three(pooled["impact"])
        if pooled.get("cost") is not None:
            total_range = _three(pooled["cost"])
        uplift = float(pooled.get("cost_uplift", 1.0))
    if total_range is not None:
        entry["cost_range"] = _remaining_range(total_range, actual, uplift)
    return entry


def candidate_entry(
    candidate: Candidate,
    estimates: Estimates | None = None,
    *,
    years: list[str] | None = None,
    spent: Spent | None = None,
) -> dict[str, Any]:
    """One candidate of the problem file (remaining money over `years` given the ledger)."""
    return {
        "id": candidate.id,
        "name": candidate.name,
        "platform": candidate.platform,
        "tier": candidate.tier.value,
        "organisation": candidate.organisation,
        "organisation_type": candidate.organisation_type.value,
        "eligible_envelopes": list(candidate.eligible_envelopes),
        "ncr": candidate.ncr,
        "treasury_approved": candidate.treasury_approved,
        "options": [
            option_entry(
                candidate,
                o,
                estimates or {},
                years=years,
                actual=spent.by_option.get((candidate.id, o.id), 0.0) if spent else 0.0,
            )
            for o in candidate.options
        ],
    }


def mission_problem(
    mission: Mission,
    candidates: list[Candidate],
    policy: Policy | None = None,
    *,
    estimates: Estimates | None = None,
    scenarios: int = DEFAULT_SCENARIOS,
    seed: int = DEFAULT_SEED,
    spent: Spent | None = None,
    quarter: str | None = None,
    budget_scale: float = 1.0,
) -> Problem:
    """The problem file for ``mission`` in ``quarter``: its remaining years, and the remaining
    money of its envelopes and candidates given the ledger's ``spent`` (with the council's
    ``estimates`` where given: (candidate, option) -> frozen aggregate), and ``policy`` with the
    mission's own Delegated Authority Limit and its mode. Without ``quarter`` every year and all
    the planned money are offered. A ``budget_scale`` other than 1 scales every envelope's
    budget (a what-if) before the money spent is taken off."""
    policy = policy or Policy()
    policy = type(policy).model_validate(
        {**policy.model_dump(), "dal": mission.dal, "dal_mode": mission.dal_mode}
    )
    spent = spent or Spent.of([])
    years = list(mission.years)
    if quarter is not None:
        years = remaining_years(mission, quarter) or years[-1:]
    by_year: dict[str, dict[str, float]] = {}
    for (envelope, year), amount in spent.by_envelope_year.items():
        by_year.setdefault(envelope, {})[year] = amount
    document: dict[str, Any] = {
        "format": "mission-portfolio/problem",
        "version": 2,
        "mission": {
            "name": mission.name,
            "target": mission.target,
            "unit": mission.unit,
            "deadline": mission.deadline.isoformat(),
        },
        "years": years,
        "envelopes": [
            {
                "id": e.id,
                "name": e.name,
                "budget": remaining_budget(
                    _scaled(e.budget, budget_scale), by_year.get(e.id, {}), years
                ),
                **({"min_spend": e.min_spend} if e.min_spend is not None else {}),
            }
            for e in mission.envelopes
        ],
        "candidates": [candidate_entry(c, estimates, years=years, spent=spent) for c in candidates],
        "policy": policy.model_dump(mode="json"),
        "scenarios": {"count": scenarios, "seed": seed},
        "evaluation": {"count": EVALUATION_SCENARIOS, "seed": EVALUATION_SEED},
    }
    return load_problem(document)


def _scaled(budget: dict[str, float], scale: float) -> dict[str, float]:
    return budget if scale == 1.0 else {y: round(b * scale, 6) for y, b in budget.items()}
