"""The mission and what it funds: envelopes of money, candidates and their funding options, and
the cross-checks between a candidate and its mission."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Self

from pydantic import Field, model_validator

from optimiser.pert import MAX_QUANTITY, ThreePoint
from portfolio.domain.model.common import (
    TRL,
    Amount,
    FinancialYear,
    FiniteFloat,
    Name,
    Probability,
    Share,
    Slug,
    Strict,
    Text,
    Username,
)
from portfolio.domain.rag import AMBER_THRESHOLD, GREEN_THRESHOLD


class Tier(StrEnum):
    conventional = "conventional"
    moonshot = "moonshot"


class OrganisationType(StrEnum):
    incumbent = "incumbent"
    rising_star = "rising_star"


class AggregationMethod(StrEnum):
    equal = "equal"
    brier = "brier"
    classical = "classical"


AGGREGATION_LABELS = {
    AggregationMethod.equal: "Equal weights (linear pool)",
    AggregationMethod.brier: "Performance weights from Brier scores of resolved forecasts",
    AggregationMethod.classical: "Cooke's classical model (weights from seed questions)",
}


class Envelope(Strict):
    """A source of money with a budget per financial year."""

    id: Slug
    name: Name
    budget: dict[FinancialYear, Amount] = Field(default_factory=dict)
    min_spend: Amount | None = None

    @property
    def total(self) -> float:
        return sum(self.budget.values())


class Mission(Strict):
    slug: Slug
    name: Name
    description: Text = ""
    target: FiniteFloat = Field(
        gt=0, le=MAX_QUANTITY, description="impact the portfolio must reach"
    )
    unit: Name = "MtCO2e/yr"
    deadline: dt.date
    years: list[FinancialYear] = Field(min_length=1)
    envelopes: list[Envelope] = Field(min_length=1)
    dal: Amount = Field(50.0, description="Delegated Authority Limit, £ million")
    dal_mode: str = Field("flag", pattern="^(flag|cap)$")
    aggregation: AggregationMethod = Field(
        AggregationMethod.equal, description="how the council's scores are pooled"
    )
    kill_threshold: Share = Field(
        0.1, description="a candidate whose posterior p falls below this is proposed for stopping"
    )
    rag_green: Share = Field(
        GREEN_THRESHOLD, description="P(target) at or above which the rating is green"
    )
    rag_amber: Share = Field(
        AMBER_THRESHOLD, description="P(target) at or above which the rating is amber"
    )
    policy: dict[str, Any] | None = Field(
        None, description="the CEO's optimiser policy for this mission (the form's last settings)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.years)) != len(self.years):
            raise ValueError("years: each financial year may appear once")
        if self.rag_amber >= self.rag_green:
            raise ValueError("rag_amber: must be below the green threshold")
        if self.years != sorted(self.years):
            raise ValueError("years: must be in order")
        ids = [e.id for e in self.envelopes]
        if len(set(ids)) != len(ids):
            raise ValueError("envelopes: ids must be unique")
        for env in self.envelopes:
            extra = set(env.budget) - set(self.years)
            if extra:
                raise ValueError(
                    f"envelopes: budget of {env.id} names {sorted(extra)[0]}, "
                    "which is not one of the mission's years"
                )
        return self


class FundingOption(Strict):
    """A fundable tranche of a candidate with its planned cost profile, p and impact."""

    id: Slug
    name: Name
    cost_profile: dict[FinancialYear, Amount] = Field(
        min_length=1, description="planned spend per financial year, £ million"
    )
    cost_range: ThreePoint | None = Field(
        None, description="three-point total cost (£ million) used to sample overruns"
    )
    p_success: Probability
    impact: ThreePoint

    @property
    def total_cost(self) -> float:
        return sum(self.cost_profile.values())


MAX_OPTIONS = 5
"""Most funding options a candidate has (it has at least one)."""


class Candidate(Strict):
    id: Slug
    name: Name
    description: Text = ""
    organisation: Name
    organisation_type: OrganisationType
    platform: Slug
    tier: Tier
    trl: TRL
    eligible_envelopes: list[Slug] = Field(min_length=1)
    ncr: bool = Field(False, description="novel, contentious or repercussive spending")
    treasury_approved: bool = False
    commercially_sensitive: bool = False
    registered_by: Username | None = None
    options: list[FundingOption] = Field(min_length=1, max_length=MAX_OPTIONS)

    @model_validator(mode="after")
    def _unique_options(self) -> Self:
        ids = [o.id for o in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError("options: option ids must be unique within a candidate")
        if len(set(self.eligible_envelopes)) != len(self.eligible_envelopes):
            raise ValueError("eligible_envelopes: each envelope may appear once")
        return self


def check_candidate_fits_mission(candidate: Candidate, mission: Mission) -> list[tuple[str, str]]:
    """Cross-checks between a candidate and its mission, as (field, rule) pairs."""
    errors: list[tuple[str, str]] = []
    envelope_ids = {e.id for e in mission.envelopes}
    for env in candidate.eligible_envelopes:
        if env not in envelope_ids:
            errors.append(("eligible_envelopes", f"{env} is not an envelope of this mission"))
    for i, option in enumerate(candidate.options):
        for year in option.cost_profile:
            if year not in mission.years:
                errors.append(
                    (f"options.{i}.cost_profile", f"{year} is not one of the mission's years")
                )
    return errors
