"""Helpers the repositories share: the versioned flush, three-point estimates as JSON, and the
session's memo of reads a page repeats."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.orm.exc import StaleDataError

from optimiser.pert import ThreePoint
from portfolio.domain.errors import Conflict

T = TypeVar("T")

_MEMO = "memo"
"""The key of ``remembered``'s reads in ``session.info``."""

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


def remembered(session: Session, key: Hashable, read: Callable[[], list[T]]) -> list[T]:
    """``read()``, sent once while the session writes nothing: a page asks for the mission's
    quarters or candidates several times (its guide, its heading, its table), and each ask was
    a query and a model per row. Any write forgets every read: a pending change (which the
    query would have flushed first), a flush, an UPDATE or DELETE statement, a locking read, a
    commit or a rollback (``_forget``). Each caller gets its own list; the models in it are
    shared, and no caller changes a model it read in place (``Strict.with_changes`` copies)."""
    if session.new or session.dirty or session.deleted:
        _forget(session)
    reads: dict[Hashable, list[Any]] = session.info.setdefault(_MEMO, {})
    if key not in reads:
        reads[key] = read()
    return list(reads[key])


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_MEMO, None)


def _forget_unless_select(state: ORMExecuteState) -> None:
    """A write forgets; so does a read that locks or refreshes rows: whoever waited for a lock
    reads again what the lock's holder committed (``quarters.lock_current``)."""
    locks = getattr(state.statement, "_for_update_arg", None) is not None
    if not state.is_select or locks or state.execution_options.get("populate_existing"):
        _forget(state.session)


for _name in ("after_flush", "after_commit", "after_rollback", "after_soft_rollback"):
    event.listen(Session, _name, _forget)
event.listen(Session, "do_orm_execute", _forget_unless_select)
