"""Where the money comes from: funding flows, eligibility, budgets and minimum spends.

Options with the same eligible envelopes form a group g; f[g,e,y] ≥ 0 is the money group g draws
from envelope e in year y. The checks of the budget and minimum-spend families are one small LP
over the same flows (`optimiser.feasibility.FlowChecker`), solved once per selection.
"""

from __future__ import annotations

import itertools
from functools import cached_property

import numpy as np
import pulp

from optimiser.data import BoolArray, FloatArray
from optimiser.families.base import TOL, Family, Forbids, Partial, Relaxation, Selection
from optimiser.lpmodel import ConstraintInfo, Model, linear
from optimiser.problem import Candidate, Problem


class Flows(Family):
    """Σ_e f[g,e,y] = Σ_{k in g} cost[k,y]·x[k], with f only on eligible envelopes.

    Flows per group are exactly as expressive as flows per option f[k,e,y] (a group's flow is
    shared pro rata to the options' costs, which is how `funding` rows are reported) and make
    the model far smaller. Structure, not policy: the split exists for any selection until the
    budgets and minimum spends restrict it.
    """

    name = "flows"
    policy = False

    def add_rows(self, m: Model) -> None:
        d = self.data
        years = d.problem.years
        groups, group_of = np.unique(d.eligible, axis=0, return_inverse=True)
        group_of = group_of.reshape(-1)
        m.aux["group_of"] = group_of
        idx = [
            (g, e, y)
            for g in range(len(groups))
            for y in range(len(years))
            for e in np.flatnonzero(groups[g]).tolist()
            if (d.cost[group_of == g, y] > 0).any()
        ]
        fvars = m.prob.add_variable_dicts("f", idx, lowBound=0)
        m.f = {(int(g), int(e), int(y)): fvars[(g, e, y)] for (g, e, y) in idx}
        for g in range(len(groups)):
            envelopes = np.flatnonzero(groups[g]).tolist()
            members = np.flatnonzero(group_of == g)
            for y in range(len(years)):
                ks = members[d.cost[members, y] > 0]
                if len(ks) == 0 or not envelopes:
                    continue  # no envelope at all: `Eligibility` forbids the options
                flows = [(m.f[(g, e, y)], 1.0) for e in envelopes]
                expr = pulp.LpAffineExpression(
                    [*flows, *[(m.x[k], -float(d.cost[k, y])) for k in ks.tolist()]]
                )
                names = sorted({d.problem.envelopes[e].id for e in envelopes})
                m.add(
                    expr,
                    "==",
                    0,
                    family="flows",
                    key=(g, y),
                    label=f"funding of options eligible for {', '.join(names)} in {years[y]}",
                )


class Eligibility(Forbids):
    """An option with planned spend but no eligible envelope cannot be funded:
    cost[k,y]·x[k] ≤ 0 for every year y it spends in. Priced by widening an envelope's
    eligibility to every candidate (its ring-fence), envelope by envelope."""

    name = "eligibility"

    def forbidden(self) -> BoolArray:
        d = self.data
        return np.asarray((d.cost > 0).any(axis=1) & ~d.eligible.any(axis=1), dtype=bool)

    @property
    def active(self) -> bool:
        return bool(self.mask.any())

    def add_rows(self, m: Model) -> None:
        d = self.data
        years = d.problem.years
        for y in range(len(years)):
            for k in np.flatnonzero(self.mask & (d.cost[:, y] > 0)).tolist():
                m.add(
                    linear([m.x[k]], [d.cost[k, y]]),
                    "<=",
                    0,
                    family=self.name,
                    key=(k, y),
                    label=f"{d.keys[k]} has no eligible envelope for its "
                    f"{years[y]} spend of {d.cost[k, y]:g}",
                )

    @classmethod
    def relaxations(cls, problem: Problem) -> list[Relaxation]:
        out = []
        for j, env in enumerate(problem.envelopes):
            if any(env.id not in c.eligible_envelopes for c in problem.candidates):
                widened = [_eligible(c, env.id) for c in problem.candidates]
                relaxed = problem.model_copy(update={"candidates": widened})
                label = f"Eligibility for {env.name or env.id}"
                out.append(
                    Relaxation(
                        cls.name, env.id, label, "every candidate eligible", relaxed, (6, j, 1)
                    )
                )
        return out


def _eligible(cand: Candidate, envelope: str) -> Candidate:
    if envelope in cand.eligible_envelopes:
        return cand
    return cand.model_copy(update={"eligible_envelopes": [*cand.eligible_envelopes, envelope]})


class Budget(Family):
    """Spend of envelope e in year y ≤ its cap; with carry_forward, cumulatively:

        Σ_{g, y' ≤ y} f[g,e,y'] ≤ cap[e,y]  (`money.budget_caps`: bring_forward, over-programming).

    Check: the split LP of the selection without the minimum spends has a solution. Bound: for
    every set U of envelopes (every subset of up to six envelopes, else all of them together),
    the spend of the options only envelopes in U may fund is at most U's caps, year by year (a
    flow cut, necessary for the split to exist). Not priced: a budget is not a choice.
    """

    name = "budget"
    check_cost = 2

    def add_rows(self, m: Model) -> None:
        d = self.data
        carry = d.problem.policy.carry_forward
        for e, env in enumerate(d.problem.envelopes):
            slacks: list[pulp.LpVariable] = []
            for y, year in enumerate(d.problem.years):
                span = range(y + 1) if carry else [y]
                slacks = [*slacks, pulp.LpVariable(f"slack_budget__{e}__{y}", lowBound=0)]
                expr = m.envelope_spend(e, span)
                if not expr:
                    continue
                m.add(
                    expr,
                    "<=",
                    float(d.caps[e, y]),
                    family=self.name,
                    key=(env.id, year),
                    label=f"{env.name or env.id} budget in {year} ({d.budget[e, y]:g})",
                    limit=float(d.budget[e, y]),
                    slack_terms=slacks if carry else slacks[-1:],
                )

    def violated(self, sel: Selection) -> bool:
        return not sel.funded(min_spend=False)

    @cached_property
    def cuts(self) -> tuple[FloatArray, FloatArray]:
        """Each option's spend per (set of envelopes, year) column (K x columns), and the caps of
        the columns, with the rows' tolerance."""
        d = self.data
        by_year = np.cumsum(d.cost, axis=1) if d.problem.policy.carry_forward else d.cost
        n_env = d.budget.shape[0]
        if n_env <= 6:
            sets = [np.array(u) for u in itertools.product([False, True], repeat=n_env) if any(u)]
        else:
            sets = [np.ones(n_env, dtype=bool)]
        spend, cap = [], []
        for u in sets:
            only_u = ~(d.eligible & ~u[None, :]).any(axis=1)
            spend.append(by_year * only_u[:, None])
            cap.append(d.caps[u].sum(axis=0))
        caps = np.concatenate(cap)
        return np.concatenate(spend, axis=1), caps + TOL * (1.0 + caps)

    def bound_columns(self) -> FloatArray:
        return self.cuts[0]

    def bound_holds(self, part: Partial) -> BoolArray:
        return np.asarray((part.spend <= self.cuts[1]).all(axis=1), dtype=bool)

    @classmethod
    def explain(cls, info: ConstraintInfo, amount: float, scenario_count: int) -> str:
        return (
            f"{info.label} is {amount:.4g} short: raising it to {info.rhs + amount:.4g} would "
            "make the problem feasible"
        )


class MinSpend(Family):
    """Optional minimum spend per envelope over the run: Σ_{g,y} f[g,e,y] ≥ min_spend[e].

    Check: the split LP with the minimum spends has a solution (when the budgets alone have one:
    otherwise the budget family reports it); not asked of a portfolio still being built. Bound:
    only options eligible for e can take e's money, so the spend of those so far plus what the
    undecided candidates could still add must reach the minimum. Priced envelope by envelope
    (→ none).
    """

    name = "min_spend"
    minimum = True
    check_cost = 2

    @property
    def active(self) -> bool:
        return any(env.min_spend for env in self.data.problem.envelopes)

    def _envelopes(self) -> list[tuple[int, float]]:
        envelopes = self.data.problem.envelopes
        return [(e, float(env.min_spend)) for e, env in enumerate(envelopes) if env.min_spend]

    def add_rows(self, m: Model) -> None:
        years = range(len(self.data.problem.years))
        for e, env in enumerate(self.data.problem.envelopes):
            if env.min_spend:
                m.add(
                    m.envelope_spend(e, years),
                    ">=",
                    env.min_spend,
                    family=self.name,
                    key=(env.id,),
                    label=f"{env.name or env.id} minimum spend {env.min_spend:g}",
                )

    def violated(self, sel: Selection) -> bool:
        if sel.partial:
            return False
        return sel.funded(min_spend=False) and not sel.funded(min_spend=True)

    def bound_columns(self) -> FloatArray:
        d = self.data
        columns = [d.total_cost * d.eligible[:, e] for e, _ in self._envelopes()]
        return np.stack(columns, axis=1)

    def bound_holds(self, part: Partial) -> BoolArray:
        minimum = np.array([amount for _, amount in self._envelopes()])
        grow = np.minimum(part.left[:, None], part.rest[None, :])
        ok = (part.spend + grow >= minimum - 1e-6 * (1.0 + minimum)).all(axis=1)
        return np.asarray(ok, dtype=bool)

    @classmethod
    def relaxations(cls, problem: Problem) -> list[Relaxation]:
        out = []
        for j, env in enumerate(problem.envelopes):
            if env.min_spend:
                envelopes = list(problem.envelopes)
                envelopes[j] = env.model_copy(update={"min_spend": None})
                relaxed = problem.model_copy(update={"envelopes": envelopes})
                label = f"{env.name or env.id} minimum spend £{env.min_spend:g}m"
                out.append(Relaxation(cls.name, env.id, label, "none", relaxed, (6, j, 0)))
        return out

    @classmethod
    def explain(cls, info: ConstraintInfo, amount: float, scenario_count: int) -> str:
        return (
            f"{info.label} cannot be met: eligible candidates can spend at most "
            f"{info.rhs - amount:.4g} under the other rules (lower it by {amount:.4g})"
        )
