"""A straightforward PuLP + HiGHS build of the same model, kept as the benchmark's yardstick.

Written the way one would first write it: `LpVariable.dicts`, `lpSum` over generators for every
row including the scenario rows, a binary per scenario for P(target) and for the P(any success)
floor, no row merging, PuLP's own HiGHS interface. Same scenarios, same rules, same objectives.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pulp

from optimiser.data import ProblemData
from optimiser.model import dal_breaches, previous_costs
from optimiser.objectives import expected_values
from optimiser.scenarios import Scenarios


def build_reference(data: ProblemData, scen: Scenarios, objective: str) -> tuple[Any, Any]:
    """The model as a PuLP problem and its x variables."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    prob = pulp.LpProblem("reference", pulp.LpMaximize)
    x = pulp.LpVariable.dicts("x", range(data.n_options), cat="Binary")
    _budget_rows(prob, data, x)
    _rule_rows(prob, data, x)
    penalty = _switching_penalty(prob, data, x)
    floor = data.problem.policy.min_p_any_success
    if floor:
        _any_success_rows(prob, data, scen, x, floor)
    prob += _objective(prob, data, scen, x, objective) - penalty
    return prob, x


def _budget_rows(prob: Any, data: ProblemData, x: Any) -> None:
    """At most one option per candidate; each option's cost in each year paid by flows from its
    eligible envelopes; each envelope within its budget (carried forward when allowed) and at
    least its minimum spend."""
    p = data.problem
    K, Y, E = data.n_options, len(p.years), len(p.envelopes)
    f = pulp.LpVariable.dicts(
        "f",
        [(k, e, y) for k in range(K) for e in range(E) for y in range(Y) if data.eligible[k, e]],
        lowBound=0,
    )
    for i in range(data.n_candidates):
        prob += pulp.lpSum(x[k] for k in data.options_of(i)) <= 1
    for k in range(K):
        for y in range(Y):
            prob += (
                pulp.lpSum(f[(k, e, y)] for e in range(E) if data.eligible[k, e])
                == data.cost[k, y] * x[k]
            )
    for e in range(E):
        for y in range(Y):
            span = range(y + 1) if p.policy.carry_forward else [y]
            prob += pulp.lpSum(
                f[(k, e, t)] for k in range(K) for t in span if data.eligible[k, e]
            ) <= float(data.budget[e, list(span)].sum())
        if p.envelopes[e].min_spend:
            prob += (
                pulp.lpSum(f[(k, e, t)] for k in range(K) for t in range(Y) if data.eligible[k, e])
                >= p.envelopes[e].min_spend
            )


def _rule_rows(prob: Any, data: ProblemData, x: Any) -> None:
    """The DAL cap, the platform, moonshot, rising-star and organisation shares, the minimum
    number of platforms, locks, commitments and exclusions."""
    pol = data.problem.policy
    K, c = data.n_options, data.total_cost
    if pol.dal_mode == "cap":
        for k in np.flatnonzero(dal_breaches(data)):
            prob += x[int(k)] == 0
    total = pulp.lpSum(c[k] * x[k] for k in range(K))
    if pol.max_platform_share < 1:
        for g in range(len(data.platforms)):
            prob += (
                pulp.lpSum(c[k] * x[k] for k in range(K) if data.platform_of[k] == g)
                <= pol.max_platform_share * total
            )
    if pol.min_platforms > 0:
        u = pulp.LpVariable.dicts("u", range(len(data.platforms)), cat="Binary")
        for g in range(len(data.platforms)):
            prob += u[g] <= pulp.lpSum(x[k] for k in range(K) if data.platform_of[k] == g)
        prob += pulp.lpSum(u.values()) >= pol.min_platforms
    if pol.min_moonshot_share > 0:
        prob += (
            pulp.lpSum(c[k] * x[k] for k in range(K) if data.moonshot[k])
            >= pol.min_moonshot_share * total
        )
    if pol.min_rising_star_share > 0:
        prob += (
            pulp.lpSum(c[k] * x[k] for k in range(K) if data.rising_star[k])
            >= pol.min_rising_star_share * total
        )
    if pol.max_organisation_share < 1:
        for g in range(len(data.organisations)):
            prob += (
                pulp.lpSum(c[k] * x[k] for k in range(K) if data.organisation_of[k] == g)
                <= pol.max_organisation_share * total
            )
    for ref in [*pol.locks, *pol.commitments]:
        prob += pulp.lpSum(x[k] for k in data.refs_to_options(ref)) >= 1
    for ref in pol.exclusions:
        prob += pulp.lpSum(x[k] for k in data.refs_to_options(ref)) == 0


def _switching_penalty(prob: Any, data: ProblemData, x: Any) -> Any:
    """The switching charge: the rate times each previously funded candidate's cut below its
    previous cost (0 without a switching cost)."""
    pol = data.problem.policy
    if pol.switching_cost <= 0:
        return 0
    c = data.total_cost
    prev = previous_costs(data)
    d = pulp.LpVariable.dicts("d", list(prev), lowBound=0)
    for i, amount in prev.items():
        prob += d[i] >= amount - pulp.lpSum(c[k] * x[k] for k in data.options_of(i))
    return pol.switching_cost * pulp.lpSum(d.values())


def _any_success_rows(prob: Any, data: ProblemData, scen: Scenarios, x: Any, floor: float) -> None:
    """P(any success) at least `floor`: a binary per scenario, on only if a funded option
    succeeds."""
    K, S = data.n_options, scen.count
    w = pulp.LpVariable.dicts("w", range(S), cat="Binary")
    for s in range(S):
        prob += w[s] <= pulp.lpSum(x[k] for k in range(K) if scen.success[s, k])
    prob += pulp.lpSum(w.values()) >= floor * S


def _objective(prob: Any, data: ProblemData, scen: Scenarios, x: Any, objective: str) -> Any:
    """The objective before the switching charge: expected impact, mean capped impact, P(target)
    (a binary per scenario) or mean impact less λ × CVaR of the shortfall."""
    pol = data.problem.policy
    K, S, a, T = data.n_options, scen.count, scen.impact, data.target
    if objective == "expected":
        v = expected_values(data, scen)
        return pulp.lpSum(v[k] * x[k] for k in range(K))
    if objective == "capped":
        y_s = pulp.LpVariable.dicts("y", range(S), lowBound=0, upBound=T)
        for s in range(S):
            prob += y_s[s] <= pulp.lpSum(a[s, k] * x[k] for k in range(K))
        return pulp.lpSum(y_s.values()) * (1.0 / S)
    if objective == "p_target":
        z = pulp.LpVariable.dicts("z", range(S), cat="Binary")
        for s in range(S):
            prob += pulp.lpSum(a[s, k] * x[k] for k in range(K)) >= T * z[s]
        return pulp.lpSum(z.values()) * (1.0 / S)
    eta = pulp.LpVariable("eta")
    sh = pulp.LpVariable.dicts("u_s", range(S), lowBound=0)
    for s in range(S):
        prob += sh[s] >= T - pulp.lpSum(a[s, k] * x[k] for k in range(K)) - eta
    mean = pulp.lpSum(float(a[:, k].mean()) * x[k] for k in range(K))
    return mean - pol.cvar_lambda * (
        eta + pulp.lpSum(sh.values()) * (1.0 / ((1 - pol.cvar_alpha) * S))
    )


def solve_reference(prob: Any, x: Any, *, time_limit: float, gap: float) -> dict[str, Any]:
    """Solve with PuLP's HiGHS; return status, objective and selected option indices."""
    solver = pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=gap)
    status = prob.solve(solver)
    chosen = [k for k, v in x.items() if v.varValue is not None and v.varValue > 0.5]
    h = prob.solverModel
    info = h.getInfo()
    optimal = h.getModelStatus() == h.getModelStatus().__class__.kOptimal
    del status
    label = "optimal" if optimal else h.modelStatusToString(h.getModelStatus()).lower()
    return {
        "status": label,
        "optimal": bool(optimal),
        "objective": pulp.value(prob.objective),
        "x": chosen,
        "gap": float(info.mip_gap) if info.mip_gap < 1e30 else None,
    }
