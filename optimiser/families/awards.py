"""Rules on individual awards: one option per candidate, the DAL cap, exclusions, locks and
contracted commitments.

References are `candidate` (any of its options) or `candidate/option` (that one option)."""

from __future__ import annotations

from functools import cached_property
from typing import ClassVar

import numpy as np

from optimiser.data import BoolArray, ProblemData
from optimiser.families.base import Family, Forbids, Relaxation, Selection, relax_policy
from optimiser.lpmodel import ConstraintInfo, Model, linear
from optimiser.problem import Problem


class OneOption(Family):
    """At most one option per candidate: Σ_o x[i,o] ≤ 1. Structure, not policy; the branch and
    bound decides one choice per candidate, so it holds there by construction."""

    name = "one_option"
    policy = False

    def add_rows(self, m: Model) -> None:
        for i, cand in enumerate(self.data.problem.candidates):
            ks = self.data.options_of(i)
            if len(ks) > 1:
                m.add(
                    linear(m.xs[ks], np.ones(len(ks))),
                    "<=",
                    1,
                    family=self.name,
                    key=(i,),
                    label=f"at most one option of {cand.id}",
                    unit="options",
                )

    def violated(self, sel: Selection) -> bool:
        d = self.data
        funded = np.bincount(d.candidate_of, weights=sel.x, minlength=d.n_candidates)
        return bool(funded.max(initial=0) > 1.5)


def dal_breaches(data: ProblemData) -> BoolArray:
    """Options whose planned total cost is above the DAL and whose candidate is not
    Treasury-approved (`flags` lists them as `above_dal` in either DAL mode)."""
    dal = data.problem.policy.dal
    approved = np.array(
        [data.problem.candidates[i].treasury_approved for i in data.candidate_of], dtype=bool
    )
    if dal is None:
        return np.zeros(data.n_options, dtype=bool)
    breaches: BoolArray = (data.total_cost > dal + 1e-9) & ~approved
    return breaches


class Dal(Forbids):
    """With dal_mode 'cap': x[k] = 0 when c[k] > DAL and the candidate is not Treasury-approved
    (`dal_breaches`). In 'flag' mode nothing is constrained; the result lists such awards under
    `flags`. Priced as 'cap' → 'flag' (rule `dal_cap`)."""

    name = "dal"

    @property
    def active(self) -> bool:
        policy = self.data.problem.policy
        return policy.dal_mode == "cap" and policy.dal is not None

    def forbidden(self) -> BoolArray:
        if not self.active:
            return np.zeros(self.data.n_options, dtype=bool)
        return dal_breaches(self.data)

    def add_rows(self, m: Model) -> None:
        d = self.data
        dal = d.problem.policy.dal
        for k in np.flatnonzero(self.mask):
            m.add(
                linear([m.x[k]], [1.0]),
                "<=",
                0,
                family=self.name,
                key=(d.keys[k],),
                label=f"DAL cap {dal:g} on {d.keys[k]} (costs "
                f"{d.total_cost[k]:g}, not Treasury-approved)",
                unit="awards",
            )

    @classmethod
    def relaxations(cls, problem: Problem) -> list[Relaxation]:
        policy = problem.policy
        if policy.dal is None or policy.dal_mode != "cap":
            return []
        label = f"Awards above the DAL (£{policy.dal:g}m) need Treasury approval"
        return [relax_policy(problem, "dal_cap", label, "flag only", (7,), dal_mode="flag")]


class Exclusion(Forbids):
    """Exclusions: Σ x over the named candidate's options (or the one option) = 0. Each priced by
    removing it."""

    name = "exclusion"

    @property
    def active(self) -> bool:
        return bool(self.data.problem.policy.exclusions)

    def forbidden(self) -> BoolArray:
        mask = np.zeros(self.data.n_options, dtype=bool)
        for ref in self.data.problem.policy.exclusions:
            mask[self.data.refs_to_options(ref)] = True
        return mask

    def add_rows(self, m: Model) -> None:
        for ref in self.data.problem.policy.exclusions:
            ks = self.data.refs_to_options(ref)
            m.add(
                linear(m.xs[ks], np.ones(len(ks))),
                "<=",
                0,
                family=self.name,
                key=(ref,),
                label=f"exclusion of {ref}",
                unit="awards",
            )

    @classmethod
    def relaxations(cls, problem: Problem) -> list[Relaxation]:
        refs = problem.policy.exclusions
        return [
            relax_policy(
                problem,
                cls.name,
                f"Exclusion of {ref}",
                "removed",
                (9, n),
                key=ref,
                exclusions=[r for r in refs if r != ref],
            )
            for n, ref in enumerate(refs)
        ]


class _MustFund(Family):
    """Σ x over the options a reference names ≥ 1: `candidate/option` ⇒ that option is funded;
    `candidate` ⇒ one of its options is. Check: some option of each group is funded (a floor:
    not asked of a portfolio still being built). Bound: the branch and bound offers such a
    candidate no unfunded choice (`must_fund`)."""

    minimum = True
    field: ClassVar[str]  # the policy list
    what: ClassVar[str]  # the label's words before the reference

    @property
    def refs(self) -> list[str]:
        refs: list[str] = getattr(self.data.problem.policy, self.field)
        return refs

    @property
    def active(self) -> bool:
        return bool(self.refs)

    def must_fund(self) -> list[list[int]]:
        return [self.data.refs_to_options(ref) for ref in self.refs]

    def add_rows(self, m: Model) -> None:
        for ref in self.refs:
            ks = self.data.refs_to_options(ref)
            m.add(
                linear(m.xs[ks], np.ones(len(ks))),
                ">=",
                1,
                family=self.name,
                key=(ref,),
                label=f"{self.what} {ref}",
                unit="awards",
            )

    @cached_property
    def groups(self) -> list[list[int]]:
        return self.must_fund()

    def violated(self, sel: Selection) -> bool:
        return any(sel.x[ks].sum() < 0.5 for ks in self.groups)

    @classmethod
    def explain(cls, info: ConstraintInfo, amount: float, scenario_count: int) -> str:
        return f"{info.label} cannot be honoured together with the other rules"


class Lock(_MustFund):
    """CEO locks: the candidate (any one option) or candidate/option must be funded. Each priced
    by removing it."""

    name = "lock"
    field = "locks"
    what = "lock on"

    @classmethod
    def relaxations(cls, problem: Problem) -> list[Relaxation]:
        refs = problem.policy.locks
        return [
            relax_policy(
                problem,
                cls.name,
                f"Lock on {ref}",
                "removed",
                (8, n),
                key=ref,
                locks=[r for r in refs if r != ref],
            )
            for n, ref in enumerate(refs)
        ]


class Commitment(_MustFund):
    """Contracted tranches stay funded. Contracts, not choices: never priced. A commitment and a
    lock differ only in the family name the diagnosis reports."""

    name = "commitment"
    field = "commitments"
    what = "contracted commitment"
