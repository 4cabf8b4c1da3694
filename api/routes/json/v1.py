"""JSON API under /api/v1: the same services and permissions as the web pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import GlobalAccess, MissionAccess, MissionContext, UowDep, UserDep
from api.permissions import Perm
from portfolio import services
from portfolio.errors import InvalidInput
from portfolio.model import (
    AuditEntry,
    Candidate,
    Mission,
    Name,
    Role,
    RoleAssignment,
    User,
    Username,
)

router = APIRouter(prefix="/api/v1", tags=["v1"])

ViewMission = Annotated[MissionContext, Depends(MissionAccess(Perm.view_mission))]
EditMission = Annotated[MissionContext, Depends(MissionAccess(Perm.edit_mission))]
Register = Annotated[MissionContext, Depends(MissionAccess(Perm.register_candidate))]
EditCandidate = Annotated[MissionContext, Depends(MissionAccess(Perm.edit_candidate))]
ViewAudit = Annotated[MissionContext, Depends(MissionAccess(Perm.view_audit))]
Admin = Annotated[User, Depends(GlobalAccess(Perm.manage_users))]


class Me(BaseModel):
    user: User
    roles: list[RoleAssignment]


class MissionSummary(BaseModel):
    slug: str
    name: str
    target: float
    unit: str
    deadline: str
    candidates: int
    my_roles: list[Role]


class NewUser(BaseModel):
    username: Username
    display_name: Name
    is_admin: bool = False
    password: str = Field(min_length=1, max_length=1024)


@router.get("/me", response_model=Me)
def me(user: UserDep, uow: UowDep) -> Me:
    return Me(user=user, roles=uow.users.roles(user.username))


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


@router.get("/missions/{slug}", response_model=Mission)
def mission(ctx: ViewMission, uow: UowDep) -> Mission:
    return uow.missions.get(ctx.slug)


@router.put("/missions/{slug}", response_model=Mission)
def update_mission(ctx: EditMission, body: Mission, uow: UowDep) -> Mission:
    """Change the mission's target, deadline, years, DAL and envelopes (the slug stays)."""
    if body.slug != ctx.slug:
        raise InvalidInput.single("slug", "the slug of a mission cannot be changed")
    services.update_mission(uow, ctx.user.username, body)
    uow.commit()
    return uow.missions.get(ctx.slug)


@router.get("/missions/{slug}/candidates", response_model=list[Candidate])
def candidates(ctx: ViewMission, uow: UowDep) -> list[Candidate]:
    return uow.candidates.all(ctx.slug)


@router.post("/missions/{slug}/candidates", response_model=Candidate, status_code=201)
def register_candidate(ctx: Register, body: Candidate, uow: UowDep) -> Candidate:
    if not ctx.can(Perm.approve_treasury):
        body = body.model_copy(update={"treasury_approved": False})
    services.register_candidate(uow, ctx.user.username, ctx.slug, body)
    uow.commit()
    return uow.candidates.get(ctx.slug, body.id)


@router.get("/missions/{slug}/candidates/{candidate_id}", response_model=Candidate)
def candidate(ctx: ViewMission, candidate_id: str, uow: UowDep) -> Candidate:
    return uow.candidates.get(ctx.slug, candidate_id)


@router.put("/missions/{slug}/candidates/{candidate_id}", response_model=Candidate)
def update_candidate(
    ctx: EditCandidate, candidate_id: str, body: Candidate, uow: UowDep
) -> Candidate:
    if body.id != candidate_id:
        raise InvalidInput.single("id", "the id of a candidate cannot be changed")
    existing = uow.candidates.get(ctx.slug, candidate_id)
    if not ctx.can(Perm.approve_treasury):
        body = body.model_copy(update={"treasury_approved": existing.treasury_approved})
    services.update_candidate(uow, ctx.user.username, ctx.slug, body)
    uow.commit()
    return uow.candidates.get(ctx.slug, candidate_id)


@router.get("/missions/{slug}/audit", response_model=list[AuditEntry])
def audit(
    ctx: ViewAudit,
    uow: UowDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AuditEntry]:
    """The mission's audit trail, newest first."""
    return uow.audit.all(ctx.slug, limit=limit, offset=offset)


@router.get("/users", response_model=list[User])
def users(admin: Admin, uow: UowDep) -> list[User]:
    return uow.users.all()


@router.post("/users", response_model=User, status_code=201)
def create_user(admin: Admin, body: NewUser, uow: UowDep) -> User:
    user = User(username=body.username, display_name=body.display_name, is_admin=body.is_admin)
    services.create_user(uow, admin.username, user, body.password)
    uow.commit()
    return uow.users.get(user.username)
