"""A size limit on every request body, enforced before authentication and before the body is
read: a declared ``Content-Length`` over the limit is refused at once (the body is never read),
and a body sent without one (chunked) is cut off as soon as it passes the limit. Either way the
answer is a 413 that says the limit.

File uploads (the CSV imports) have the larger ``max_upload_bytes``; every other body has
``max_body_bytes``."""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.templating import render

#: the routes that take a file (or, for spend, up to 5,000 entries at once)
UPLOAD_PATHS = (
    re.compile(r"/missions/[^/]+/import/(candidates|scores)"),
    re.compile(r"/missions/[^/]+/spend/import"),
    re.compile(r"/api/v1/missions/[^/]+/spend(/import)?"),
)


def is_upload(path: str) -> bool:
    return any(p.fullmatch(path) for p in UPLOAD_PATHS)


def too_large(limit: int, upload: bool) -> str:
    what = "the upload" if upload else "the request body"
    return f"{what} is larger than the limit of {limit:,} bytes"


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a streamed body passes the limit. An HTTPException, so
    FastAPI passes it on instead of calling it a parse error, and the app's handler answers."""

    def __init__(self, limit: int, upload: bool) -> None:
        super().__init__(413, too_large(limit, upload))


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class BodySizeLimit:
    """ASGI middleware: ``limit`` bytes for any body, ``upload_limit`` for the upload routes."""

    def __init__(self, app: ASGIApp, *, limit: int, upload_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = is_upload(scope["path"])
        limit = self.upload_limit if upload else self.limit
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, limit, upload)
            return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, upload)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit, upload)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int, upload: bool) -> None:
        message = too_large(limit, upload)
        response: Response
        if scope["path"].startswith("/api/"):
            response = JSONResponse(
                {"detail": message, "errors": [{"field": "body", "rule": message}]},
                status_code=413,
            )
        else:
            response = render(
                Request(scope, receive),
                "errors/error.html",
                {"status": 413, "title": "What was sent is too large", "message": message},
                status_code=413,
            )
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
