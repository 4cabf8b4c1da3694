"""Analyses of a run (efficient frontiers, robustness core index, value of information, price of
policy) as background jobs whose results are cached per run. The sweeps run on local processes,
or on a Dask cluster when ``DASK_SCHEDULER`` is set (``optimiser.analytics.parallel``).

When a run on the real budgets finds a portfolio, its frontier, core index and price of policy are
queued automatically (``queue_automatic``; the setting ``MP_AUTO_ANALYSES``): requested by the
system, not by the run's starter, who asked for a run and not for them. A what-if run asks one
question about scaled budgets and is never an allocation, so it gets none (they can still be
started by hand).

What a finished analysis says in words (summaries, the value of information table) is
``portfolio.services.analysis_views``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from optimiser.problem import Problem, load_problem
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict
from portfolio.domain.model import OptimiserRun, RunAnalysis, Score, StoredAggregate
from portfolio.services import quarters
from portfolio.services.analysis_views import price_rule_name
from portfolio.services.analysis_views import summary as summary
from portfolio.services.analysis_views import voi_summary as voi_summary
from portfolio.services.analysis_views import voi_view as voi_view
from portfolio.services.missions import SYSTEM, record

LABELS = {
    "frontier": "Efficient frontier (budget 50 % to 150 %)",
    "risk_frontier": "Risk appetite frontier (CVaR λ)",
    "core": "Robustness: core index",
    "voi": "Value of information (EVPPI)",
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


def queue_automatic(
    uow: SqlUnitOfWork,
    run: OptimiserRun,
    kinds: tuple[str, ...] = AUTOMATIC,
    why: str | None = None,
) -> list[str]:
    """Queue the ``AUTOMATIC`` analyses (or ``kinds``) of a finished run that found a portfolio
    on the real budgets (not a what-if), as the system; returns the kinds queued. A kind already
    queued or running for the run is left as it is."""
    assert run.id is not None
    if not run.found_portfolio or run.what_if:
        return []
    queued = []
    for kind in kinds:
        existing = uow.analyses.get(run.id, kind)
        if existing is not None and existing.status in ("queued", "running"):
            continue
        queue(uow, SYSTEM, run, kind, why={"automatic": why or f"run {run.id} finished"})
        queued.append(kind)
    return queued


CATCH_UP = (*AUTOMATIC, "voi")
"""What a server starts on start-up for the runs a person reads first (``queue_missing``): the
automatic analyses and the value of information, which is too slow to run after every run."""


def queue_missing_automatic(uow: SqlUnitOfWork) -> list[int]:
    """For each mission's latest approved allocation and the current quarter's latest run that
    found a portfolio, when the run has never had an analysis (a database from before analyses
    were automatic, or runs made without the job runner, like the demo's), queue the
    ``CATCH_UP`` analyses; returns the runs queued. Runs with any analysis are left alone."""
    queued: list[int] = []
    for mission in uow.missions.all():
        approved = [q.approved_run for q in uow.missions.quarters(mission.slug) if q.approved_run]
        current = quarters.current_quarter(uow, mission.slug)
        latest = next(
            (
                r.id
                for r in uow.runs.all(mission.slug)
                if r.quarter == current and r.found_portfolio and not r.what_if
            ),
            None,
        )
        for run_id in dict.fromkeys([*approved[-1:], *([latest] if latest else [])]):
            assert run_id is not None
            if uow.analyses.for_run(run_id):
                continue
            run = uow.runs.get(mission.slug, run_id)
            if queue_automatic(uow, run, CATCH_UP, why="the server started"):
                queued.append(run_id)
    return queued


ANALYSIS_TIME_LIMIT_S = 20.0
#: the value of information: at most how long each of its re-solves may take (at the demo's size
#: they take 0.2–0.5 s; the sweep is K = 48 re-solves per candidate whose decision could change)
VOI_TIME_LIMIT_S = 10.0
#: the core index: how many resamples, at most how long each re-solve, and at most how many
#: optimisation scenarios each resample draws afresh (the run's own count when smaller, so each
#: resample sees as much scenario noise as the run did). At the demo's size a re-solve takes
#: 0.2 s on a quiet machine and 0.5–1.5 s on a loaded one (benchmarks/core.py: 100 resamples in
#: 15–80 s); the limit, half the other analyses', bounds the worst case while leaving loaded
#: machines room to finish (a solve stopped at its limit keeps its best portfolio so far)
CORE_RESAMPLES = 100
CORE_TIME_LIMIT_S = 10.0
CORE_MAX_SCENARIOS = 2000


def council_inputs(uow: SqlUnitOfWork, run: OptimiserRun) -> dict[str, Any]:
    """What the core index resamples of the council's judgement for ``run``, per option of its
    problem (``candidate/option``): ``member_scores``, the members' submitted scores of the
    scoring round the run's estimates came from — each member's p and weight from the frozen
    aggregate's contributions, and their impact three-point from their score — or, for an
    aggregate that does not list its contributions, ``spread``: the standard deviation of the
    pooled p, p_sd / sqrt(scorers) (the spread of a mean of the members' p). Options the council
    never scored get neither (the optimiser's default Beta then).

    The round is the latest closed one up to the run's quarter whose pooled impact is the one in
    the run's problem (``to_problem`` copies it there); when none matches (the aggregate was
    frozen again since), the latest one up to the run's quarter gives the members' p only."""
    options = {
        f"{c['id']}/{o['id']}": o
        for c in run.problem.get("candidates", [])
        for o in c.get("options", [])
    }
    rounds: dict[str, list[StoredAggregate]] = {}
    for agg in uow.aggregates.all(run.mission):  # ordered by quarter
        if agg.quarter <= run.quarter:
            rounds.setdefault(f"{agg.candidate}/{agg.option}", []).append(agg)
    scores: dict[str, dict[tuple[str, str, str], Score]] = {}
    members: dict[str, list[dict[str, Any]]] = {}
    spread: dict[str, dict[str, float]] = {}
    for key, option in options.items():
        found = rounds.get(key)
        if not found:
            continue
        matching = [a for a in found if _same_impact(a.data.get("impact"), option.get("impact"))]
        agg = (matching or found)[-1]
        contributions = agg.data.get("contributions") or []
        if contributions:
            if matching and agg.quarter not in scores:
                scores[agg.quarter] = {
                    (s.candidate, s.option, s.member): s
                    for s in uow.scores.all(run.mission, agg.quarter)
                }
            given = scores.get(agg.quarter, {}) if matching else {}
            members[key] = [
                {
                    "member": c["member"],
                    "p_success": float(c["p"]),
                    "weight": float(c["weight"]),
                    **_impact_of(given.get((agg.candidate, agg.option, c["member"]))),
                }
                for c in contributions
            ]
        elif agg.data.get("p_sd") is not None and agg.data.get("n_scorers"):
            p = float(option.get("p_success", 0.0))
            sd = float(agg.data["p_sd"]) / math.sqrt(int(agg.data["n_scorers"]))
            spread[key] = {"sd": min(sd, 0.99 * math.sqrt(p * (1.0 - p)))}
    return {"member_scores": members, "spread": spread}


def _same_impact(pooled: Any, impact: Any) -> bool:
    """Is the aggregate's pooled impact (low, most_likely, high) the problem's (low, mode,
    high)?"""
    if not isinstance(pooled, dict) or not isinstance(impact, dict):
        return False
    pairs = (("low", "low"), ("most_likely", "mode"), ("high", "high"))
    try:
        return all(
            math.isclose(float(pooled[a]), float(impact[b]), rel_tol=1e-9, abs_tol=1e-12)
            for a, b in pairs
        )
    except (KeyError, TypeError, ValueError):
        return False


def _impact_of(score: Score | None) -> dict[str, Any]:
    if score is None or score.impact is None:
        return {}
    return {"impact": score.impact.problem_file()}


def compute(
    problem: Problem,
    kind: str,
    names: dict[str, str],
    on_progress: Callable[[int, int], None] | None = None,
    selected: dict[str, str] | None = None,
    *,
    council: dict[str, Any] | None = None,
    beliefs: dict[str, dict[str, float]] | None = None,
) -> dict[str, Any]:
    """Run one analysis on a problem file and return its JSON-ready result. Each re-solve gets
    at most ANALYSIS_TIME_LIMIT_S (or the policy's own limit when shorter). ``council`` is what
    the core index resamples of the council's judgement (``council_inputs``); ``beliefs`` the
    council's Beta belief in each option's p that the value of information draws from
    (``belief_spread``)."""
    from optimiser.analytics.parallel import scheduler_from_env

    scheduler = scheduler_from_env()
    limit = min(problem.policy.time_limit_s, ANALYSIS_TIME_LIMIT_S)
    common: dict[str, Any] = {
        "scheduler": scheduler,
        "on_progress": on_progress,
        "time_limit": limit,
    }
    if kind in ("frontier", "risk_frontier"):
        return _frontier(problem, kind, common)
    if kind == "core":
        return _core_index(problem, names, council, common)
    if kind == "voi":
        return _value_of_information(problem, names, selected, beliefs, common)
    if kind == "price":
        return _price_of_policy(problem, names, common)
    raise ValueError(f"unknown analysis {kind}")


def _frontier(problem: Problem, kind: str, common: dict[str, Any]) -> dict[str, Any]:
    """The budget frontier (``frontier``) or the risk appetite frontier (``risk_frontier``), with
    the point of the run's own setting."""
    from optimiser.analytics import frontier

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


def _core_index(
    problem: Problem,
    names: dict[str, str],
    council: dict[str, Any] | None,
    common: dict[str, Any],
) -> dict[str, Any]:
    """The robustness core index, resampling the council's judgement, each re-solve within
    CORE_TIME_LIMIT_S on at most CORE_MAX_SCENARIOS scenarios."""
    from optimiser.analytics import robustness

    sampled = getattr(problem.scenarios, "count", None)
    core = robustness.core_index(
        problem,
        resamples=CORE_RESAMPLES,
        member_scores=(council or {}).get("member_scores") or None,
        spread=(council or {}).get("spread") or None,
        scenarios=min(sampled, CORE_MAX_SCENARIOS) if sampled else None,
        **{**common, "time_limit": min(common["time_limit"], CORE_TIME_LIMIT_S)},
    )
    rows = [
        {**r.model_dump(mode="json"), "name": names.get(r.candidate, r.candidate)}
        for r in core.rows
    ]
    return {
        "candidates": rows,
        "resamples": core.resamples,
        "solved": core.solved,
        "method": core.method,
        "sources": core.sources,
        "scenario_count": core.scenario_count,
        "scenario_seeds": core.scenario_seeds,
        "core_threshold": core.core_threshold,
        "exterior_threshold": core.exterior_threshold,
    }


def _value_of_information(
    problem: Problem,
    names: dict[str, str],
    selected: dict[str, str] | None,
    beliefs: dict[str, dict[str, float]] | None,
    common: dict[str, Any],
) -> dict[str, Any]:
    """The expected value of partial perfect information (EVPPI) of each option's p, drawn from
    the council's beliefs when there are any, each re-solve within VOI_TIME_LIMIT_S."""
    from optimiser.analytics import voi

    spread: dict[str, Any] | None = dict(beliefs) if beliefs else None
    found = voi.evppi(
        problem,
        selected=selected,
        spread=spread,
        **{**common, "time_limit": min(common["time_limit"], VOI_TIME_LIMIT_S)},
    )
    return {
        "method": "evppi",
        "objective": found.objective,
        "unit": problem.mission.unit,
        "draws": found.draws,
        "evaluation_scenarios": found.evaluation_scenarios,
        "z": found.z,
        "belief": "council" if beliefs else "default",
        "concentration": found.concentration,
        "solves": found.solves,
        "seconds": found.seconds,
        "rows": [
            {**r.model_dump(mode="json"), "name": names.get(r.candidate, r.name or r.candidate)}
            for r in found.rows
        ],
    }


def _price_of_policy(
    problem: Problem, names: dict[str, str], common: dict[str, Any]
) -> dict[str, Any]:
    """What each policy rule costs the objective, each rule named as people read it."""
    from optimiser.analytics import policy_price

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


def belief_spread(uow: SqlUnitOfWork, run: OptimiserRun) -> dict[str, dict[str, float]]:
    """The council's Beta belief in each option's p as the value of information draws it: per
    option of the run's problem (``candidate/option``), its concentration α + β, the weight of the
    posterior belief of ``beliefs.candidate_belief`` (the council's confidence as the prior's weight
    n0, plus the evidence since), as of the run's quarter: the aggregates and evidence of later
    quarters are left out. The draws centre it on the p in the run's problem."""
    from portfolio.services import beliefs

    keys = {
        f"{c['id']}/{o['id']}"
        for c in run.problem.get("candidates", [])
        for o in c.get("options", [])
    }
    aggregates = {
        (a.candidate, a.option): a
        for a in uow.aggregates.all(run.mission)  # ordered by quarter: the latest one stays
        if a.quarter <= run.quarter
    }
    evidence: dict[str, list[Any]] = {}
    for ev in uow.evidence.all(run.mission):
        if ev.quarter <= run.quarter:
            evidence.setdefault(ev.candidate, []).append(ev)
    out: dict[str, dict[str, float]] = {}
    for cand in uow.candidates.all(run.mission):
        if not any(k.startswith(f"{cand.id}/") for k in keys):
            continue
        belief = beliefs.candidate_belief(
            uow, run.mission, cand, aggregates=aggregates, evidence=evidence.get(cand.id, [])
        )
        for option in belief.options:
            key = f"{cand.id}/{option.option}"
            if key in keys and option.steps:
                last = option.steps[-1]
                out[key] = {"concentration": float(last.alpha + last.beta)}
    return out


def execute(new_uow: Callable[[], SqlUnitOfWork], run_id: int, kind: str) -> str:
    """Compute a queued analysis and cache it; a failure is recorded, never left running."""
    with new_uow() as uow:
        analysis = uow.analyses.get(run_id, kind)
        run = uow.runs.find(run_id)
        if analysis is None or run is None or analysis.status != "queued":
            return analysis.status if analysis else "failed"
        names = {c.id: c.name for c in uow.candidates.all(run.mission)}
        options: dict[str, Any] = {"council": council_inputs(uow, run)} if kind == "core" else {}
        if kind == "voi":
            options = {"beliefs": belief_spread(uow, run)}
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
        selected = run.result.selected if run.result else None
        result = compute(load_problem(run.problem), kind, names, progress, selected, **options)
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
