"""Chance constraints over the optimisation scenarios: the P(any success) floor and the overrun
limit. Each counts scenarios with a variable per scenario (pattern), so the MILP adds them
lazily (`optimiser.milp.solve_model`): the model without them is solved first and kept if its
optimum already meets them.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pulp

from optimiser.data import BoolArray, FloatArray, ProblemData
from optimiser.families.base import Family, Relaxation, Selection, pct, relax_policy
from optimiser.lpmodel import ConstraintInfo, Model, linear
from optimiser.money import TOL as MONEY_TOL
from optimiser.money import max_overruns, measured, overrun
from optimiser.problem import Problem
from optimiser.scenarios import Scenarios


def success_patterns(scenarios: Scenarios) -> tuple[np.ndarray[Any, Any], FloatArray]:
    """Distinct rows of the success matrix and how many scenarios share each."""
    rows, counts = np.unique(scenarios.success, axis=0, return_counts=True)
    return rows, counts.astype(float)


class MinPAnySuccess(Family):
    """In at least a share q of scenarios some funded option succeeds.

    MILP: w[j] ≤ Σ_{k succeeding in pattern j} x[k], Σ_j n[j]·w[j] ≥ q·S, w in [0,1] (exact as
    for min_platforms), over the distinct success patterns j with multiplicity n[j]. Check: count
    the scenarios in which a funded option succeeds. Priced → none.
    """

    name = "min_p_any_success"
    minimum = True
    scenario = True
    check_cost = 1

    @property
    def q(self) -> float | None:
        return self.data.problem.policy.min_p_any_success

    @property
    def active(self) -> bool:
        return self.q is not None and self.q > 0 and self.scenarios is not None

    def add_rows(self, m: Model) -> None:
        q, scenarios = self.q, self.scenarios
        assert q is not None and scenarios is not None
        rows, counts = success_patterns(scenarios)
        live = np.flatnonzero(rows.any(axis=1))
        w = m.prob.add_variable_dicts("w", range(len(live)), lowBound=0, upBound=1)
        for j, r in enumerate(live):
            ks = np.flatnonzero(rows[r])
            expr = pulp.LpAffineExpression([(w[j], 1.0), *[(m.x[k], -1.0) for k in ks.tolist()]])
            m.add(
                expr,
                "<=",
                0,
                family="min_p_link",
                key=(int(r),),
                label="a scenario counts when something works",
            )
        m.add(
            linear([w[j] for j in range(len(live))], counts[live]),
            ">=",
            q * scenarios.count - 1e-9,
            family=self.name,
            key=(q,),
            label=f"P(at least one success) ≥ {q:.0%}",
            unit="scenarios",
        )

    def violated(self, sel: Selection) -> bool:
        q, scenarios = self.q, self.scenarios
        assert q is not None and scenarios is not None
        hit = scenarios.success[:, sel.x > 0.5].any(axis=1)
        return bool(hit.sum() < q * scenarios.count - 1e-9)

    @classmethod
    def relaxations(cls, problem: Problem) -> list[Relaxation]:
        q = problem.policy.min_p_any_success
        if not q:
            return []
        label = f"P(at least one success) ≥ {pct(q)}"
        return [relax_policy(problem, cls.name, label, "none", (5,), min_p_any_success=None)]

    @classmethod
    def explain(cls, info: ConstraintInfo, amount: float, scenario_count: int) -> str:
        share = (info.rhs - amount) / max(scenario_count, 1)
        return (
            f"{info.label} cannot be met: at most {share:.1%} is achievable under the other rules"
        )


class MaxOverrunProbability(Family):
    """At most ⌊ε·S⌋ scenarios may overrun (`optimiser.money`).

    MILP: with z[s] ∈ {0,1} allowing scenario s to overrun, for every year y

        Σ_k R[s,k,y]·x[k] − M[s,y]·z[s] ≤ A[y] + 1e-9,    Σ_s z[s] ≤ ⌊ε·S⌋,

    where R is realised spend measured as the test measures it (cumulative with carry_forward),
    A the real money available, and M[s,y] a bound on how far any selection the budget rows allow
    can exceed A[y] in s (`overrun_big_m`). Rows with M ≤ 0 cannot bind and scenarios that can
    never overrun get no z. The count row is the family's (elastic in the diagnosis). Check:
    count the overrunning scenarios exactly (`OverrunRule`); adding an option never lowers a
    scenario's spend, so a partial portfolio that breaks it cannot be completed. Not priced.
    """

    name = "max_overrun_probability"
    scenario = True
    check_cost = 1

    @property
    def epsilon(self) -> float | None:
        return self.data.problem.policy.max_overrun_probability

    @property
    def active(self) -> bool:
        return self.epsilon is not None and self.scenarios is not None

    @cached_property
    def rule(self) -> OverrunRule:
        assert self.epsilon is not None and self.scenarios is not None
        return OverrunRule(self.data, self.scenarios, self.epsilon)

    def violated(self, sel: Selection) -> bool:
        return self.rule.breaks(sel.x)

    def add_rows(self, m: Model) -> None:
        data, scenarios, epsilon = self.data, self.scenarios, self.epsilon
        assert scenarios is not None and epsilon is not None
        spend = measured(
            scenarios.spend_columns(np.arange(data.n_options)), data.problem.policy.carry_forward
        )
        excess = overrun_big_m(data, spend)
        live = np.flatnonzero((excess > MONEY_TOL).any(axis=1))
        if len(live) == 0:
            return
        z = m.prob.add_variable_dicts("z", range(len(live)), cat=pulp.LpBinary)
        years = data.problem.years
        for j, s in enumerate(live.tolist()):
            for y in np.flatnonzero(excess[s] > MONEY_TOL).tolist():
                expr = linear(m.x, spend[s, :, y])
                expr.addterm(z[j], -float(excess[s, y]))
                m.add(
                    expr,
                    "<=",
                    float(data.money[y]) + MONEY_TOL,
                    family="overrun_link",
                    key=(s, y),
                    label=f"scenario {s + 1} may overrun in {years[y]} only if counted",
                )
        m.add(
            linear([z[j] for j in range(len(live))], np.ones(len(live))),
            "<=",
            max_overruns(epsilon, scenarios.count),
            family=self.name,
            key=(epsilon,),
            label=f"P(overrun) ≤ {epsilon:.1%}",
            unit="scenarios",
        )

    @classmethod
    def explain(cls, info: ConstraintInfo, amount: float, scenario_count: int) -> str:
        least = (info.rhs + amount) / max(scenario_count, 1)
        return (
            f"{info.label} cannot be met together with the other rules: the least achievable "
            f"P(overrun) is {least:.1%} (allow at least that, or lower over-programming)"
        )


class OverrunRule:
    """`max_overrun_probability` on the optimisation scenarios: at most `allowed` of them may
    see the funded options' realised spend exceed the money available (`optimiser.money`).
    Adding an option never lowers a scenario's spend, so a partial portfolio that breaks the rule
    cannot be completed into one that keeps it."""

    def __init__(self, data: ProblemData, scenarios: Scenarios, probability: float):
        self.data = data
        self.carry = data.problem.policy.carry_forward
        self.allowed = max_overruns(probability, scenarios.count)
        self.spend = scenarios.spend_columns(np.arange(data.n_options))  # S x K x Y

    def overrunning(self, x: FloatArray) -> BoolArray:
        """S: the scenarios that overrun with selection x."""
        chosen = np.flatnonzero(x > 0.5)
        spend = self.spend[:, chosen, :].sum(axis=1)
        return overrun(spend, self.data.money, self.carry)[0]

    def overruns(self, x: FloatArray) -> int:
        """How many scenarios overrun with selection x."""
        return int(self.overrunning(x).sum())

    def breaks(self, x: FloatArray) -> bool:
        return self.overruns(x) > self.allowed

    def repair(self, x: FloatArray, keep: BoolArray) -> FloatArray:
        """x with options dropped until few enough scenarios overrun (a heuristic start: never
        the options in `keep`): each time the one whose realised spend in the overrunning
        scenarios is largest against its expected impact."""
        x = x.copy()
        worth = self.data.p * self.data.impact_mean + 1e-9
        while self.breaks(x):
            over = self.overrunning(x)
            droppable = np.flatnonzero((x > 0.5) & ~keep)
            if len(droppable) == 0:
                break
            harm = self.spend[over][:, droppable, :].sum(axis=(0, 2))
            x[droppable[int(np.argmax(harm / worth[droppable]))]] = 0.0
        return x


def overrun_big_m(data: ProblemData, spend: FloatArray) -> FloatArray:
    """S x Y: an upper bound on (measured realised spend − money available) over every
    selection the planned budget rows allow, per scenario and year.

    Relaxation: each candidate becomes one item worth its largest realised spend (measured) in
    the scenario and costing its smallest planned spend (measured the same way), and the items
    fill the planned money of all envelopes together (`ProblemData.total_caps`) as a fractional
    knapsack, greedily by worth per £ planned. Any feasible selection's spend is at most that,
    and far less than funding every candidate at once (the bound when the budgets are loose).
    """
    policy = data.problem.policy
    planned = measured(data.cost, policy.carry_forward)  # K x Y
    starts = np.flatnonzero(np.diff(data.candidate_of, prepend=-1))
    worth = np.maximum.reduceat(spend, starts, axis=1)  # S x n x Y
    price = np.minimum.reduceat(planned, starts, axis=0)  # n x Y
    caps = data.total_caps
    out = np.empty((spend.shape[0], spend.shape[2]))
    for y in range(spend.shape[2]):
        gain, cost = worth[:, :, y], price[:, y]
        free = cost <= MONEY_TOL
        base = gain[:, free].sum(axis=1)
        g, c = gain[:, ~free], cost[~free]
        order = np.argsort(-(g / c[None, :]), axis=1, kind="stable")
        g_sorted = np.take_along_axis(g, order, axis=1)
        c_sorted = c[order]
        used = np.cumsum(c_sorted, axis=1)
        room = float(caps[y]) * (1 + 1e-7) + 1e-6  # the solver's row tolerance, generously
        whole = used <= room  # items wholly in (a prefix, by the greedy order)
        taken = np.where(whole, g_sorted, 0.0).sum(axis=1)
        spent_planned = np.where(whole, c_sorted, 0.0).sum(axis=1)
        nxt = whole.sum(axis=1)  # index of the item taken in part
        has_next = nxt < g.shape[1]
        idx = np.minimum(nxt, max(g.shape[1] - 1, 0))
        if g.shape[1]:
            part_g = np.take_along_axis(g_sorted, idx[:, None], axis=1)[:, 0]
            part_c = np.take_along_axis(c_sorted, idx[:, None], axis=1)[:, 0]
            fraction = np.clip((room - spent_planned) / np.maximum(part_c, 1e-300), 0.0, 1.0)
            taken = taken + np.where(has_next, part_g * fraction, 0.0)
        out[:, y] = base + taken - float(data.money[y])
    return out
