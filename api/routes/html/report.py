"""Treasury's allocation report of a quarter: one page that prints on A4, its charts (SVG), its
downloads (CSV, Excel, problem and result files), review comments, and a run's analyses.

Charts are drawn once per run and data, and kept in the database (``reports.cached_chart``):
each page names the drawing it shows by the key of its data (``?v=``), so a chart already drawn
is one query away, and a new analysis result or trajectory point gives a new drawing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.charts import Chart, bars, frontier, trajectory
from api.deps import (
    CommentReview,
    FormDep,
    ManageCycle,
    MissionContext,
    RunAnalytics,
    UowDep,
    ViewMission,
)
from api.downloads import CSV, XLSX, attachment, quarter_file
from api.flash import redirect_done
from api.params import RowId
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput, NotFound
from portfolio.domain.model import ANALYTICS_KINDS, Mission, OptimiserRun, RunAnalysis
from portfolio.services import allocation_report as reports
from portfolio.services import analytics_jobs, report_view
from portfolio.services.csvio import to_csv

router = APIRouter(include_in_schema=False)


SPEND_CHARTS = {
    "platform": ("Spend by platform", "by_platform"),
    "tier": ("Spend by tier", "by_tier"),
    "organisation_type": ("Spend by organisation type", "by_organisation_type"),
    "envelope": ("Spend by envelope", "by_envelope"),
    "year": ("Spend by financial year", "by_year"),
}
# the analyses drawn as charts: (x-axis label, title)
ANALYSIS_CHARTS = {
    "frontier": ("budget, share of the envelopes", "Efficient frontier: budget against P(target)"),
    "risk_frontier": ("CVaR weight λ", "Risk appetite against P(target)"),
    "core": ("share of resamples", "Core index: share of resamples funding each candidate"),
}
CHARTS = (*SPEND_CHARTS, "trajectory", *ANALYSIS_CHARTS)


def _label(uow: SqlUnitOfWork, slug: str, quarter: str | None) -> str:
    return report_view.quarter_label(uow, slug, quarter)


def analysis_chart(kind: str, analysis: RunAnalysis | None) -> Chart | None:
    """The chart of a finished analysis (frontier, risk frontier, core index), else None."""
    if kind not in ANALYSIS_CHARTS or analysis is None or not analysis.result:
        return None
    xlabel, title = ANALYSIS_CHARTS[kind]
    if kind == "core":
        shares: dict[str, float] = {}
        borderline: set[str] = set()  # drawn in orange; the table beside names every class
        for row in analysis.result.get("candidates", []):
            shares[str(row["name"])] = float(row["share"])
            if row.get("classification") == "borderline":
                borderline.add(str(row["name"]))
        return bars(
            f"{title} (borderline in orange)" if borderline else title,
            dict(sorted(shares.items(), key=lambda kv: -kv[1])),
            xlabel,
            highlight=borderline,
            limits=(0, 1.05),
            lines=[(0.1, "exterior"), (0.9, "core")],
        )
    points = [
        (float(p["x"]), float(p["p_target"]))
        for p in analysis.result.get("points", [])
        if p.get("p_target") is not None
    ]
    chosen = analysis.result.get("chosen")
    given = (float(chosen["x"]), float(chosen["p_target"])) if chosen else None
    return frontier(points, given, xlabel, title)


def _trajectory_chart(mission: Mission, points: list[report_view.TrajectoryRow]) -> Chart:
    return trajectory(
        [p.quarter for p in points],
        [p.planned for p in points],
        [p.actual for p in points],
        mission.rag_green,
        mission.rag_amber,
    )


def chart_for(
    uow: SqlUnitOfWork,
    slug: str,
    run: OptimiserRun,
    name: str,
    *,
    analyses: dict[str, RunAnalysis] | None = None,
    points: list[report_view.TrajectoryRow] | None = None,
    mission: Mission | None = None,
) -> Chart | None:
    """Chart ``name`` of run ``run`` (the report's charts are all a run's, but the trajectory,
    which is the mission's); None when it has no data (yet). Only what that chart needs is read,
    unless the caller has it already (``analyses``, ``points``, ``mission``)."""
    assert run.id is not None
    if name in SPEND_CHARTS:
        title, key = SPEND_CHARTS[name]
        data = report_view.spend_series(run, key)
        return bars(title, data, "£m") if data else None
    if name == "trajectory":
        return _trajectory_chart(
            mission or uow.missions.get(slug),
            report_view.trajectory_rows(uow, slug) if points is None else points,
        )
    if name in ANALYSIS_CHARTS:
        analysis = (
            (analyses or {}).get(name) if analyses is not None else uow.analyses.get(run.id, name)
        )
        return analysis_chart(name, analysis)
    return None


def run_charts(
    uow: SqlUnitOfWork,
    slug: str,
    run: OptimiserRun,
    analyses: dict[str, RunAnalysis],
    points: list[report_view.TrajectoryRow],
    names: tuple[str, ...] = CHARTS,
    mission: Mission | None = None,
) -> dict[str, Chart]:
    """The charts of a run that have data, by name (drawn only when their SVG is asked for)."""
    charts = {
        name: chart_for(uow, slug, run, name, analyses=analyses, points=points, mission=mission)
        for name in names
    }
    return {name: chart for name, chart in charts.items() if chart is not None}


# ``?v=`` on a chart's address: the key of the data the page drew it from. (Browsers are told
# not to store any page or chart, ``api.app``: the server keeps the drawings instead.)
ChartVersion = Annotated[str | None, Query(max_length=64, pattern="^[0-9a-f]+$")]


def _svg(svg: bytes) -> Response:
    return Response(svg, media_type="image/svg+xml")


def chart_response(
    uow: SqlUnitOfWork, run: OptimiserRun, name: str, chart: Chart | None
) -> Response:
    """The chart's SVG as its data are now, drawn once for them and kept
    (``reports.cached_chart``)."""
    if chart is None:
        raise NotFound(f"no chart {name} for this run yet")
    assert run.id is not None
    return _svg(reports.cached_chart(uow, run.id, name, chart.key, lambda: chart.svg))


def chart_src(base: str, chart: Chart, query: str = "") -> str:
    """A chart's address for a page: ``base`` with the key of its data (``?v=``)."""
    return f"{base}?{query + '&' if query else ''}v={chart.key}" if chart.key else base


def analyses_context(
    uow: SqlUnitOfWork, slug: str, run: OptimiserRun, view: report_view.RunAnalyses
) -> dict[str, Any]:
    """What a page shows of a run's analyses (``report/_analyses.html``): the view's status
    and summary of each kind, and the charts of those that have one."""
    charts = run_charts(uow, slug, run, view.items, [], tuple(ANALYSIS_CHARTS))
    base = f"/missions/{slug}/runs/{run.id}/charts"
    return {
        "analyses": view.items,
        "analysis_kinds": view.kinds,
        "analysis_labels": view.labels,
        "analysis_summaries": view.summaries,
        "analysis_charts": charts,
        "analysis_chart_srcs": {
            name: chart_src(f"{base}/{name}.svg", chart) for name, chart in charts.items()
        },
        "analyses_active": view.active,
        "voi_view": view.voi,
    }


def report_context(
    uow: SqlUnitOfWork, ctx: MissionContext, quarter: str | None, **extra: Any
) -> dict[str, Any]:
    """The report page: its view (``report_view.report_view``), with the charts drawn from it."""
    view = report_view.report_view(uow, ctx.slug, quarter, ctx.user.username)
    uow.commit()  # the greedy baseline is cached on first view
    rep = view.report
    mission = uow.missions.get(ctx.slug)
    charts = run_charts(
        uow, ctx.slug, rep.run, view.analyses.items, view.trajectory, mission=mission
    )
    return {
        "mission": mission,
        "ctx": ctx,
        "report": rep,
        "label": view.label,
        "url_quarter": view.url_quarter,
        "charts": charts,
        "chart_srcs": {
            name: chart_src(
                f"/missions/{ctx.slug}/report/charts/{name}.svg",
                chart,
                f"quarter={view.url_quarter}",
            )
            for name, chart in charts.items()
        },
        "spend_data": [(s.title, s.key, s.values) for s in view.spend],
        **analyses_context(uow, ctx.slug, rep.run, view.analyses),
        "quarters": view.quarters,
        "comments": [(c.id, c.comment) for c in view.comments],
        "trajectory": view.trajectory,
        "policy_names": view.policy_names,
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
def chart(
    ctx: ViewMission, name: str, uow: UowDep, quarter: str | None = None, v: ChartVersion = None
) -> Response:
    """A chart of the quarter's report. The page names the drawing it wants (``v``): a kept
    drawing is one query away; otherwise only that chart's data is read, and it is drawn once."""
    if v and (kept := uow.charts.of_mission(ctx.slug, name, v)) is not None:
        return _svg(kept)
    label = _label(uow, ctx.slug, quarter)
    _, run, _ = reports.report_run(uow, ctx.slug, label)
    return chart_response(uow, run, name, chart_for(uow, ctx.slug, run, name))


@router.get("/missions/{slug}/runs/{run_id}/charts/{name}.svg")
def run_chart(
    ctx: ViewMission, run_id: RowId, name: str, uow: UowDep, v: ChartVersion = None
) -> Response:
    """A chart of a run (the run page shows its analyses' charts), kept as the report's are."""
    if v and (kept := uow.charts.of_mission(ctx.slug, name, v, run_id)) is not None:
        return _svg(kept)
    run = uow.runs.get(ctx.slug, run_id)
    return chart_response(uow, run, name, chart_for(uow, ctx.slug, run, name))


@router.get("/missions/{slug}/report/allocation.csv")
def allocation_csv(ctx: ViewMission, uow: UowDep, quarter: str | None = None) -> Response:
    label = _label(uow, ctx.slug, quarter)
    rep = reports.allocation_report(uow, ctx.slug, label, ctx.user.username)
    rows = [line.model_dump() for line in rep.funding]
    body = to_csv(rows, list(reports.FundingLine.model_fields))
    return attachment(body, CSV, quarter_file(ctx.slug, label, "allocation.csv"))


@router.get("/missions/{slug}/report/allocation.xlsx")
def allocation_xlsx(ctx: ViewMission, uow: UowDep, quarter: str | None = None) -> Response:
    label = _label(uow, ctx.slug, quarter)
    rep = reports.allocation_report(uow, ctx.slug, label, ctx.user.username)
    return attachment(reports.workbook(rep), XLSX, quarter_file(ctx.slug, label, "allocation.xlsx"))


@router.post("/missions/{slug}/report/comments")
def add_comment(
    request: Request, ctx: CommentReview, form: FormDep, uow: UowDep, quarter: str | None = None
) -> Response:
    label = _label(uow, ctx.slug, str(form.get("quarter") or "") or quarter)
    text = str(form.get("text") or "")
    try:
        reports.add_comment(uow, ctx.user.username, ctx.slug, label, text)
        uow.commit()
        return redirect_done(
            request,
            f"/missions/{ctx.slug}/report?quarter={label.replace(' ', '-')}#comments",
            f"Your comment on the {label} report was added.",
        )
    except InvalidInput as exc:
        errors = exc.errors
    uow.rollback()
    return render(
        request,
        "report/report.html",
        report_context(
            uow,
            ctx,
            label,
            errors=errors,
            values={"text": text},
            field_labels={"text": "Add a review comment"},
        ),
        status_code=422,
    )


@router.post("/missions/{slug}/report/comments/{comment_id}/reply")
def reply(
    request: Request, ctx: ManageCycle, comment_id: RowId, form: FormDep, uow: UowDep
) -> Response:
    text = str(form.get("reply") or "")
    try:
        label = reports.reply_comment(uow, ctx.user.username, ctx.slug, comment_id, text)
        uow.commit()
    except InvalidInput as exc:
        uow.rollback()
        quarter = next(
            (c.quarter for cid, c in uow.reviews.all(ctx.slug) if cid == comment_id),
            None,
        )
        return render(
            request,
            "report/report.html",
            report_context(
                uow,
                ctx,
                quarter,
                errors=exc.errors,
                values={"reply": text},
                replying=comment_id,
                field_labels={"reply": "Reply"},
            ),
            status_code=422,
        )
    return redirect_done(
        request,
        f"/missions/{ctx.slug}/report?quarter={label.replace(' ', '-')}#comments",
        "Your reply was added to the comment.",
    )


@router.post("/missions/{slug}/runs/{run_id}/analytics/{kind}")
def start_analysis(
    request: Request, ctx: RunAnalytics, run_id: RowId, kind: str, form: FormDep, uow: UowDep
) -> Response:
    """Start (or run again) one analysis of a run; back to the report, or to the run page when
    started from there (``back=run``)."""
    if kind not in ANALYTICS_KINDS or kind == "baseline":
        raise InvalidInput.single("kind", "choose frontier, risk_frontier, core, voi or price")
    run = uow.runs.get(ctx.slug, run_id)
    analytics_jobs.queue(uow, ctx.user.username, run, kind)
    uow.commit()
    request.app.state.jobs.submit_analysis(run_id, kind)
    if form.get("back") == "run":
        url = f"/missions/{ctx.slug}/runs/{run_id}#analyses"
    else:
        url = f"/missions/{ctx.slug}/report?quarter={run.quarter.replace(' ', '-')}#analytics"
    return redirect_done(
        request, url, f"{analytics_jobs.LABELS[kind]} of run {run_id} has started."
    )
