"""Views of one quarter of a mission, built once: the web pages render them and the JSON API
returns them. The quarter's evidence page: what was recorded in the quarter, newest first, and
whether more may be recorded in it (only in the current quarter, before it closes)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import NotFound
from portfolio.domain.model import Evidence, Quarter, QuarterState
from portfolio.services import quarters


class QuarterEvidence(BaseModel):
    quarter: Quarter
    evidence: list[Evidence] = Field(description="recorded in the quarter, newest first")
    names: dict[str, str] = Field(description="candidate id -> name")
    is_current: bool = Field(
        description="the quarter is the current one and open: evidence is recorded in it"
    )


def quarter_of(uow: UnitOfWork, slug: str, label: str) -> Quarter:
    """Quarter ``label`` of the mission (NotFound when it has none)."""
    if label not in {q.label for q in uow.missions.quarters(slug)}:
        raise NotFound(f"no quarter {label}")
    return uow.missions.quarter(slug, label)


def is_current(uow: UnitOfWork, slug: str, quarter: Quarter) -> bool:
    """Whether ``quarter`` is the mission's current quarter and not closed."""
    if quarter.state is QuarterState.closed:
        return False
    return quarter.label == quarters.current_quarter(uow, slug)


def quarter_evidence(uow: UnitOfWork, slug: str, label: str) -> QuarterEvidence:
    """The evidence page of quarter ``label``."""
    quarter = quarter_of(uow, slug, label)
    return QuarterEvidence(
        quarter=quarter,
        evidence=list(reversed([e for e in uow.evidence.all(slug) if e.quarter == label])),
        names={c.id: c.name for c in uow.candidates.all(slug)},
        is_current=is_current(uow, slug, quarter),
    )
