"""Treasury's allocation report of a quarter: what is funded from which envelope in which year,
totals against budgets, awards above the Delegated Authority Limit and NCR spending first, the
changes with their reasons, risk against the conventional ranking, and the assumptions."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError

from optimiser.baselines import greedy_by_ratio
from optimiser.evaluate import evaluate_portfolio
from optimiser.optimality import Optimality
from optimiser.problem import load_problem
from optimiser.result import Metrics, MetricsPair
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain import montecarlo
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.limits import checked_text
from portfolio.domain.model import (
    AllocationChange,
    Candidate,
    Mission,
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


class Baseline(BaseModel):
    """The conventional ranking: the greedy business-case choice (benefit/cost ratio) on the
    run's problem, evaluated on the run's out-of-sample scenarios."""

    selected: dict[str, str]
    metrics: Metrics
    spend: float


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
    metrics: MetricsPair
    baseline: Baseline | None
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
    optimality: Optimality | None = Field(
        None,
        description="how close to the best the run's portfolio is proven to be "
        "(optimiser.optimality): proven, value, bound, gap and the same in words",
    )


def report_run(uow: SqlUnitOfWork, slug: str, label: str) -> tuple[Quarter, OptimiserRun, bool]:
    """The quarter and the run its report shows: the approved allocation, else the quarter's
    latest run on the real budgets that found a portfolio (a what-if is never an allocation)."""
    if label not in {q.label for q in uow.missions.quarters(slug)}:
        raise NotFound(f"no quarter {label}")
    quarter = uow.missions.quarter(slug, label)
    if quarter.approved_run is not None:
        return quarter, uow.runs.get(slug, quarter.approved_run), True
    runs = [r for r in uow.runs.all(slug, label) if r.found_portfolio and not r.what_if]
    if not runs:
        raise Conflict(
            f"{label} has no allocation yet: no run on the real budgets has found a portfolio"
        )
    return quarter, runs[0], False


def baseline(uow: SqlUnitOfWork, run: OptimiserRun, actor: str) -> Baseline:
    """The conventional greedy business-case ranking on the same problem, evaluated on the same
    out-of-sample scenarios as the run (cached per run; a cache of another shape is computed
    again)."""
    assert run.id is not None
    cached = uow.analyses.get(run.id, "baseline")
    if cached is not None and cached.result is not None:
        try:
            return Baseline.model_validate(cached.result)
        except ValidationError:
            pass
    problem = load_problem(run.problem)
    selected = greedy_by_ratio(problem)
    cost = {c.id: {o.id: o for o in c.options} for c in problem.candidates}
    spend = sum(
        sum(o.cost.values()) if isinstance(o.cost, dict) else o.cost
        for o in (cost[c][opt] for c, opt in selected.items())
    )
    result = Baseline(
        selected=selected, metrics=evaluate_portfolio(problem, selected), spend=float(spend)
    )
    now = uow.now()
    uow.rollback()  # end the reads: the cache write gets a transaction of its own
    try:  # two first views at once both compute it; the second keeps the first's row
        with uow.session.begin_nested():
            uow.analyses.put(
                RunAnalysis(
                    run=run.id,
                    kind="baseline",
                    status="done",
                    result=result.model_dump(mode="json"),
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


def _funding_lines(run: OptimiserRun, candidates: Mapping[str, Candidate]) -> list[FundingLine]:
    """The run's funding rows with each candidate's name, organisation, platform, tier and
    organisation type (a withdrawn candidate by its id)."""
    lines = []
    for f in run.funding:
        c = candidates.get(f.candidate)
        lines.append(
            FundingLine(
                candidate=f.candidate,
                name=c.name if c else f.candidate,
                option=f.option,
                organisation=c.organisation if c else "",
                platform=c.platform if c else "",
                tier=c.tier.value if c else "",
                organisation_type=c.organisation_type.value if c else "",
                envelope=f.envelope,
                year=f.year,
                amount=f.amount,
            )
        )
    return lines


def _flag_amounts(run: OptimiserRun, kind: str) -> dict[str, float]:
    """Candidate -> the amount the run's result flags as ``kind`` (above_dal, ncr)."""
    flags = run.result.flags if run.result else []
    return {f.candidate: f.amount for f in flags if f.kind == kind}


def _candidate_lines(
    lines: list[FundingLine],
    above: Mapping[str, float],
    ncr: Mapping[str, float],
    candidates: Mapping[str, Candidate],
) -> list[CandidateLine]:
    """One line per funded candidate, by envelope and year: above-DAL and NCR awards first, then
    by size."""
    per: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    option_of: dict[str, str] = {}
    for line in lines:
        by_year = per[line.candidate][line.envelope]
        by_year[line.year] = by_year.get(line.year, 0.0) + line.amount
        option_of[line.candidate] = line.option
    rows = []
    for cid, by_env in per.items():
        c = candidates.get(cid)
        rows.append(
            CandidateLine(
                candidate=cid,
                name=c.name if c else cid,
                option=option_of[cid],
                platform=c.platform if c else "",
                by_envelope_year={k: dict(v) for k, v in by_env.items()},
                total=sum(a for ys in by_env.values() for a in ys.values()),
                above_dal=cid in above,
                ncr=cid in ncr,
                treasury_approved=bool(c and c.treasury_approved),
            )
        )
    rows.sort(key=lambda r: (not (r.above_dal or r.ncr), -r.total))
    return rows


def _envelope_years(
    mission: Mission, years: list[str], lines: list[FundingLine]
) -> tuple[list[EnvelopeYear], dict[str, dict[str, float]]]:
    """Spend against budget per envelope and year, cumulated, and each envelope's totals: the
    real budgets, from the mission's envelopes, never a run's (possibly scaled) problem."""
    rows: list[EnvelopeYear] = []
    totals: dict[str, dict[str, float]] = {}
    for envelope in mission.envelopes:
        cum_budget = cum_spend = 0.0
        for year in years:
            budget = float(envelope.budget.get(year, 0.0))
            spend = sum(x.amount for x in lines if x.envelope == envelope.id and x.year == year)
            cum_budget += budget
            cum_spend += spend
            rows.append(
                EnvelopeYear(
                    envelope=envelope.id,
                    name=envelope.name or envelope.id,
                    year=year,
                    budget=budget,
                    spend=spend,
                    headroom=budget - spend,
                    cumulative_budget=cum_budget,
                    cumulative_spend=cum_spend,
                    carry_forward_used=max(spend - budget, 0.0),
                )
            )
        budget_total = float(envelope.total)
        totals[envelope.id] = {
            "budget": budget_total,
            "spend": cum_spend,
            "headroom": budget_total - cum_spend,
            "min_spend": float(envelope.min_spend or 0.0),
        }
    return rows, totals


def _flagged(source: Mapping[str, float], candidates: Mapping[str, Candidate]) -> list[Flagged]:
    """Flagged awards by candidate name, largest first."""
    return [
        Flagged(
            candidate=c,
            name=candidates[c].name if c in candidates else c,
            amount=float(a),
            treasury_approved=bool(c in candidates and candidates[c].treasury_approved),
        )
        for c, a in sorted(source.items(), key=lambda kv: -kv[1])
    ]


def _intervals(
    run: OptimiserRun, conventional: Baseline | None
) -> dict[str, dict[str, montecarlo.Interval]]:
    """The run's shares in and out of sample, and the conventional ranking's, with their 95 %
    Monte-Carlo intervals."""
    intervals = montecarlo.result_intervals(run.result.metrics if run.result else None)
    if conventional is not None and (shares := montecarlo.intervals(conventional.metrics)):
        intervals["baseline"] = shares
    return intervals


def allocation_report(uow: SqlUnitOfWork, slug: str, label: str, actor: str) -> AllocationReport:
    """Quarter ``label``'s allocation report (``report_run``: the approved run, else the latest
    that found a portfolio), its numbers read from the run's typed result."""
    mission = uow.missions.get(slug)
    quarter, run, approved = report_run(uow, slug, label)
    candidates = {c.id: c for c in uow.candidates.all(slug)}
    years = list(run.problem.get("years", mission.years))
    lines = _funding_lines(run, candidates)
    above, ncr = _flag_amounts(run, "above_dal"), _flag_amounts(run, "ncr")
    envelopes, totals = _envelope_years(mission, years, lines)
    policy = run.problem.get("policy", {})
    conventional = baseline(uow, run, actor) if run.found_portfolio else None
    result = run.result
    return AllocationReport(
        mission=slug,
        mission_name=mission.name,
        quarter=quarter,
        run=run,
        approved=approved,
        years=years,
        candidates=_candidate_lines(lines, above, ncr, candidates),
        funding=lines,
        envelopes=envelopes,
        envelope_totals=totals,
        total_budget=sum(t["budget"] for t in totals.values()),
        total_spend=sum(t["spend"] for t in totals.values()),
        above_dal=_flagged(above, candidates),
        ncr=_flagged(ncr, candidates),
        dal=float(policy.get("dal") or mission.dal),
        dal_mode=str(policy.get("dal_mode", mission.dal_mode)),
        changes=uow.cycle.changes(slug, label),
        spend=result.spend.model_dump(exclude={"total"}) if result else {},
        metrics=result.metrics if result else MetricsPair(),
        baseline=conventional,
        assumptions={
            "objective": run.objective,
            "policy": policy,
            "scenarios": run.problem.get("scenarios"),
            "evaluation": run.problem.get("evaluation"),
            "solver": result.solver if result else {},
            "status": run.status,
        },
        intervals=_intervals(run, conventional),
        sample_gaps=sample_gaps(run),
        optimality=run.optimality,
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
    text = checked_text("text", text, missing="write the comment")
    report_run(uow, slug, label)
    comment = ReviewComment(quarter=label, author=actor, text=text, created_at=uow.now())
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
    text = checked_text("reply", text, missing="write the reply")
    label = uow.reviews.reply(slug, comment_id, text, actor, uow.now())
    record(uow, actor, slug, "review_comment", str(comment_id), "replied", after={"reply": text})
    return label
