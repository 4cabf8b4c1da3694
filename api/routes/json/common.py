"""What every router of the JSON API (under /api/v1) shares: the error body and the error
answers each operation may give, a change's conditional answers, and timestamps written in UTC."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from api.preconditions import ETAG_HEADER

PREFIX = "/api/v1"


def _utc(value: dt.datetime) -> str:
    """Timestamps are naive UTC in the database; the API says so (RFC 3339 needs an offset)."""
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


UtcDateTime = Annotated[
    dt.datetime,
    PlainSerializer(_utc, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


class ErrorItem(BaseModel):
    field: str = Field(description="dotted path of the field, e.g. options.0.cost_profile")
    rule: str = Field(description="the rule it broke")


class ApiError(BaseModel):
    """The body of every error answer under /api/v1."""

    detail: str
    errors: list[ErrorItem] = Field(
        default_factory=list, description="for a 422: every field in error, with its rule"
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "The body could not be read (not UTF-8 JSON)"},
    401: {"model": ApiError, "description": "No valid API token or session"},
    403: {"model": ApiError, "description": "The caller's role does not allow this"},
    404: {"model": ApiError, "description": "No such mission, candidate, run or quarter"},
    409: {"model": ApiError, "description": "The change clashes with the current state"},
    422: {"model": ApiError, "description": "The input broke a rule; every field is named"},
    503: {"model": ApiError, "description": "The database cannot store changes (read-only, full)"},
}
# a change of a versioned resource (``api/preconditions.py``)
CONDITIONAL: dict[int | str, dict[str, Any]] = {
    200: {"headers": ETAG_HEADER},
    412: {"model": ApiError, "description": "If-Match names a version changed since"},
    428: {"model": ApiError, "description": "If-Match is missing: send the ETag you read"},
}


def v1_router() -> APIRouter:
    """A router of the JSON API: under /api/v1, tagged v1, with the error answers above."""
    return APIRouter(prefix=PREFIX, tags=["v1"], responses=ERROR_RESPONSES)
