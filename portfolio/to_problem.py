"""The optimiser problem a mission's current data gives (``mission-portfolio/problem``)."""

from __future__ import annotations

from typing import Any

from optimiser.problem import Policy, Problem, load_problem
from portfolio.model import Candidate, FundingOption, Mission

DEFAULT_SCENARIOS = 2000
DEFAULT_SEED = 42
EVALUATION_SCENARIOS = 20000
EVALUATION_SEED = 7


Estimates = dict[tuple[str, str], dict[str, Any]]


def _three(pooled: dict[str, Any]) -> dict[str, float]:
    return {"low": pooled["low"], "mode": pooled["most_likely"], "high": pooled["high"]}


def option_entry(
    candidate: Candidate, option: FundingOption, estimates: Estimates
) -> dict[str, Any]:
    """One option: the planned cost profile as registered (budgets use it), and the council's
    pooled p, impact and three-point total cost when a closed scoring round has them (else the
    estimates registered with the candidate)."""
    entry: dict[str, Any] = {
        "id": option.id,
        "name": option.name,
        "cost": dict(option.cost_profile),
        "p_success": option.p_success,
        "impact": {
            "low": option.impact.low,
            "mode": option.impact.most_likely,
            "high": option.impact.high,
        },
    }
    if option.cost_range is not None:
        entry["cost_range"] = {
            "low": option.cost_range.low,
            "mode": option.cost_range.most_likely,
            "high": option.cost_range.high,
        }
    pooled = estimates.get((candidate.id, option.id))
    if pooled is not None:
        entry["p_success"] = pooled["p"]
        entry["impact"] = _three(pooled["impact"])
        if pooled.get("cost") is not None:
            entry["cost_range"] = _three(pooled["cost"])
    return entry


def candidate_entry(candidate: Candidate, estimates: Estimates | None = None) -> dict[str, Any]:
    """One candidate of the problem file."""
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
        "options": [option_entry(candidate, o, estimates or {}) for o in candidate.options],
    }


def mission_problem(
    mission: Mission,
    candidates: list[Candidate],
    policy: Policy | None = None,
    *,
    estimates: Estimates | None = None,
    scenarios: int = DEFAULT_SCENARIOS,
    seed: int = DEFAULT_SEED,
) -> Problem:
    """The problem file for ``mission``: its years, envelopes and candidates (with the council's
    ``estimates`` where given: (candidate, option) -> frozen aggregate), and ``policy`` with the
    mission's own Delegated Authority Limit and its mode."""
    policy = (policy or Policy()).model_copy(
        update={"dal": mission.dal, "dal_mode": mission.dal_mode}
    )
    document: dict[str, Any] = {
        "format": "mission-portfolio/problem",
        "version": 1,
        "mission": {
            "name": mission.name,
            "target": mission.target,
            "unit": mission.unit,
            "deadline": mission.deadline.isoformat(),
        },
        "years": list(mission.years),
        "envelopes": [
            {
                "id": e.id,
                "name": e.name,
                "budget": dict(e.budget),
                **({"min_spend": e.min_spend} if e.min_spend is not None else {}),
            }
            for e in mission.envelopes
        ],
        "candidates": [candidate_entry(c, estimates) for c in candidates],
        "policy": policy.model_dump(mode="json"),
        "scenarios": {"count": scenarios, "seed": seed},
        "evaluation": {"count": EVALUATION_SCENARIOS, "seed": EVALUATION_SEED},
    }
    return load_problem(document)
