"""Treasury's allocation report in the JSON API (under /api/v1): the same view and permission as
the Allocation report page (``portfolio.services.report_view``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.deps import UowDep, ViewMission
from api.routes.json.common import as_utc, utc_model, v1_router
from portfolio.services.report_view import ReportView, report_view

router = v1_router()

ReportViewOut = utc_model(ReportView)
QuarterQuery = Annotated[
    str | None,
    Query(
        max_length=16,
        description="the quarter, 2026-27-Q3 or 2026-27 Q3; by default the "
        "latest with an approved allocation, else the latest",
    ),
]


@router.get("/missions/{slug}/report", response_model=ReportViewOut)
def report(ctx: ViewMission, uow: UowDep, quarter: QuarterQuery = None) -> ReportView:
    """The allocation report of a quarter: the approved allocation (else the quarter's latest
    run on the real budgets that found a portfolio) by candidate, envelope and year against the
    budgets, awards above the Delegated Authority Limit and novel, contentious or repercussive
    ones, the changes with their reasons, the metrics against the conventional ranking with
    their Monte-Carlo intervals, the assumptions; the run's spend by platform, tier,
    organisation type, envelope and year; its analyses; the review comments with replies; and
    the mission's planned and actual P(target) by quarter. 409 when the quarter has no
    allocation yet."""
    view = report_view(uow, ctx.slug, quarter, ctx.user.username)
    uow.commit()  # the greedy baseline is cached on first view
    return as_utc(ReportView, view)
