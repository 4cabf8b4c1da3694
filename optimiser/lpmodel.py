"""The PuLP model the constraint families write into, and its registry of named constraints.

Notation (echoing DESIGN.md section 5): x[k] ∈ {0,1} funds option k (a candidate/option pair),
f[g,e,y] ≥ 0 is the money the options of eligibility group g draw from envelope e in year y, c[k]
the planned total cost of k. Every constraint is added through `Model.add`, which names it by
position (`budget__3`), refuses duplicates, and records name -> (family, key, human label) so a
diagnosis can speak of "the UKRI budget in 2027-28" rather than of a name PuLP has mangled.
Families listed in `Model.elastic` get a non-negative slack (in the constraint's own unit) so that
diagnosis can measure the relaxation. The rows themselves are written by the families of
`optimiser.families`, each in its own object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pulp

from optimiser.data import ProblemData

Sense = Literal["<=", ">=", "=="]
_SENSES = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}


@dataclass(frozen=True)
class ConstraintInfo:
    """What a named constraint means, for people."""

    family: str
    key: tuple[Any, ...]
    label: str
    sense: Sense
    rhs: float
    unit: str


@dataclass
class Model:
    """A PuLP problem, its variables, and the registry of constraint names."""

    data: ProblemData
    prob: pulp.LpProblem
    x: list[pulp.LpVariable]
    elastic: frozenset[str] = frozenset()
    f: dict[tuple[int, int, int], pulp.LpVariable] = field(default_factory=dict)
    registry: dict[str, ConstraintInfo] = field(default_factory=dict)
    slacks: dict[str, list[pulp.LpVariable]] = field(default_factory=dict)
    penalty: pulp.LpAffineExpression = field(default_factory=pulp.LpAffineExpression)
    aux: dict[str, Any] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, data: ProblemData, elastic: Iterable[str] = ()) -> Model:
        prob = pulp.LpProblem("portfolio", pulp.LpMaximize)
        x = prob.add_variable_dicts("x", range(data.n_options), cat=pulp.LpBinary)
        return cls(
            data=data,
            prob=prob,
            x=[x[k] for k in range(data.n_options)],
            elastic=frozenset(elastic),
        )

    @property
    def xs(self) -> np.ndarray[Any, np.dtype[np.object_]]:
        """x as a numpy object array (cached), for fancy indexing."""
        if "xs" not in self.aux:
            arr = np.empty(len(self.x), dtype=object)
            arr[:] = self.x
            self.aux["xs"] = arr
        cached: np.ndarray[Any, np.dtype[np.object_]] = self.aux["xs"]
        return cached

    def add(
        self,
        lhs: pulp.LpAffineExpression,
        sense: Sense,
        rhs: float,
        *,
        family: str,
        key: tuple[Any, ...],
        label: str,
        unit: str = "£m",
        limit: float | None = None,
        slack_terms: list[pulp.LpVariable] | None = None,
    ) -> str:
        """Add `lhs sense rhs` named `family__n`; with an elastic family, add its slack.

        `limit` is the number a person would change (default `rhs`); `slack_terms` replaces the
        constraint's own slack by shared ones (a year's budget slack counts in later cumulative
        rows too); the first of them is reported against this constraint.
        """
        n = self._counts.get(family, 0)
        self._counts[family] = n + 1
        name = f"{family}__{n}"
        if name in self.registry:
            raise ValueError(f"duplicate constraint name {name}")
        if slack_terms is not None:
            if family in self.elastic:
                lhs = lhs.copy()
                for s in slack_terms:
                    lhs.addterm(s, -1.0)
                self.slacks[name] = slack_terms[-1:]
        elif family in self.elastic:
            expr = lhs.copy()
            if sense in ("<=", "=="):
                s = pulp.LpVariable(f"slack_lo_{family}__{n}", lowBound=0)
                expr.addterm(s, -1.0)
                self.slacks.setdefault(name, []).append(s)
            if sense in (">=", "=="):
                s = pulp.LpVariable(f"slack_hi_{family}__{n}", lowBound=0)
                expr.addterm(s, 1.0)
                self.slacks.setdefault(name, []).append(s)
            lhs = expr
        self.prob.addConstraint(pulp.LpConstraint(lhs, _SENSES[sense], rhs=rhs), name)
        shown = float(rhs if limit is None else limit)
        self.registry[name] = ConstraintInfo(family, key, label, sense, shown, unit)
        return name

    def spend(
        self, mask: np.ndarray[Any, np.dtype[np.bool_]] | None = None, weight: float = 1.0
    ) -> pulp.LpAffineExpression:
        """weight · Σ_{k in mask} c[k]·x[k] (all options when mask is None)."""
        c = self.data.total_cost
        idx = np.arange(len(c)) if mask is None else np.flatnonzero(mask)
        return linear(self.xs[idx], weight * c[idx])

    def total_spend(self) -> pulp.LpVariable:
        """t = Σ_k c[k]x[k] as one variable, so share rows stay sparse (one row defines it)."""
        if "total_spend" not in self.aux:
            t = pulp.LpVariable("total_spend", lowBound=0)
            expr = linear(self.x, -self.data.total_cost)
            expr.addterm(t, 1.0)
            self.add(expr, "==", 0, family="total_spend", key=(), label="total spend of the run")
            self.aux["total_spend"] = t
        variable: pulp.LpVariable = self.aux["total_spend"]
        return variable

    def share_gap(
        self, mask: np.ndarray[Any, np.dtype[np.bool_]], share: float
    ) -> pulp.LpAffineExpression:
        """Σ_{k in mask} c[k]x[k] − share·t, with t the total spend."""
        idx = np.flatnonzero(mask)
        expr = linear(self.xs[idx], self.data.total_cost[idx])
        expr.addterm(self.total_spend(), -share)
        return expr

    def envelope_spend(self, e: int, years: Iterable[int]) -> pulp.LpAffineExpression:
        """Σ_{g, y in years} f[g,e,y]: what envelope e pays in those years."""
        wanted = set(years)
        return pulp.LpAffineExpression(
            [(v, 1.0) for (_, e2, y), v in self.f.items() if e2 == e and y in wanted]
        )


def linear(variables: Any, coefs: Any) -> pulp.LpAffineExpression:
    """Σ coef·var from parallel arrays, skipping zero coefficients (no lpSum over generators)."""
    coefs = np.asarray(coefs, dtype=float)
    keep = np.flatnonzero(coefs != 0)
    return pulp.LpAffineExpression([(variables[j], float(coefs[j])) for j in keep])
