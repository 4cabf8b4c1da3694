"""What the public sees, in the JSON API (under /api/v1), with no sign-in: the same views as the
public pages (``portfolio.services.public_view``), only what was published."""

from __future__ import annotations

from api.deps import UowDep
from api.routes.json.common import as_utc, utc_model, v1_router
from portfolio.services import public_view

router = v1_router()

PublicIndexOut = utc_model(public_view.PublicIndex)
PublicMissionUpdatesOut = utc_model(public_view.PublicMissionUpdates)
PublicUpdateOut = utc_model(public_view.PublicUpdate)


@router.get("/public", response_model=PublicIndexOut)
def public_index(uow: UowDep) -> public_view.PublicIndex:
    """Every mission (name and target) with its published quarterly updates, newest first: the
    letter, when it was published, the delivery confidence published with it and its page."""
    return as_utc(public_view.PublicIndex, public_view.public_index(uow))


@router.get("/missions/{slug}/updates", response_model=PublicMissionUpdatesOut)
def mission_updates(slug: str, uow: UowDep) -> public_view.PublicMissionUpdates:
    """A mission's published quarterly updates, newest first."""
    return as_utc(public_view.PublicMissionUpdates, public_view.mission_updates(uow, slug))


@router.get("/missions/{slug}/updates/{quarter}", response_model=PublicUpdateOut)
def update(slug: str, quarter: str, uow: UowDep) -> public_view.PublicUpdate:
    """A published quarterly update (``2026-27-Q3`` or ``2026-27 Q3``): the letter, the delivery
    confidence and any override's justification, dissent by sector (never by name), spend by
    platform (£m) and the seal of the history. Its allocation as open data, by candidate, is at
    ``/missions/{slug}/updates/{quarter}/allocation.json``."""
    return as_utc(public_view.PublicUpdate, public_view.public_update(uow, slug, quarter))
