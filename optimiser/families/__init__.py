"""Every constraint family of the problem, one object each (`optimiser.families.base.Family`).

`FAMILIES` is the registry: the MILP builder (`optimiser.model.build_model`) adds their rows in
this order, the rule checker (`optimiser.feasibility.SelectionChecker`) runs their checks, the
branch and bound (`optimiser.branch`) takes their bounds, the diagnosis relaxes the `policy`
ones and explains them, and the price of policy (`optimiser.analytics.policy_price`) loosens each
in turn. A new family is one class here and one entry in the tuple.
"""

from __future__ import annotations

from optimiser.families.awards import Commitment, Dal, Exclusion, Lock, OneOption, dal_breaches
from optimiser.families.base import Family, Partial, Relaxation, Selection
from optimiser.families.chance import MaxOverrunProbability, MinPAnySuccess, OverrunRule
from optimiser.families.funding import Budget, Eligibility, Flows, MinSpend
from optimiser.families.shares import (
    MinPlatforms,
    MoonshotShare,
    OrganisationShare,
    PlatformShare,
    RisingStarShare,
)
from optimiser.families.switching import SwitchingCost, previous_costs

FAMILIES: tuple[type[Family], ...] = (
    OneOption,
    Flows,
    Eligibility,
    Budget,
    MinSpend,
    Dal,
    PlatformShare,
    MinPlatforms,
    MoonshotShare,
    RisingStarShare,
    OrganisationShare,
    Lock,
    Exclusion,
    Commitment,
    SwitchingCost,
    MinPAnySuccess,
    MaxOverrunProbability,
)

#: Families a user can change, so diagnosis may relax them; the others are the model's structure.
POLICY_FAMILIES: tuple[str, ...] = tuple(f.name for f in FAMILIES if f.policy)

FAMILY_BY_NAME: dict[str, type[Family]] = {f.name: f for f in FAMILIES}

__all__ = [
    "FAMILIES",
    "FAMILY_BY_NAME",
    "POLICY_FAMILIES",
    "Budget",
    "Commitment",
    "Dal",
    "Eligibility",
    "Exclusion",
    "Family",
    "Flows",
    "Lock",
    "MaxOverrunProbability",
    "MinPAnySuccess",
    "MinPlatforms",
    "MinSpend",
    "MoonshotShare",
    "OneOption",
    "OrganisationShare",
    "OverrunRule",
    "Partial",
    "PlatformShare",
    "Relaxation",
    "RisingStarShare",
    "Selection",
    "SwitchingCost",
    "dal_breaches",
    "previous_costs",
]
