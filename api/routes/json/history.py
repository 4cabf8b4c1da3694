"""The history check in the JSON API (under /api/v1): the same check as ``mission-portfolio
verify`` and the web's "Check the history" page (issue 16, finding 5), run at once
(``.../audit/verify``) or in the background with its report kept (``.../audit/checks``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from pydantic import BaseModel, Field

from api.deps import UowDep, ViewAudit
from api.routes.json.common import UtcDateTime, v1_router
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import NotFound
from portfolio.domain.model import AuditEntry, HistoryCheck
from portfolio.services import history, history_checks

router = v1_router()


class AuditEntryOut(AuditEntry):
    at: UtcDateTime


@router.get("/missions/{slug}/audit", response_model=list[AuditEntryOut])
def audit(
    ctx: ViewAudit,
    uow: UowDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AuditEntry]:
    """The mission's audit trail, newest first."""
    return uow.audit.all(ctx.slug, limit=limit, offset=offset)


@router.get("/missions/{slug}/audit/verify", response_model=history.HistoryReport)
def verify(
    ctx: ViewAudit,
    uow: UowDep,
    seal: Annotated[
        list[str] | None,
        Query(
            description="Seals printed on published updates (in full, or their first 12 "
            "hexadecimal characters or more): the history must still hold each.",
        ),
    ] = None,
) -> history.HistoryReport:
    """Check the mission's history: its audit trail's keyed hash chain, its audit packs' chain
    and seals, the rows of every closed quarter against its pack, and any published seals.
    ``intact`` is false with each change named in ``problems``; a seal that is not 12 to 64
    hexadecimal characters is refused (422, field ``seal``).

    The check runs while the request waits: on a large mission (hundreds of candidates, many
    closed quarters) that is many seconds. To check in the background instead, start a check
    with ``POST .../audit/checks`` and read its report from ``GET .../audit/checks/latest``."""
    published = [history.PublishedSeal(seal=s) for s in seal or []]
    return history.check(uow, ctx.slug, published)


class HistoryCheckOut(BaseModel):
    """A check of the mission's history run in the background."""

    id: int
    mission: str
    requested_by: str = Field(description="the username of who asked for it")
    requested_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    status: str = Field(description="queued, running, done or failed")
    report: history.HistoryReport | None = Field(description="the report, once done")
    error: str | None = Field(description="why it failed, when it did")


def _out(check: HistoryCheck) -> HistoryCheckOut:
    return HistoryCheckOut(
        id=check.id or 0,
        mission=check.mission,
        requested_by=check.requested_by,
        requested_at=check.requested_at,
        started_at=check.started_at,
        finished_at=check.finished_at,
        status=check.status,
        report=history_checks.report_of(check),
        error=check.error,
    )


@router.post("/missions/{slug}/audit/checks", response_model=HistoryCheckOut, status_code=202)
def start_check(ctx: ViewAudit, uow: UowDep, request: Request) -> HistoryCheckOut:
    """Check the mission's history in the background (the same check as ``GET .../audit/verify``)
    and keep its report; when a check is already queued or running, that one is answered and no
    other is started. Poll ``GET .../audit/checks/latest`` until its status is done or failed."""
    check, started = history_checks.request(uow, ctx.user.username, ctx.slug)
    uow.commit()
    if started:
        assert check.id is not None
        request.app.state.jobs.submit_history_check(check.id)
        with SqlUnitOfWork(request.app.state.sessionmaker) as fresh:  # run already, if inline
            return _out(fresh.history_checks.get(check.id))
    return _out(check)


@router.get("/missions/{slug}/audit/checks/latest", response_model=HistoryCheckOut)
def latest_check(
    ctx: ViewAudit,
    uow: UowDep,
    finished: Annotated[
        bool, Query(description="the latest that finished (done or failed), not one under way")
    ] = False,
) -> HistoryCheckOut:
    """The mission's latest check of its history (with ``finished``, the latest that finished):
    its status and, once done, its report. 404 when none was ever asked for."""
    check = uow.history_checks.latest(ctx.slug, finished=finished)
    if check is None:
        name = uow.missions.get(ctx.slug).name
        what = "finished" if finished else "been asked for"
        raise NotFound(
            f"no check of the history of {name} has {what} yet: start one with "
            f"POST /api/v1/missions/{ctx.slug}/audit/checks"
        )
    return _out(check)
