"""Login, logout and the user's own account page (roles and API tokens)."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Any
from urllib.parse import quote

import pyotp
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
from api.settings import Settings
from api.templating import render
from portfolio import services, twofactor
from portfolio.errors import Conflict, InvalidInput
from portfolio.unit_of_work import SqlUnitOfWork

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
    if twofactor.enabled(uow, user.username):
        # the password is right; the session only becomes real once the second factor is
        return _start_session(
            request,
            uow,
            settings,
            user.username,
            f"/login/2fa?next={quote(next_url)}",
            pending=True,
        )
    return _start_session(request, uow, settings, user.username, next_url)


def _start_session(
    request: Request,
    uow: SqlUnitOfWork,
    settings: Settings,
    username: str,
    next_url: str,
    *,
    pending: bool = False,
) -> Response:
    """A new session id at every sign-in (rotation); any old one is revoked."""
    now = uow.now()
    if old := request.cookies.get(SESSION_COOKIE):
        uow.sessions.remove(token_hash(old))
    cookie_token = secrets.token_urlsafe(32)
    uow.sessions.purge_expired(now)
    lifetime = (
        dt.timedelta(minutes=10) if pending else dt.timedelta(hours=settings.session_absolute_hours)
    )
    uow.sessions.add(
        token_hash(cookie_token),
        username,
        secrets.token_urlsafe(32),
        now,
        now + lifetime,
        pending_mfa=pending,
    )
    if not pending:
        services.record(uow, username, None, "session", username, "signed in")
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
    if not pending:
        response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.get("/login/2fa")
def second_factor_form(request: Request, uow: UowDep, next: str | None = None) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not uow.sessions.pending(token_hash(cookie), uow.now()):
        return RedirectResponse("/login", status_code=303)
    return render(
        request,
        "auth/second_factor.html",
        {"next": _safe_next(next), "login_token": request.cookies.get(LOGIN_COOKIE, "")},
    )


@router.post("/login/2fa")
def second_factor(request: Request, form: FormDep, uow: UowDep, settings: SettingsDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    now = uow.now()
    username = uow.sessions.pending(token_hash(cookie), now)
    next_url = _safe_next(str(form.get("next") or "/"))
    sent, expected = str(form.get("login_token") or ""), request.cookies.get(LOGIN_COOKIE, "")
    if username is None or not expected or not hmac.compare_digest(sent, expected):
        return RedirectResponse("/login", status_code=303)
    keys = [f"mfa:{username}"]
    if wait := uow.throttle.locked_for(keys, now):
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        error = f"too many wrong codes: try again in {minutes} minute{'s' * (minutes > 1)}"
    elif twofactor.verify(uow, username, str(form.get("code") or "")):
        uow.throttle.succeeded(keys[0])
        return _start_session(request, uow, settings, username, next_url)
    else:
        uow.throttle.failed(keys, now)
        uow.commit()
        error = "the code is not right"
    return render(
        request,
        "auth/second_factor.html",
        {"next": next_url, "login_token": expected, "errors": [("code", error)]},
        status_code=401,
    )


@router.post("/logout")
def logout(request: Request, auth: AuthDep, uow: UowDep) -> Response:
    if auth.session_hash:
        uow.sessions.remove(auth.session_hash)
        services.record(uow, auth.username, None, "session", auth.username, "signed out")
        uow.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _account(uow: SqlUnitOfWork, username: str, **extra: Any) -> dict[str, Any]:
    secret = twofactor.pending_secret(uow, username)
    return {
        "roles": uow.users.roles(username),
        "tokens": uow.users.tokens(username),
        "totp_enabled": twofactor.enabled(uow, username),
        "totp_secret": secret,
        "totp_uri": (
            pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=twofactor.ISSUER)
            if secret
            else None
        ),
        **extra,
    }


@router.get("/account")
def account(request: Request, user: UserDep, uow: UowDep) -> Response:
    return render(request, "auth/account.html", _account(uow, user.username))


@router.post("/account/2fa/setup")
def setup_2fa(request: Request, user: UserDep, uow: UowDep) -> Response:
    twofactor.begin_setup(uow, user.username)
    uow.commit()
    return RedirectResponse("/account#two-factor", status_code=303)


@router.post("/account/2fa/confirm")
def confirm_2fa(request: Request, user: UserDep, form: FormDep, uow: UowDep) -> Response:
    try:
        codes = twofactor.confirm_setup(uow, user.username, str(form.get("code") or ""))
        uow.commit()
        return render(
            request, "auth/account.html", _account(uow, user.username, recovery_codes=codes)
        )
    except (InvalidInput, Conflict) as exc:
        errors = getattr(exc, "errors", [("code", str(exc))])
    uow.rollback()
    return render(
        request, "auth/account.html", _account(uow, user.username, errors=errors), status_code=422
    )


@router.post("/account/2fa/disable")
def disable_2fa(request: Request, user: UserDep, form: FormDep, uow: UowDep) -> Response:
    try:
        twofactor.disable(uow, user.username, user.username, str(form.get("code") or ""))
        uow.commit()
        return RedirectResponse("/login", status_code=303)
    except InvalidInput as exc:
        errors = exc.errors
    uow.rollback()
    return render(
        request, "auth/account.html", _account(uow, user.username, errors=errors), status_code=422
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
            _account(uow, auth.username, errors=exc.errors, values={"name": name}),
            status_code=422,
        )
    uow.commit()
    return render(request, "auth/account.html", _account(uow, auth.username, new_token=token))


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: int, user: UserDep, uow: UowDep) -> Response:
    services.revoke_api_token(uow, user.username, user.username, token_id)
    uow.commit()
    return RedirectResponse("/account", status_code=303)
