"""The history check in the JSON API (under /api/v1): the same check as ``mission-portfolio
verify`` and the web's "Check the history" page (issue 16, finding 5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.deps import UowDep, ViewAudit
from api.routes.json.common import UtcDateTime, v1_router
from portfolio.domain.model import AuditEntry
from portfolio.services import history

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
    hexadecimal characters is refused (422, field ``seal``)."""
    published = [history.PublishedSeal(seal=s) for s in seal or []]
    return history.check(uow, ctx.slug, published)
