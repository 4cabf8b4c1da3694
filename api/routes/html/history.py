"""The history check in the web: the Mission CEO, Treasury and the administrator can verify that
nobody rewrote the mission's audit trail or a closed quarter (issue 16, finding 5), and that the
history still holds a seal printed on a published update.

The full check is slow on a large mission, so the page never runs it: it shows the last check
that finished (``portfolio.services.history_checks``) and starts a new one in the background;
a seal is compared with the closed quarters' seals at once (``history.check_published``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import UowDep, ViewAudit
from api.flash import redirect_done
from api.templating import render
from portfolio.domain.errors import InvalidInput
from portfolio.services import history, history_checks

router = APIRouter(include_in_schema=False)


@router.get("/missions/{slug}/audit/verify")
def verify_page(
    request: Request,
    ctx: ViewAudit,
    uow: UowDep,
    seal: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The last finished check of the history and the one under way, if any; ``seal`` (from a
    published update) must be one of the closed quarters' seals."""
    errors: list[tuple[str, str]] = []
    sealed = None
    if seal.strip():
        try:
            sealed = history.check_published(uow, ctx.slug, [history.PublishedSeal(seal=seal)])
        except InvalidInput as exc:
            errors = exc.errors
    finished = uow.history_checks.latest(ctx.slug, finished=True)
    return render(
        request,
        "missions/verify.html",
        {
            "mission": uow.missions.get(ctx.slug),
            "ctx": ctx,
            "finished": finished,
            "report": history_checks.report_of(finished),
            "pending": uow.history_checks.pending(ctx.slug),
            "sealed": sealed,
            "values": {"seal": seal},
            "errors": errors,
            "field_labels": {"seal": "Seal from a published update"},
        },
        status_code=422 if errors else 200,
    )


@router.post("/missions/{slug}/audit/checks")
def start_check(request: Request, ctx: ViewAudit, uow: UowDep) -> Response:
    """Check the history now, in the background (or wait for the check already under way);
    back to the page, which follows it."""
    check, started = history_checks.request(uow, ctx.user.username, ctx.slug)
    uow.commit()
    if started:
        assert check.id is not None
        request.app.state.jobs.submit_history_check(check.id)
    return redirect_done(
        request,
        f"/missions/{ctx.slug}/audit/verify",
        "The check of the history has started."
        if started
        else "A check of the history was already under way: this is it.",
    )
