"""Helpers the repositories share: the versioned flush and three-point estimates as JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from optimiser.pert import ThreePoint
from portfolio.domain.errors import Conflict

STALE = "someone else changed this at the same time; reload it and apply your change again"
"""Why a write of a row someone changed since it was read is refused."""


def flush_versioned(session: Session) -> None:
    """Flush an update of a versioned row; a concurrent writer's change is a Conflict."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(STALE) from exc


def as_three_point(value: dict[str, Any] | None) -> ThreePoint | None:
    return ThreePoint.model_validate(value) if value is not None else None


def dumped(value: ThreePoint | None) -> dict[str, Any] | None:
    return value.model_dump() if value is not None else None
