"""Metrics of any portfolio: P(target), expected impact, CVaR of shortfall, spend and flags.

Out of sample by default: on fresh scenarios from the problem's `evaluation` block, never only on
the scenarios the optimiser saw (which flatter its choice).
"""

from __future__ import annotations

import numpy as np

from optimiser.data import FloatArray, ProblemData, problem_data
from optimiser.feasibility import FlowChecker
from optimiser.money import overrun
from optimiser.objectives import TOL, cvar_of
from optimiser.problem import Problem
from optimiser.result import Flag, FundingRow, Metrics, Spend
from optimiser.scenarios import Scenarios, evaluation_scenarios


def evaluate_portfolio(
    problem: Problem, selected: dict[str, str], *, scenarios: Scenarios | None = None
) -> Metrics:
    """Metrics of `selected` ({candidate: option}) on `scenarios` (default: out of sample)."""
    data = problem_data(problem)
    scen = evaluation_scenarios(data) if scenarios is None else scenarios
    return metrics_of(data, scen, data.selection_vector(selected))


def metrics_of(data: ProblemData, scenarios: Scenarios, x: FloatArray) -> Metrics:
    """Metrics of the 0/1 selection x on the given scenarios."""
    policy = data.problem.policy
    target = data.target
    chosen = np.flatnonzero(x > 0.5)
    success, impacts, costs = scenarios.columns(chosen)
    impact = impacts.sum(axis=1)
    shortfall = np.maximum(0.0, target - impact)
    expected_cost = None if costs is None else float(costs.sum(axis=1).mean())
    over, excess = overrun(scenarios.spend_total(chosen), data.money, policy.carry_forward)
    return Metrics(
        p_target=float((impact >= target - TOL).mean()),
        expected_impact=float(impact.mean()),
        cvar_shortfall=float(cvar_of(shortfall, policy.cvar_alpha)),
        capped_impact=float(np.minimum(target, impact).mean()),
        p_any_success=float(success.any(axis=1).mean()),
        expected_cost=expected_cost,
        scenarios=scenarios.count,
        p_overrun=float(over.mean()),
        expected_overspend=float(excess.mean()),
    )


def funding_rows(
    data: ProblemData, x: FloatArray, flow: FlowChecker | None = None
) -> list[FundingRow] | None:
    """Money per candidate/option/envelope/year for selection x (None if it cannot be funded)."""
    flows = (flow or FlowChecker(data)).option_flows(x)
    if flows is None:
        return None
    problem = data.problem
    rows = []
    for (k, e, y), amount in sorted(flows.items()):
        cand_id, opt_id = data.keys[k].split("/")
        rows.append(
            FundingRow(
                candidate=cand_id,
                option=opt_id,
                envelope=problem.envelopes[e].id,
                year=problem.years[y],
                amount=round(amount, 9),
            )
        )
    return rows


def spend_of(data: ProblemData, x: FloatArray, funding: list[FundingRow]) -> Spend:
    """Planned spend in total and by envelope, year, platform, tier and organisation type."""
    problem = data.problem
    spend = Spend(total=round(float(data.total_cost @ x), 9))
    spend.by_envelope = {e.id: 0.0 for e in problem.envelopes}
    spend.by_year = dict.fromkeys(problem.years, 0.0)
    for row in funding:
        spend.by_envelope[row.envelope] += row.amount
        spend.by_year[row.year] += row.amount
    for k in np.flatnonzero(x > 0.5):
        cand = problem.candidates[int(data.candidate_of[k])]
        amount = float(data.total_cost[k])
        for table, key in (
            (spend.by_platform, cand.platform),
            (spend.by_tier, cand.tier),
            (spend.by_organisation_type, cand.organisation_type),
        ):
            table[key] = table.get(key, 0.0) + amount
    for table in (
        spend.by_envelope,
        spend.by_year,
        spend.by_platform,
        spend.by_tier,
        spend.by_organisation_type,
    ):
        for key in table:
            table[key] = round(table[key], 9)
    return spend


def flags_of(data: ProblemData, x: FloatArray) -> list[Flag]:
    """Awards above the DAL (`above_dal`) and novel/contentious/repercussive ones (`ncr`)."""
    dal = data.problem.policy.dal
    flags = []
    for k in np.flatnonzero(x > 0.5):
        cand = data.problem.candidates[int(data.candidate_of[k])]
        amount = round(float(data.total_cost[k]), 9)
        if dal is not None and amount > dal + 1e-9:
            flags.append(Flag(candidate=cand.id, kind="above_dal", amount=amount))
        if cand.ncr:
            flags.append(Flag(candidate=cand.id, kind="ncr", amount=amount))
    return flags
