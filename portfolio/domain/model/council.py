"""The Expert Council: its members, their scores and the pooled estimate of a scoring round,
the evidence recorded about candidates, seed questions that let the council measure itself, and
the challenges, comments and dissent it makes."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, NamedTuple, Self

from pydantic import Field, StringConstraints, model_validator

from optimiser.pert import ThreePoint
from portfolio.domain.limits import LimitedText
from portfolio.domain.model.common import (
    TRL,
    Amount,
    Name,
    Probability,
    Quantity,
    QuarterLabel,
    Slug,
    Strict,
    Text,
    Username,
)
from portfolio.domain.model.mission import AggregationMethod


class Sector(StrEnum):
    business = "business"
    academia = "academia"
    public_sector = "public_sector"
    civil_society = "civil_society"


class Confidence(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class ScoreStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"


class EvidenceKind(StrEnum):
    milestone_met = "milestone_met"
    milestone_missed = "milestone_missed"
    trl_change = "trl_change"
    cost_actuals = "cost_actuals"
    stage_gate = "stage_gate"


class CouncilMember(Strict):
    username: Username
    sector: Sector


class Score(Strict):
    """One council member's estimate for one funding option in one quarter."""

    member: Username
    quarter: QuarterLabel
    candidate: Slug
    option: Slug
    status: ScoreStatus = ScoreStatus.draft
    not_competent: bool = False
    p_success: Probability | None = None
    cost: ThreePoint | None = None
    impact: ThreePoint | None = None
    trl: TRL | None = None
    confidence: Confidence | None = None
    rationale: Text = ""

    @model_validator(mode="after")
    def _complete_when_submitted(self) -> Self:
        if self.status is ScoreStatus.submitted and not self.not_competent:
            for field in ("p_success", "cost", "impact", "trl", "confidence"):
                if getattr(self, field) is None:
                    raise ValueError(f"{field}: required to submit a score")
        return self


#: cost actuals larger than this multiple of the planned cost to date are a typing error (the
#: uplift they imply would make every later cost meaningless)
MAX_COST_OVERRUN = 1000.0


class Evidence(Strict):
    """A piece of evidence about a candidate recorded in a quarter."""

    candidate: Slug
    quarter: QuarterLabel
    kind: EvidenceKind
    date: dt.date
    summary: Name
    diagnosticity: float = Field(1.0, gt=0, le=10, allow_inf_nan=False)
    trl: TRL | None = None
    cost_actual: Amount | None = None
    cost_planned: Amount | None = None
    outcome: bool | None = Field(None, description="stage gate: True succeeded, False failed")
    option: Slug | None = Field(
        None, description="the funding option a stage gate concerns (default: the first)"
    )
    recorded_by: Username | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Self:
        if self.kind is EvidenceKind.trl_change and self.trl is None:
            raise ValueError("trl: required for a TRL change")
        if self.kind is EvidenceKind.cost_actuals and (
            self.cost_actual is None or not self.cost_planned
        ):
            raise ValueError("cost_actual: cost actuals need the actual and a planned cost > 0")
        if (
            self.kind is EvidenceKind.cost_actuals
            and self.cost_actual is not None
            and self.cost_planned
            and self.cost_actual > MAX_COST_OVERRUN * self.cost_planned
        ):
            raise ValueError(
                f"cost_actual: more than {MAX_COST_OVERRUN:,.0f} times the planned cost to date; "
                "check both are in £ million"
            )
        if self.kind is EvidenceKind.stage_gate and self.outcome is None:
            raise ValueError("outcome: a stage gate needs its outcome")
        return self


class Dissent(Strict):
    """A council member's dissent from the quarter's RAG rating or allocation; shown publicly."""

    quarter: QuarterLabel
    author: Username
    text: LimitedText
    created_at: dt.datetime


class Challenge(Strict):
    """A council member's red-team challenge on a candidate, with the CEO's reply."""

    candidate: Slug
    quarter: QuarterLabel
    author: Username
    text: LimitedText
    created_at: dt.datetime
    reply: Text = ""
    replied_by: Username | None = None
    replied_at: dt.datetime | None = None


class SeedQuestion(Strict):
    """A quantity whose true value is (or becomes) known: lets the council measure itself."""

    id: Slug
    question: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)
    ]
    unit: Text = ""
    scale: str = Field("uniform", pattern="^(uniform|log)$")
    realization: Quantity | None = Field(
        None, description="the true value, once known; None for a target item"
    )

    @model_validator(mode="after")
    def _positive_on_log_scale(self) -> Self:
        if self.scale == "log" and self.realization is not None and self.realization <= 0:
            raise ValueError("realization: a question on the log scale needs a value above 0")
        return self


class SeedAnswer(Strict):
    """A member's 5 % / 50 % / 95 % quantiles for a seed question."""

    question: Slug
    member: Username
    q5: Quantity
    q50: Quantity
    q95: Quantity

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        if not self.q5 < self.q50 < self.q95:
            raise ValueError("q5 < q50 < q95 must hold")
        return self


class SubmittedP(NamedTuple):
    """A member's submitted p of one option in one quarter (not "not competent"): all that a
    forecasting record reads of a score (``Scores.submitted_p``), without its three-points."""

    member: str
    quarter: str
    candidate: str
    option: str
    p_success: float


class StoredAggregate(Strict):
    """The council's pooled estimate of one option in one quarter, as computed when the round
    closed, with the scores and weights that made it (``data``)."""

    quarter: QuarterLabel
    candidate: Slug
    option: Slug
    method: AggregationMethod
    data: dict[str, Any]


class ReviewComment(Strict):
    """A Treasury reviewer's comment on a quarter's allocation report, with the CEO's reply."""

    quarter: QuarterLabel
    author: Username
    text: LimitedText
    created_at: dt.datetime
    reply: Text = ""
    replied_by: Username | None = None
    replied_at: dt.datetime | None = None
