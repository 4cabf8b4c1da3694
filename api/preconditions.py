"""Optimistic concurrency on the JSON API (RFC 9110 conditional requests).

A versioned resource (a mission, a candidate, a member's scores of a candidate) is sent with its
version as a strong ``ETag``. A change must send that ETag back in ``If-Match``: without it the
answer is 428 Precondition Required, and with another version 412 Precondition Failed; nothing
is written either way. The write itself is conditional on the version (``UPDATE … WHERE version
= …`` in the repository), so a change that slips in between the check and the write is a 409.
``If-Match: *`` is refused too: it would switch the check off.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request, Response
from starlette.exceptions import HTTPException

_TAG = re.compile(r'"(\d{1,18})"')

ETAG_HEADER: dict[str, Any] = {
    "ETag": {
        "description": "the version of what was read: send it back in If-Match to change it",
        "schema": {"type": "string"},
    }
}

IF_MATCH: dict[str, Any] = {
    "parameters": [
        {
            "name": "If-Match",
            "in": "header",
            "required": True,
            "description": "the ETag from the GET of what you change; 428 without it, 412 when "
            "it has been changed since",
            "schema": {"type": "string"},
        }
    ]
}


def etag(version: int) -> str:
    return f'"{version}"'


def send_version(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def required_version(request: Request, current: int, what: str) -> int:
    """The version the caller read (their ``If-Match``), which must be ``current``, the version
    stored now; ``what`` names the resource as people know it ("the candidate Solar kite")."""
    sent = request.headers.get("if-match", "").strip()
    if not sent or sent == "*":
        raise HTTPException(
            428,
            f"send If-Match with the ETag you got when you read {what}: a change without it "
            "could overwrite someone else's",
        )
    versions = {int(m.group(1)) for tag in sent.split(",") if (m := _TAG.fullmatch(tag.strip()))}
    if current not in versions:
        raise HTTPException(
            412,
            f"{what} has been changed since you read it: read it again, apply your change to "
            "what is stored now and send its new ETag",
        )
    return current
