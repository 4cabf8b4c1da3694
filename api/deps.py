"""Request dependencies: the unit of work, who is calling, CSRF, and permission checks.

Every route states its permission with ``MissionAccess(Perm.x)`` or ``GlobalAccess(Perm.x)``;
the decision itself is made in ``api/permissions.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError
from starlette.datastructures import FormData

from api.permissions import Perm, allowed, permissions_of
from api.security import record_event
from api.settings import Settings
from portfolio.adapters.security_log import SecurityEventKind
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import InvalidInput, NotFound, PermissionDenied
from portfolio.domain.model import Role, User
from portfolio.services.council import Viewer

SESSION_COOKIE = "mp_session"
TOKEN_USE_LOGGED_EVERY = dt.timedelta(hours=1)  # a token's use is logged at most this often
LOGIN_COOKIE = "mp_login"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class LoginRequired(Exception):
    """No valid session or token: HTML goes to the login page, the API answers 401."""


class CsrfFailed(PermissionDenied):
    """The request lacks the session's CSRF token, or comes from another site."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_uow(request: Request) -> Iterator[SqlUnitOfWork]:
    with SqlUnitOfWork(request.app.state.sessionmaker) as uow:
        yield uow


UowDep = Annotated[SqlUnitOfWork, Depends(get_uow)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass
class Auth:
    """Who is calling and how."""

    user: User | None = None
    session_hash: str | None = None
    csrf_token: str | None = None
    via_api_token: bool = False
    roles: dict[str, set[Role]] = field(default_factory=dict)

    @property
    def username(self) -> str:
        return self.user.username if self.user else "anonymous"


def get_auth(request: Request, uow: UowDep, settings: SettingsDep) -> Auth:
    cached: Auth | None = getattr(request.state, "auth", None)
    if cached is not None:
        return cached
    auth = Auth()
    now = uow.now()
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer ") and request.url.path.startswith("/api/"):
        token_use = uow.users.user_for_token(token_hash(header[7:].strip()), now)
        if token_use is None:
            uow.rollback()
            record_event(uow, request, SecurityEventKind.token_refused, None)
            uow.commit()
            raise LoginRequired("the API token is not valid, has expired or was revoked")
        user, name, last_used = token_use
        if last_used is None or now - last_used > TOKEN_USE_LOGGED_EVERY:
            record_event(uow, request, SecurityEventKind.token_used, user.username, f"token {name}")
        uow.commit()
        auth = Auth(user=user, via_api_token=True)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        session_hash = token_hash(cookie)
        found = uow.sessions.get(session_hash)
        if found is not None:
            user, csrf, last_seen, expires_at = found
            idle = dt.timedelta(minutes=settings.session_idle_minutes)
            if now > expires_at or now - last_seen > idle:
                uow.rollback()
                uow.sessions.remove(session_hash)
                uow.commit()
            else:
                if now - last_seen > dt.timedelta(seconds=60):
                    # end the read first, so the write starts a transaction of its own (SQLite
                    # cannot upgrade a reader to a writer while another writer is active)
                    uow.rollback()
                    try:
                        uow.sessions.touch(session_hash, now)
                        uow.commit()
                    except OperationalError:  # SQLite busy: the next request touches it
                        uow.rollback()
                auth = Auth(user=user, session_hash=session_hash, csrf_token=csrf)
    request.state.auth = auth
    return auth


AuthDep = Annotated[Auth, Depends(get_auth)]


async def read_form(request: Request) -> FormData:
    """The submitted form (URL-encoded or multipart), read once and cached on the request."""
    cached: FormData | None = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    content_type = request.headers.get("content-type", "")
    form = FormData()
    if request.method not in SAFE_METHODS and (
        content_type.startswith("application/x-www-form-urlencoded")
        or content_type.startswith("multipart/form-data")
    ):
        limit = request.app.state.settings.max_upload_bytes
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise InvalidInput.single("file", f"the upload is larger than {limit} bytes")
        form = await request.form(max_part_size=limit)
    request.state.form = form
    return form


FormDep = Annotated[FormData, Depends(read_form)]


def csrf_protect(request: Request, auth: AuthDep, form: FormDep) -> None:
    """Refuse a state-changing request made with the session cookie unless it carries the
    session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``) and comes from
    this site. API-token requests carry no cookie and need no CSRF token."""
    if request.method in SAFE_METHODS or auth.via_api_token:
        return
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise CsrfFailed("the request came from another site")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if origin.rstrip("/") != expected:
            raise CsrfFailed("the request came from another origin")
    if auth.session_hash is None:
        return  # anonymous: the route itself refuses (login has its own token)
    sent = request.headers.get("x-csrf-token") or str(form.get("csrf_token") or "")
    if not sent or not hmac.compare_digest(sent, auth.csrf_token or ""):
        raise CsrfFailed("the form has expired or did not come from this site; try again")


class SecondFactorRequired(Exception):
    """The deployment requires two-factor authentication and the user has not set it up."""


def require_user(request: Request, auth: AuthDep, uow: UowDep, settings: SettingsDep) -> User:
    if auth.user is None:
        raise LoginRequired()
    if (
        settings.require_2fa
        and not auth.via_api_token
        and not request.url.path.startswith("/account")
        and not uow.users.totp(auth.user.username)[1]
    ):
        raise SecondFactorRequired()
    return auth.user


UserDep = Annotated[User, Depends(require_user)]


@dataclass
class MissionContext:
    """A signed-in user acting on one mission, with the roles and permissions they hold there."""

    user: User
    slug: str
    roles: set[Role]
    permissions: frozenset[Perm]

    def can(self, perm: Perm) -> bool:
        return perm in self.permissions

    @property
    def viewer(self) -> Viewer:
        """Who is looking, for the council's blind rule (``portfolio.services.council``)."""
        return Viewer(self.user.username, frozenset(self.roles), self.user.is_admin)


class MissionAccess:
    """Dependency: the caller must hold ``perm`` on the mission named by ``{slug}``."""

    def __init__(self, perm: Perm) -> None:
        self.perm = perm

    def __call__(self, slug: str, user: UserDep, uow: UowDep) -> MissionContext:
        if not uow.missions.exists(slug):
            raise NotFound(f"there is no mission {slug}")
        roles = uow.missions.roles_of(slug, user.username)
        if not allowed(self.perm, roles, user.is_admin):
            raise PermissionDenied(
                "your role on this mission does not allow this"
                if roles or user.is_admin
                else "you have no role on this mission"
            )
        return MissionContext(user, slug, roles, permissions_of(roles, user.is_admin))


class GlobalAccess:
    """Dependency: the caller must hold ``perm`` outside any mission (administration)."""

    def __init__(self, perm: Perm) -> None:
        self.perm = perm

    def __call__(self, user: UserDep) -> User:
        if not allowed(self.perm, set(), user.is_admin):
            raise PermissionDenied("only an administrator may do this")
        return user


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


# -- permission aliases: one per permission, defined here and nowhere else ----------------------
# A route states what it needs by its parameter's type: ``ctx: ViewMission`` means "the caller
# holds view_mission on the mission named by {slug}" (``MissionAccess``); ``admin: ManageUsers``
# means "the caller may manage users" (``GlobalAccess``). Each alias is named for its permission
# (``Perm.x`` -> ``X`` in CamelCase); the three whose name is a model's (Score, Challenge,
# Dissent) end in ``Dep``. tests/unit/test_permission_aliases.py keeps the rule: every permission
# has its alias here, and no module of ``api`` assigns an alias name of its own.
ViewMission = Annotated[MissionContext, Depends(MissionAccess(Perm.view_mission))]
EditMission = Annotated[MissionContext, Depends(MissionAccess(Perm.edit_mission))]
RegisterCandidate = Annotated[MissionContext, Depends(MissionAccess(Perm.register_candidate))]
EditCandidate = Annotated[MissionContext, Depends(MissionAccess(Perm.edit_candidate))]
RequestTreasuryApproval = Annotated[
    MissionContext, Depends(MissionAccess(Perm.request_treasury_approval))
]
DecideTreasuryApproval = Annotated[
    MissionContext, Depends(MissionAccess(Perm.decide_treasury_approval))
]
ViewTreasuryApprovals = Annotated[
    MissionContext, Depends(MissionAccess(Perm.view_treasury_approvals))
]
ViewAudit = Annotated[MissionContext, Depends(MissionAccess(Perm.view_audit))]
RunOptimiser = Annotated[MissionContext, Depends(MissionAccess(Perm.run_optimiser))]
ScoreDep = Annotated[MissionContext, Depends(MissionAccess(Perm.score))]
ManageRound = Annotated[MissionContext, Depends(MissionAccess(Perm.manage_round))]
ViewAggregates = Annotated[MissionContext, Depends(MissionAccess(Perm.view_aggregates))]
ChallengeDep = Annotated[MissionContext, Depends(MissionAccess(Perm.challenge))]
ReplyChallenge = Annotated[MissionContext, Depends(MissionAccess(Perm.reply_challenge))]
ManageSeeds = Annotated[MissionContext, Depends(MissionAccess(Perm.manage_seeds))]
AnswerSeeds = Annotated[MissionContext, Depends(MissionAccess(Perm.answer_seeds))]
ImportScoresForOthers = Annotated[
    MissionContext, Depends(MissionAccess(Perm.import_scores_for_others))
]
RecordEvidence = Annotated[MissionContext, Depends(MissionAccess(Perm.record_evidence))]
ManageCycle = Annotated[MissionContext, Depends(MissionAccess(Perm.manage_cycle))]
DissentDep = Annotated[MissionContext, Depends(MissionAccess(Perm.dissent))]
ImportScores = Annotated[MissionContext, Depends(MissionAccess(Perm.import_scores))]
CommentReview = Annotated[MissionContext, Depends(MissionAccess(Perm.comment_review))]
RunAnalytics = Annotated[MissionContext, Depends(MissionAccess(Perm.run_analytics))]
RecordSpend = Annotated[MissionContext, Depends(MissionAccess(Perm.record_spend))]
ViewFinance = Annotated[MissionContext, Depends(MissionAccess(Perm.view_finance))]
ManageUsers = Annotated[User, Depends(GlobalAccess(Perm.manage_users))]
