"""Login, logout and the user's own account page (roles and API tokens)."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    AuthDep,
    FormDep,
    SettingsDep,
    UowDep,
    UserDep,
    token_hash,
)
from api.templating import render
from portfolio import services
from portfolio.errors import InvalidInput

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, auth: AuthDep, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "auth/login.html", {"login_token": token, "next": _safe_next(next)})
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        max_age=3600,
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


def _login_page(
    request: Request, errors: list[tuple[str, str]], username: str, next_url: str, status: int
) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "auth/login.html",
        {
            "errors": errors,
            "values": {"username": username},
            "login_token": token,
            "next": next_url,
        },
        status_code=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        max_age=3600,
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.post("/login")
def login(request: Request, form: FormDep, uow: UowDep, settings: SettingsDep) -> Response:
    username = str(form.get("username") or "").strip().lower()[:40]
    password = str(form.get("password") or "")
    next_url = _safe_next(str(form.get("next") or "/"))
    sent, expected = str(form.get("login_token") or ""), request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(sent, expected):
        return _login_page(
            request,
            [("username", "the sign-in form expired; please try again")],
            username,
            next_url,
            400,
        )
    missing = [
        (f, f"enter your {f}") for f, v in (("username", username), ("password", password)) if not v
    ]
    if missing:
        return _login_page(request, missing, username, next_url, 400)
    now = uow.now()
    keys = [f"user:{username}", f"ip:{request.client.host if request.client else '-'}"]
    if wait := uow.throttle.locked_for(keys, now):
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        return _login_page(
            request,
            [
                (
                    "username",
                    "too many failed sign-in attempts: try again "
                    f"in {minutes} minute{'s' * (minutes > 1)}",
                )
            ],
            username,
            next_url,
            429,
        )
    user = services.authenticate(uow, username, password)
    if user is None:
        uow.throttle.failed(keys, now)
        uow.commit()
        return _login_page(
            request,
            [("username", "the username or password is not right")],
            username,
            next_url,
            401,
        )
    uow.throttle.succeeded(keys[0])
    # a new session id at every login (rotation); the old one, if any, is revoked
    if old := request.cookies.get(SESSION_COOKIE):
        uow.sessions.remove(token_hash(old))
    cookie_token = secrets.token_urlsafe(32)
    uow.sessions.purge_expired(now)
    uow.sessions.add(
        token_hash(cookie_token),
        user.username,
        secrets.token_urlsafe(32),
        now,
        now + dt.timedelta(hours=settings.session_absolute_hours),
    )
    services.record(uow, user.username, None, "session", user.username, "signed in")
    uow.commit()
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie_token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, auth: AuthDep, uow: UowDep) -> Response:
    if auth.session_hash:
        uow.sessions.remove(auth.session_hash)
        services.record(uow, auth.username, None, "session", auth.username, "signed out")
        uow.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account")
def account(request: Request, user: UserDep, uow: UowDep) -> Response:
    return render(
        request,
        "auth/account.html",
        {
            "roles": uow.users.roles(user.username),
            "tokens": uow.users.tokens(user.username),
        },
    )


@router.post("/account/tokens")
def create_token(
    request: Request, user: UserDep, form: FormDep, uow: UowDep, auth: AuthDep
) -> Response:
    name = str(form.get("name") or "")
    try:
        token = services.new_api_token(uow, auth.username, auth.username, name)
    except InvalidInput as exc:
        return render(
            request,
            "auth/account.html",
            {
                "roles": uow.users.roles(auth.username),
                "tokens": uow.users.tokens(auth.username),
                "errors": exc.errors,
                "values": {"name": name},
            },
            status_code=422,
        )
    uow.commit()
    return render(
        request,
        "auth/account.html",
        {
            "roles": uow.users.roles(auth.username),
            "tokens": uow.users.tokens(auth.username),
            "new_token": token,
        },
    )


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: int, user: UserDep, uow: UowDep) -> Response:
    services.revoke_api_token(uow, user.username, user.username, token_id)
    uow.commit()
    return RedirectResponse("/account", status_code=303)
