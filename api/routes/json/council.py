"""The Expert Council in the JSON API (under /api/v1): the scoring round, a member's own scores
(under their version: ETag / If-Match), everyone's scores and the aggregates under the blind rule,
and each member's forecasting record."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel, Field, ValidationError

from api.deps import ManageRound, MissionContext, ScoreDep, UowDep, ViewMission
from api.preconditions import ETAG_HEADER, IF_MATCH, required_version, send_version
from api.routes.json.common import CONDITIONAL, as_utc, utc_model, v1_router
from optimiser.pert import ThreePoint
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput, validation_errors
from portfolio.domain.estimates import MemberCalibration
from portfolio.domain.model import (
    AggregationMethod,
    Confidence,
    Probability,
    Score,
    ScoringState,
    Sector,
)
from portfolio.services import council, seeds_view

router = v1_router()


class RoundState(BaseModel):
    quarter: str
    state: ScoringState
    method: AggregationMethod
    my_status: dict[str, council.Progress] = Field(
        default_factory=dict, description="for a council member: candidate -> their status"
    )


class OptionScore(BaseModel):
    p_success: Probability | None = None
    cost: ThreePoint | None = None
    impact: ThreePoint | None = None
    trl: int | None = Field(None, ge=1, le=9)
    confidence: Confidence | None = None
    rationale: str = Field("", max_length=10_000)


class ScoreSubmission(BaseModel):
    """A member's scores of one candidate: a draft (partial is fine) or a submission (final)."""

    submit: bool = False
    not_competent: bool = False
    options: dict[str, OptionScore] = Field(default_factory=dict)


class CandidateScores(BaseModel):
    quarter: str
    candidate: str
    scores: list[Score]
    aggregates: dict[str, dict[str, Any] | None]


def _round(uow: SqlUnitOfWork, ctx: MissionContext) -> RoundState:
    quarter = council.current_quarter(uow, ctx.slug)
    return RoundState(
        quarter=quarter,
        state=council.round_state(uow, ctx.slug, quarter),
        method=uow.missions.get(ctx.slug).aggregation,
        my_status=council.my_status(uow, ctx.slug, quarter, ctx.viewer),
    )


@router.get("/missions/{slug}/scoring", response_model=RoundState)
def scoring_round(ctx: ViewMission, uow: UowDep) -> RoundState:
    """The current quarter's scoring round, and the caller's own progress in it."""
    return _round(uow, ctx)


@router.post("/missions/{slug}/scoring/open", response_model=RoundState)
def open_scoring_round(ctx: ManageRound, uow: UowDep) -> RoundState:
    council.open_round(uow, ctx.user.username, ctx.slug)
    uow.commit()
    return _round(uow, ctx)


@router.post("/missions/{slug}/scoring/close", response_model=RoundState)
def close_scoring_round(ctx: ManageRound, uow: UowDep) -> RoundState:
    """Close the round; its aggregates are frozen and feed the optimiser's problem file."""
    council.close_round(uow, ctx.user.username, ctx.slug)
    uow.commit()
    return _round(uow, ctx)


class MyScores(BaseModel):
    """The caller's own scores of a candidate in the current quarter's round."""

    quarter: str
    candidate: str
    status: council.Progress = Field(description="not started, draft, submitted or not competent")
    scores: list[Score]


@router.get(
    "/missions/{slug}/scoring/{candidate_id}/mine",
    response_model=MyScores,
    responses={200: {"headers": ETAG_HEADER}},
)
def my_candidate_scores(
    ctx: ScoreDep, candidate_id: str, uow: UowDep, response: Response
) -> MyScores:
    """Your own scores of a candidate in the current round, drafts included; their ETag is what
    saving them (``PUT …/scoring/{candidate_id}``) must send in If-Match."""
    quarter = council.current_quarter(uow, ctx.slug)
    uow.candidates.get(ctx.slug, candidate_id)
    mine = council.member_scores(uow, ctx.slug, quarter, ctx.user.username, candidate_id)
    status = council.my_status(uow, ctx.slug, quarter, ctx.viewer)
    send_version(
        response, uow.scores.version_of(ctx.slug, quarter, ctx.user.username, candidate_id)
    )
    return MyScores(
        quarter=quarter,
        candidate=candidate_id,
        status=status[candidate_id],
        scores=list(mine.values()),
    )


@router.put(
    "/missions/{slug}/scoring/{candidate_id}",
    response_model=RoundState,
    responses=CONDITIONAL,
    openapi_extra=IF_MATCH,
)
def save_candidate_scores(
    ctx: ScoreDep,
    candidate_id: str,
    body: ScoreSubmission,
    uow: UowDep,
    request: Request,
    response: Response,
) -> RoundState:
    """Save (``submit: false``) or submit (final) the caller's scores of a candidate; send the
    ETag of ``GET …/scoring/{candidate_id}/mine`` in If-Match. Of simultaneous submissions one
    wins and the others get 409."""
    quarter = council.current_quarter(uow, ctx.slug)
    candidate = uow.candidates.get(ctx.slug, candidate_id)
    stored = uow.scores.version_of(ctx.slug, quarter, ctx.user.username, candidate_id)
    if council.has_submitted(uow, ctx.slug, quarter, ctx.user.username, candidate):
        raise Conflict(council.ALREADY_SUBMITTED)  # final, whichever version was read
    version = required_version(request, stored, f"your scores of {candidate.name}")
    entries = []
    errors: list[tuple[str, str]] = []
    for option_id, values in body.options.items():
        try:
            entries.append(
                Score(
                    member=ctx.user.username,
                    quarter=quarter,
                    candidate=candidate_id,
                    option=option_id,
                    **values.model_dump(),
                )
            )
        except ValidationError as exc:
            errors.extend(validation_errors(exc, f"options.{option_id}"))
    if errors:
        raise InvalidInput(errors)
    council.save_scores(
        uow,
        ctx.user.username,
        ctx.slug,
        candidate_id,
        entries,
        submit=body.submit,
        not_competent=body.not_competent,
        expected_version=version,
    )
    uow.commit()
    send_version(
        response, uow.scores.version_of(ctx.slug, quarter, ctx.user.username, candidate_id)
    )
    return _round(uow, ctx)


class UnchangedScores(MyScores):
    """The caller's scores of a candidate, submitted unchanged from an earlier round."""

    unchanged_from: str = Field(description="the quarter whose scores were submitted again")


@router.post(
    "/missions/{slug}/scoring/{candidate_id}/no-change",
    response_model=UnchangedScores,
    responses={200: {"headers": ETAG_HEADER}},
)
def submit_unchanged_scores(
    ctx: ScoreDep, candidate_id: str, uow: UowDep, response: Response
) -> UnchangedScores:
    """No change: submit your last submitted scores of a candidate (from an earlier round) as
    your submission in the open round, unchanged. 409 if you have a draft or a submission of it
    in this round, or never submitted it before; 422 (naming each new option) if the candidate
    gained or lost an option since: score it with ``PUT …/scoring/{candidate_id}``."""
    last = council.submit_last_scores(uow, ctx.user.username, ctx.slug, candidate_id)
    uow.commit()
    quarter = council.current_quarter(uow, ctx.slug)
    mine = council.member_scores(uow, ctx.slug, quarter, ctx.user.username, candidate_id)
    send_version(
        response, uow.scores.version_of(ctx.slug, quarter, ctx.user.username, candidate_id)
    )
    return UnchangedScores(
        quarter=quarter,
        candidate=candidate_id,
        status=council.my_status(uow, ctx.slug, quarter, ctx.viewer)[candidate_id],
        scores=list(mine.values()),
        unchanged_from=last.quarter,
    )


@router.get("/missions/{slug}/scoring/{candidate_id}", response_model=CandidateScores)
def candidate_scores(
    ctx: ViewMission, candidate_id: str, uow: UowDep, quarter: str | None = None
) -> CandidateScores:
    """Every member's scores of a candidate and the aggregate: a council member gets 403 until
    they have submitted their own scores for it (the blind rule)."""
    label = quarter or council.current_quarter(uow, ctx.slug)
    candidate = uow.candidates.get(ctx.slug, candidate_id)
    view = council.candidate_view(uow, ctx.slug, label, ctx.viewer, candidate)
    if view.hidden:
        raise council.blind_refusal(ctx.viewer)
    aggregates = {
        o: (a.model_dump(mode="json") if a else None)
        for o, a in (view.aggregate.aggregates.items() if view.aggregate else [])
    }
    return CandidateScores(
        quarter=label, candidate=candidate_id, scores=view.scores, aggregates=aggregates
    )


@router.get("/missions/{slug}/aggregates")
def aggregates(ctx: ViewMission, uow: UowDep, quarter: str | None = None) -> list[dict[str, Any]]:
    """Pooled estimates per option, with the scores and weights behind each. A council member
    sees only candidates they have submitted, until the round closes."""
    label = quarter or council.current_quarter(uow, ctx.slug)
    out = []
    for row in council.quarter_view(uow, ctx.slug, label, ctx.viewer).rows:
        for option_id, agg in row.aggregates.items():
            out.append(
                {
                    "quarter": label,
                    "candidate": row.candidate.id,
                    "option": option_id,
                    "aggregate": agg.model_dump(mode="json") if agg else None,
                }
            )
    return out


class ResolvedForecastOut(BaseModel):
    candidate: str
    option: str
    quarter: str = Field(description="the quarter whose (closed) scoring round made the forecast")
    p: float
    outcome: bool
    resolved_on: dt.date
    resolved_in: str = Field(description="the quarter of the stage gate that resolved it")


class QuarterBrierOut(BaseModel):
    """One quarter of a member's record (issue 18): the forecasts stage gates resolved in it."""

    quarter: str
    resolved: int = Field(description="forecasts resolved this quarter")
    brier: float | None = Field(description="their Brier score; null when none resolved")
    resolved_to_date: int
    brier_to_date: float | None
    weight: float = Field(description="the member's performance (Brier) weight after it")


class MemberRecordOut(BaseModel):
    """A council member's forecasting record, as their calibration page shows it."""

    username: str
    sector: Sector
    calibration: MemberCalibration
    forecasts: list[ResolvedForecastOut]
    weights: dict[str, float] = Field(description="aggregation method -> the member's weight")
    brier_by_quarter: list[QuarterBrierOut] = Field(
        description="the Brier score and performance weight quarter by quarter"
    )
    trend: str = Field(description="the trend of the Brier score in words")


def _record_out(record: council.MemberRecord) -> MemberRecordOut:
    return MemberRecordOut(
        username=record.username,
        sector=record.sector,
        calibration=record.calibration,
        forecasts=[
            ResolvedForecastOut(
                candidate=f.candidate,
                option=f.option,
                quarter=f.quarter,
                p=f.p,
                outcome=f.outcome,
                resolved_on=f.resolved_on,
                resolved_in=f.resolved_in,
            )
            for f in record.forecasts
        ],
        weights=record.weights,
        brier_by_quarter=[
            QuarterBrierOut.model_validate(row, from_attributes=True) for row in record.trend
        ],
        trend=record.trend_words,
    )


@router.get("/missions/{slug}/council", response_model=list[MemberRecordOut])
def council_members(ctx: ViewMission, uow: UowDep) -> list[MemberRecordOut]:
    """Every member's forecasting record: only forecasts of scoring rounds that are over, resolved
    by a stage gate recorded in a later quarter, count (the blind rule never leaks through it)."""
    return [_record_out(r) for r in council.council_records(uow, ctx.slug)]


@router.get("/missions/{slug}/council/members/{username}", response_model=MemberRecordOut)
def council_member(ctx: ViewMission, username: str, uow: UowDep) -> MemberRecordOut:
    """One member's forecasting record, Brier score and calibration curve."""
    return _record_out(council.member_record(uow, ctx.slug, username))


SeedsViewOut = utc_model(seeds_view.SeedsView)


@router.get("/missions/{slug}/council/seeds", response_model=SeedsViewOut)
def seeds(ctx: ViewMission, uow: UowDep) -> seeds_view.SeedsView:
    """The seed questions of Cooke's classical model and the answers the caller may see (their
    own; everyone's once a question's true value is known; all of them for the Mission CEO,
    Treasury and administrators), with the classical model's calibration, information and
    weight of each member, and its warnings."""
    return as_utc(seeds_view.SeedsView, seeds_view.seeds_view(uow, ctx.slug, ctx.viewer))
