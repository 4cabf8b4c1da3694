"""Treasury approval of awards above the Delegated Authority Limit: segregation of duties.

- Only Treasury sets a candidate's ``treasury_approved``, by approving a request for it; the
  candidate form, the API and CSV imports cannot change it (``services.update_candidate`` refuses).
- The Mission CEO requests approval of a candidate, with a reason, when one of its options costs
  more than the DAL (below it the CEO's own delegated authority covers the award, so Treasury is
  not asked). A candidate has at most one request waiting at a time.
- A Treasury reviewer who did not make the request approves or refuses it, with a reason.
  Approving sets ``treasury_approved``; refusing leaves it unset. Each step is audited in the
  same transaction.
"""

from __future__ import annotations

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import Conflict, PermissionDenied
from portfolio.domain.limits import checked_text
from portfolio.domain.model import (
    ApprovalState,
    Candidate,
    Mission,
    Role,
    TreasuryApproval,
)
from portfolio.services.missions import record


def needs_approval(candidate: Candidate, mission: Mission) -> bool:
    """An option of the candidate costs more than the mission's Delegated Authority Limit."""
    return any(o.total_cost > mission.dal for o in candidate.options)


def pending(uow: UnitOfWork, slug: str, candidate: str | None = None) -> list[TreasuryApproval]:
    """Requests waiting for Treasury's decision, oldest first."""
    return [a for a in uow.approvals.all(slug, candidate) if a.state is ApprovalState.requested]


def _reason(reason: str, what: str) -> str:
    """The reason stripped; refused when empty or over ``limits.TEXT_LIMIT`` characters."""
    return checked_text("reason", reason, missing=f"give the reason for {what}")


def request_approval(
    uow: UnitOfWork, actor: str, roles: set[Role], slug: str, candidate_id: str, reason: str
) -> int:
    """The Mission CEO asks Treasury to approve ``candidate_id`` above the DAL; returns the
    request's id."""
    if Role.mission_ceo not in roles:
        raise PermissionDenied("only the Mission CEO requests Treasury approval")
    candidate = uow.candidates.get(slug, candidate_id)
    mission = uow.missions.get(slug)
    reason = _reason(reason, "the request")
    if candidate.treasury_approved:
        raise Conflict(f"Treasury has already approved {candidate.name}")
    if not needs_approval(candidate, mission):
        raise Conflict(
            f"no option of {candidate.name} costs more than the Delegated Authority Limit "
            f"(£{mission.dal:,.1f}m): its awards need no Treasury approval"
        )
    if pending(uow, slug, candidate_id):
        raise Conflict(f"a request for {candidate.name} is already waiting for Treasury")
    approval = TreasuryApproval(
        candidate=candidate_id, requested_by=actor, requested_at=uow.now(), request_reason=reason
    )
    approval_id = uow.approvals.add(slug, approval)
    record(
        uow,
        actor,
        slug,
        "treasury_approval",
        str(approval_id),
        "requested",
        after=approval.model_dump(mode="json", exclude={"id"}),
    )
    return approval_id


def decide_approval(
    uow: UnitOfWork,
    actor: str,
    roles: set[Role],
    slug: str,
    approval_id: int,
    *,
    approve: bool,
    reason: str,
    expected_state: ApprovalState | None = ApprovalState.requested,
) -> TreasuryApproval:
    """A Treasury reviewer approves (setting the candidate's ``treasury_approved``) or refuses a
    waiting request, with a reason. ``expected_state`` is the state the reviewer saw."""
    if Role.treasury_reviewer not in roles:
        raise PermissionDenied("only a Treasury reviewer decides a request for Treasury approval")
    approval = uow.approvals.get(slug, approval_id)
    candidate = uow.candidates.get(slug, approval.candidate)
    if approval.state is not ApprovalState.requested or (
        expected_state is not None and approval.state is not expected_state
    ):
        raise Conflict(
            f"the request for {candidate.name} was already {approval.state.value}"
            f"{' by ' + approval.decided_by if approval.decided_by else ''}: reload the page"
        )
    if approval.requested_by == actor:
        raise PermissionDenied("the person who asked for an approval cannot decide it")
    reason = _reason(reason, "the decision")
    decided = approval.with_changes(
        state=ApprovalState.approved if approve else ApprovalState.refused,
        decided_by=actor,
        decided_at=uow.now(),
        decision_reason=reason,
    )
    uow.approvals.decide(slug, decided)
    record(
        uow,
        actor,
        slug,
        "treasury_approval",
        str(approval_id),
        decided.state.value,
        before={"state": approval.state.value},
        after={"state": decided.state.value, "reason": reason, "candidate": candidate.id},
    )
    if approve and not candidate.treasury_approved:
        uow.candidates.update(slug, candidate.with_changes(treasury_approved=True), None)
        record(
            uow,
            actor,
            slug,
            "candidate",
            candidate.id,
            "treasury approved",
            before={"treasury_approved": False},
            after={"treasury_approved": True, "treasury_approval": approval_id},
        )
    return decided
