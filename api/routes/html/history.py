"""The history check in the web: the Mission CEO, Treasury and the administrator can verify that
nobody rewrote the mission's audit trail or a closed quarter (issue 16, finding 5), and that the
history still holds a seal printed on a published update."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import UowDep, ViewAudit
from api.templating import render
from portfolio.domain.errors import InvalidInput
from portfolio.services import history

router = APIRouter(include_in_schema=False)


@router.get("/missions/{slug}/audit/verify")
def verify_page(
    request: Request,
    ctx: ViewAudit,
    uow: UowDep,
    seal: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Check the history; ``seal`` (from a published update) must still be in it."""
    published = [history.PublishedSeal(seal=seal)] if seal.strip() else []
    errors: list[tuple[str, str]] = []
    try:
        report = history.check(uow, ctx.slug, published)
    except InvalidInput as exc:
        errors = exc.errors
        report = history.check(uow, ctx.slug)
    return render(
        request,
        "missions/verify.html",
        {
            "mission": uow.missions.get(ctx.slug),
            "ctx": ctx,
            "report": report,
            "values": {"seal": seal},
            "errors": errors,
            "field_labels": {"seal": "Seal from a published update"},
        },
        status_code=422 if errors else 200,
    )
