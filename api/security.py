"""Security events from the web layer: who (as typed), from where, on which request. Written to
the security log (``portfolio/adapters/security_log.py``) and to the ``mission_portfolio.security``
logger
for the host's log collection."""

from __future__ import annotations

import logging

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from portfolio.adapters.security_log import SecurityEventKind, security_event
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict

logger = logging.getLogger("mission_portfolio.security")


def client_address(request: Request) -> str:
    """The client's address as the server saw it (behind a proxy, run uvicorn with
    ``--proxy-headers`` and ``--forwarded-allow-ips`` so this is the real client)."""
    return request.client.host if request.client else "-"


def record_event(
    uow: SqlUnitOfWork,
    request: Request,
    event: SecurityEventKind,
    username: str | None,
    detail: str = "",
) -> None:
    """Add an event to the unit of work's transaction (the caller commits)."""
    entry = security_event(
        uow.now(),
        event,
        username=username,
        address=client_address(request),
        method=request.method,
        path=request.url.path,
        detail=detail,
    )
    logger.info(
        "%s user=%r address=%s %s %s %s",
        entry.event.value,
        entry.username,
        entry.address,
        entry.method,
        entry.path,
        entry.detail,
    )
    uow.security.add(entry)


def log_event(
    request: Request, event: SecurityEventKind, username: str | None, detail: str = ""
) -> None:
    """Record an event in a transaction of its own, so it stays whatever happens to the
    request's; a database that cannot take it (read-only, full) never turns the answer into
    a 500: the event still reaches the logger."""
    try:
        with SqlUnitOfWork(request.app.state.sessionmaker) as uow:
            record_event(uow, request, event, username, detail)
            uow.commit()
    except (SQLAlchemyError, Conflict):
        logger.exception("the security log could not be written")
