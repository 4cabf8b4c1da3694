"""JSON API under /api/v1: the same services and permissions as the web pages."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, PlainSerializer, ValidationError, WithJsonSchema

from api.deps import GlobalAccess, MissionAccess, MissionContext, UowDep, UserDep
from api.params import RowId
from api.permissions import Perm
from api.preconditions import ETAG_HEADER, IF_MATCH, required_version, send_version
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain import montecarlo
from portfolio.domain.errors import Conflict, InvalidInput, NotFound, validation_errors
from portfolio.domain.estimates import MemberCalibration
from portfolio.domain.model import (
    AggregationMethod,
    AllocationChange,
    Amount,
    ApprovalState,
    AuditEntry,
    Candidate,
    Confidence,
    ContractState,
    Dissent,
    Evidence,
    EvidenceKind,
    Mission,
    Name,
    OptimiserRun,
    Probability,
    Quarter,
    QuarterlyUpdate,
    Rag,
    Role,
    RoleAssignment,
    Score,
    ScoringState,
    Sector,
    ThreePoint,
    TrajectoryPoint,
    TreasuryApproval,
    User,
    Username,
)
from portfolio.domain.run_policy import RunSettings
from portfolio.services import approvals, contracts, council, cycle, quarters
from portfolio.services import missions as services
from portfolio.services import runs as run_service


def _utc(value: dt.datetime) -> str:
    """Timestamps are naive UTC in the database; the API says so (RFC 3339 needs an offset)."""
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


UtcDateTime = Annotated[
    dt.datetime,
    PlainSerializer(_utc, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


class ErrorItem(BaseModel):
    field: str = Field(description="dotted path of the field, e.g. options.0.cost_profile")
    rule: str = Field(description="the rule it broke")


class ApiError(BaseModel):
    """The body of every error answer under /api/v1."""

    detail: str
    errors: list[ErrorItem] = Field(
        default_factory=list, description="for a 422: every field in error, with its rule"
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "The body could not be read (not UTF-8 JSON)"},
    401: {"model": ApiError, "description": "No valid API token or session"},
    403: {"model": ApiError, "description": "The caller's role does not allow this"},
    404: {"model": ApiError, "description": "No such mission, candidate, run or quarter"},
    409: {"model": ApiError, "description": "The change clashes with the current state"},
    422: {"model": ApiError, "description": "The input broke a rule; every field is named"},
    503: {"model": ApiError, "description": "The database cannot store changes (read-only, full)"},
}
# a change of a versioned resource (``api/preconditions.py``)
CONDITIONAL: dict[int | str, dict[str, Any]] = {
    200: {"headers": ETAG_HEADER},
    412: {"model": ApiError, "description": "If-Match names a version changed since"},
    428: {"model": ApiError, "description": "If-Match is missing: send the ETag you read"},
}

router = APIRouter(prefix="/api/v1", tags=["v1"], responses=ERROR_RESPONSES)


class AuditEntryOut(AuditEntry):
    at: UtcDateTime


class QuarterOut(Quarter):
    approved_at: UtcDateTime | None = None
    closed_at: UtcDateTime | None = None


class DissentOut(Dissent):
    created_at: UtcDateTime


class QuarterlyUpdateOut(QuarterlyUpdate):
    published_at: UtcDateTime | None = None


ViewMission = Annotated[MissionContext, Depends(MissionAccess(Perm.view_mission))]
EditMission = Annotated[MissionContext, Depends(MissionAccess(Perm.edit_mission))]
Register = Annotated[MissionContext, Depends(MissionAccess(Perm.register_candidate))]
EditCandidate = Annotated[MissionContext, Depends(MissionAccess(Perm.edit_candidate))]
ViewAudit = Annotated[MissionContext, Depends(MissionAccess(Perm.view_audit))]
RunOptimiser = Annotated[MissionContext, Depends(MissionAccess(Perm.run_optimiser))]
Admin = Annotated[User, Depends(GlobalAccess(Perm.manage_users))]


class Me(BaseModel):
    user: User
    roles: list[RoleAssignment]


class MissionSummary(BaseModel):
    slug: str
    name: str
    target: float
    unit: str
    deadline: str
    candidates: int
    my_roles: list[Role]


class NewUser(BaseModel):
    username: Username
    display_name: Name
    is_admin: bool = False
    password: str = Field(min_length=1, max_length=1024)


@router.get("/me", response_model=Me)
def me(user: UserDep, uow: UowDep) -> Me:
    return Me(user=user, roles=uow.users.roles(user.username))


@router.get("/missions", response_model=list[MissionSummary])
def missions(user: UserDep, uow: UowDep) -> list[MissionSummary]:
    """The missions the caller may see (all of them for an administrator)."""
    slugs = (
        [m.slug for m in uow.missions.all()]
        if user.is_admin
        else uow.missions.slugs_for(user.username)
    )
    mine: dict[str, list[Role]] = {}
    for r in uow.users.roles(user.username):
        mine.setdefault(r.mission, []).append(r.role)
    return [
        MissionSummary(
            slug=m.slug,
            name=m.name,
            target=m.target,
            unit=m.unit,
            deadline=m.deadline.isoformat(),
            candidates=uow.candidates.count(m.slug),
            my_roles=mine.get(m.slug, []),
        )
        for m in uow.missions.all(slugs)
    ]


@router.get("/missions/{slug}", response_model=Mission, responses={200: {"headers": ETAG_HEADER}})
def mission(ctx: ViewMission, uow: UowDep, response: Response) -> Mission:
    """The mission; its ETag is what a change must send in If-Match."""
    send_version(response, uow.missions.version(ctx.slug))
    return uow.missions.get(ctx.slug)


@router.put(
    "/missions/{slug}", response_model=Mission, responses=CONDITIONAL, openapi_extra=IF_MATCH
)
def update_mission(
    ctx: EditMission, body: Mission, uow: UowDep, request: Request, response: Response
) -> Mission:
    """Change the mission's target, deadline, years, DAL and envelopes (the slug stays). Send
    the ETag of the mission you read in If-Match."""
    if body.slug != ctx.slug:
        raise InvalidInput.single("slug", "the slug of a mission cannot be changed")
    name = uow.missions.get(ctx.slug).name
    version = required_version(request, uow.missions.version(ctx.slug), f"the mission {name}")
    services.update_mission(uow, ctx.user.username, body, expected_version=version)
    uow.commit()
    send_version(response, uow.missions.version(ctx.slug))
    return uow.missions.get(ctx.slug)


@router.get("/missions/{slug}/candidates", response_model=list[Candidate])
def candidates(ctx: ViewMission, uow: UowDep) -> list[Candidate]:
    return uow.candidates.all(ctx.slug)


@router.post("/missions/{slug}/candidates", response_model=Candidate, status_code=201)
def register_candidate(ctx: Register, body: Candidate, uow: UowDep) -> Candidate:
    """Register a candidate (``treasury_approved`` true is refused: only Treasury sets it)."""
    services.register_candidate(uow, ctx.user.username, ctx.slug, body)
    uow.commit()
    return uow.candidates.get(ctx.slug, body.id)


@router.get(
    "/missions/{slug}/candidates/{candidate_id}",
    response_model=Candidate,
    responses={200: {"headers": ETAG_HEADER}},
)
def candidate(ctx: ViewMission, candidate_id: str, uow: UowDep, response: Response) -> Candidate:
    """The candidate; its ETag is what a change must send in If-Match."""
    found = uow.candidates.get(ctx.slug, candidate_id)
    send_version(response, uow.candidates.version(ctx.slug, candidate_id))
    return found


@router.put(
    "/missions/{slug}/candidates/{candidate_id}",
    response_model=Candidate,
    responses=CONDITIONAL,
    openapi_extra=IF_MATCH,
)
def update_candidate(
    ctx: EditCandidate,
    candidate_id: str,
    body: Candidate,
    uow: UowDep,
    request: Request,
    response: Response,
) -> Candidate:
    """Change a candidate; send the ETag of the candidate you read in If-Match. Left out,
    ``treasury_approved`` keeps its stored value; a change to it is refused (only Treasury sets
    it, by deciding a request for approval)."""
    if body.id != candidate_id:
        raise InvalidInput.single("id", "the id of a candidate cannot be changed")
    existing = uow.candidates.get(ctx.slug, candidate_id)
    version = required_version(
        request,
        uow.candidates.version(ctx.slug, candidate_id),
        f"the candidate {existing.name}",
    )
    if "treasury_approved" not in body.model_fields_set:
        body = body.with_changes(treasury_approved=existing.treasury_approved)
    services.update_candidate(uow, ctx.user.username, ctx.slug, body, expected_version=version)
    uow.commit()
    send_version(response, uow.candidates.version(ctx.slug, candidate_id))
    return uow.candidates.get(ctx.slug, candidate_id)


@router.get("/missions/{slug}/audit", response_model=list[AuditEntryOut])
def audit(
    ctx: ViewAudit,
    uow: UowDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AuditEntry]:
    """The mission's audit trail, newest first."""
    return uow.audit.all(ctx.slug, limit=limit, offset=offset)


@router.get("/users", response_model=list[User])
def users(admin: Admin, uow: UowDep) -> list[User]:
    return uow.users.all()


@router.post("/users", response_model=User, status_code=201)
def create_user(admin: Admin, body: NewUser, uow: UowDep) -> User:
    user = User(username=body.username, display_name=body.display_name, is_admin=body.is_admin)
    services.create_user(uow, admin.username, user, body.password)
    uow.commit()
    return uow.users.get(user.username)


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
    result: dict[str, Any] | None = None
    intervals: dict[str, dict[str, montecarlo.Interval]] | None = Field(
        None,
        description="with the result: the 95 % Monte-Carlo interval (Wilson score) of each "
        "share, in_sample and out_of_sample -> p_target, p_any_success, p_overrun -> "
        "{value, low, high, scenarios}",
    )


def _summary(run: OptimiserRun, with_result: bool = False) -> RunSummary:
    return RunSummary(
        id=run.id or 0,
        quarter=run.quarter,
        objective=run.objective,
        solver=run.solver,
        status=run.status,
        started_by=run.started_by,
        note=run.note,
        created_at=run.created_at,
        finished_at=run.finished_at,
        progress=run.progress,
        error=run.error,
        budget_scale=run.budget_scale,
        what_if=run.what_if,
        result=run.result if with_result else None,
        intervals=montecarlo.result_intervals((run.result or {}).get("metrics"))
        if with_result and run.result is not None
        else None,
    )


@router.get("/missions/{slug}/problem")
def current_problem(ctx: RunOptimiser, uow: UowDep) -> dict[str, Any]:
    """The problem file the mission's current data gives, with the default policy."""
    return run_service.export_problem(uow, ctx.slug)


@router.get("/missions/{slug}/runs", response_model=list[RunSummary])
def runs(ctx: ViewMission, uow: UowDep) -> list[RunSummary]:
    return [_summary(r) for r in uow.runs.all(ctx.slug)]


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
    return _summary(uow.runs.get(ctx.slug, run_id), with_result=True)


@router.get("/missions/{slug}/runs/{run_id}/problem")
def run_problem(ctx: ViewMission, run_id: RowId, uow: UowDep) -> dict[str, Any]:
    """The exact problem file the run solved."""
    return uow.runs.get(ctx.slug, run_id).problem


# -- the Expert Council --------------------------------------------------------------------------
ScoreDep = Annotated[MissionContext, Depends(MissionAccess(Perm.score))]
ManageRound = Annotated[MissionContext, Depends(MissionAccess(Perm.manage_round))]


class RoundState(BaseModel):
    quarter: str
    state: ScoringState
    method: AggregationMethod
    my_status: dict[str, str] = Field(
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
    status: dict[str, str] = {}
    if Role.council_member in ctx.roles:
        status = council.my_status(uow, ctx.slug, quarter, ctx.user.username)
    return RoundState(
        quarter=quarter,
        state=council.round_state(uow, ctx.slug, quarter),
        method=uow.missions.get(ctx.slug).aggregation,
        my_status=status,
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
    status: str = Field(description="not started, draft, submitted or not competent")
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
    status = council.my_status(uow, ctx.slug, quarter, ctx.user.username)
    send_version(
        response, uow.scores.version_of(ctx.slug, quarter, ctx.user.username, candidate_id)
    )
    return MyScores(
        quarter=quarter,
        candidate=candidate_id,
        status=status.get(candidate_id, "not started"),
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
        status=council.my_status(uow, ctx.slug, quarter, ctx.user.username)[candidate_id],
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
    scores = council.visible_scores(uow, ctx.slug, label, ctx.viewer, candidate)
    rows = [
        r
        for r in council.visible_aggregates(uow, ctx.slug, label, ctx.viewer)
        if r.candidate.id == candidate_id
    ]
    aggregates = {
        o: (a.model_dump(mode="json") if a else None)
        for o, a in (rows[0].aggregates.items() if rows else [])
    }
    return CandidateScores(
        quarter=label, candidate=candidate_id, scores=scores, aggregates=aggregates
    )


@router.get("/missions/{slug}/aggregates")
def aggregates(ctx: ViewMission, uow: UowDep, quarter: str | None = None) -> list[dict[str, Any]]:
    """Pooled estimates per option, with the scores and weights behind each. A council member
    sees only candidates they have submitted, until the round closes."""
    label = quarter or council.current_quarter(uow, ctx.slug)
    out = []
    for row in council.visible_aggregates(uow, ctx.slug, label, ctx.viewer):
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


# -- the quarterly cycle -------------------------------------------------------------------------
RecordEvidence = Annotated[MissionContext, Depends(MissionAccess(Perm.record_evidence))]
ManageCycle = Annotated[MissionContext, Depends(MissionAccess(Perm.manage_cycle))]
DissentDep = Annotated[MissionContext, Depends(MissionAccess(Perm.dissent))]


class NewEvidence(BaseModel):
    """Evidence about a candidate, recorded in the current quarter."""

    kind: EvidenceKind
    date: dt.date
    summary: str = Field(min_length=1, max_length=200)
    diagnosticity: float = Field(1.0, gt=0, le=10, allow_inf_nan=False)
    trl: int | None = Field(None, ge=1, le=9)
    cost_actual: Amount | None = None
    cost_planned: Amount | None = None
    outcome: bool | None = None
    option: str | None = None


class Approval(BaseModel):
    reasons: dict[str, str] = Field(
        default_factory=dict,
        description="candidate -> reason for its change (each start, scale up, scale down and "
        "stop needs one; a continue needs none)",
    )
    contracted: list[str] = Field(
        default_factory=list,
        description="funded candidates to contract now (a live contract stays as it is; naming "
        "its candidate again moves the contract to the option this run funds)",
    )


class RagOverride(BaseModel):
    rag: Rag | None = None
    reason: str = Field("", max_length=5000)


class DissentText(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class UpdateText(BaseModel):
    body: str = Field(min_length=1, max_length=40_000)
    publish: bool = False


class QuarterView(BaseModel):
    quarter: QuarterOut
    changes: list[AllocationChange]
    dissents: list[DissentOut]
    update: QuarterlyUpdateOut | None


def _quarter_view(uow: SqlUnitOfWork, slug: str, label: str) -> QuarterView:
    update = uow.cycle.update(slug, label)
    dissents = uow.cycle.dissents(slug, label)
    return QuarterView(
        quarter=QuarterOut.model_validate(uow.missions.quarter(slug, label).model_dump()),
        changes=uow.cycle.changes(slug, label),
        dissents=[DissentOut.model_validate(d.model_dump()) for d in dissents],
        update=QuarterlyUpdateOut.model_validate(update.model_dump()) if update else None,
    )


@router.get("/missions/{slug}/evidence", response_model=list[Evidence])
def evidence(ctx: ViewMission, uow: UowDep, candidate: str | None = None) -> list[Evidence]:
    return uow.evidence.all(ctx.slug, candidate)


@router.post(
    "/missions/{slug}/candidates/{candidate_id}/evidence", response_model=Evidence, status_code=201
)
def record_evidence(
    ctx: RecordEvidence, candidate_id: str, body: NewEvidence, uow: UowDep
) -> Evidence:
    try:
        item = Evidence(
            candidate=candidate_id,
            quarter=quarters.current_quarter(uow, ctx.slug),
            **body.model_dump(),
        )
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from exc
    cycle.record_evidence(uow, ctx.user.username, ctx.slug, item)
    uow.commit()
    return uow.evidence.all(ctx.slug, candidate_id)[-1]


@router.get("/missions/{slug}/quarters", response_model=list[QuarterOut])
def quarter_list(ctx: ViewMission, uow: UowDep) -> list[Quarter]:
    return uow.missions.quarters(ctx.slug)


@router.get("/missions/{slug}/quarters/{label}", response_model=QuarterView)
def quarter(ctx: ViewMission, label: str, uow: UowDep) -> QuarterView:
    """A quarter: state, approved run, RAG, changes with reasons, dissent and the update."""
    if label not in {q.label for q in uow.missions.quarters(ctx.slug)}:
        raise NotFound(f"no quarter {label}")
    return _quarter_view(uow, ctx.slug, label)


@router.post("/missions/{slug}/runs/{run_id}/approve", response_model=QuarterView)
def approve_run(ctx: ManageCycle, run_id: RowId, body: Approval, uow: UowDep) -> QuarterView:
    """Approve a run as the current quarter's allocation (each start, scale and stop needs a
    reason)."""
    cycle.approve_run(
        uow,
        ctx.user.username,
        ctx.slug,
        run_id,
        reasons=body.reasons,
        contracted=set(body.contracted),
    )
    uow.commit()
    return _quarter_view(uow, ctx.slug, uow.runs.get(ctx.slug, run_id).quarter)


@router.post("/missions/{slug}/quarter/rag", response_model=QuarterView)
def override_rag(ctx: ManageCycle, body: RagOverride, uow: UowDep) -> QuarterView:
    cycle.override_rag(uow, ctx.user.username, ctx.slug, body.rag, body.reason)
    uow.commit()
    return _quarter_view(uow, ctx.slug, quarters.current_quarter(uow, ctx.slug))


@router.post("/missions/{slug}/quarter/dissent", response_model=QuarterView)
def add_dissent(ctx: DissentDep, body: DissentText, uow: UowDep) -> QuarterView:
    cycle.add_dissent(uow, ctx.user.username, ctx.roles, ctx.slug, body.text)
    uow.commit()
    return _quarter_view(uow, ctx.slug, quarters.current_quarter(uow, ctx.slug))


@router.get("/missions/{slug}/quarter/draft-update")
def draft_update(ctx: ManageCycle, uow: UowDep) -> dict[str, str]:
    """The letter the product drafts for the current quarter."""
    label = quarters.current_quarter(uow, ctx.slug)
    return {"quarter": label, "body": cycle.draft_letter(uow, ctx.slug, label)}


@router.put("/missions/{slug}/quarter/update", response_model=QuarterView)
def save_update(ctx: ManageCycle, body: UpdateText, uow: UowDep) -> QuarterView:
    cycle.save_update(uow, ctx.user.username, ctx.slug, body.body, publish=body.publish)
    uow.commit()
    return _quarter_view(uow, ctx.slug, quarters.current_quarter(uow, ctx.slug))


@router.post("/missions/{slug}/quarter/close", response_model=QuarterView)
def close_quarter(ctx: ManageCycle, uow: UowDep) -> QuarterView:
    """Close the current quarter into its audit pack and open the next."""
    closed = cycle.close_quarter(uow, ctx.user.username, ctx.slug)
    uow.commit()
    return _quarter_view(uow, ctx.slug, closed.label)


@router.get("/missions/{slug}/trajectory", response_model=list[TrajectoryPoint])
def trajectory(ctx: ViewMission, uow: UowDep) -> list[TrajectoryPoint]:
    return uow.cycle.trajectory(ctx.slug)


@router.put("/missions/{slug}/trajectory", response_model=list[TrajectoryPoint])
def set_trajectory(
    ctx: ManageCycle, body: list[TrajectoryPoint], uow: UowDep
) -> list[TrajectoryPoint]:
    cycle.set_trajectory(uow, ctx.user.username, ctx.slug, body)
    uow.commit()
    return uow.cycle.trajectory(ctx.slug)


# -- contracts -----------------------------------------------------------------------------------
class ContractOut(BaseModel):
    """A contracted award: a commitment of every later quarter's problem until it ends."""

    id: int
    candidate: str
    candidate_name: str
    option: str
    option_name: str
    since: str
    awarded_by: str | None
    state: ContractState
    ended_in: str | None
    ended_by: str | None
    ended_at: UtcDateTime | None
    end_reason: str
    break_cost: float | None
    planned_total: float | None = Field(description="the option's planned total cost, £m")
    spent: float = Field(description="actual spend recorded on the option, £m")
    failed_stage_gate: str | None = Field(
        description="a stage gate failed since the contract began: consider ending it"
    )


class EndContract(BaseModel):
    reason: str = Field(max_length=10_000, description="why the contract ends (required)")
    break_cost: Amount | None = Field(
        None, description="£ million, 0 to 100,000: recorded as spent money"
    )
    envelope: str | None = Field(
        None, description="the envelope the break cost comes from (default: the first eligible)"
    )
    expected_state: ContractState | None = Field(
        ContractState.live, description="the state you saw; a contract ended since is a 409"
    )


def _contracts(uow: SqlUnitOfWork, slug: str) -> dict[int, ContractOut]:
    return {
        v.contract.id or 0: ContractOut.model_validate(v.as_json())
        for v in contracts.contract_views(uow, slug)
    }


@router.get("/missions/{slug}/contracts", response_model=list[ContractOut])
def contract_list(
    ctx: ViewMission, uow: UowDep, state: ContractState | None = None
) -> list[ContractOut]:
    """The mission's contracts, oldest first (``?state=live`` for the live ones)."""
    return [c for c in _contracts(uow, ctx.slug).values() if state is None or c.state is state]


@router.post("/missions/{slug}/contracts/{contract_id}/end", response_model=ContractOut)
def end_contract(
    ctx: ManageCycle, contract_id: RowId, body: EndContract, uow: UowDep
) -> ContractOut:
    """End a live contract with a reason; a break cost is recorded in the spend ledger."""
    contracts.end_contract(
        uow,
        ctx.user.username,
        ctx.slug,
        contract_id,
        body.reason,
        body.break_cost,
        envelope=body.envelope,
        expected_state=body.expected_state,
    )
    uow.commit()
    return _contracts(uow, ctx.slug)[contract_id]


# -- Treasury approvals of awards above the Delegated Authority Limit ----------------------------
ViewApprovals = Annotated[MissionContext, Depends(MissionAccess(Perm.view_treasury_approvals))]
RequestApproval = Annotated[MissionContext, Depends(MissionAccess(Perm.request_treasury_approval))]
DecideApproval = Annotated[MissionContext, Depends(MissionAccess(Perm.decide_treasury_approval))]


class TreasuryApprovalOut(TreasuryApproval):
    requested_at: UtcDateTime
    decided_at: UtcDateTime | None = None
    candidate_name: str


class ApprovalRequest(BaseModel):
    candidate: str = Field(description="the candidate whose awards above the DAL need approval")
    reason: str = Field(max_length=5000, description="why Treasury should approve (required)")


class ApprovalDecision(BaseModel):
    decision: Literal["approve", "refuse"]
    reason: str = Field(max_length=5000, description="why (required)")
    expected_state: ApprovalState | None = Field(
        ApprovalState.requested, description="the state you saw; one decided since is a 409"
    )


def _approvals(uow: SqlUnitOfWork, slug: str) -> dict[int, TreasuryApprovalOut]:
    names = {c.id: c.name for c in uow.candidates.all(slug)}
    return {
        a.id or 0: TreasuryApprovalOut.model_validate(
            {**a.model_dump(), "candidate_name": names.get(a.candidate, a.candidate)}
        )
        for a in uow.approvals.all(slug)
    }


@router.get("/missions/{slug}/approvals", response_model=list[TreasuryApprovalOut])
def approval_list(
    ctx: ViewApprovals, uow: UowDep, state: ApprovalState | None = None
) -> list[TreasuryApprovalOut]:
    """Requests for Treasury approval, oldest first (``?state=requested`` for those waiting)."""
    return [a for a in _approvals(uow, ctx.slug).values() if state is None or a.state is state]


@router.post("/missions/{slug}/approvals", response_model=TreasuryApprovalOut, status_code=201)
def request_approval(
    ctx: RequestApproval, body: ApprovalRequest, uow: UowDep
) -> TreasuryApprovalOut:
    """The Mission CEO asks Treasury to approve a candidate's awards above the DAL."""
    approval_id = approvals.request_approval(
        uow, ctx.user.username, ctx.roles, ctx.slug, body.candidate, body.reason
    )
    uow.commit()
    return _approvals(uow, ctx.slug)[approval_id]


@router.post("/missions/{slug}/approvals/{approval_id}/decide", response_model=TreasuryApprovalOut)
def decide_approval(
    ctx: DecideApproval, approval_id: RowId, body: ApprovalDecision, uow: UowDep
) -> TreasuryApprovalOut:
    """A Treasury reviewer approves (the candidate becomes Treasury approved) or refuses."""
    approvals.decide_approval(
        uow,
        ctx.user.username,
        ctx.roles,
        ctx.slug,
        approval_id,
        approve=body.decision == "approve",
        reason=body.reason,
        expected_state=body.expected_state,
    )
    uow.commit()
    return _approvals(uow, ctx.slug)[approval_id]
