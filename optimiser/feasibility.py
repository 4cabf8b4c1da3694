"""Check a given selection x against every rule without the MILP.

Used by the p_target heuristic, the greedy baseline and the funding split of a chosen portfolio.
The only part that is not closed form is the split of money between envelopes and years, which is
a small LP over eligibility groups g (options with the same eligible envelopes):
    Σ_e f[g,e,y] = d[g,y] = Σ_{k in g} cost[k,y]·x[k];  budgets (cumulative with carry_forward);
    minimum spend per envelope. Options of a group share its flows pro rata to their cost.
"""

from __future__ import annotations

from typing import Any

import highspy
import numpy as np

from optimiser.data import BoolArray, FloatArray, ProblemData
from optimiser.errors import SolverError
from optimiser.highs import INFEASIBLE, highs_version, run_checked
from optimiser.model import dal_breaches
from optimiser.money import max_overruns, overrun
from optimiser.scenarios import Scenarios

TOL = 1e-7


class FlowChecker:
    """The envelope/year split LP of a selection, re-solved with new demands each call."""

    def __init__(self, data: ProblemData):
        self.data = data
        groups, self.group_of = np.unique(data.eligible, axis=0, return_inverse=True)
        self.group_of = self.group_of.reshape(-1)
        self.groups = groups
        n_env, n_years = data.budget.shape
        self.index: dict[tuple[int, int, int], int] = {}
        for g, row in enumerate(groups):
            for e in np.flatnonzero(row).tolist():
                for y in range(n_years):
                    self.index[(g, e, y)] = len(self.index)
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
        # no `threads` here: HiGHS >= 1.16 refuses a thread count that differs from the one its
        # process-wide scheduler started with (run() then returns kError); its default
        # dual simplex is serial anyway
        n = len(self.index)
        if n:
            h.addVars(n, np.zeros(n), np.full(n, highspy.kHighsInf))
        self.demand_rows: dict[tuple[int, int], int] = {}
        row_count = 0
        for g in range(len(groups)):
            for y in range(n_years):
                cols = [self.index[(g, e, y)] for e in np.flatnonzero(groups[g]).tolist()]
                if cols:
                    h.addRow(
                        0.0, 0.0, len(cols), np.array(cols, dtype=np.int32), np.ones(len(cols))
                    )
                    self.demand_rows[(g, y)] = row_count
                    row_count += 1
        self.min_spend_rows: list[tuple[int, float]] = []
        carry = data.problem.policy.carry_forward
        for e in range(n_env):
            for y in range(n_years):
                span = range(y + 1) if carry else [y]
                cols = [c for (g, e2, y2), c in self.index.items() if e2 == e and y2 in span]
                if cols:
                    h.addRow(
                        -highspy.kHighsInf,
                        float(data.caps[e, y]),
                        len(cols),
                        np.array(cols, dtype=np.int32),
                        np.ones(len(cols)),
                    )
                    row_count += 1
            env = data.problem.envelopes[e]
            if env.min_spend:
                cols = [c for (g, e2, y2), c in self.index.items() if e2 == e]
                self.min_spend_rows.append((row_count, float(env.min_spend)))
                h.addRow(
                    float(env.min_spend),
                    highspy.kHighsInf,
                    len(cols),
                    np.array(cols, dtype=np.int32),
                    np.ones(len(cols)),
                )
                row_count += 1
        self.highs = h
        self.has_min_spend = any(env.min_spend for env in data.problem.envelopes)
        self._cache: dict[bytes, FloatArray | None] = {}

    def demands(self, x: FloatArray) -> FloatArray:
        """d[g, y] of a selection."""
        d = np.zeros((len(self.groups), self.data.cost.shape[1]))
        np.add.at(d, self.group_of, self.data.cost * x[:, None])
        return d

    def flows(self, x: FloatArray, *, with_min_spend: bool = True) -> FloatArray | None:
        """f[g, e, y] meeting every budget (and minimum spend unless ``with_min_spend`` is
        False: a portfolio still being built need not reach it yet), or None."""
        if not with_min_spend and self.min_spend_rows:
            for row, _ in self.min_spend_rows:
                self.highs.changeRowBounds(row, -highspy.kHighsInf, highspy.kHighsInf)
            try:
                saved, self.has_min_spend = self.has_min_spend, False
                return self._flows(x, b"partial")
            finally:
                self.has_min_spend = saved
                for row, minimum in self.min_spend_rows:
                    self.highs.changeRowBounds(row, minimum, highspy.kHighsInf)
        return self._flows(x, b"")

    def _flows(self, x: FloatArray, tag: bytes) -> FloatArray | None:
        d = self.demands(x)
        key = tag + np.round(d, 9).tobytes()
        if key in self._cache:
            return self._cache[key]
        n_env, n_years = self.data.budget.shape
        result: FloatArray | None = np.zeros((len(self.groups), n_env, n_years))
        ineligible = any(
            d[g, y] > TOL and (g, y) not in self.demand_rows
            for g in range(len(self.groups))
            for y in range(n_years)
        )
        if ineligible:
            result = None
        elif self.index:
            h = self.highs
            for (g, y), row in self.demand_rows.items():
                h.changeRowBounds(row, float(d[g, y]), float(d[g, y]))
            status = run_checked(h, "the split of money between envelopes and years")
            if status in INFEASIBLE:
                result = None
            elif status != highspy.HighsModelStatus.kOptimal:
                raise SolverError(
                    f"HiGHS {highs_version()} stopped the split of money between envelopes and "
                    f"years without an answer: model status {h.modelStatusToString(status)}",
                    solver="HiGHS",
                    status=str(getattr(status, "name", status)),
                )
            else:
                values = np.asarray(h.getSolution().col_value)
                assert result is not None
                for (g, e, y), c in self.index.items():
                    result[g, e, y] = max(0.0, float(values[c]))
        elif self.has_min_spend:
            result = None
        self._cache[key] = result
        return result

    def option_flows(self, x: FloatArray) -> dict[tuple[int, int, int], float] | None:
        """f[k, e, y] per funded option: its group's flows shared pro rata to planned cost."""
        fg = self.flows(x)
        if fg is None:
            return None
        d = self.demands(x)
        out: dict[tuple[int, int, int], float] = {}
        for k in np.flatnonzero(x > 0.5):
            g = int(self.group_of[k])
            for g2, e, y in self.index:
                if g2 == g and d[g, y] > TOL and self.data.cost[k, y] > 0:
                    amount = float(fg[g, e, y] * self.data.cost[k, y] / d[g, y])
                    if amount > TOL:
                        out[(int(k), e, y)] = amount
        return out


class SelectionChecker:
    """Every rule of the problem, checked for one 0/1 selection vector."""

    def __init__(self, data: ProblemData, scenarios: Scenarios | None = None):
        self.data = data
        self.scenarios = scenarios
        self.flow = FlowChecker(data)
        policy = data.problem.policy
        self.must = [data.refs_to_options(r) for r in [*policy.locks, *policy.commitments]]
        self.forbidden = np.zeros(data.n_options, dtype=bool)
        for ref in policy.exclusions:
            self.forbidden[data.refs_to_options(ref)] = True
        if policy.dal_mode == "cap":
            self.forbidden |= dal_breaches(data)
        ineligible = (data.cost > 0).any(axis=1) & ~data.eligible.any(axis=1)
        self.forbidden |= ineligible
        self.overrun = OverrunRule.of(data, scenarios)

    def violations(
        self, x: FloatArray, *, with_minimums: bool = True, partial: bool = False
    ) -> list[str]:
        """Families x breaks (empty when feasible); `with_minimums=False` skips minimum rules.

        `partial=True` judges a portfolio still being built (the greedy ranking): share caps
        are measured against the whole budget available rather than the spend so far (any
        first award would otherwise be 100 % of the spend), and minimum spends are not asked.
        """
        d = self.data
        policy = d.problem.policy
        bad: list[str] = []
        if np.bincount(d.candidate_of, weights=x, minlength=d.n_candidates).max(initial=0) > 1.5:
            bad.append("one_option")
        if (x[self.forbidden] > 0.5).any():
            bad.append("exclusion/dal/eligibility")
        spend = d.total_cost * x
        total = float(spend.sum())
        slack = TOL * (1.0 + total)
        share_base = d.planned_total if partial else total
        if policy.max_platform_share < 1:
            by_platform = np.bincount(d.platform_of, weights=spend, minlength=len(d.platforms))
            if (by_platform > policy.max_platform_share * share_base + slack).any():
                bad.append("platform_share")
        if policy.max_organisation_share < 1:
            by_org = np.bincount(d.organisation_of, weights=spend, minlength=len(d.organisations))
            if (by_org > policy.max_organisation_share * share_base + slack).any():
                bad.append("organisation_share")
        if self.overrun is not None and self.overrun.breaks(x):
            bad.append("max_overrun_probability")
        if with_minimums:
            bad.extend(self._minimum_violations(x, spend, total, slack))
        if self.flow.flows(x, with_min_spend=not partial) is None:
            bad.append("budget/min_spend")
        return bad

    def _minimum_violations(
        self, x: FloatArray, spend: FloatArray, total: float, slack: float
    ) -> list[str]:
        d = self.data
        policy = d.problem.policy
        bad = []
        if policy.min_platforms > 0:
            funded = np.unique(d.platform_of[x > 0.5])
            if len(funded) < policy.min_platforms:
                bad.append("min_platforms")
        if spend[d.moonshot].sum() < policy.min_moonshot_share * total - slack:
            bad.append("moonshot_share")
        if spend[d.rising_star].sum() < policy.min_rising_star_share * total - slack:
            bad.append("rising_star_share")
        if any(x[ks].sum() < 0.5 for ks in self.must):
            bad.append("lock/commitment")
        q = policy.min_p_any_success
        if q is not None and q > 0 and self.scenarios is not None:
            hit = self.scenarios.success[:, x > 0.5].any(axis=1)
            if hit.sum() < q * self.scenarios.count - 1e-9:
                bad.append("min_p_any_success")
        return bad

    def is_feasible(self, x: FloatArray) -> bool:
        return not self.violations(x)

    def repaired(self, x: FloatArray) -> FloatArray | None:
        """A feasible selection near x that breaks only the overrun limit, or None: options are
        dropped (never locked or committed ones) until the limit holds (`OverrunRule.repair`)."""
        if self.overrun is None or set(self.violations(x)) != {"max_overrun_probability"}:
            return None
        keep = np.zeros(self.data.n_options, dtype=bool)
        for ks in self.must:
            keep[ks] = True
        y = self.overrun.repair(x, keep)
        return y if self.is_feasible(y) else None


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

    @classmethod
    def of(cls, data: ProblemData, scenarios: Scenarios | None) -> OverrunRule | None:
        probability = data.problem.policy.max_overrun_probability
        if probability is None or scenarios is None:
            return None
        return cls(data, scenarios, probability)

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


def as_vector(values: Any, size: int) -> FloatArray:
    """A float 0/1 vector from any sequence."""
    return np.asarray(values, dtype=float).reshape(size)
