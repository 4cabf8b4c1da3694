"""Analyses of a run (efficient frontiers, robustness core index, value of information, price of
policy) as background jobs whose results are cached per run. The sweeps run on local processes,
or on a Dask cluster when ``DASK_SCHEDULER`` is set (``optimiser.analytics.parallel``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from optimiser.problem import Problem, load_problem
from portfolio.errors import Conflict
from portfolio.model import OptimiserRun, RunAnalysis
from portfolio.services import record
from portfolio.unit_of_work import SqlUnitOfWork

LABELS = {
    "frontier": "Efficient frontier (budget 50 % to 150 %)",
    "risk_frontier": "Risk appetite frontier (CVaR λ)",
    "core": "Robustness: core index",
    "voi": "Value of information",
    "price": "Price of policy",
}


def queue(uow: SqlUnitOfWork, actor: str, run: OptimiserRun, kind: str) -> None:
    assert run.id is not None
    if not run.found_portfolio:
        raise Conflict(f"run {run.id} found no portfolio to analyse")
    existing = uow.analyses.get(run.id, kind)
    if existing is not None and existing.status in ("queued", "running"):
        raise Conflict("this analysis is already running")
    uow.analyses.put(
        RunAnalysis(
            run=run.id, kind=kind, status="queued", requested_by=actor, created_at=uow.now()
        )
    )
    record(uow, actor, run.mission, "analysis", f"{run.id}:{kind}", "requested")


ANALYSIS_TIME_LIMIT_S = 20.0


def compute(
    problem: Problem,
    kind: str,
    names: dict[str, str],
    on_progress: Callable[[int, int], None] | None = None,
    selected: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run one analysis on a problem file and return its JSON-ready result. Each re-solve gets
    at most ANALYSIS_TIME_LIMIT_S (or the policy's own limit when shorter)."""
    from optimiser.analytics import frontier, policy_price, robustness, voi
    from optimiser.analytics.parallel import scheduler_from_env

    scheduler = scheduler_from_env()
    limit = min(problem.policy.time_limit_s, ANALYSIS_TIME_LIMIT_S)
    common: dict[str, Any] = {
        "scheduler": scheduler,
        "on_progress": on_progress,
        "time_limit": limit,
    }
    if kind in ("frontier", "risk_frontier"):
        result = (
            frontier.budget_frontier(problem, **common)
            if kind == "frontier"
            else frontier.risk_frontier(problem, **common)
        )
        points = [
            {"x": p.fraction if kind == "frontier" else p.cvar_lambda, **p.model_dump(mode="json")}
            for p in result.points
        ]
        chosen = points[result.given_index] if result.given_index is not None else None
        return {
            "points": points,
            "chosen": chosen,
            "note": result.note,
            "objective": result.objective,
        }
    if kind == "core":
        core = robustness.core_index(problem, **common)
        rows = [
            {**r.model_dump(mode="json"), "name": names.get(r.candidate, r.candidate)}
            for r in core.rows
        ]
        return {
            "candidates": rows,
            "resamples": core.resamples,
            "solved": core.solved,
            "method": core.method,
        }
    if kind == "voi":
        voi_rows = voi.value_of_information(problem, selected=selected, **common)
        return {
            "rows": [
                {**r.model_dump(mode="json"), "name": names.get(r.candidate, r.candidate)}
                for r in voi_rows
            ]
        }
    if kind == "price":
        price_rows = policy_price.price_of_policy(problem, **common)
        return {"rows": [r.model_dump(mode="json") for r in price_rows]}
    raise ValueError(f"unknown analysis {kind}")


def execute(new_uow: Callable[[], SqlUnitOfWork], run_id: int, kind: str) -> str:
    """Compute a queued analysis and cache it; a failure is recorded, never left running."""
    with new_uow() as uow:
        analysis = uow.analyses.get(run_id, kind)
        run = uow.runs.find(run_id)
        if analysis is None or run is None or analysis.status != "queued":
            return analysis.status if analysis else "failed"
        names = {c.id: c.name for c in uow.candidates.all(run.mission)}
        uow.analyses.put(analysis.with_changes(status="running"))
        uow.commit()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] < 1.0 and done < total:
            return
        last[0] = time.monotonic()
        with new_uow() as uow:
            current = uow.analyses.get(run_id, kind)
            if current is not None:
                uow.analyses.put(current.with_changes(progress={"done": done, "total": total}))
                uow.commit()

    try:
        selected = (run.result or {}).get("selected")
        result = compute(load_problem(run.problem), kind, names, progress, selected)
        status, error = "done", None
    except Exception as exc:  # recorded and shown, never left "running"
        result, status, error = None, "failed", f"the analysis failed: {exc}"
    with new_uow() as uow:
        current = uow.analyses.get(run_id, kind)
        assert current is not None
        uow.analyses.put(
            current.with_changes(status=status, result=result, error=error, finished_at=uow.now())
        )
        uow.commit()
    return status


def fail_interrupted(uow: SqlUnitOfWork) -> None:
    for run_id, kind in uow.analyses.unfinished():
        current = uow.analyses.get(run_id, kind)
        assert current is not None
        uow.analyses.put(
            current.with_changes(
                status="failed",
                error="interrupted by a server restart; start it again",
                finished_at=uow.now(),
            )
        )
