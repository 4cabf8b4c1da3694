"""Which quarter is current, and the rule that a closed quarter is never edited."""

from __future__ import annotations

from portfolio.errors import Conflict
from portfolio.model import Quarter, QuarterState
from portfolio.unit_of_work import SqlUnitOfWork


def current(uow: SqlUnitOfWork, slug: str) -> Quarter:
    """The quarter being worked on: the earliest that is not closed (quarters close in order)."""
    for quarter in uow.missions.quarters(slug):
        if quarter.state is not QuarterState.closed:
            return quarter
    raise Conflict("the mission has no open quarter")


def current_quarter(uow: SqlUnitOfWork, slug: str) -> str:
    return current(uow, slug).label


def require_not_closed(uow: SqlUnitOfWork, slug: str, label: str) -> Quarter:
    """The quarter ``label``; a closed quarter's inputs and outputs are frozen."""
    quarter = uow.missions.quarter(slug, label)
    if quarter.state is QuarterState.closed:
        raise Conflict(f"quarter {label} is closed: its inputs and outputs are frozen")
    return quarter
