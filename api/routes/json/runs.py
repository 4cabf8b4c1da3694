"""Optimiser runs in the JSON API (under /api/v1): the problem the mission's data gives, runs
started, polled and read with their result, and the problem each run solved."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field

from api.deps import RunOptimiser, UowDep, ViewMission
from api.params import MAX_ROW_ID, RowId
from api.routes.json.common import UtcDateTime, as_utc, utc_model, v1_router
from optimiser.optimality import Optimality
from optimiser.result import Result
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain import montecarlo
from portfolio.domain.model import OptimiserRun, RunRecord
from portfolio.domain.run_policy import RunSettings
from portfolio.services import comparison, report_view
from portfolio.services import runs as run_service

router = v1_router()


class RunRequest(RunSettings):
    """Start an optimiser run on the mission's current data."""


class RunSummary(BaseModel):
    id: int
    quarter: str
    objective: str
    solver: str
    status: str
    started_by: str
    note: str
    created_at: UtcDateTime
    finished_at: UtcDateTime | None
    progress: dict[str, Any] | None
    error: str | None
    budget_scale: float = Field(description="the envelopes were scaled by this (1 = real)")
    what_if: bool = Field(description="made on scaled budgets: a question, never approvable")
    result: Result | None = Field(
        None, description="with the result: the result document (mission-portfolio/result)"
    )
    intervals: dict[str, dict[str, montecarlo.Interval]] | None = Field(
        None,
        description="with the result: the 95 % Monte-Carlo interval (Wilson score) of each "
        "share, in_sample and out_of_sample -> p_target, p_any_success, p_overrun -> "
        "{value, low, high, scenarios}",
    )
    optimality: Optimality | None = Field(
        None,
        description="with the result: how close to the best its portfolio is proven to be "
        "(proven, value, bound, gap and the same in words); none without a portfolio",
    )


def _summary(run: RunRecord) -> RunSummary:
    """A run as a list shows it: without its result."""
    return RunSummary(**_fields(run))


def _detail(run: OptimiserRun) -> RunSummary:
    """A run with its result, each share's Monte-Carlo interval and what the result proves."""
    result = run.result
    return RunSummary(
        **_fields(run),
        result=result,
        intervals=montecarlo.result_intervals(result.metrics) if result else None,
        optimality=run.optimality,
    )


def _fields(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id or 0,
        "quarter": run.quarter,
        "objective": run.objective,
        "solver": run.solver,
        "status": run.status,
        "started_by": run.started_by,
        "note": run.note,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "progress": run.progress,
        "error": run.error,
        "budget_scale": run.budget_scale,
        "what_if": run.what_if,
    }


@router.get("/missions/{slug}/problem")
def current_problem(ctx: RunOptimiser, uow: UowDep) -> dict[str, Any]:
    """The problem file the mission's current data gives, with the default policy."""
    return run_service.export_problem(uow, ctx.slug)


@router.get("/missions/{slug}/runs", response_model=list[RunSummary])
def runs(ctx: ViewMission, uow: UowDep) -> list[RunSummary]:
    """The mission's optimiser runs, each with its status and headline figures."""
    return [_summary(r) for r in uow.runs.records(ctx.slug)]


ComparisonOut = utc_model(comparison.Comparison)
RunAnalysesOut = utc_model(report_view.RunAnalyses)
RunIds = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]],
    Query(
        min_length=comparison.MIN_RUNS,
        max_length=comparison.MAX_RUNS,
        description="the runs to compare, in order: two, three or four",
    ),
]


@router.get("/missions/{slug}/runs/compare", response_model=ComparisonOut)
def compare(ctx: ViewMission, uow: UowDep, run: RunIds) -> comparison.Comparison:
    """Two to four runs side by side (``?run=3&run=5``), as the comparison page shows them: per
    run its settings, key numbers out of sample (with each share's 95 % Monte-Carlo interval),
    and why it cannot be approved now, if so; each pair's difference in P(target) and P(overrun)
    with its Monte-Carlo margin; spend by platform; what each funds; and the policy rules they
    differ in, in words."""
    return as_utc(comparison.Comparison, comparison.compare_runs(uow, ctx.slug, run))


@router.get("/missions/{slug}/runs/{run_id}/analyses", response_model=RunAnalysesOut)
def analyses(ctx: ViewMission, run_id: RowId, uow: UowDep) -> report_view.RunAnalyses:
    """A run's analyses as its page shows them: the automatic ones (efficient frontier, core
    index, price of policy) and any other started by hand (risk appetite frontier, value of
    information), each with its state, result once done and the result in words."""
    return as_utc(report_view.RunAnalyses, report_view.run_analyses(uow, ctx.slug, run_id))


@router.post("/missions/{slug}/runs", response_model=RunSummary, status_code=202)
def start_run(ctx: RunOptimiser, body: RunRequest, request: Request, uow: UowDep) -> RunSummary:
    """Queue a run; poll ``GET .../runs/{id}`` until its status is no longer queued/running."""
    run_id = run_service.start_run(
        uow,
        ctx.user.username,
        ctx.slug,
        body.policy,
        scenarios=body.scenarios,
        seed=body.seed,
        solver=body.solver,
        note=body.note,
        overrides=body.overrides,
        budget_scale=body.budget_scale,
        switching_loss=body.switching_loss,
    )
    uow.commit()
    request.app.state.jobs.submit(run_id)
    with SqlUnitOfWork(request.app.state.sessionmaker) as fresh:
        return _summary(fresh.runs.get(ctx.slug, run_id))


@router.get("/missions/{slug}/runs/{run_id}", response_model=RunSummary)
def run(ctx: ViewMission, run_id: RowId, uow: UowDep) -> RunSummary:
    """A run with its result document (``mission-portfolio/result``) once finished."""
    return _detail(uow.runs.get(ctx.slug, run_id))


@router.get("/missions/{slug}/runs/{run_id}/problem")
def run_problem(ctx: ViewMission, run_id: RowId, uow: UowDep) -> dict[str, Any]:
    """The exact problem file the run solved."""
    return uow.runs.get(ctx.slug, run_id).problem
