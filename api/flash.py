"""Success banners: after a form succeeds the route redirects (POST, redirect, GET) with a
one-line message; the next page rendered shows it once in a GOV.UK success notification banner.

The message travels in a short-lived cookie signed with the server's secret key (so no other
site, and no stale server, can plant one), is read by ``render`` and is cleared on that response.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from fastapi import Request
from starlette.responses import RedirectResponse, Response

FLASH_COOKIE = "mp_flash"
MAX_MESSAGE = 400


def _key(request: Request) -> bytes:
    settings = request.app.state.settings
    return hashlib.sha256(b"mission-portfolio/flash/v1" + settings.secret_key.encode()).digest()


def _sign(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()[:32]


def redirect_done(request: Request, url: str, message: str, *, status_code: int = 303) -> Response:
    """Redirect to ``url``; the page there opens with ``message`` in a success banner."""
    response = RedirectResponse(url, status_code=status_code)
    set_banner(request, response, message)
    return response


def set_banner(request: Request, response: Response, message: str) -> None:
    payload = base64.urlsafe_b64encode(json.dumps({"m": message[:MAX_MESSAGE]}).encode()).decode()
    response.set_cookie(
        FLASH_COOKIE,
        f"{payload}.{_sign(_key(request), payload)}",
        max_age=120,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def pop_banner(request: Request) -> str | None:
    """The message waiting for this request, if any (the caller clears the cookie)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or "." not in raw:
        return None
    payload, signature = raw.rsplit(".", 1)
    if not hmac.compare_digest(signature, _sign(_key(request), payload)):
        return None
    try:
        message = json.loads(base64.urlsafe_b64decode(payload.encode()))["m"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(message)[:MAX_MESSAGE] if message else None


def clear_banner(response: Response) -> None:
    response.delete_cookie(FLASH_COOKIE, path="/")
