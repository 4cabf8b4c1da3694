"""Users in the JSON API (under /api/v1): the caller, their API tokens, the users
(administrators) and the security log (administrators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from api.deps import AuthDep, ManageUsers, UowDep, UserDep
from api.routes.json.common import UtcDateTime, v1_router
from portfolio.adapters.security_log import SecurityEvent, SecurityEventKind
from portfolio.domain.errors import PermissionDenied
from portfolio.domain.model import Name, RoleAssignment, User, Username
from portfolio.services import missions as services
from portfolio.services import user_view

router = v1_router()


class Me(BaseModel):
    user: User
    roles: list[RoleAssignment]


class NewUser(BaseModel):
    username: Username
    display_name: Name
    is_admin: bool = False
    password: str = Field(min_length=1, max_length=1024)


@router.get("/me", response_model=Me)
def me(user: UserDep, uow: UowDep) -> Me:
    """The caller: their account and their role on each mission."""
    return Me(user=user, roles=uow.users.roles(user.username))


@router.get("/users", response_model=list[User])
def users(admin: ManageUsers, uow: UowDep) -> list[User]:
    """Every user account (administrators only), as the Users page lists them."""
    return uow.users.all()


@router.get("/users/{username}", response_model=user_view.UserView)
def user(admin: ManageUsers, username: str, uow: UowDep) -> user_view.UserView:
    """A user, whether they may sign in, and their roles on missions (administrators)."""
    return user_view.user_view(uow, username)


@router.post("/users", response_model=User, status_code=201)
def create_user(admin: ManageUsers, body: NewUser, uow: UowDep) -> User:
    user = User(username=body.username, display_name=body.display_name, is_admin=body.is_admin)
    services.create_user(uow, admin.username, user, body.password)
    uow.commit()
    return uow.users.get(user.username)


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: UtcDateTime
    last_used_at: UtcDateTime | None = None
    expires_at: UtcDateTime


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    expires_in_days: int = Field(
        services.TOKEN_DAYS,
        ge=1,
        le=services.TOKEN_MAX_DAYS,
        description="the token stops working this many days after it is created",
    )


class CreatedToken(BaseModel):
    token: str = Field(description="the token itself: shown this once, never stored")
    details: TokenOut


class SecurityEventOut(SecurityEvent):
    at: UtcDateTime


@router.get("/me/tokens", response_model=list[TokenOut])
def my_tokens(user: UserDep, uow: UowDep) -> list[TokenOut]:
    """The caller's API tokens, with when each expires (never the tokens themselves)."""
    return [TokenOut.model_validate(t) for t in uow.users.tokens(user.username)]


@router.post("/me/tokens", response_model=CreatedToken, status_code=201)
def create_token(body: NewToken, user: UserDep, auth: AuthDep, uow: UowDep) -> CreatedToken:
    """Create an API token for the caller. Only a signed-in session may do this (with its
    CSRF token in ``X-CSRF-Token``): a token cannot make new tokens, so expiry holds."""
    if auth.via_api_token:
        raise PermissionDenied("sign in with your password to create an API token")
    token = services.new_api_token(
        uow, user.username, user.username, body.name, body.expires_in_days
    )
    uow.commit()
    created = uow.users.tokens(user.username)[-1]
    return CreatedToken(token=token, details=TokenOut.model_validate(created))


@router.get("/security-log", response_model=list[SecurityEventOut])
def security_log(
    admin: ManageUsers,
    uow: UowDep,
    event: SecurityEventKind | None = None,
    username: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[SecurityEventOut]:
    """The security log, newest first: sign-ins and their failures and delays, refusals (403,
    CSRF), API token use and refusals, password changes. Administrators only."""
    return [
        SecurityEventOut.model_validate(e.model_dump())
        for e in uow.security.recent(event=event, username=username, limit=limit, offset=offset)
    ]
