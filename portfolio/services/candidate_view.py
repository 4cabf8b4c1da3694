"""The candidate page's view, built once: the web page renders it and the JSON API returns it.
The candidate's facts and options, its live contract, Treasury approval requests, the belief in
each option over time, the evidence, the red-team challenges with the CEO's replies, and its
recent history."""

from __future__ import annotations

from pydantic import BaseModel, Field

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.beliefs import CandidateBelief
from portfolio.domain.errors import Conflict
from portfolio.domain.model import (
    AuditEntry,
    Candidate,
    Challenge,
    Contract,
    Evidence,
    TreasuryApproval,
)
from portfolio.services import approvals, beliefs, contracts, quarters

HISTORY_SHOWN = 20
"""The candidate page lists this many of the latest changes to the candidate."""


class ChallengeEntry(BaseModel):
    id: int = Field(description="what a reply names")
    challenge: Challenge


class CandidatePage(BaseModel):
    candidate: Candidate
    contract: Contract | None = Field(description="its live contract, if any")
    needs_treasury: bool = Field(
        description="an option costs more than the Delegated Authority Limit: an award of it "
        "needs Treasury's approval"
    )
    treasury_requests: list[TreasuryApproval] = Field(description="newest first")
    belief: CandidateBelief = Field(
        description="per option: the prior, each evidence step since, the posterior p and the "
        "kill proposal; and the cost outlook"
    )
    evidence: list[Evidence]
    current_quarter: str | None = Field(description="where new evidence is recorded")
    challenges: list[ChallengeEntry]
    history: list[AuditEntry] = Field(
        description=f"the latest {HISTORY_SHOWN} changes to the candidate"
    )


def candidate_page(uow: UnitOfWork, slug: str, candidate_id: str) -> CandidatePage:
    """The candidate page of ``candidate_id`` (NotFound when the mission has no such one)."""
    candidate = uow.candidates.get(slug, candidate_id)
    try:
        quarter: str | None = quarters.current_quarter(uow, slug)
    except Conflict:
        quarter = None
    return CandidatePage(
        candidate=candidate,
        contract=contracts.live_by_candidate(uow, slug).get(candidate_id),
        needs_treasury=approvals.needs_approval(candidate, uow.missions.get(slug)),
        treasury_requests=list(reversed(uow.approvals.all(slug, candidate_id))),
        belief=beliefs.candidate_belief(uow, slug, candidate),
        evidence=uow.evidence.all(slug, candidate_id),
        current_quarter=quarter,
        challenges=[
            ChallengeEntry(id=i, challenge=c) for i, c in uow.challenges.all(slug, candidate_id)
        ],
        history=uow.audit.all(
            slug, entity="candidate", entity_id=candidate_id, limit=HISTORY_SHOWN
        ),
    )
