"""The history check in the JSON API (under /api/v1): the same check as ``mission-portfolio
verify`` and the web's "Check the history" page (issue 16, finding 5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import MissionAccess, MissionContext, UowDep
from api.permissions import Perm
from api.routes.json.v1 import ERROR_RESPONSES
from portfolio.services import history

router = APIRouter(prefix="/api/v1", tags=["v1"], responses=ERROR_RESPONSES)

ViewAudit = Annotated[MissionContext, Depends(MissionAccess(Perm.view_audit))]


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
