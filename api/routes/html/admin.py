"""Administration: users, their roles on missions, and new missions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import FormDep, ManageUsers, UowDep
from api.flash import redirect_done
from api.forms import mission_from_form, values_of
from api.security import record_event
from api.templating import render
from portfolio.adapters.security_log import EVENT_LABELS, SecurityEventKind
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput, NotFound, validation_errors
from portfolio.domain.model import ROLE_LABELS, CouncilMember, Role, Sector, User
from portfolio.services import missions as services
from portfolio.services import user_view

router = APIRouter(include_in_schema=False, prefix="/admin")


#: the user forms' labels where the words for the field differ (api.templating)
NEW_USER_LABELS = {"username": "Username", "password": "Password"}
USER_LABELS = {
    "password": "New password",
    "mission": "Mission",
    "role": "Role",
    "sector": "Sector (council members only)",
}
MISSION_LABELS = {"name": "Mission name", "unit": "Unit of impact"}


@router.get("/users")
def users(request: Request, admin: ManageUsers, uow: UowDep) -> Response:
    people = uow.users.all()
    return render(
        request,
        "admin/users.html",
        {
            "users": people,
            "roles": {u.username: uow.users.roles(u.username) for u in people},
            "mission_names": {m.slug: m.name for m in uow.missions.all()},
        },
    )


@router.get("/users/new")
def new_user_form(request: Request, admin: ManageUsers) -> Response:
    return render(request, "admin/user_new.html", {"field_labels": NEW_USER_LABELS})


@router.post("/users/new")
def new_user(request: Request, admin: ManageUsers, form: FormDep, uow: UowDep) -> Response:
    values = values_of(form)
    errors: list[tuple[str, str]] = []
    try:
        user = User(
            username=str(values.get("username", "")).strip().lower(),
            display_name=str(values.get("display_name", "")),
            is_admin=bool(values.get("is_admin")),
        )
        services.create_user(uow, admin.username, user, str(values.get("password", "")))
        uow.commit()
        return redirect_done(
            request,
            f"/admin/users/{user.username}",
            f"User {user.display_name} ({user.username}) added.",
        )
    except ValidationError as exc:
        errors = validation_errors(exc)
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = [("username", str(exc))]
    uow.rollback()
    values.pop("password", None)
    return render(
        request,
        "admin/user_new.html",
        {"values": values, "errors": errors, "field_labels": NEW_USER_LABELS},
        status_code=422,
    )


def _user_context(uow: SqlUnitOfWork, username: str, **extra: Any) -> dict[str, Any]:
    """The user page (``user_view.user_view``), with its forms."""
    view = user_view.user_view(uow, username)
    user = view.user
    return {
        "user": user,
        "user_roles": view.roles,
        "missions": uow.missions.all(),
        "mission_names": {m.slug: m.name for m in uow.missions.all()},
        "all_roles": list(Role),
        "sectors": list(Sector),
        "values": {
            "display_name": user.display_name,
            "is_admin": user.is_admin,
            "active": user.active,
        },
        "field_labels": USER_LABELS,
        **extra,
    }


@router.get("/users/{username}")
def user_detail(request: Request, admin: ManageUsers, username: str, uow: UowDep) -> Response:
    return render(request, "admin/user.html", _user_context(uow, username))


@router.post("/users/{username}")
def update_user(
    request: Request, admin: ManageUsers, username: str, form: FormDep, uow: UowDep
) -> Response:
    values = values_of(form)
    current = uow.users.get(username)
    errors: list[tuple[str, str]] = []
    try:
        user = User(
            username=username,
            display_name=str(values.get("display_name", "")),
            is_admin=bool(values.get("is_admin")),
            active=bool(values.get("active")),
        )
        if username == admin.username and (not user.is_admin or not user.active):
            raise InvalidInput.single("is_admin", "you cannot remove your own administration")
        services.update_user(uow, admin.username, user)
        if password := str(values.get("password", "")):
            revoked = services.set_password(uow, admin.username, username, password)
            record_event(
                uow,
                request,
                SecurityEventKind.password_changed,
                username,
                f"by {admin.username}; sessions ended, {revoked} API token(s) revoked",
            )
        if current.active and not user.active:
            record_event(
                uow,
                request,
                SecurityEventKind.tokens_revoked,
                username,
                f"user disabled by {admin.username}; sessions ended, API tokens revoked",
            )
        uow.commit()
        done = f"Changes to {user.display_name} saved."
        if password:
            done += " The new password is set: their sessions ended and API tokens were revoked."
        return redirect_done(request, f"/admin/users/{username}", done)
    except ValidationError as exc:
        errors = validation_errors(exc)
    except InvalidInput as exc:
        errors = exc.errors
    uow.rollback()
    ctx = _user_context(uow, username, errors=errors)
    ctx["values"] = {
        "display_name": values.get("display_name", current.display_name),
        "is_admin": bool(values.get("is_admin")),
        "active": bool(values.get("active")),
    }
    return render(request, "admin/user.html", ctx, status_code=422)


@router.post("/users/{username}/roles")
def grant_role(
    request: Request, admin: ManageUsers, username: str, form: FormDep, uow: UowDep
) -> Response:
    values = values_of(form)
    errors: list[tuple[str, str]] = []
    mission, role_raw = str(values.get("mission", "")), str(values.get("role", ""))
    try:
        role = Role(role_raw)
    except ValueError:
        errors.append(("role", "choose a role"))
    if not uow.missions.exists(mission):
        errors.append(("mission", "choose a mission"))
    sector = str(values.get("sector", ""))
    if not errors and role is Role.council_member and sector not in {s.value for s in Sector}:
        errors.append(("sector", "a council member needs a sector"))
    if not errors:
        try:
            services.assign_role(uow, admin.username, mission, username, role)
            if role is Role.council_member:
                services.set_council_member(
                    uow,
                    admin.username,
                    mission,
                    CouncilMember(username=username, sector=Sector(sector)),
                )
            uow.commit()
            return redirect_done(
                request,
                f"/admin/users/{username}",
                f"{uow.users.get(username).display_name} has the role {ROLE_LABELS[role]} on "
                f"{uow.missions.get(mission).name}.",
            )
        except (Conflict, NotFound) as exc:
            errors.append(("role", str(exc)))
    uow.rollback()
    context = _user_context(uow, username, errors=errors)
    context["role_values"] = values
    return render(request, "admin/user.html", context, status_code=422)


@router.post("/users/{username}/roles/remove")
def revoke_role(
    request: Request, admin: ManageUsers, username: str, form: FormDep, uow: UowDep
) -> Response:
    values = values_of(form)
    try:
        role = Role(str(values.get("role", "")))
    except ValueError as exc:
        raise InvalidInput.single("role", "not a role") from exc
    mission = str(values.get("mission", ""))
    services.remove_role(uow, admin.username, mission, username, role)
    uow.commit()
    return redirect_done(
        request,
        f"/admin/users/{username}",
        f"{uow.users.get(username).display_name} no longer has the role {ROLE_LABELS[role]} on "
        f"{uow.missions.get(mission).name}.",
    )


@router.get("/missions/new")
def new_mission_form(request: Request, admin: ManageUsers) -> Response:
    return render(
        request,
        "admin/mission_new.html",
        {
            "values": {
                "years": "2026-27 2027-28 2028-29 2029-30",
                "dal": "50",
                "dal_mode": "flag",
                "unit": "MtCO2e/yr",
                "envelopes.0.id": "sbc",
                "envelopes.0.name": "Single business case",
            },
            "years": ["2026-27", "2027-28", "2028-29", "2029-30"],
            "field_labels": MISSION_LABELS,
        },
    )


@router.post("/missions/new")
def new_mission(request: Request, admin: ManageUsers, form: FormDep, uow: UowDep) -> Response:
    values = values_of(form)
    mission, errors = mission_from_form(values, None)
    if mission is not None:
        try:
            services.create_mission(uow, admin.username, mission)
            uow.commit()
            return redirect_done(
                request,
                f"/missions/{mission.slug}",
                f"Mission {mission.name} created. Give it a Mission CEO and council members "
                "from the users page.",
            )
        except Conflict as exc:
            errors = [("slug", str(exc))]
        uow.rollback()
    return render(
        request,
        "admin/mission_new.html",
        {
            "values": values,
            "errors": errors,
            "years": str(values.get("years", "")).replace(",", " ").split(),
            "field_labels": MISSION_LABELS,
        },
        status_code=422,
    )


LOG_PAGE = 50


@router.get("/security-log")
def security_log(
    request: Request,
    admin: ManageUsers,
    uow: UowDep,
    event: str = "",
    username: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """The security log, newest first, filtered by event and username."""
    kind = SecurityEventKind(event) if event in set(SecurityEventKind) else None
    name = username.strip().lower() or None
    total = uow.security.count(event=kind, username=name)
    entries = uow.security.recent(
        event=kind, username=name, limit=LOG_PAGE, offset=(page - 1) * LOG_PAGE
    )
    return render(
        request,
        "admin/security_log.html",
        {
            "entries": entries,
            "labels": EVENT_LABELS,
            "event": kind.value if kind else "",
            "username": name or "",
            "page": page,
            "pages": max(1, -(-total // LOG_PAGE)),
            "total": total,
        },
    )
