"""Check a given selection x against every rule without the MILP: each family's own check
(`optimiser.families`, `Family.violated`), run over the registry by `SelectionChecker`.

Used by the p_target heuristic, the greedy baseline and the funding split of a chosen portfolio.
The only part that is not closed form is the split of money between envelopes and years, which is
a small LP over eligibility groups g (options with the same eligible envelopes):
    Σ_e f[g,e,y] = d[g,y] = Σ_{k in g} cost[k,y]·x[k];  budgets (cumulative with carry_forward);
    minimum spend per envelope. Options of a group share its flows pro rata to their cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import highspy
import numpy as np

from optimiser.data import FloatArray, ProblemData
from optimiser.errors import SolverError
from optimiser.families import FAMILIES, Budget, Family, MaxOverrunProbability, MinSpend, Selection
from optimiser.highs import INFEASIBLE, highs_version, run_checked
from optimiser.scenarios import Scenarios

TOL = 1e-7


class FlowChecker:
    """The envelope/year split LP of a selection, re-solved with new demands each call: the
    check of the `budget` rows and, unless `min_spend` is False, the `min_spend` rows
    (`budgets=False` leaves the budget rows out, to check the minimum spends alone)."""

    def __init__(self, data: ProblemData, *, budgets: bool = True, min_spend: bool = True):
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
            for y in range(n_years if budgets else 0):
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
            if min_spend and env.min_spend:
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
        self.has_min_spend = bool(self.min_spend_rows)
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
    """Every rule of the problem, checked for one 0/1 selection vector: the check of each family
    of `FAMILIES` (or of `families`) the problem switches on.

    `forbidden` (K) and `must` (groups of options) gather the families' options never allowed and
    groups needing one funded: the branch and bound and the searches build only selections that
    respect them.
    """

    def __init__(
        self,
        data: ProblemData,
        scenarios: Scenarios | None = None,
        families: Iterable[type[Family]] = FAMILIES,
    ):
        self.data = data
        self.scenarios = scenarios
        kinds = tuple(families)
        self.flow = FlowChecker(data, budgets=Budget in kinds, min_spend=MinSpend in kinds)
        rules = [family(data, scenarios) for family in kinds]
        self.rules = [rule for rule in rules if rule.active]
        self.checks = sorted(self.rules, key=lambda rule: rule.check_cost)
        self.forbidden = np.zeros(data.n_options, dtype=bool)
        self.must: list[list[int]] = []
        for rule in self.rules:
            self.forbidden |= rule.forbidden()
            self.must.extend(rule.must_fund())
        overrun = [r for r in self.rules if isinstance(r, MaxOverrunProbability)]
        self.overrun = overrun[0].rule if overrun else None

    def _selection(self, x: FloatArray, with_minimums: bool, partial: bool) -> Selection:
        return Selection(self.data, x, flow=self.flow, partial=partial, minimums=with_minimums)

    def violations(
        self, x: FloatArray, *, with_minimums: bool = True, partial: bool = False
    ) -> list[str]:
        """Families x breaks (empty when feasible), in `FAMILIES` order; `with_minimums=False`
        skips the floors (`Family.minimum`).

        `partial=True` judges a portfolio still being built (the greedy ranking): share caps
        are measured against the whole budget available rather than the spend so far (any
        first award would otherwise be 100 % of the spend), and minimum spends are not asked.
        """
        sel = self._selection(x, with_minimums, partial)
        return [
            rule.name
            for rule in self.rules
            if (with_minimums or not rule.minimum) and rule.violated(sel)
        ]

    def is_feasible(self, x: FloatArray) -> bool:
        """No family broken (checked cheapest first, stopping at the first broken one)."""
        sel = self._selection(x, True, False)
        return not any(rule.violated(sel) for rule in self.checks)

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


def as_vector(values: Any, size: int) -> FloatArray:
    """A float 0/1 vector from any sequence."""
    return np.asarray(values, dtype=float).reshape(size)
