"""Treasury's allocation report of a quarter: one page that prints on A4, its charts (SVG), its
downloads (CSV, Excel, problem and result files), review comments, and background analytics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from api.charts import Chart, bars, frontier, trajectory
from api.deps import FormDep, MissionAccess, MissionContext, UowDep
from api.params import RowId
from api.permissions import Perm
from api.routes.html.missions import trajectory_points
from api.templating import render
from portfolio import report as reports
from portfolio.csvio import to_csv
from portfolio.errors import Conflict, InvalidInput, NotFound
from portfolio.model import ANALYTICS_KINDS
from portfolio.unit_of_work import SqlUnitOfWork

router = APIRouter(include_in_schema=False)

ViewMission = Annotated[MissionContext, Depends(MissionAccess(Perm.view_mission))]
Comment = Annotated[MissionContext, Depends(MissionAccess(Perm.comment_review))]
Reply = Annotated[MissionContext, Depends(MissionAccess(Perm.manage_cycle))]
Analytics = Annotated[MissionContext, Depends(MissionAccess(Perm.run_analytics))]

SPEND_CHARTS = {
    "platform": ("Spend by platform", "by_platform"),
    "tier": ("Spend by tier", "by_tier"),
    "organisation_type": ("Spend by organisation type", "by_organisation_type"),
    "envelope": ("Spend by envelope", "by_envelope"),
    "year": ("Spend by financial year", "by_year"),
}


def default_quarter(uow: SqlUnitOfWork, slug: str) -> str:
    approved = [q.label for q in uow.missions.quarters(slug) if q.approved_run is not None]
    if approved:
        return approved[-1]
    quarters = uow.missions.quarters(slug)
    if not quarters:
        raise NotFound("the mission has no quarters yet")
    return quarters[-1].label


def _label(uow: SqlUnitOfWork, slug: str, quarter: str | None) -> str:
    return quarter.replace("-Q", " Q") if quarter else default_quarter(uow, slug)


def _charts(
    uow: SqlUnitOfWork, ctx: MissionContext, rep: reports.AllocationReport, analyses: dict[str, Any]
) -> dict[str, Chart]:
    charts: dict[str, Chart] = {}
    for name, (title, key) in SPEND_CHARTS.items():
        data = rep.spend.get(key) or {}
        if data:
            charts[name] = bars(title, dict(sorted(data.items(), key=lambda kv: -kv[1])), "£m")
    points = trajectory_points(uow, ctx.slug)
    mission = uow.missions.get(ctx.slug)
    charts["trajectory"] = trajectory(
        [str(p["quarter"]) for p in points],
        [p["planned"] for p in points],  # type: ignore[misc]
        [p["actual"] for p in points],  # type: ignore[misc]
        mission.rag_green,
        mission.rag_amber,
    )
    for kind, xlabel, title in (
        (
            "frontier",
            "budget, share of the envelopes",
            "Efficient frontier: budget against P(target)",
        ),
        ("risk_frontier", "CVaR weight λ", "Risk appetite against P(target)"),
    ):
        analysis = analyses.get(kind)
        if analysis and analysis.result:
            pts = [
                (float(p["x"]), float(p["p_target"]))
                for p in analysis.result["points"]
                if p.get("p_target") is not None
            ]
            chosen = analysis.result.get("chosen")
            charts[kind] = frontier(
                pts,
                (float(chosen["x"]), float(chosen["p_target"])) if chosen else None,
                xlabel,
                title,
            )
    core = analyses.get("core")
    if core and core.result:
        shares = {row["name"]: float(row["share"]) for row in core.result["candidates"]}
        charts["core"] = bars(
            "Core index: share of resamples funding each candidate",
            dict(sorted(shares.items(), key=lambda kv: -kv[1])),
            "share of resamples",
            limits=(0, 1.05),
            lines=[(0.1, "exterior"), (0.9, "core")],
        )
    return charts


def report_context(
    uow: SqlUnitOfWork, ctx: MissionContext, quarter: str | None, **extra: Any
) -> dict[str, Any]:
    label = _label(uow, ctx.slug, quarter)
    rep = reports.allocation_report(uow, ctx.slug, label, ctx.user.username)
    uow.commit()  # the greedy baseline is cached on first view
    assert rep.run.id is not None
    analyses = uow.analyses.for_run(rep.run.id)
    charts = _charts(uow, ctx, rep, analyses)
    return {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "report": rep,
        "label": label,
        "url_quarter": label.replace(" ", "-"),
        "charts": charts,
        "analyses": analyses,
        "analytics_kinds": ANALYTICS_KINDS,
        "quarters": uow.missions.quarters(ctx.slug),
        "comments": uow.reviews.all(ctx.slug, label),
        "trajectory": trajectory_points(uow, ctx.slug),
        "active": any(a.status in ("queued", "running") for a in analyses.values()),
        **extra,
    }


@router.get("/missions/{slug}/report")
def report_page(
    request: Request, ctx: ViewMission, uow: UowDep, quarter: str | None = None
) -> Response:
    try:
        context = report_context(uow, ctx, quarter)
    except Conflict as exc:
        return render(
            request,
            "report/none.html",
            {
                "mission": uow.missions.get(ctx.slug),
                "ctx": ctx,
                "message": str(exc),
                "quarters": uow.missions.quarters(ctx.slug),
            },
        )
    return render(request, "report/report.html", context)


@router.get("/missions/{slug}/report/charts/{name}.svg")
def chart(ctx: ViewMission, name: str, uow: UowDep, quarter: str | None = None) -> Response:
    label = _label(uow, ctx.slug, quarter)
    rep = reports.allocation_report(uow, ctx.slug, label, ctx.user.username)
    assert rep.run.id is not None
    charts = _charts(uow, ctx, rep, uow.analyses.for_run(rep.run.id))
    if name not in charts:
        raise NotFound(f"no chart {name} for this report yet")
    return Response(
        charts[name].svg,
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=60"},
    )


@router.get("/missions/{slug}/report/allocation.csv")
def allocation_csv(ctx: ViewMission, uow: UowDep, quarter: str | None = None) -> Response:
    label = _label(uow, ctx.slug, quarter)
    rep = reports.allocation_report(uow, ctx.slug, label, ctx.user.username)
    rows = [line.model_dump() for line in rep.funding]
    body = to_csv(rows, list(reports.FundingLine.model_fields))
    name = f"{ctx.slug}-{label.replace(' ', '-')}-allocation.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/missions/{slug}/report/allocation.xlsx")
def allocation_xlsx(ctx: ViewMission, uow: UowDep, quarter: str | None = None) -> Response:
    label = _label(uow, ctx.slug, quarter)
    rep = reports.allocation_report(uow, ctx.slug, label, ctx.user.username)
    name = f"{ctx.slug}-{label.replace(' ', '-')}-allocation.xlsx"
    return Response(
        reports.workbook(rep),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/missions/{slug}/report/comments")
def add_comment(
    request: Request, ctx: Comment, form: FormDep, uow: UowDep, quarter: str | None = None
) -> Response:
    label = _label(uow, ctx.slug, str(form.get("quarter") or "") or quarter)
    try:
        reports.add_comment(uow, ctx.user.username, ctx.slug, label, str(form.get("text") or ""))
        uow.commit()
        return RedirectResponse(
            f"/missions/{ctx.slug}/report?quarter={label.replace(' ', '-')}#comments",
            status_code=303,
        )
    except InvalidInput as exc:
        errors = exc.errors
    uow.rollback()
    return render(
        request,
        "report/report.html",
        report_context(uow, ctx, label, errors=errors),
        status_code=422,
    )


@router.post("/missions/{slug}/report/comments/{comment_id}/reply")
def reply(ctx: Reply, comment_id: RowId, form: FormDep, uow: UowDep) -> Response:
    label = reports.reply_comment(
        uow, ctx.user.username, ctx.slug, comment_id, str(form.get("reply") or "")
    )
    uow.commit()
    return RedirectResponse(
        f"/missions/{ctx.slug}/report?quarter={label.replace(' ', '-')}#comments", status_code=303
    )


@router.post("/missions/{slug}/runs/{run_id}/analytics/{kind}")
def start_analysis(
    request: Request, ctx: Analytics, run_id: RowId, kind: str, uow: UowDep
) -> Response:
    from portfolio import analytics_jobs

    if kind not in ANALYTICS_KINDS or kind == "baseline":
        raise InvalidInput.single("kind", "choose frontier, risk_frontier, core, voi or price")
    run = uow.runs.get(ctx.slug, run_id)
    analytics_jobs.queue(uow, ctx.user.username, run, kind)
    uow.commit()
    request.app.state.jobs.submit_analysis(run_id, kind)
    return RedirectResponse(
        f"/missions/{ctx.slug}/report?quarter={run.quarter.replace(' ', '-')}#analytics",
        status_code=303,
    )
