"""Which quarter is current, the rule that a closed quarter is never edited, and the lock that
serialises closing a quarter with starting and approving runs in it."""

from __future__ import annotations

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import Conflict
from portfolio.domain.model import Quarter, QuarterState


def current(uow: UnitOfWork, slug: str) -> Quarter:
    """The quarter being worked on: the earliest that is not closed (quarters close in order)."""
    for quarter in uow.missions.quarters(slug):
        if quarter.state is not QuarterState.closed:
            return quarter
    raise Conflict("the mission has no open quarter")


def current_quarter(uow: UnitOfWork, slug: str) -> str:
    return current(uow, slug).label


def lock_current(uow: UnitOfWork, slug: str) -> Quarter:
    """The current quarter, locked until the transaction ends (``Missions.lock_quarter``).

    Closing a quarter, starting a run and approving one take this lock, so they happen one after
    the other: a run is recorded in the quarter that is current when it is recorded, never in
    one a concurrent close has just closed. Waiting for a close, the next quarter becomes current
    and is locked instead."""
    for _ in range(3):
        label = current_quarter(uow, slug)
        quarter = uow.missions.lock_quarter(slug, label)
        if quarter.state is not QuarterState.closed:
            return quarter
    raise Conflict("the quarter is being closed: try again in a moment")


def require_not_closed(uow: UnitOfWork, slug: str, label: str) -> Quarter:
    """The quarter ``label``; a closed quarter's inputs and outputs are frozen."""
    quarter = uow.missions.quarter(slug, label)
    if quarter.state is QuarterState.closed:
        raise Conflict(f"quarter {label} is closed: its inputs and outputs are frozen")
    return quarter
