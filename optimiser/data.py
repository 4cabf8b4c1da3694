"""The problem flattened into numpy arrays, indexed by option k, envelope e and year y.

Short maths names echo DESIGN.md section 5: k runs over all (candidate, option) pairs in document
order, `cost[k, y]` is the planned spend, `eligible[k, e]` whether option k may draw on envelope e.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optimiser.money import available, budget_caps
from optimiser.problem import Problem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ProblemData:
    """Arrays derived once from a `Problem`; read-only by convention."""

    problem: Problem
    keys: list[str]  # "candidate/option" per k
    candidate_of: IntArray  # k -> candidate index i
    option_id: list[str]
    cost: FloatArray  # K x Y planned spend
    total_cost: FloatArray  # K
    p: FloatArray  # K
    impact_mean: FloatArray  # K, PERT mean of impact if successful
    eligible: BoolArray  # K x E
    budget: FloatArray  # E x Y, the real (remaining) budgets
    caps: FloatArray  # E x Y, the right-hand side of each budget row on planned money
    money: FloatArray  # Y, the real money available to each year (the overrun test)
    platforms: list[str]
    platform_of: IntArray  # K -> platform index
    organisations: list[str]
    organisation_of: IntArray  # K -> organisation index
    moonshot: BoolArray  # K
    rising_star: BoolArray  # K

    @property
    def planned_total(self) -> float:
        """All the planned money the budget rows allow over the run (over-programming included)."""
        caps = self.caps
        return float(caps[:, -1].sum() if self.problem.policy.carry_forward else caps.sum())

    @property
    def total_caps(self) -> FloatArray:
        """Y: the caps of all envelopes together (cumulative with carry_forward)."""
        policy = self.problem.policy
        caps: FloatArray = budget_caps(
            self.budget.sum(axis=0, keepdims=True),
            carry=policy.carry_forward,
            bring_forward=policy.bring_forward,
            scale=1 + policy.over_programming,
        )[0]
        return caps

    @property
    def n_options(self) -> int:
        return len(self.keys)

    @property
    def n_candidates(self) -> int:
        return len(self.problem.candidates)

    @property
    def target(self) -> float:
        return self.problem.mission.target

    def options_of(self, i: int) -> IntArray:
        """Indices k of candidate i's options."""
        return np.flatnonzero(self.candidate_of == i)

    def index_of(self, key: str) -> int:
        return self.keys.index(key)

    def refs_to_options(self, ref: str) -> list[int]:
        """Option indices a `candidate` or `candidate/option` reference names."""
        cand_id, _, opt_id = ref.partition("/")
        return [
            k
            for k, key in enumerate(self.keys)
            if key.split("/")[0] == cand_id and (not opt_id or key.split("/")[1] == opt_id)
        ]

    def selection_vector(self, selected: dict[str, str]) -> FloatArray:
        """x as a 0/1 vector from {candidate: option}."""
        x = np.zeros(self.n_options)
        for cand_id, opt_id in selected.items():
            x[self.index_of(f"{cand_id}/{opt_id}")] = 1.0
        return x

    def selection_dict(self, x: FloatArray) -> dict[str, str]:
        """{candidate: option} from a 0/1 vector, in document order."""
        chosen = {}
        for k in np.flatnonzero(x > 0.5):
            cand_id, opt_id = self.keys[int(k)].split("/")
            chosen[cand_id] = opt_id
        return chosen


def problem_data(problem: Problem) -> ProblemData:
    """Flatten a `Problem` into arrays."""

    years = problem.years
    env_index = {e.id: j for j, e in enumerate(problem.envelopes)}
    keys, cand_of, opt_ids, costs, ps, means, elig = [], [], [], [], [], [], []
    platforms: dict[str, int] = {}
    organisations: dict[str, int] = {}
    plat_of, org_of, moon, rising = [], [], [], []
    for i, cand in enumerate(problem.candidates):
        row = np.zeros(len(problem.envelopes), dtype=bool)
        for ref in cand.eligible_envelopes:
            row[env_index[ref]] = True
        plat = platforms.setdefault(cand.platform, len(platforms))
        org = organisations.setdefault(cand.organisation or cand.id, len(organisations))
        for opt in cand.options:
            keys.append(f"{cand.id}/{opt.id}")
            cand_of.append(i)
            opt_ids.append(opt.id)
            if isinstance(opt.cost, dict):
                costs.append([float(opt.cost.get(y, 0.0)) for y in years])
            else:
                costs.append([float(opt.cost)] + [0.0] * (len(years) - 1))
            ps.append(opt.p_success)
            means.append(opt.impact.pert_mean)
            elig.append(row)
            plat_of.append(plat)
            org_of.append(org)
            moon.append(cand.tier == "moonshot")
            rising.append(cand.organisation_type == "rising_star")
    n_env = len(problem.envelopes)
    cost = np.array(costs, dtype=float).reshape(len(keys), len(years))
    budget = np.array([[float(e.budget.get(y, 0.0)) for y in years] for e in problem.envelopes])
    budget = budget.reshape(n_env, len(years))
    policy = problem.policy
    carry, ahead = policy.carry_forward, policy.bring_forward
    return ProblemData(
        problem=problem,
        keys=keys,
        candidate_of=np.array(cand_of, dtype=np.int64),
        option_id=opt_ids,
        cost=cost,
        total_cost=cost.sum(axis=1),
        p=np.array(ps, dtype=float),
        impact_mean=np.array(means, dtype=float),
        eligible=np.array(elig, dtype=bool).reshape(len(keys), n_env),
        budget=budget,
        caps=budget_caps(
            budget, carry=carry, bring_forward=ahead, scale=1 + policy.over_programming
        ),
        money=available(budget, carry=carry, bring_forward=ahead),
        platforms=list(platforms),
        platform_of=np.array(plat_of, dtype=np.int64),
        organisations=list(organisations),
        organisation_of=np.array(org_of, dtype=np.int64),
        moonshot=np.array(moon, dtype=bool),
        rising_star=np.array(rising, dtype=bool),
    )
