"""The spend ledger in the JSON API (under /api/v1): read it, record entries, import a CSV. The
same services, checks and permissions as the Spend page."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from api.deps import FormDep, RecordSpend, UowDep, ViewMission
from api.routes.json.common import UtcDateTime, v1_router
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import InvalidInput
from portfolio.domain.model import SpendEntry
from portfolio.services import csvio, ledger_io
from portfolio.services.ledger_view import LedgerView, SpendLine, ledger_view

router = v1_router()


class SpendLineOut(SpendLine):
    recorded_at: UtcDateTime | None


class LedgerViewOut(LedgerView):
    # a pydantic model may narrow a field's type in a subclass; mypy sees a list's invariance
    entries: list[SpendLineOut]  # type: ignore[assignment]


_ENTRY_SCHEMA = ledger_io.SpendInput.model_json_schema()
_ENTRIES_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One entry, or a list of entries recorded all or nothing. A list's errors "
        "name the row (from 1): `row 2.amount`.",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _ENTRY_SCHEMA,
                        {
                            "type": "array",
                            "items": _ENTRY_SCHEMA,
                            "minItems": 1,
                            "maxItems": csvio.MAX_ROWS,
                        },
                    ]
                }
            }
        },
    }
}
_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A spend file (columns "
        + ", ".join(ledger_io.COLUMNS)
        + "; note may be left out): the CSV text itself, or a multipart upload named file.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _raw_body(request: Request, wanted: str) -> bytes:
    """The body as sent; a form's body has been read as a form already, and is not what is
    wanted here."""
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        raise InvalidInput.single("body", f"send {wanted}, not a form")
    return await request.body()


def _lines(uow: SqlUnitOfWork, slug: str, entries: list[SpendEntry]) -> list[SpendLineOut]:
    ids = {e.id for e in entries}
    return [
        SpendLineOut.model_validate(line.model_dump())
        for line in ledger_view(uow, slug).entries
        if line.id in ids
    ]


@router.get("/missions/{slug}/spend", response_model=LedgerViewOut)
def spend(ctx: ViewMission, uow: UowDep) -> LedgerViewOut:
    """The spend ledger: every entry (with the candidate's, option's and envelope's names), and
    per envelope and year the budget, what was spent and what is left."""
    return LedgerViewOut.model_validate(ledger_view(uow, ctx.slug).model_dump())


@router.post(
    "/missions/{slug}/spend",
    response_model=list[SpendLineOut],
    status_code=201,
    openapi_extra=_ENTRIES_BODY,
)
async def record_spend(ctx: RecordSpend, request: Request, uow: UowDep) -> list[SpendLineOut]:
    """Record actual spend in the current quarter: one entry or a list, all or nothing."""
    try:
        body = json.loads(await _raw_body(request, "JSON (application/json)"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput.single("body", f"is not JSON: {exc}") from None
    items = body if isinstance(body, list) else [body]
    if not all(isinstance(item, Mapping) for item in items):
        raise InvalidInput.single("body", "must be an entry or a list of entries")
    if len(items) > csvio.MAX_ROWS:
        raise InvalidInput.single("body", f"has more than {csvio.MAX_ROWS:,} entries")
    recorded = ledger_io.record_given(uow, ctx.user.username, ctx.slug, items, source="api")
    uow.commit()
    return _lines(uow, ctx.slug, recorded)


@router.post(
    "/missions/{slug}/spend/import",
    response_model=list[SpendLineOut],
    status_code=201,
    openapi_extra=_CSV_BODY,
)
async def import_spend(
    ctx: RecordSpend, request: Request, form: FormDep, uow: UowDep
) -> list[SpendLineOut]:
    """Record every row of a spend file, or nothing: a 422 names each problem by row and column
    (``row 3, column amount``; the header is row 1)."""
    if request.headers.get("content-type", "").startswith(FORM_TYPES[1]):
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput.single("file", "send the CSV as the multipart field file")
        data = await upload.read()
    else:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > csvio.MAX_BYTES:
            raise InvalidInput.single("file", f"is larger than {csvio.MAX_BYTES:,} bytes")
        data = await _raw_body(request, "the CSV text (text/csv) or a multipart upload")
    done = ledger_io.import_csv(uow, ctx.user.username, ctx.slug, data)
    uow.commit()
    return _lines(uow, ctx.slug, done.entries)
