"""The hedges: caps on one platform's or organisation's share of spend, floors on the moonshot
and rising-star shares, and a minimum number of platforms.

A share is of the planned total cost of the selection, t = Σ_k c[k]·x[k] (`Model.total_spend`, one
variable so that share rows stay sparse). A cap of 1 or a floor of 0 switches the family off.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import pulp

from optimiser.data import BoolArray, FloatArray, IntArray
from optimiser.families.base import Family, Partial, Relaxation, Selection, pct, relax_policy
from optimiser.lpmodel import ConstraintInfo, Model, linear
from optimiser.problem import Problem


class _ShareFamily(Family):
    """What the share families have in common: the policy field they read, how the price of
    policy names them and where it lists them, and the diagnosis's words."""

    field: ClassVar[str]  # the policy field
    title: ClassVar[str]  # e.g. "Platform share", for the price of policy
    relaxed: ClassVar[float]  # the value that switches the rule off
    rank: ClassVar[int]  # the price-of-policy row

    @property
    def share(self) -> float:
        value: float = getattr(self.data.problem.policy, self.field)
        return value

    @classmethod
    def _relaxations(cls, problem: Problem, sign: str) -> list[Relaxation]:
        share = getattr(problem.policy, cls.field)
        label = f"{cls.title} {sign} {pct(share)}"
        update: dict[str, Any] = {cls.field: cls.relaxed}
        return [relax_policy(problem, cls.field, label, pct(cls.relaxed), (cls.rank,), **update)]

    @classmethod
    def explain(cls, info: ConstraintInfo, amount: float, scenario_count: int) -> str:
        return (
            f"{info.label} cannot be met: it is off by £{amount:.4g}m of spend under the other "
            "rules"
        )


class _MaxShare(_ShareFamily, ABC):
    """Σ_{k in group g} c[k]·x[k] ≤ share · t for every group g (platform or organisation).

    Check: each group's spend is at most share · t (of all the planned money there is, for a
    portfolio still being built). Bound: with `more` the most the total can still grow by, a
    partial selection whose group already spends above share · (t + more) cannot recover.
    """

    relaxed = 1.0

    @abstractmethod
    def groups(self) -> tuple[IntArray, list[str]]:
        """The group of each option and the groups' names (each share family says which)."""

    @property
    def active(self) -> bool:
        return self.share < 1

    def add_rows(self, m: Model) -> None:
        group_of, names = self.groups()
        share = self.share
        for g, name in enumerate(names):
            m.add(
                m.share_gap(group_of == g, share),
                "<=",
                0,
                family=self.name,
                key=(name,),
                label=f"{name} at most {share:.0%} of total spend",
            )

    def violated(self, sel: Selection) -> bool:
        group_of, names = self.groups()
        by_group = np.bincount(group_of, weights=sel.spend, minlength=len(names))
        return bool((by_group > self.share * sel.share_base + sel.slack).any())

    def bound_columns(self) -> FloatArray:
        group_of, names = self.groups()
        cost = self.data.total_cost
        columns: FloatArray = cost[:, None] * (group_of[:, None] == np.arange(len(names))[None, :])
        return columns

    def bound_holds(self, part: Partial) -> BoolArray:
        most = self.share * (part.total + part.more) + part.slack
        ok = np.asarray((part.spend <= most[:, None]).all(axis=1), dtype=bool)
        return ok

    @classmethod
    def relaxations(cls, problem: Problem) -> list[Relaxation]:
        if getattr(problem.policy, cls.field) >= 1:
            return []
        return cls._relaxations(problem, "≤")


class PlatformShare(_MaxShare):
    """`max_platform_share`: no platform takes more than this share of spend (priced → 100 %)."""

    name = "platform_share"
    field = "max_platform_share"
    title = "Platform share"
    rank = 0

    def groups(self) -> tuple[IntArray, list[str]]:
        return self.data.platform_of, self.data.platforms


class OrganisationShare(_MaxShare):
    """`max_organisation_share`: no organisation (a candidate without one is its own) takes more
    than this share of spend (priced → 100 %)."""

    name = "organisation_share"
    field = "max_organisation_share"
    title = "Organisation share"
    rank = 4

    def groups(self) -> tuple[IntArray, list[str]]:
        return self.data.organisation_of, self.data.organisations


class _MinShare(_ShareFamily, ABC):
    """Σ_{k in the group} c[k]·x[k] ≥ share · t.

    Check: the group's spend is at least share · t. Bound: each £ the undecided candidates add
    to the group raises its spend by 1 and the floor by share, so a partial selection is kept
    while its group spend plus (1 − share) · (the most the group can still grow by) reaches
    share · t.
    """

    relaxed = 0.0
    minimum = True
    plural: ClassVar[str]  # what the label calls the group

    @abstractmethod
    def members(self) -> BoolArray:
        """Which options are in the group the floor is on (each share family says which)."""

    @property
    def active(self) -> bool:
        return self.share > 0

    def add_rows(self, m: Model) -> None:
        share = self.share
        m.add(
            m.share_gap(self.members(), share),
            ">=",
            0,
            family=self.name,
            key=(share,),
            label=f"at least {share:.0%} of spend on {self.plural}",
        )

    def violated(self, sel: Selection) -> bool:
        return bool(sel.spend[self.members()].sum() < self.share * sel.total - sel.slack)

    def bound_columns(self) -> FloatArray:
        column: FloatArray = (self.data.total_cost * self.members())[:, None]
        return column

    def bound_holds(self, part: Partial) -> BoolArray:
        share = self.share
        grow = (1.0 - share) * np.minimum(part.left, part.rest[0])
        ok: BoolArray = part.spend[:, 0] + grow >= share * part.total - part.slack
        return ok

    @classmethod
    def relaxations(cls, problem: Problem) -> list[Relaxation]:
        if getattr(problem.policy, cls.field) <= 0:
            return []
        return cls._relaxations(problem, "≥")


class MoonshotShare(_MinShare):
    """`min_moonshot_share`: at least this share of spend on moonshot-tier candidates (→ 0 %)."""

    name = "moonshot_share"
    field = "min_moonshot_share"
    title = "Moonshot share"
    plural = "moonshots"
    rank = 2

    def members(self) -> BoolArray:
        return self.data.moonshot


class RisingStarShare(_MinShare):
    """`min_rising_star_share`: at least this share of spend on rising-star organisations
    (→ 0 %)."""

    name = "rising_star_share"
    field = "min_rising_star_share"
    title = "Rising-star share"
    plural = "rising stars"
    rank = 3

    def members(self) -> BoolArray:
        return self.data.rising_star


class MinPlatforms(Family):
    """At least N distinct platforms funded: u[p] ≤ Σ_{k in p} x[k], Σ_p u[p] ≥ N, u in [0,1].

    u may be continuous: Σ x is an integer, so u[p] ≤ min(1, Σ x) is 0 or 1 at best. Check: the
    platforms of the funded options number at least N. No branch-and-bound test: complete
    selections are confirmed by the check. Priced → 0.
    """

    name = "min_platforms"
    minimum = True

    @property
    def need(self) -> int:
        return self.data.problem.policy.min_platforms

    @property
    def active(self) -> bool:
        return self.need > 0

    def add_rows(self, m: Model) -> None:
        d, need = self.data, self.need
        u = m.prob.add_variable_dicts("u", range(len(d.platforms)), lowBound=0, upBound=1)
        for p, name in enumerate(d.platforms):
            ks = np.flatnonzero(d.platform_of == p)
            expr = pulp.LpAffineExpression([(u[p], 1.0), *[(m.x[k], -1.0) for k in ks.tolist()]])
            m.add(
                expr,
                "<=",
                0,
                family="platform_link",
                key=(name,),
                label=f"{name} counts only when funded",
            )
        m.add(
            linear([u[p] for p in u], np.ones(len(u))),
            ">=",
            need,
            family=self.name,
            key=(need,),
            label=f"at least {need} platforms funded",
            unit="platforms",
        )

    def violated(self, sel: Selection) -> bool:
        return len(np.unique(self.data.platform_of[sel.x > 0.5])) < self.need

    @classmethod
    def relaxations(cls, problem: Problem) -> list[Relaxation]:
        need = problem.policy.min_platforms
        if need <= 0:
            return []
        label = f"At least {need} platforms"
        return [relax_policy(problem, "min_platforms", label, "0", (1,), min_platforms=0)]

    @classmethod
    def explain(cls, info: ConstraintInfo, amount: float, scenario_count: int) -> str:
        return (
            f"{info.label} cannot be met: at most {info.rhs - amount:.4g} platforms can be "
            "funded under the other rules"
        )
