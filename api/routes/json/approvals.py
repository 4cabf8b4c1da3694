"""Treasury approvals of awards above the Delegated Authority Limit in the JSON API (under
/api/v1): the requests, asking for one (Mission CEO) and deciding one (Treasury reviewer)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.deps import DecideTreasuryApproval, RequestTreasuryApproval, UowDep, ViewTreasuryApprovals
from api.params import RowId
from api.routes.json.common import UtcDateTime, v1_router
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.limits import TEXT_LIMIT
from portfolio.domain.model import ApprovalState, TreasuryApproval
from portfolio.services import approvals

router = v1_router()


class TreasuryApprovalSummary(TreasuryApproval):
    """A request for Treasury's approval of awards above the Delegated Authority Limit, with
    the candidate's name; times in UTC."""

    requested_at: UtcDateTime
    decided_at: UtcDateTime | None = None
    candidate_name: str


class ApprovalRequest(BaseModel):
    candidate: str = Field(description="the candidate whose awards above the DAL need approval")
    reason: str = Field(
        description=f"why Treasury should approve (required, at most {TEXT_LIMIT:,} characters)"
    )


class ApprovalDecision(BaseModel):
    decision: Literal["approve", "refuse"]
    reason: str = Field(description=f"why (required, at most {TEXT_LIMIT:,} characters)")
    expected_state: ApprovalState | None = Field(
        ApprovalState.requested, description="the state you saw; one decided since is a 409"
    )


def _approvals(uow: SqlUnitOfWork, slug: str) -> dict[int, TreasuryApprovalSummary]:
    names = {c.id: c.name for c in uow.candidates.all(slug)}
    return {
        a.id or 0: TreasuryApprovalSummary.model_validate(
            {**a.model_dump(), "candidate_name": names.get(a.candidate, a.candidate)}
        )
        for a in uow.approvals.all(slug)
    }


@router.get("/missions/{slug}/approvals", response_model=list[TreasuryApprovalSummary])
def approval_list(
    ctx: ViewTreasuryApprovals, uow: UowDep, state: ApprovalState | None = None
) -> list[TreasuryApprovalSummary]:
    """Requests for Treasury approval, oldest first (``?state=requested`` for those waiting)."""
    return [a for a in _approvals(uow, ctx.slug).values() if state is None or a.state is state]


@router.post("/missions/{slug}/approvals", response_model=TreasuryApprovalSummary, status_code=201)
def request_approval(
    ctx: RequestTreasuryApproval, body: ApprovalRequest, uow: UowDep
) -> TreasuryApprovalSummary:
    """The Mission CEO asks Treasury to approve a candidate's awards above the DAL."""
    approval_id = approvals.request_approval(
        uow, ctx.user.username, ctx.roles, ctx.slug, body.candidate, body.reason
    )
    uow.commit()
    return _approvals(uow, ctx.slug)[approval_id]


@router.post(
    "/missions/{slug}/approvals/{approval_id}/decide", response_model=TreasuryApprovalSummary
)
def decide_approval(
    ctx: DecideTreasuryApproval, approval_id: RowId, body: ApprovalDecision, uow: UowDep
) -> TreasuryApprovalSummary:
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
