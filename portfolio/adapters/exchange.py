"""The whole-mission exchange document (export / import / backup), as pydantic models."""

from __future__ import annotations

from typing import Any, Final, Literal, Self

from pydantic import Field, model_validator

from portfolio.domain.model import (
    AllocationChange,
    Candidate,
    ChainedAuditEntry,
    Challenge,
    Contract,
    CouncilMember,
    Dissent,
    Evidence,
    Mission,
    OptimiserRun,
    Quarter,
    QuarterlyUpdate,
    Role,
    Score,
    SeedAnswer,
    SeedQuestion,
    SpendEntry,
    StoredAggregate,
    Strict,
    TrajectoryPoint,
    TreasuryApproval,
    User,
    Username,
    check_candidate_fits_mission,
)

MISSION_FORMAT: Final = "mission-portfolio/mission"


class MemberRole(Strict):
    username: Username
    role: Role


class MissionDocument(Strict):
    """Everything one mission holds; ``export`` writes it, ``import`` reads it back exactly."""

    format: Literal["mission-portfolio/mission"] = MISSION_FORMAT
    version: Literal[1] = 1
    mission: Mission
    users: list[User] = Field(default_factory=list)
    roles: list[MemberRole] = Field(default_factory=list)
    council: list[CouncilMember] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)
    quarters: list[Quarter] = Field(default_factory=list)
    scores: list[Score] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    challenges: list[Challenge] = Field(default_factory=list)
    seed_questions: list[SeedQuestion] = Field(default_factory=list)
    seed_answers: list[SeedAnswer] = Field(default_factory=list)
    aggregates: list[StoredAggregate] = Field(default_factory=list)
    runs: list[OptimiserRun] = Field(
        default_factory=list, description="ids number the runs 1, 2, … within the document"
    )
    changes: list[AllocationChange] = Field(default_factory=list)
    dissents: list[Dissent] = Field(default_factory=list)
    updates: list[QuarterlyUpdate] = Field(default_factory=list)
    trajectory: list[TrajectoryPoint] = Field(default_factory=list)
    packs: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="closed quarter -> its audit pack content"
    )
    audit: list[ChainedAuditEntry] = Field(default_factory=list)
    # money across quarters: the spend ledger, contracts and Treasury's approvals above the DAL
    spend: list[SpendEntry] = Field(default_factory=list)
    contracts: list[Contract] = Field(default_factory=list)
    treasury_approvals: list[TreasuryApproval] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Self:
        usernames = {u.username for u in self.users}
        for i, r in enumerate(self.roles):
            if r.username not in usernames:
                raise ValueError(f"roles.{i}.username: {r.username} is not in users")
        for i, member in enumerate(self.council):
            if member.username not in usernames:
                raise ValueError(f"council.{i}.username: {member.username} is not in users")
        ids = [c.id for c in self.candidates]
        if len(set(ids)) != len(ids):
            raise ValueError("candidates: ids must be unique")
        for i, c in enumerate(self.candidates):
            for field, rule in check_candidate_fits_mission(c, self.mission):
                raise ValueError(f"candidates.{i}.{field}: {rule}")
        options = {(c.id, o.id) for c in self.candidates for o in c.options}
        quarters = {q.label for q in self.quarters}
        for i, s in enumerate(self.scores):
            if s.member not in usernames:
                raise ValueError(f"scores.{i}.member: {s.member} is not in users")
            if (s.candidate, s.option) not in options:
                raise ValueError(f"scores.{i}: {s.candidate}/{s.option} is not a funding option")
            if s.quarter not in quarters:
                raise ValueError(f"scores.{i}.quarter: {s.quarter} is not a quarter of the mission")
        for i, ev in enumerate(self.evidence):
            if ev.candidate not in ids:
                raise ValueError(f"evidence.{i}.candidate: {ev.candidate} is not a candidate")
            if ev.quarter not in quarters:
                raise ValueError(f"evidence.{i}.quarter: {ev.quarter} is not a quarter")
        for i, ch in enumerate(self.challenges):
            if ch.candidate not in ids:
                raise ValueError(f"challenges.{i}.candidate: {ch.candidate} is not a candidate")
        seed_ids = {q.id for q in self.seed_questions}
        for i, answer in enumerate(self.seed_answers):
            if answer.question not in seed_ids:
                raise ValueError(
                    f"seed_answers.{i}.question: {answer.question} is not a seed question"
                )
            if answer.member not in usernames:
                raise ValueError(f"seed_answers.{i}.member: {answer.member} is not in users")
        for i, agg in enumerate(self.aggregates):
            if (agg.candidate, agg.option) not in options or agg.quarter not in quarters:
                raise ValueError(
                    f"aggregates.{i}: {agg.quarter} {agg.candidate}/{agg.option} "
                    "is not an option and quarter of the mission"
                )
        run_ids = {r.id for r in self.runs}
        for i, q in enumerate(self.quarters):
            if q.approved_run is not None and q.approved_run not in run_ids:
                raise ValueError(f"quarters.{i}.approved_run: run {q.approved_run} is not in runs")
        labelled = [
            *(("changes", i, c.quarter) for i, c in enumerate(self.changes)),
            *(("dissents", i, d.quarter) for i, d in enumerate(self.dissents)),
            *(("updates", i, u.quarter) for i, u in enumerate(self.updates)),
        ]
        for name, i, label in labelled:
            if label not in quarters:
                raise ValueError(f"{name}.{i}.quarter: {label} is not a quarter")
        for label in self.packs:
            if label not in quarters:
                raise ValueError(f"packs.{label}: not a quarter of the mission")
        for i, e in enumerate(self.spend):
            if (e.candidate, e.option) not in options:
                raise ValueError(f"spend.{i}: {e.candidate}/{e.option} is not a funding option")
            if e.quarter not in quarters:
                raise ValueError(f"spend.{i}.quarter: {e.quarter} is not a quarter")
        for i, contract in enumerate(self.contracts):
            if (contract.candidate, contract.option) not in options:
                raise ValueError(
                    f"contracts.{i}: {contract.candidate}/{contract.option} is not a funding option"
                )
        for i, a in enumerate(self.treasury_approvals):
            if a.candidate not in ids:
                raise ValueError(
                    f"treasury_approvals.{i}.candidate: {a.candidate} is not a candidate"
                )
        return self
