"""The quarter's tasks in the JSON API (under /api/v1): the same list, statuses and links as the
quarter home (``portfolio.services.guide``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import MissionAccess, MissionContext, UowDep
from api.permissions import Perm
from api.routes.json.v1 import ERROR_RESPONSES
from portfolio.services import guide

router = APIRouter(prefix="/api/v1", tags=["v1"], responses=ERROR_RESPONSES)

ViewMission = Annotated[MissionContext, Depends(MissionAccess(Perm.view_mission))]


@router.get("/missions/{slug}/quarters/{label}/tasks", response_model=guide.QuarterTasks)
def quarter_tasks(ctx: ViewMission, label: str, uow: UowDep) -> guide.QuarterTasks:
    """The quarter's tasks in order (evidence, scoring round, runs, comparison, approval,
    delivery confidence, update letter, publish, close), each with its status (not_started,
    in_progress, completed, cannot_start), why it cannot start yet, a link and a detail line.
    The label may be written ``2026-27 Q3`` or ``2026-27-Q3``."""
    return guide.quarter_tasks(uow, ctx.slug, guide.label_from(label))
