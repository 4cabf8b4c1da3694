"""Login, logout and the user's own account page (roles and API tokens)."""

from __future__ import annotations

import datetime as dt
import hmac
import math
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
from api.flash import redirect_done
from api.params import RowId
from api.security import client_address, record_event
from api.settings import Settings
from api.templating import render
from portfolio.adapters import throttle
from portfolio.adapters.security_log import SecurityEventKind
from portfolio.adapters.throttle import Attempt
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.services import missions as services
from portfolio.services import twofactor
from portfolio.services.passwords import MIN_PASSWORD_LENGTH

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
    # the attempt is reserved (and committed) before the password is checked, so concurrent
    # attempts cannot all get through (portfolio/adapters/throttle.py)
    attempt = uow.throttle.sign_in(username, client_address(request), now)
    _log_delays(uow, request, username, attempt)
    if not attempt.allowed:
        record_event(
            uow, request, SecurityEventKind.sign_in_throttled, username, _wait_words(attempt.wait)
        )
        uow.commit()
        return _login_page(
            request,
            [("username", f"too many failed sign-in attempts: {_wait_words(attempt.wait)}")],
            username,
            next_url,
            429,
        )
    uow.commit()
    user = services.authenticate(uow, username, password)
    if user is None:
        record_event(uow, request, SecurityEventKind.sign_in_failed, username)
        uow.commit()
        return _login_page(
            request,
            [("username", "the username or password is not right")],
            username,
            next_url,
            401,
        )
    uow.throttle.signed_in(attempt, now)
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


def _wait_words(wait: dt.timedelta | None) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()) if wait else 60)
    if seconds < 60:
        return f"try again in {seconds} second{'s' * (seconds > 1)}"
    minutes = -(-seconds // 60)
    return f"try again in {minutes} minute{'s' * (minutes > 1)}"


def _log_delays(uow: SqlUnitOfWork, request: Request, username: str, attempt: Attempt) -> None:
    for rule, delay in attempt.delays:
        record_event(
            uow,
            request,
            SecurityEventKind.sign_in_delayed,
            username,
            f"{rule.kind}: {rule.free} or more failures, next attempt waits "
            f"{int(delay.total_seconds())} s",
        )


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
        record_event(uow, request, SecurityEventKind.signed_in, username)
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
    key = f"mfa:{username}"
    attempt = uow.throttle.attempt([(key, throttle.SECOND_FACTOR)], now)
    _log_delays(uow, request, username, attempt)
    uow.commit()
    if not attempt.allowed:
        error = f"too many wrong codes: {_wait_words(attempt.wait)}"
        record_event(uow, request, SecurityEventKind.second_factor_throttled, username, error)
    elif twofactor.verify(uow, username, str(form.get("code") or "")):
        uow.throttle.succeeded(key)
        return _start_session(request, uow, settings, username, next_url)
    else:
        error = "the code is not right"
        record_event(uow, request, SecurityEventKind.second_factor_failed, username)
    uow.commit()
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
    response = redirect_done(request, "/login", "You have signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _account(uow: SqlUnitOfWork, username: str, **extra: Any) -> dict[str, Any]:
    secret = twofactor.pending_secret(uow, username)
    return {
        "roles": uow.users.roles(username),
        "mission_names": {m.slug: m.name for m in uow.missions.all()},
        "tokens": uow.users.tokens(username),
        "now": uow.now(),
        "token_days": services.TOKEN_DAYS,
        "token_max_days": services.TOKEN_MAX_DAYS,
        "field_labels": {"name": "Name of a new token", "expires_in_days": "Expires after"},
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
    return redirect_done(
        request,
        "/account#two-factor",
        "Two-factor authentication is being set up: add the key below to your authenticator "
        "app, then enter the code it shows.",
    )


@router.post("/account/2fa/confirm")
def confirm_2fa(request: Request, user: UserDep, form: FormDep, uow: UowDep) -> Response:
    try:
        codes = twofactor.confirm_setup(uow, user.username, str(form.get("code") or ""))
        uow.commit()
        # the recovery codes are shown once, on this page (never through a redirect's cookie)
        return render(
            request,
            "auth/account.html",
            _account(
                uow,
                user.username,
                recovery_codes=codes,
                banner="Two-factor authentication is on. Keep your recovery codes safe.",
            ),
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
        return redirect_done(
            request, "/login", "Two-factor authentication is off. Sign in again to go on."
        )
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
    days = str(form.get("expires_in_days") or "")
    try:
        token = services.new_api_token(uow, auth.username, auth.username, name, days)
    except InvalidInput as exc:
        return render(
            request,
            "auth/account.html",
            _account(
                uow,
                auth.username,
                errors=exc.errors,
                values={"name": name, "expires_in_days": days},
            ),
            status_code=422,
        )
    uow.commit()
    # the token is shown once, on this page (never through a redirect's cookie)
    return render(
        request,
        "auth/account.html",
        _account(
            uow,
            auth.username,
            new_token=token,
            banner=f"API token “{name.strip()}” created. Copy it now: it is not shown again.",
        ),
    )


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: RowId, user: UserDep, uow: UowDep) -> Response:
    name = next((t["name"] for t in uow.users.tokens(user.username) if t["id"] == token_id), None)
    services.revoke_api_token(uow, user.username, user.username, token_id)
    uow.commit()
    return redirect_done(
        request, "/account", f"API token “{name}” revoked." if name else "API token revoked."
    )


PASSWORD_LABELS = {
    "current_password": "Current password",
    "new_password": "New password",
    "confirm_password": "New password again",
}


def _password_page(
    request: Request, errors: list[tuple[str, str]] | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "auth/password.html",
        {
            "errors": errors or [],
            "field_labels": PASSWORD_LABELS,
            "min_length": MIN_PASSWORD_LENGTH,
        },
        status_code=status,
    )


@router.get("/account/password")
def password_form(request: Request, user: UserDep) -> Response:
    return _password_page(request)


@router.post("/account/password")
def change_password(
    request: Request, user: UserDep, auth: AuthDep, form: FormDep, uow: UowDep
) -> Response:
    """Change one's own password: the current one is required (and throttled), the new one
    follows the rules; every other session ends and every API token is revoked."""
    values = {f: str(form.get(f) or "") for f in PASSWORD_LABELS}
    missing = [(f, "enter it") for f, v in values.items() if not v]
    if missing:
        return _password_page(request, missing, 422)
    key = f"password:{user.username}"
    attempt = uow.throttle.attempt([(key, throttle.CURRENT_PASSWORD)], uow.now())
    _log_delays(uow, request, user.username, attempt)
    uow.commit()
    if not attempt.allowed:
        error = f"too many wrong passwords: {_wait_words(attempt.wait)}"
        record_event(uow, request, SecurityEventKind.password_change_failed, user.username, error)
        uow.commit()
        return _password_page(request, [("current_password", error)], 429)
    try:
        revoked = services.change_own_password(
            uow,
            user.username,
            values["current_password"],
            values["new_password"],
            values["confirm_password"],
            keep_session=auth.session_hash,
        )
    except InvalidInput as exc:
        uow.rollback()
        if any(field == "current_password" for field, _ in exc.errors):
            record_event(
                uow,
                request,
                SecurityEventKind.password_change_failed,
                user.username,
                "the current password was not right",
            )
        else:  # the current password was right: the attempt was not a guess
            uow.throttle.succeeded(key)
        uow.commit()
        return _password_page(request, exc.errors, 422)
    uow.throttle.succeeded(key)
    record_event(
        uow,
        request,
        SecurityEventKind.password_changed,
        user.username,
        f"by the user; other sessions ended, {revoked} API token(s) revoked",
    )
    uow.commit()
    return redirect_done(
        request,
        "/account",
        "Your password has been changed. Your other sessions have ended and your API tokens "
        "were revoked.",
    )
