"""Why is a problem infeasible? Relax one rule family at a time (an elastic model) and say so.

For each policy family F the model is rebuilt with a non-negative slack on every constraint of F
only, and Σ slack is minimised. If that is feasible, F alone conflicts with the other rules and the
positive slacks are the smallest relaxation of F that makes the problem feasible. When no single
family suffices, every family is made elastic at once and the positive slacks are reported.

The scenario-counting families (the P(any success) floor and the overrun chance constraint, a
binary per scenario) make every elastic model slow, so the other families are first relaxed on
the model without them: if one of those explains the conflict, that is the answer. Only when
the rules without them can all be met are the scenario families relaxed, each alone.
"""

from __future__ import annotations

from typing import Any

import pulp

from optimiser.data import ProblemData
from optimiser.families import FAMILY_BY_NAME, POLICY_FAMILIES, Family
from optimiser.lpmodel import ConstraintInfo, Model
from optimiser.milp import run_milp
from optimiser.model import build_model
from optimiser.scenarios import Scenarios

SLACK_TOL = 1e-6
SCENARIO_FAMILIES = ("min_p_any_success", "max_overrun_probability")


def diagnose(
    data: ProblemData, scenarios: Scenarios, *, solver: str = "highs", time_limit: float = 10.0
) -> list[dict[str, Any]]:
    """Conflicting rules with the smallest relaxation of each that restores feasibility."""
    present = [
        f
        for f in POLICY_FAMILIES
        if any(i.family == f for i in build_model(data, scenarios).registry.values())
    ]
    found: list[dict[str, Any]] = []
    for family in [f for f in present if f not in SCENARIO_FAMILIES]:
        found.extend(_relax(data, scenarios, {family}, solver, time_limit, lazy=False) or [])
    if found:
        return found
    for family in [f for f in present if f in SCENARIO_FAMILIES]:
        found.extend(_relax(data, scenarios, {family}, solver, time_limit) or [])
    if found:
        return found
    everything = _relax(data, scenarios, set(present), solver, time_limit)
    if everything:
        return everything
    return [
        {
            "rule": "unknown",
            "label": "the rules conflict, but no single relaxation was found within the time limit",
            "relaxation": None,
        }
    ]


def _relax(
    data: ProblemData,
    scenarios: Scenarios,
    families: set[str],
    solver: str,
    time_limit: float,
    *,
    lazy: bool = True,
) -> list[dict[str, Any]] | None:
    """The smallest relaxation of `families`; `lazy=False` leaves the scenario families out."""
    m = build_model(data, scenarios, elastic=families, with_p_any=lazy)
    slacks = [s for group in m.slacks.values() for s in group]
    if not slacks:
        return None
    m.prob.setObjective(pulp.LpAffineExpression([(s, -1.0) for s in slacks]))
    outcome = run_milp(m, solver=solver, time_limit=time_limit)
    if outcome.x is None:
        return None
    return [_describe(m, name, amount, scenarios.count) for name, amount in _positive_slacks(m)]


def _positive_slacks(m: Model) -> list[tuple[str, float]]:
    out = []
    for name, group in m.slacks.items():
        amount = sum(float(s.varValue or 0.0) for s in group)
        if amount > SLACK_TOL:
            out.append((name, amount))
    return out


def _describe(m: Model, name: str, amount: float, scenario_count: int) -> dict[str, Any]:
    info = m.registry[name]
    return {
        "rule": info.family,
        "constraint": name,
        "key": list(info.key),
        "label": describe(info, amount, scenario_count),
        "relaxation": round(amount, 9),
        "unit": info.unit,
        "limit": info.rhs,
    }


def describe(info: ConstraintInfo, amount: float, scenario_count: int) -> str:
    """Human words for relaxing one constraint by `amount`: its family's (`Family.explain`)."""
    family = FAMILY_BY_NAME.get(info.family, Family)
    return family.explain(info, amount, scenario_count)
