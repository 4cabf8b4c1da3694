"""The switching cost: money dropped from last quarter's approved portfolio, charged once.

For each `previous` entry i → o, with P[i] the planned total cost of that option
(`previous_costs`) and F[i] = Σ_o c[i,o]·x[i,o] the planned cost funded now for candidate i,

    money dropped from i = max(0, P[i] − F[i]),    charge = γ · Σ_i max(0, P[i] − F[i]),

γ = `policy.switching_cost`. Every objective is net of the charge. It is separable by candidate
(`SwitchingCost.charge`), which is what the branch and bound's per-choice charges and the local
search's move gains use; `SwitchingCost.values` is the same sum over rows of selections at once.
"""

from __future__ import annotations

import numpy as np

from optimiser.data import FloatArray, IntArray, ProblemData
from optimiser.families.base import Family
from optimiser.lpmodel import Model, linear
from optimiser.scenarios import Scenarios


def previous_costs(data: ProblemData) -> dict[int, float]:
    """Candidate index -> planned total cost of last quarter's approved option."""
    out = {}
    ids = [c.id for c in data.problem.candidates]
    for cand_id, opt_id in data.problem.policy.previous.items():
        out[ids.index(cand_id)] = float(data.total_cost[data.index_of(f"{cand_id}/{opt_id}")])
    return out


class SwitchingCost(Family):
    """The switching charge (module docstring) as an objective term: not a rule a selection can
    break, and not priced.

    MILP: d[i] ≥ P[i] − Σ_o c[i,o]·x[i,o], d ≥ 0, and the objective is charged γ·Σ_i d[i]
    (`Model.penalty`): d[i] sits at max(0, P[i] − F[i]) at an optimum.
    """

    name = "switching"
    policy = False

    def __init__(self, data: ProblemData, scenarios: Scenarios | None = None):
        super().__init__(data, scenarios)
        self.gamma = float(data.problem.policy.switching_cost)
        self.previous = np.zeros(data.n_candidates)  # P[i], 0 without a previous option
        for i, amount in previous_costs(data).items():
            self.previous[i] = amount
        # options are listed candidate by candidate: F[i] sums the run starting at starts[i]
        self.starts = np.searchsorted(data.candidate_of, np.arange(data.n_candidates))

    @property
    def active(self) -> bool:
        return self.gamma > 0 and bool(self.data.problem.policy.previous)

    def funded(self, xs: FloatArray) -> FloatArray:
        """F: the planned cost funded for each candidate (the last axis of xs, options, becomes
        candidates)."""
        if self.data.n_options == 0:
            return np.zeros((*xs.shape[:-1], 0))
        return np.add.reduceat(xs * self.data.total_cost, self.starts, axis=-1)

    def charge(
        self, funded: FloatArray | float, candidates: IntArray | int | None = None
    ) -> FloatArray:
        """γ · max(0, P[i] − F[i]) elementwise, for `candidates` (all when None) funded `funded`;
        0 when the charge is off."""
        previous = self.previous if candidates is None else self.previous[candidates]
        if not self.active:
            return np.zeros(np.broadcast(previous, np.asarray(funded)).shape)
        return np.asarray(self.gamma * np.maximum(0.0, previous - funded), dtype=float)

    def values(self, xs: FloatArray) -> FloatArray:
        """The charge of each row of xs (selections x options)."""
        if not self.active:
            return np.zeros(xs.shape[0])
        return np.asarray(self.charge(self.funded(xs)).sum(axis=-1), dtype=float)

    def value(self, x: FloatArray) -> float:
        """The charge of one selection x."""
        return float(self.values(np.asarray(x, dtype=float)[None, :])[0])

    def add_rows(self, m: Model) -> None:
        prev = previous_costs(self.data)
        dvars = m.prob.add_variable_dicts("d", sorted(prev), lowBound=0)
        for i, amount in sorted(prev.items()):
            ks = self.data.options_of(i)
            expr = linear([dvars[i]], [1.0]) + linear(m.xs[ks], self.data.total_cost[ks])
            m.add(
                expr,
                ">=",
                amount,
                family=self.name,
                key=(i,),
                label=f"money dropped from {self.data.problem.candidates[i].id}",
            )
        m.penalty = linear([dvars[i] for i in sorted(prev)], np.full(len(prev), self.gamma))
