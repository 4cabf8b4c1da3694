"""Missions in the JSON API (under /api/v1): the missions the caller may see, and one mission
read and changed under its version (ETag / If-Match)."""

from __future__ import annotations

from fastapi import Request, Response
from pydantic import BaseModel

from api.deps import EditMission, UowDep, UserDep, ViewMission
from api.preconditions import ETAG_HEADER, IF_MATCH, required_version, send_version
from api.routes.json.common import CONDITIONAL, v1_router
from portfolio.domain.errors import InvalidInput
from portfolio.domain.model import Mission, Role
from portfolio.services import missions as services

router = v1_router()


class MissionSummary(BaseModel):
    slug: str
    name: str
    target: float
    unit: str
    deadline: str
    candidates: int
    my_roles: list[Role]


@router.get("/missions", response_model=list[MissionSummary])
def missions(user: UserDep, uow: UowDep) -> list[MissionSummary]:
    """The missions the caller may see (all of them for an administrator)."""
    slugs = (
        [m.slug for m in uow.missions.all()]
        if user.is_admin
        else uow.missions.slugs_for(user.username)
    )
    mine: dict[str, list[Role]] = {}
    for r in uow.users.roles(user.username):
        mine.setdefault(r.mission, []).append(r.role)
    return [
        MissionSummary(
            slug=m.slug,
            name=m.name,
            target=m.target,
            unit=m.unit,
            deadline=m.deadline.isoformat(),
            candidates=uow.candidates.count(m.slug),
            my_roles=mine.get(m.slug, []),
        )
        for m in uow.missions.all(slugs)
    ]


@router.get("/missions/{slug}", response_model=Mission, responses={200: {"headers": ETAG_HEADER}})
def mission(ctx: ViewMission, uow: UowDep, response: Response) -> Mission:
    """The mission; its ETag is what a change must send in If-Match."""
    send_version(response, uow.missions.version(ctx.slug))
    return uow.missions.get(ctx.slug)


@router.put(
    "/missions/{slug}", response_model=Mission, responses=CONDITIONAL, openapi_extra=IF_MATCH
)
def update_mission(
    ctx: EditMission, body: Mission, uow: UowDep, request: Request, response: Response
) -> Mission:
    """Change the mission's target, deadline, years, DAL and envelopes (the slug stays). Send
    the ETag of the mission you read in If-Match."""
    if body.slug != ctx.slug:
        raise InvalidInput.single("slug", "the slug of a mission cannot be changed")
    name = uow.missions.get(ctx.slug).name
    version = required_version(request, uow.missions.version(ctx.slug), f"the mission {name}")
    services.update_mission(uow, ctx.user.username, body, expected_version=version)
    uow.commit()
    send_version(response, uow.missions.version(ctx.slug))
    return uow.missions.get(ctx.slug)
