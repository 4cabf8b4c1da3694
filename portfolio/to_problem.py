"""The optimiser problem a mission's current data gives (``mission-portfolio/problem``)."""

from __future__ import annotations

from typing import Any

from optimiser.problem import Policy, Problem, load_problem
from portfolio.model import Candidate, Mission

DEFAULT_SCENARIOS = 2000
DEFAULT_SEED = 42
EVALUATION_SCENARIOS = 20000
EVALUATION_SEED = 7


def candidate_entry(candidate: Candidate) -> dict[str, Any]:
    """One candidate of the problem file, with its options' planned cost profile, p and impact."""
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
            {
                "id": o.id,
                "name": o.name,
                "cost": dict(o.cost_profile),
                "p_success": o.p_success,
                "impact": {
                    "low": o.impact.low,
                    "mode": o.impact.most_likely,
                    "high": o.impact.high,
                },
                **(
                    {
                        "cost_range": {
                            "low": o.cost_range.low,
                            "mode": o.cost_range.most_likely,
                            "high": o.cost_range.high,
                        }
                    }
                    if o.cost_range is not None
                    else {}
                ),
            }
            for o in candidate.options
        ],
    }


def mission_problem(
    mission: Mission,
    candidates: list[Candidate],
    policy: Policy | None = None,
    *,
    scenarios: int = DEFAULT_SCENARIOS,
    seed: int = DEFAULT_SEED,
) -> Problem:
    """The problem file for ``mission``: its years, envelopes and candidates, and ``policy``
    with the mission's own Delegated Authority Limit and its mode."""
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
        "candidates": [candidate_entry(c) for c in candidates],
        "policy": policy.model_dump(mode="json"),
        "scenarios": {"count": scenarios, "seed": seed},
        "evaluation": {"count": EVALUATION_SCENARIOS, "seed": EVALUATION_SEED},
    }
    return load_problem(document)
