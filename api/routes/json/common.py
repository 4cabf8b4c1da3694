"""What every router of the JSON API (under /api/v1) shares: the error body and the error
answers each operation may give, a change's conditional answers, and timestamps written in UTC."""

from __future__ import annotations

import datetime as dt
import functools
import operator
import types
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from fastapi import APIRouter
from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema, create_model

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


M = TypeVar("M", bound=BaseModel)
_UTC_MODELS: dict[type[BaseModel], type[BaseModel]] = {}


def _utc_type(annotation: Any) -> Any:
    """``annotation`` with every ``datetime`` in it (through models, lists, dicts, optionals)
    written as ``UtcDateTime``; the annotation itself when it holds none."""
    if annotation is dt.datetime:
        return UtcDateTime
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return utc_model(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is None or not args or origin is Annotated:
        return annotation
    converted = tuple(_utc_type(a) for a in args)
    if all(c is a for c, a in zip(converted, args, strict=True)):
        return annotation
    if origin in (Union, types.UnionType):
        return functools.reduce(operator.or_, converted)
    return origin[converted]


def utc_model(model: type[M]) -> type[M]:
    """The JSON API's variant of a view model: the same fields, but every timestamp in it, at
    any depth, written in UTC with its offset (``UtcDateTime``). The model itself when it holds
    no timestamp; made once per model (its schema is named ``<Model>Out``)."""
    if model not in _UTC_MODELS:
        _UTC_MODELS[model] = model  # a model that refers to itself stays as it is
        fields: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            converted = _utc_type(info.annotation)
            if converted is not info.annotation:
                fields[name] = (converted, info)
        if fields:
            _UTC_MODELS[model] = create_model(
                f"{model.__name__}Out", __base__=model, __module__=model.__module__, **fields
            )
    return _UTC_MODELS[model]  # type: ignore[return-value]


def as_utc(model: type[M], view: BaseModel) -> M:
    """``view`` as the JSON API answers it (``utc_model(model)``)."""
    return utc_model(model).model_validate(view.model_dump())


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
