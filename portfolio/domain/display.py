"""The names a person reads: one table for every code the product stores (objectives, metrics,
policy rules, platforms, states, kinds), so pages, messages, exports and charts say the same
words. Nothing here mangles a string into a name: an unknown code is shown exactly as stored.

Envelopes and candidates are named by the mission itself (``envelope_names``, candidates'
``name``); this module only supplies the fixed vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

OBJECTIVE_NAMES: dict[str, str] = {
    "p_target": "Probability of reaching the target",
    "cvar": "Expected impact with a shortfall penalty (CVaR)",
    "capped": "Expected impact counted up to the target",
    "expected": "Expected impact (business-case ranking)",
}

METRIC_NAMES: dict[str, str] = {
    "p_target": "P(target)",
    "expected_impact": "Expected impact",
    "cvar_shortfall": "CVaR of the shortfall",
    "p_overrun": "P(overrun)",
    "expected_overspend": "Expected overspend",
    "p_any_success": "P(at least one success)",
    "spend": "Spend",
    "funded": "Candidates funded",
}

# the rules of a run's policy (problem-format.md "policy"), as the optimiser form labels them
POLICY_RULE_NAMES: dict[str, str] = {
    "objective": "Objective",
    "max_platform_share": "Largest share of spend on one platform",
    "min_moonshot_share": "Smallest share of spend on moonshots",
    "min_rising_star_share": "Smallest share of spend on rising stars",
    "max_organisation_share": "Largest share of spend on one organisation",
    "min_p_any_success": "Smallest chance that at least one candidate succeeds",
    "cvar_alpha": "CVaR tail (worst share of scenarios)",
    "cvar_lambda": "Weight on the CVaR shortfall",
    "carry_forward": "Carry unspent money forward",
    "over_programming": "Over-programming (% above the budgets)",
    "max_overrun_probability": "Highest chance of overrunning the money available",
    "bring_forward": "Next year's budget that may be brought forward",
    "time_limit_s": "Solver time limit (seconds)",
    "mip_gap": "Optimality gap accepted",
    "locks": "Locked in",
    "exclusions": "Excluded",
    "min_spend": "Minimum spend",
    "platform_share_hedge": "Platform share hedge",
    "switching_loss": "Money lost when an award is de-committed",
    # set per run by the product, shown when two runs differ in them (the comparison)
    "min_platforms": "Fewest platforms funded",
    "correlation": "Correlation within a platform",
    "commitments": "Contracted awards kept funded",
    "previous": "Last approved allocation",
    "switching_cost": "Switching cost (objective units per £m de-committed)",
    "dal": "Delegated Authority Limit (£m)",
    "dal_mode": "Awards above the Delegated Authority Limit",
    "gap": "Optimality gap accepted",
    "budget_scale": "Envelopes at (% of their budgets)",
}
PERCENT_RULES = frozenset(
    {
        "max_platform_share",
        "min_moonshot_share",
        "min_rising_star_share",
        "max_organisation_share",
        "min_p_any_success",
        "cvar_alpha",
        "over_programming",
        "max_overrun_probability",
        "bring_forward",
        "mip_gap",
        "switching_loss",
        "budget_scale",
    }
)

# platforms of the missions we know; a platform not listed is shown as registered
PLATFORM_NAMES: dict[str, str] = {
    "hefa-saf": "HEFA sustainable aviation fuel",
    "e-saf": "e-SAF (power-to-liquid fuel)",
    "alcohol-to-jet": "Alcohol-to-jet fuel",
    "hydrogen-combustion": "Hydrogen combustion",
    "hydrogen-fuel-cell": "Hydrogen fuel cell",
    "battery-electric": "Battery electric",
    "hybrid-electric": "Hybrid electric",
    "contrails": "Contrail avoidance",
    "airspace": "Airspace modernisation",
}

# stored enum values (StrEnum .value) and the words for them
VALUE_NAMES: dict[str, str] = {
    # quarter and round states
    "open": "Open",
    "approved": "Approved",
    "closed": "Closed",
    "not_opened": "Not opened",
    # tiers, organisation types, sectors
    "conventional": "Conventional",
    "moonshot": "Moonshot",
    "incumbent": "Incumbent",
    "rising_star": "Rising star",
    "business": "Business",
    "academia": "Academia",
    "public_sector": "Public sector",
    "civil_society": "Civil society",
    # evidence
    "milestone_met": "Milestone met",
    "milestone_missed": "Milestone missed",
    "trl_change": "TRL change",
    "cost_actuals": "Cost actuals to date",
    "stage_gate": "Stage-gate outcome",
    # changes
    "start": "Start",
    "continue": "Continue",
    "scale up": "Scale up",
    "scale down": "Scale down",
    "stop": "Stop",
    # run statuses
    "queued": "Queued",
    "running": "Running",
    "optimal": "Optimal",
    "feasible": "Feasible",
    "infeasible": "Infeasible",
    "error": "Error",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "done": "Done",  # an analysis of a run
    # the core index's classes of a candidate
    "core": "Core",
    "borderline": "Borderline",
    "exterior": "Exterior",
    "time_limit": "Time limit reached",
    # contracts
    "live": "Live",
    "ended": "Ended",
    "completed": "Completed",
    # Treasury approvals, spend entries, audit trail entities (H5: names and forms)
    "requested": "Waiting for Treasury",
    "refused": "Refused",
    "actual": "Actual spend",
    "break_cost": "Break cost",
    "candidate": "Candidate",
    "mission": "Mission",
    "quarter": "Quarter",
    "quarterly_update": "Quarterly update",
    "scoring_round": "Scoring round",
    "score": "Score",
    "score_import": "Score import",
    "seed_question": "Seed question",
    "seed_answer": "Seed answer",
    "evidence": "Evidence",
    "optimiser_run": "Optimiser run",
    "analysis": "Analysis",
    "history_check": "Check of the history",
    "contract": "Contract",
    "treasury_approval": "Treasury approval",
    "spend": "Spend",
    "trajectory": "Trajectory",
    "dissent": "Dissent",
    "challenge": "Challenge",
    "review_comment": "Review comment",
    "council_member": "Council member",
    "user": "User",
    "role": "Role",
    "session": "Session",
    "api_token": "API token",
    # aggregation
    "equal": "Equal weights",
    "brier": "Brier-score weights",
    "classical": "Cooke's classical model",
    # flags on a council aggregate (estimates.FlagCode)
    "large_disagreement": "Large disagreement",
    "single_sector": "Single sector",
    "few_scorers": "Few scorers",
    # confidence
    "low": "Low",
    "medium": "Medium",
    "high": "High",
    "most_likely": "Most likely",
    # scores
    "draft": "Draft",
    "submitted": "Submitted",
    # the quarter's tasks (portfolio.services.guide; "completed" is above)
    "not_started": "Not yet started",
    "in_progress": "In progress",
    "cannot_start": "Cannot start yet",
    # awards above the Delegated Authority Limit (policy dal_mode)
    "flag": "Flagged for Treasury",
    "cap": "Not allowed without Treasury approval",
    # envelopes of the standard mission (a mission's own names come first: envelope_name)
    "sbc": "Single business case",
    "ukri": "UKRI envelope",
}


def name_of(value: Any) -> str:
    """The words for a stored code (an enum member or its value): objectives, metrics, policy
    rules, platforms and states, in that order; anything else exactly as stored."""
    code = str(value.value if isinstance(value, Enum) else value)
    for table in (VALUE_NAMES, OBJECTIVE_NAMES, PLATFORM_NAMES, POLICY_RULE_NAMES, METRIC_NAMES):
        if code in table:
            return table[code]
    return code


def objective_name(code: str) -> str:
    return OBJECTIVE_NAMES.get(code, code)


def platform_name(code: str) -> str:
    return PLATFORM_NAMES.get(code, code)


def envelope_name(code: str, envelopes: Iterable[Any] | Mapping[str, Any] = ()) -> str:
    """An envelope's name: the mission's own (its envelopes, or a problem file's), else ours."""
    items = envelopes.values() if isinstance(envelopes, Mapping) else envelopes
    for e in items:
        eid = e.get("id") if isinstance(e, Mapping) else getattr(e, "id", None)
        if eid == code:
            name = e.get("name") if isinstance(e, Mapping) else getattr(e, "name", None)
            if name:
                return str(name)
    return VALUE_NAMES.get(code, code)


def rule_value(rule: str, value: Any, names: Mapping[str, str] | None = None) -> str:
    """A policy rule's value as a person reads it: percentages, yes/no, candidate names for
    locks and exclusions (with their reasons), nothing as JSON."""
    names = names or {}
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if rule == "objective":
        return objective_name(str(value))
    if rule in PERCENT_RULES and isinstance(value, int | float):
        return f"{value * 100:g} %"
    if isinstance(value, list):
        if not value:
            return "none"
        parts = []
        for item in value:
            if isinstance(item, Mapping):
                who = names.get(str(item.get("candidate")), str(item.get("candidate", "")))
                option = item.get("option")
                text = f"{who} ({option})" if option else who
                if item.get("reason"):
                    text += f": {item['reason']}"
                parts.append(text)
            else:
                parts.append(names.get(str(item), str(item)))
        return "; ".join(parts)
    if isinstance(value, Mapping):  # e.g. the last approved allocation: candidate -> option
        return "; ".join(
            f"{names[str(k)]} ({rule_value(str(k), v, names)})"
            if str(k) in names
            else f"{name_of(k)} {rule_value(str(k), v, names)}"
            for k, v in value.items()
        )
    if isinstance(value, float):
        return f"{value:g}"
    return name_of(value)


def problem_names(problem: Mapping[str, Any]) -> dict[str, str]:
    """Names for the references a problem file (and so a run's policy) holds: a candidate's id,
    and ``candidate/option`` as "Name (option name)"."""
    names: dict[str, str] = {}
    for c in problem.get("candidates", []):
        name = c.get("name") or c["id"]
        names[c["id"]] = name
        for o in c.get("options", []):
            names[f"{c['id']}/{o['id']}"] = f"{name} ({o.get('name') or o['id']})"
    return names


def policy_rows(
    policy: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """A run's policy as (rule, value) rows in the form's words, in a stable order."""
    order = list(POLICY_RULE_NAMES)
    keys = sorted(policy, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [(POLICY_RULE_NAMES.get(k, k), rule_value(k, policy[k], names)) for k in keys]


__all__ = [
    "METRIC_NAMES",
    "OBJECTIVE_NAMES",
    "PLATFORM_NAMES",
    "POLICY_RULE_NAMES",
    "VALUE_NAMES",
    "envelope_name",
    "name_of",
    "objective_name",
    "platform_name",
    "policy_rows",
    "problem_names",
    "rule_value",
]
