"""Treasury's allocation report of a quarter: what is funded from which envelope in which year,
totals against budgets, awards above the Delegated Authority Limit and NCR spending first, the
changes with their reasons, risk against the conventional ranking, and the assumptions."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError

from optimiser.baselines import greedy_by_ratio
from optimiser.evaluate import evaluate_portfolio
from optimiser.problem import load_problem
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain import montecarlo
from portfolio.domain.errors import Conflict, InvalidInput, NotFound
from portfolio.domain.model import (
    AllocationChange,
    OptimiserRun,
    Quarter,
    ReviewComment,
    RunAnalysis,
)
from portfolio.domain.sample_fit import SampleGap, sample_gaps
from portfolio.services.csvio import neutralise
from portfolio.services.missions import record


class FundingLine(BaseModel):
    candidate: str
    name: str
    option: str
    organisation: str
    platform: str
    tier: str
    organisation_type: str
    envelope: str
    year: str
    amount: float


class CandidateLine(BaseModel):
    candidate: str
    name: str
    option: str
    platform: str
    by_envelope_year: dict[str, dict[str, float]]
    total: float
    above_dal: bool
    ncr: bool
    treasury_approved: bool


class EnvelopeYear(BaseModel):
    envelope: str
    name: str
    year: str
    budget: float
    spend: float
    headroom: float
    cumulative_budget: float
    cumulative_spend: float
    carry_forward_used: float


class Flagged(BaseModel):
    candidate: str
    name: str
    amount: float
    treasury_approved: bool = False


class AllocationReport(BaseModel):
    mission: str
    mission_name: str
    quarter: Quarter
    run: OptimiserRun
    approved: bool
    years: list[str]
    candidates: list[CandidateLine]
    funding: list[FundingLine]
    envelopes: list[EnvelopeYear]
    envelope_totals: dict[str, dict[str, float]]
    total_budget: float
    total_spend: float
    above_dal: list[Flagged]
    ncr: list[Flagged]
    dal: float
    dal_mode: str
    changes: list[AllocationChange]
    spend: dict[str, dict[str, float]]
    metrics: dict[str, Any]
    baseline: dict[str, Any] | None
    assumptions: dict[str, Any]
    intervals: dict[str, dict[str, montecarlo.Interval]] = Field(
        default_factory=dict,
        description="the 95 % Monte-Carlo interval (Wilson, portfolio.domain.montecarlo) "
        "of each share: "
        "in_sample, out_of_sample and baseline (the conventional ranking) -> metric -> interval",
    )
    sample_gaps: list[SampleGap] = Field(
        default_factory=list,
        description="each share in sample against out of sample, with the Monte-Carlo margin",
    )


def report_run(uow: SqlUnitOfWork, slug: str, label: str) -> tuple[Quarter, OptimiserRun, bool]:
    """The quarter and the run its report shows: the approved allocation, else the quarter's
    latest run on the real budgets that found a portfolio (a what-if is never an allocation)."""
    if label not in {q.label for q in uow.missions.quarters(slug)}:
        raise NotFound(f"no quarter {label}")
    quarter = uow.missions.quarter(slug, label)
    if quarter.approved_run is not None:
        return quarter, uow.runs.get(slug, quarter.approved_run), True
    runs = [
        r for r in uow.runs.all(slug) if r.quarter == label and r.found_portfolio and not r.what_if
    ]
    if not runs:
        raise Conflict(
            f"{label} has no allocation yet: no run on the real budgets has found a portfolio"
        )
    return quarter, runs[0], False


def baseline(uow: SqlUnitOfWork, run: OptimiserRun, actor: str) -> dict[str, Any]:
    """The conventional greedy business-case ranking on the same problem, evaluated on the same
    out-of-sample scenarios as the run (cached per run)."""
    assert run.id is not None
    cached = uow.analyses.get(run.id, "baseline")
    if cached is not None and cached.result is not None:
        return cached.result
    problem = load_problem(run.problem)
    selected = greedy_by_ratio(problem)
    metrics = evaluate_portfolio(problem, selected).model_dump(mode="json")
    cost = {c.id: {o.id: o for o in c.options} for c in problem.candidates}
    spend = sum(
        sum(o.cost.values()) if isinstance(o.cost, dict) else o.cost
        for o in (cost[c][opt] for c, opt in selected.items())
    )
    result = {"selected": selected, "metrics": metrics, "spend": spend}
    now = uow.now()
    uow.rollback()  # end the reads: the cache write gets a transaction of its own
    try:  # two first views at once both compute it; the second keeps the first's row
        with uow.session.begin_nested():
            uow.analyses.put(
                RunAnalysis(
                    run=run.id,
                    kind="baseline",
                    status="done",
                    result=result,
                    requested_by=actor,
                    created_at=now,
                    finished_at=now,
                )
            )
    except (IntegrityError, OperationalError):
        # another first view cached it, or (SQLite) another writer holds the lock: the cache is
        # best effort and the report is shown either way
        uow.rollback()
    return result


def cached_chart(
    uow: SqlUnitOfWork, run_id: int, name: str, key: str, draw: Callable[[], bytes]
) -> bytes:
    """Chart ``name`` of run ``run_id`` for the data whose hash is ``key``: drawn once (``draw``)
    and kept in the database, so every server process serves the same bytes without drawing
    again; new data give a new key and a new drawing. An empty key is never kept. Keeping it is
    best effort: when another first view stored it, or (SQLite) another writer holds the lock,
    the chart is served all the same."""
    if key:
        kept = uow.charts.get(run_id, name, key)
        if kept is not None:
            return kept
    svg = draw()
    if not key:
        return svg
    now = uow.now()
    uow.rollback()  # end the reads: the cache write gets a transaction of its own
    try:
        uow.charts.put(run_id, name, key, svg, now)
        uow.commit()
    except (IntegrityError, OperationalError, Conflict):
        uow.rollback()
    return svg


def allocation_report(uow: SqlUnitOfWork, slug: str, label: str, actor: str) -> AllocationReport:
    mission = uow.missions.get(slug)
    quarter, run, approved = report_run(uow, slug, label)
    candidates = {c.id: c for c in uow.candidates.all(slug)}
    result = run.result or {}
    years = list(run.problem.get("years", mission.years))
    lines: list[FundingLine] = []
    per: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    option_of: dict[str, str] = {}
    for f in result.get("funding", []):
        c = candidates.get(f["candidate"])
        lines.append(
            FundingLine(
                candidate=f["candidate"],
                name=c.name if c else f["candidate"],
                option=f["option"],
                organisation=c.organisation if c else "",
                platform=c.platform if c else "",
                tier=c.tier.value if c else "",
                organisation_type=c.organisation_type.value if c else "",
                envelope=f["envelope"],
                year=f["year"],
                amount=float(f["amount"]),
            )
        )
        per[f["candidate"]][f["envelope"]][f["year"]] = per[f["candidate"]][f["envelope"]].get(
            f["year"], 0.0
        ) + float(f["amount"])
        option_of[f["candidate"]] = f["option"]
    dal = float(run.problem.get("policy", {}).get("dal") or mission.dal)
    above = {
        f["candidate"]: f["amount"] for f in result.get("flags", []) if f["kind"] == "above_dal"
    }
    ncr = {f["candidate"]: f["amount"] for f in result.get("flags", []) if f["kind"] == "ncr"}
    rows = []
    for cid, by_env in per.items():
        c = candidates.get(cid)
        total = sum(a for ys in by_env.values() for a in ys.values())
        rows.append(
            CandidateLine(
                candidate=cid,
                name=c.name if c else cid,
                option=option_of[cid],
                platform=c.platform if c else "",
                by_envelope_year={k: dict(v) for k, v in by_env.items()},
                total=total,
                above_dal=cid in above,
                ncr=cid in ncr,
                treasury_approved=bool(c and c.treasury_approved),
            )
        )
    # above-DAL and NCR awards first, then by size
    rows.sort(key=lambda r: (not (r.above_dal or r.ncr), -r.total))
    envelopes: list[EnvelopeYear] = []
    totals: dict[str, dict[str, float]] = {}
    # the real budgets, from the mission's envelopes: never a run's (possibly scaled) problem
    for envelope in mission.envelopes:
        env = envelope.model_dump()
        cum_budget = cum_spend = 0.0
        spent_total = 0.0
        for year in years:
            budget = float(env.get("budget", {}).get(year, 0.0))
            spend = sum(
                line.amount for line in lines if line.envelope == env["id"] and line.year == year
            )
            cum_budget += budget
            cum_spend += spend
            spent_total += spend
            envelopes.append(
                EnvelopeYear(
                    envelope=env["id"],
                    name=env.get("name") or env["id"],
                    year=year,
                    budget=budget,
                    spend=spend,
                    headroom=budget - spend,
                    cumulative_budget=cum_budget,
                    cumulative_spend=cum_spend,
                    carry_forward_used=max(spend - budget, 0.0),
                )
            )
        budget_total = sum(float(v) for v in env.get("budget", {}).values())
        totals[env["id"]] = {
            "budget": budget_total,
            "spend": spent_total,
            "headroom": budget_total - spent_total,
            "min_spend": float(env.get("min_spend") or 0.0),
        }

    def flagged(source: dict[str, float]) -> list[Flagged]:
        return [
            Flagged(
                candidate=c,
                name=candidates[c].name if c in candidates else c,
                amount=float(a),
                treasury_approved=bool(c in candidates and candidates[c].treasury_approved),
            )
            for c, a in sorted(source.items(), key=lambda kv: -kv[1])
        ]

    policy = run.problem.get("policy", {})
    conventional = baseline(uow, run, actor) if run.found_portfolio else None
    intervals = montecarlo.result_intervals(result.get("metrics"))
    if conventional is not None and (shares := montecarlo.intervals(conventional["metrics"])):
        intervals["baseline"] = shares
    return AllocationReport(
        mission=slug,
        mission_name=mission.name,
        quarter=quarter,
        run=run,
        approved=approved,
        years=years,
        candidates=rows,
        funding=lines,
        envelopes=envelopes,
        envelope_totals=totals,
        total_budget=sum(t["budget"] for t in totals.values()),
        total_spend=sum(t["spend"] for t in totals.values()),
        above_dal=flagged(above),
        ncr=flagged(ncr),
        dal=dal,
        dal_mode=str(policy.get("dal_mode", mission.dal_mode)),
        changes=uow.cycle.changes(slug, label),
        spend={k: v for k, v in (result.get("spend") or {}).items() if isinstance(v, dict)},
        metrics=result.get("metrics") or {},
        baseline=conventional,
        assumptions={
            "objective": run.objective,
            "policy": policy,
            "scenarios": run.problem.get("scenarios"),
            "evaluation": run.problem.get("evaluation"),
            "solver": result.get("solver") or {},
            "status": run.status,
        },
        intervals=intervals,
        sample_gaps=sample_gaps(run),
    )


def _sheet(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula are neutralised."""
    return frame.apply(lambda col: col.map(lambda v: neutralise(v) if isinstance(v, str) else v))


def workbook(report: AllocationReport) -> bytes:
    """The report as an Excel workbook: allocation, spend by envelope and year, flags, changes."""
    allocation = pd.DataFrame(
        [line.model_dump() for line in report.funding], columns=list(FundingLine.model_fields)
    )
    allocation = allocation.rename(columns={"amount": "amount_m"})
    spend = pd.DataFrame(
        [e.model_dump() for e in report.envelopes], columns=list(EnvelopeYear.model_fields)
    )
    flags = pd.DataFrame(
        [{"flag": "above DAL", **f.model_dump()} for f in report.above_dal]
        + [{"flag": "NCR", **f.model_dump()} for f in report.ncr],
        columns=["flag", *Flagged.model_fields],
    )
    changes = pd.DataFrame(
        [c.model_dump(mode="json") for c in report.changes],
        columns=list(AllocationChange.model_fields),
    )
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in (
            ("Allocation", allocation),
            ("Spend by envelope and year", spend),
            ("Flags", flags),
            ("Changes", changes),
        ):
            _sheet(frame).to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()


def add_comment(uow: SqlUnitOfWork, actor: str, slug: str, label: str, text: str) -> int:
    text = text.strip()
    if not text:
        raise InvalidInput.single("text", "write the comment")
    report_run(uow, slug, label)
    comment = ReviewComment(quarter=label, author=actor, text=text[:5000], created_at=uow.now())
    comment_id = uow.reviews.add(slug, comment)
    record(
        uow,
        actor,
        slug,
        "review_comment",
        str(comment_id),
        "created",
        after=comment.model_dump(mode="json"),
    )
    return comment_id


def reply_comment(uow: SqlUnitOfWork, actor: str, slug: str, comment_id: int, text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput.single("reply", "write the reply")
    label = uow.reviews.reply(slug, comment_id, text[:5000], actor, uow.now())
    record(uow, actor, slug, "review_comment", str(comment_id), "replied", after={"reply": text})
    return label
