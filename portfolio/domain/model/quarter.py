"""A quarter of the mission: its state and approved allocation, how that allocation changed each
candidate's funding, the CEO's quarterly letter and the planned trajectory of P(target)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from portfolio.domain.model.common import (
    Money,
    QuarterLabel,
    Share,
    Slug,
    Strict,
    Text,
    Username,
)
from portfolio.domain.rag import Rag


class QuarterState(StrEnum):
    """open → approved (an allocation is approved; it may be re-approved) → closed (frozen)."""

    open = "open"
    approved = "approved"
    closed = "closed"


class ChangeKind(StrEnum):
    start = "start"
    continue_ = "continue"
    scale_up = "scale up"
    scale_down = "scale down"
    stop = "stop"


class ScoringState(StrEnum):
    not_opened = "not_opened"
    open = "open"
    closed = "closed"


class Quarter(Strict):
    label: QuarterLabel
    state: QuarterState = QuarterState.open
    scoring: ScoringState = Field(
        ScoringState.not_opened, description="the council's scoring round of the quarter"
    )
    approved_run: int | None = Field(None, description="the run approved as the allocation")
    approved_by: Username | None = None
    approved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    rag: Rag | None = Field(None, description="computed from out-of-sample P(target)")
    rag_override: Rag | None = None
    rag_reason: Text = ""
    pack_hash: str | None = None
    pack_previous_hash: str | None = None
    pack_seal: str | None = Field(
        None, description="keyed seal of the pack, chained to the previous quarter's seal"
    )

    @property
    def rag_shown(self) -> Rag | None:
        """The published rating: the CEO's override, else the computed one. A stored override
        always differs from the computed rating (``portfolio.domain.rag.apply_override``)."""
        return self.rag_override or self.rag


class AllocationChange(Strict):
    """How the approved allocation of a quarter changed a candidate's funding, and why."""

    quarter: QuarterLabel
    candidate: Slug
    kind: ChangeKind
    option_before: Slug | None = None
    option_after: Slug | None = None
    amount_before: Money = 0.0
    amount_after: Money = 0.0
    reason: Text = ""
    contracted: bool = Field(False, description="the award is contracted: it must stay funded")


class QuarterlyUpdate(Strict):
    """The CEO's letter for a quarter: drafted by the product, edited, then published."""

    quarter: QuarterLabel
    body: Annotated[str, StringConstraints(max_length=40_000)]
    published: bool = False
    published_at: dt.datetime | None = None
    published_by: Username | None = None


class TrajectoryPoint(Strict):
    """The P(target) the CEO plans to have reached by a quarter."""

    quarter: QuarterLabel
    planned_p_target: Share
