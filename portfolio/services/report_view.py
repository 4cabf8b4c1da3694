"""The allocation report page's view, built once: the web page renders it (with its charts) and
the JSON API returns it. Also a run's analyses as the run page and the report show them, and the
mission's trajectory (planned against actual P(target)) the report charts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain import display
from portfolio.domain.errors import NotFound
from portfolio.domain.model import (
    OptimiserRun,
    Quarter,
    ReviewComment,
    RunAnalysis,
)
from portfolio.services import allocation_report, analytics_jobs, cycle

#: the analyses the report offers, in the order it shows them
REPORT_ANALYSES = ("frontier", "risk_frontier", "core", "voi", "price")
#: the breakdowns of a run's spend: key of ``Result.spend`` -> title
SPEND_BREAKDOWNS = {
    "by_platform": "Spend by platform",
    "by_tier": "Spend by tier",
    "by_organisation_type": "Spend by organisation type",
    "by_envelope": "Spend by envelope",
    "by_year": "Spend by financial year",
}


class TrajectoryRow(BaseModel):
    """One quarter to the deadline: the planned P(target) and the approved allocation's."""

    quarter: str
    planned: float | None
    actual: float | None


class SpendBreakdown(BaseModel):
    key: str = Field(description="by_platform, by_tier, by_organisation_type, by_envelope, by_year")
    title: str
    values: dict[str, float] = Field(description="name as people read it -> £m, in the order shown")


class CommentEntry(BaseModel):
    id: int = Field(description="what a reply names")
    comment: ReviewComment


class RunAnalyses(BaseModel):
    """A run's analyses as a page shows them: each kind's state, its summary once done."""

    run: int
    kinds: list[str] = Field(description="the kinds shown, in order")
    labels: dict[str, str] = Field(description="kind -> its name")
    items: dict[str, RunAnalysis] = Field(description="kind -> the analysis, once started")
    summaries: dict[str, str] = Field(description="kind -> a finished analysis in words")
    active: bool = Field(description="an analysis is queued or running")
    voi: dict[str, Any] | None = Field(
        None, description="the finished value of information, as its table shows it"
    )


class ReportView(BaseModel):
    """Treasury's allocation report of one quarter, with what the page shows beside it."""

    label: str = Field(description="the quarter, e.g. 2026-27 Q3")
    url_quarter: str = Field(description="the quarter as written in addresses: 2026-27-Q3")
    report: allocation_report.AllocationReport
    spend: list[SpendBreakdown]
    analyses: RunAnalyses
    quarters: list[Quarter]
    comments: list[CommentEntry]
    trajectory: list[TrajectoryRow]
    policy_names: dict[str, str] = Field(
        description="the names of the candidates and options the run's policy refers to"
    )


def default_quarter(uow: SqlUnitOfWork, slug: str) -> str:
    """The quarter a report shows unless one is asked for: the latest with an approved
    allocation, else the latest."""
    quarters = uow.missions.quarters(slug)
    approved = [q.label for q in quarters if q.approved_run is not None]
    if approved:
        return approved[-1]
    if not quarters:
        raise NotFound("the mission has no quarters yet")
    return quarters[-1].label


def quarter_label(uow: SqlUnitOfWork, slug: str, quarter: str | None) -> str:
    """``2026-27-Q3`` or ``2026-27 Q3`` as a label; the default quarter when none is given."""
    return quarter.replace("-Q", " Q") if quarter else default_quarter(uow, slug)


def trajectory_rows(uow: SqlUnitOfWork, slug: str) -> list[TrajectoryRow]:
    """Per quarter to the deadline: planned P(target) and the approved portfolio's actual."""
    planned = {p.quarter: p.planned_p_target for p in uow.cycle.trajectory(slug)}
    approved = {q.label: q.approved_run for q in uow.missions.quarters(slug) if q.approved_run}
    p_targets = uow.runs.p_targets(slug, approved.values())
    actual: dict[str, float] = {}
    for label, run_id in approved.items():
        p_target = p_targets.get(run_id)
        if p_target is not None:
            actual[label] = p_target
    return [
        TrajectoryRow(quarter=q, planned=planned.get(q), actual=actual.get(q))
        for q in cycle.quarters_to_deadline(uow, slug)
    ]


def spend_series(run: OptimiserRun, key: str) -> dict[str, float]:
    """One breakdown of a run's spend (``by_platform``, ``by_year``, …) by name, as people read
    it: financial years in order, anything else largest first; envelopes by the names of the
    run's problem, platforms, tiers and organisation types from the display table."""
    data = getattr(run.result.spend, key, None) if run.result else None
    if not isinstance(data, dict):
        return {}
    if key == "by_year":
        years = list(run.problem.get("years", []))
        order = sorted(data, key=lambda y: (years.index(y) if y in years else len(years), y))
        return {year: float(data[year]) for year in order}
    envelopes = run.problem.get("envelopes", [])
    out: dict[str, float] = {}
    for code, amount in sorted(data.items(), key=lambda kv: -float(kv[1])):
        if key == "by_platform":
            name = display.platform_name(code)
        elif key == "by_envelope":
            name = display.envelope_name(code, envelopes)
        else:
            name = display.name_of(code)
        out[name] = out.get(name, 0.0) + float(amount)
    return out


def analyses_of(
    run_id: int, analyses: dict[str, RunAnalysis], kinds: tuple[str, ...] = REPORT_ANALYSES
) -> RunAnalyses:
    """What a page shows of a run's ``analyses`` of ``kinds``."""
    voi = analyses.get("voi")
    return RunAnalyses(
        run=run_id,
        kinds=list(kinds),
        labels={kind: analytics_jobs.LABELS[kind] for kind in kinds},
        items=analyses,
        summaries={
            kind: analytics_jobs.summary(kind, a.result)
            for kind, a in analyses.items()
            if a.status == "done"
        },
        active=any(a.status in ("queued", "running") for a in analyses.values()),
        voi=analytics_jobs.voi_view(voi.result) if voi and voi.status == "done" else None,
    )


def run_analyses(uow: SqlUnitOfWork, slug: str, run_id: int) -> RunAnalyses:
    """The run page's analyses: the automatic ones, and any other started by hand."""
    uow.runs.get(slug, run_id)  # a run of this mission, else NotFound
    analyses = uow.analyses.for_run(run_id)
    kinds = tuple(k for k in REPORT_ANALYSES if k in analytics_jobs.AUTOMATIC or k in analyses)
    return analyses_of(run_id, analyses, kinds)


def report_view(uow: SqlUnitOfWork, slug: str, quarter: str | None, actor: str) -> ReportView:
    """The report of ``quarter`` (the default quarter when None). The greedy baseline is cached
    on first view: the caller commits. Conflict when the quarter has no allocation yet."""
    label = quarter_label(uow, slug, quarter)
    report = allocation_report.allocation_report(uow, slug, label, actor)
    run_id = report.run.id
    assert run_id is not None
    return ReportView(
        label=label,
        url_quarter=label.replace(" ", "-"),
        report=report,
        spend=[
            SpendBreakdown(key=key, title=title, values=spend_series(report.run, key))
            for key, title in SPEND_BREAKDOWNS.items()
        ],
        analyses=analyses_of(run_id, uow.analyses.for_run(run_id)),
        quarters=uow.missions.quarters(slug),
        comments=[CommentEntry(id=i, comment=c) for i, c in uow.reviews.all(slug, label)],
        trajectory=trajectory_rows(uow, slug),
        policy_names=display.problem_names(report.run.problem),
    )
