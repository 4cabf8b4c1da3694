"""Candidates in the JSON API (under /api/v1): register, read and change a candidate (under its
version: ETag / If-Match), and the evidence recorded about candidates."""

from __future__ import annotations

import datetime as dt

from fastapi import Request, Response
from pydantic import BaseModel, Field, ValidationError

from api.deps import EditCandidate, RecordEvidence, RegisterCandidate, UowDep, ViewMission
from api.preconditions import ETAG_HEADER, IF_MATCH, required_version, send_version
from api.routes.json.common import CONDITIONAL, as_utc, utc_model, v1_router
from portfolio.domain.errors import InvalidInput
from portfolio.domain.model import Amount, Candidate, Evidence, EvidenceKind
from portfolio.services import candidate_view, cycle, quarters
from portfolio.services import missions as services

router = v1_router()


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


@router.get("/missions/{slug}/candidates", response_model=list[Candidate])
def candidates(ctx: ViewMission, uow: UowDep) -> list[Candidate]:
    """The mission's candidate solutions with their funding options, as registered."""
    return uow.candidates.all(ctx.slug)


@router.post("/missions/{slug}/candidates", response_model=Candidate, status_code=201)
def register_candidate(ctx: RegisterCandidate, body: Candidate, uow: UowDep) -> Candidate:
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


CandidatePageOut = utc_model(candidate_view.CandidatePage)


@router.get("/missions/{slug}/candidates/{candidate_id}/overview", response_model=CandidatePageOut)
def overview(ctx: ViewMission, candidate_id: str, uow: UowDep) -> candidate_view.CandidatePage:
    """Everything the candidate page shows: the candidate, its live contract, whether an award
    needs Treasury's approval and the requests made, the belief in each option (the prior, each
    piece of evidence's step and the posterior p the optimiser is given) with the cost outlook,
    the evidence, the red-team challenges with the Mission CEO's replies, and the latest
    changes to it."""
    page = candidate_view.candidate_page(uow, ctx.slug, candidate_id)
    return as_utc(candidate_view.CandidatePage, page)


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
