"""Analyses of a run (efficient frontiers, robustness core index, value of information, price of
policy) as background jobs whose results are cached per run. The sweeps run on local processes,
or on a Dask cluster when ``DASK_SCHEDULER`` is set (``optimiser.analytics.parallel``).

When a run on the real budgets finds a portfolio, its frontier, core index and price of policy are
queued automatically (``queue_automatic``; the setting ``MP_AUTO_ANALYSES``): requested by the
system, not by the run's starter, who asked for a run and not for them. A what-if run asks one
question about scaled budgets and is never an allocation, so it gets none (they can still be
started by hand)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from optimiser.problem import Problem, load_problem
from portfolio.errors import Conflict
from portfolio.model import OptimiserRun, RunAnalysis
from portfolio.services import SYSTEM, record
from portfolio.unit_of_work import SqlUnitOfWork

LABELS = {
    "frontier": "Efficient frontier (budget 50 % to 150 %)",
    "risk_frontier": "Risk appetite frontier (CVaR λ)",
    "core": "Robustness: core index",
    "voi": "Value of information",
    "price": "Price of policy",
}


#: what every run that found a portfolio gets without anyone asking
AUTOMATIC = ("frontier", "core", "price")


def queue(
    uow: SqlUnitOfWork,
    actor: str,
    run: OptimiserRun,
    kind: str,
    *,
    why: dict[str, Any] | None = None,
) -> None:
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
    record(uow, actor, run.mission, "analysis", f"{run.id}:{kind}", "requested", after=why)


def queue_automatic(uow: SqlUnitOfWork, run: OptimiserRun) -> list[str]:
    """Queue the ``AUTOMATIC`` analyses of a finished run that found a portfolio on the real
    budgets (not a what-if), as the system; returns the kinds queued. A kind already queued or
    running for the run is left as it is."""
    assert run.id is not None
    if not run.found_portfolio or run.what_if:
        return []
    queued = []
    for kind in AUTOMATIC:
        existing = uow.analyses.get(run.id, kind)
        if existing is not None and existing.status in ("queued", "running"):
            continue
        queue(uow, SYSTEM, run, kind, why={"automatic": f"run {run.id} finished"})
        queued.append(kind)
    return queued


def queue_missing_automatic(uow: SqlUnitOfWork) -> list[int]:
    """Queue the ``AUTOMATIC`` analyses of each mission's latest approved allocation that has
    never had them (a database from before they were automatic, or runs made without the job
    runner, like the demo's); returns the runs queued. Analyses that failed or were run by hand
    are left alone."""
    queued: list[int] = []
    for mission in uow.missions.all():
        approved = [q.approved_run for q in uow.missions.quarters(mission.slug) if q.approved_run]
        if not approved:
            continue
        run = uow.runs.get(mission.slug, approved[-1])
        if uow.analyses.for_run(approved[-1]):
            continue
        if queue_automatic(uow, run):
            queued.append(approved[-1])
    return queued


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
        return {
            "rows": [
                {
                    **r.model_dump(mode="json"),
                    "name": price_rule_name(r.rule, r.key, r.label, names),
                }
                for r in price_rows
            ]
        }
    raise ValueError(f"unknown analysis {kind}")


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def summary(kind: str, result: dict[str, Any] | None) -> str:
    """A finished analysis in one or two sentences for the run page and the report; the tables
    and charts beside it hold the detail. Empty when there is nothing to say."""
    if not result:
        return ""
    if kind in ("frontier", "risk_frontier"):
        points = [p for p in result.get("points", []) if p.get("p_target") is not None]
        if not points:
            return "No setting of the sweep found a portfolio."
        first, last = points[0], points[-1]
        chosen = result.get("chosen")

        def at(p: dict[str, Any]) -> str:
            x = float(p["x"])
            return f"{x * 100:g} % of the budget" if kind == "frontier" else f"λ = {x:g}"

        text = (
            f"P(target) is {_pct(first['p_target'])} at {at(first)} and "
            f"{_pct(last['p_target'])} at {at(last)}."
        )
        if chosen and chosen.get("p_target") is not None:
            text += f" This portfolio ({at(chosen)}): {_pct(chosen['p_target'])}."
        return text
    if kind == "core":
        rows = result.get("candidates", [])
        core = [r["name"] for r in rows if r.get("classification") == "core"]
        exterior = [r for r in rows if r.get("classification") == "exterior"]
        text = (
            f"Over {result.get('solved', 0)} re-solves with resampled estimates, {len(core)} of "
            f"{len(rows)} candidates are funded almost always (core), {len(exterior)} almost "
            f"never, and {len(rows) - len(core) - len(exterior)} depend on the estimates."
        )
        if core:
            shown = ", ".join(core[:5]) + (f" and {len(core) - 5} more" if len(core) > 5 else "")
            text += f" Core: {shown}."
        return text
    if kind == "price":
        rows = [r for r in result.get("rows", []) if r.get("delta_objective") is not None]
        if not rows:
            return "No rule of this policy could be priced."
        worst = max(rows, key=lambda r: float(r["delta_objective"]))
        free = sum(1 for r in rows if abs(float(r["delta_objective"])) < 1e-6)
        if abs(float(worst["delta_objective"])) < 1e-6:
            return (
                f"None of the {len(rows)} rules priced costs anything: relaxing any one of "
                "them gains nothing."
            )
        change = worst.get("delta_p_target")
        text = f"The costliest rule is “{worst.get('name') or worst['label']}”"
        text += (
            f": relaxing it would change P(target) by {float(change) * 100:+.1f} points."
            if change is not None
            else "."
        )
        if free:
            text += f" {free} of the {len(rows)} rules priced cost nothing."
        return text
    if kind == "voi":
        rows = [r for r in result.get("rows", []) if r.get("evpi") is not None]
        if not rows:
            return ""
        best = max(rows, key=lambda r: float(r["evpi"]))
        return (
            f"Resolving the uncertainty about {best['name']} first is worth the most: "
            f"{float(best['evpi']) * 100:.2f} P(target) points."
        )
    return ""


def price_rule_name(rule: str, key: str, label: str, names: dict[str, str]) -> str:
    """A priced rule in people's words: a lock or an exclusion names its candidate (and option)
    instead of their identifiers; every other rule's label is already in words."""
    if rule not in ("lock", "exclusion"):
        return label
    candidate, _, option = key.partition("/")
    who = names.get(candidate, candidate) + (f" ({option})" if option else "")
    return f"Lock on {who}" if rule == "lock" else f"Exclusion of {who}"


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
