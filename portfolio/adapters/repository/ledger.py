"""Money: the spend ledger, contracts and Treasury's approvals."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portfolio.adapters.orm import (
    CandidateRow,
    ContractRow,
    MissionRow,
    QuarterRow,
    SpendRow,
    TreasuryApprovalRow,
    utcnow,
)
from portfolio.adapters.repository._shared import flush_versioned
from portfolio.adapters.repository.candidates import Candidates
from portfolio.adapters.repository.missions import Missions
from portfolio.domain.errors import NotFound
from portfolio.domain.model import Contract, ContractState, SpendEntry, TreasuryApproval


class SpendLedger:
    """Money actually spent, per option, envelope and year (entries are added, never edited: a
    correction is a new entry)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, mission_slug: str, entry: SpendEntry) -> int:
        quarter = Missions(self.session).quarter_row(mission_slug, entry.quarter)
        candidate = Candidates(self.session).row(mission_slug, entry.candidate)
        data = entry.model_dump(exclude={"id", "candidate", "quarter", "recorded_at"})
        data["kind"] = entry.kind.value
        row = SpendRow(
            candidate_id=candidate.id,
            quarter_id=quarter.id,
            recorded_at=entry.recorded_at or utcnow(),
            **data,
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def all(self, mission_slug: str, candidate: str | None = None) -> list[SpendEntry]:
        mission = Missions(self.session).row(mission_slug)
        query = (
            select(SpendRow, QuarterRow.label, CandidateRow.key)
            .join(QuarterRow, SpendRow.quarter_id == QuarterRow.id)
            .join(CandidateRow, SpendRow.candidate_id == CandidateRow.id)
            .where(CandidateRow.mission_id == mission.id)
            .order_by(SpendRow.year, SpendRow.id)
        )
        if candidate is not None:
            query = query.where(CandidateRow.key == candidate)
        return [
            SpendEntry(
                id=r.id,
                candidate=ckey,
                option=r.option,
                envelope=r.envelope,
                year=r.year,
                amount=r.amount,
                quarter=label,
                kind=r.kind,
                note=r.note,
                recorded_by=r.recorded_by,
                recorded_at=r.recorded_at,
            )
            for r, label, ckey in self.session.execute(query)
        ]


class Contracts:
    """Contracted awards and their lifecycle."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @staticmethod
    def _model(row: ContractRow, key: str) -> Contract:
        return Contract(
            id=row.id,
            candidate=key,
            option=row.option,
            since=row.since,
            awarded_by=row.awarded_by,
            state=row.state,
            ended_in=row.ended_in,
            ended_by=row.ended_by,
            ended_at=row.ended_at,
            end_reason=row.end_reason,
            break_cost=row.break_cost,
        )

    def add(self, mission_slug: str, contract: Contract) -> int:
        candidate = Candidates(self.session).row(mission_slug, contract.candidate)
        data = contract.model_dump(exclude={"id", "candidate"})
        data["state"] = contract.state.value
        row = ContractRow(candidate_id=candidate.id, version=1, **data)
        self.session.add(row)
        self.session.flush()
        return row.id

    def all(self, mission_slug: str, candidate: str | None = None) -> list[Contract]:
        mission = Missions(self.session).row(mission_slug)
        query = (
            select(ContractRow, CandidateRow.key)
            .join(CandidateRow, ContractRow.candidate_id == CandidateRow.id)
            .where(CandidateRow.mission_id == mission.id)
            .order_by(ContractRow.id)
        )
        if candidate is not None:
            query = query.where(CandidateRow.key == candidate)
        return [self._model(r, key) for r, key in self.session.execute(query)]

    def live(self, mission_slug: str) -> list[Contract]:
        return [c for c in self.all(mission_slug) if c.state is ContractState.live]

    def _row(self, mission_slug: str, contract_id: int) -> tuple[ContractRow, str]:
        found = self.session.execute(
            select(ContractRow, CandidateRow.key)
            .join(CandidateRow, ContractRow.candidate_id == CandidateRow.id)
            .join(MissionRow, CandidateRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug, ContractRow.id == contract_id)
        ).first()
        if found is None:
            raise NotFound(f"no contract {contract_id} in mission {mission_slug}")
        return found[0], found[1]

    def get(self, mission_slug: str, contract_id: int) -> Contract:
        return self._model(*self._row(mission_slug, contract_id))

    def update(self, mission_slug: str, contract: Contract) -> None:
        """Store `contract`'s lifecycle fields (its candidate and option never change)."""
        row, _ = self._row(mission_slug, contract.id or 0)
        row.option, row.state = contract.option, contract.state.value
        row.ended_in, row.ended_by, row.ended_at = (
            contract.ended_in,
            contract.ended_by,
            contract.ended_at,
        )
        row.end_reason, row.break_cost = contract.end_reason, contract.break_cost
        flush_versioned(self.session)


class TreasuryApprovals:
    """Requests to Treasury to approve awards above the DAL, and Treasury's decisions."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @staticmethod
    def _model(row: TreasuryApprovalRow, key: str) -> TreasuryApproval:
        return TreasuryApproval(
            id=row.id,
            candidate=key,
            requested_by=row.requested_by,
            requested_at=row.requested_at,
            request_reason=row.request_reason,
            state=row.state,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            decision_reason=row.decision_reason,
        )

    def add(self, mission_slug: str, approval: TreasuryApproval) -> int:
        candidate = Candidates(self.session).row(mission_slug, approval.candidate)
        data = approval.model_dump(exclude={"id", "candidate"})
        data["state"] = approval.state.value
        row = TreasuryApprovalRow(candidate_id=candidate.id, version=1, **data)
        self.session.add(row)
        self.session.flush()
        return row.id

    def all(self, mission_slug: str, candidate: str | None = None) -> list[TreasuryApproval]:
        mission = Missions(self.session).row(mission_slug)
        query = (
            select(TreasuryApprovalRow, CandidateRow.key)
            .join(CandidateRow, TreasuryApprovalRow.candidate_id == CandidateRow.id)
            .where(CandidateRow.mission_id == mission.id)
            .order_by(TreasuryApprovalRow.id)
        )
        if candidate is not None:
            query = query.where(CandidateRow.key == candidate)
        return [self._model(r, key) for r, key in self.session.execute(query)]

    def _row(self, mission_slug: str, approval_id: int) -> tuple[TreasuryApprovalRow, str]:
        found = self.session.execute(
            select(TreasuryApprovalRow, CandidateRow.key)
            .join(CandidateRow, TreasuryApprovalRow.candidate_id == CandidateRow.id)
            .join(MissionRow, CandidateRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug, TreasuryApprovalRow.id == approval_id)
        ).first()
        if found is None:
            raise NotFound(f"no Treasury approval request {approval_id} in mission {mission_slug}")
        return found[0], found[1]

    def get(self, mission_slug: str, approval_id: int) -> TreasuryApproval:
        return self._model(*self._row(mission_slug, approval_id))

    def decide(self, mission_slug: str, approval: TreasuryApproval) -> None:
        row, _ = self._row(mission_slug, approval.id or 0)
        row.state, row.decided_by = approval.state.value, approval.decided_by
        row.decided_at, row.decision_reason = approval.decided_at, approval.decision_reason
        flush_versioned(self.session)
