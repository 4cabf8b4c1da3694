"""The in-memory adapter's stored state: plain dictionaries and lists of domain models, one
``Tables`` per committed state, deep-copied for each transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from portfolio.domain.errors import NotFound
from portfolio.domain.model import (
    AllocationChange,
    Candidate,
    ChainedAuditEntry,
    Challenge,
    Contract,
    CouncilMember,
    Dissent,
    Evidence,
    HistoryCheck,
    Mission,
    OptimiserRun,
    Quarter,
    QuarterlyUpdate,
    RoleAssignment,
    Score,
    SeedAnswer,
    SeedQuestion,
    SpendEntry,
    StoredAggregate,
    Strict,
    TrajectoryPoint,
    TreasuryApproval,
    User,
)

M = TypeVar("M", bound=Strict)


def copied(model: M) -> M:
    """A deep copy: what a repository hands out is never the stored object itself."""
    return model.model_copy(deep=True)


def utc_now() -> dt.datetime:
    """Naive UTC time, as storage keeps timestamps."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class Token:
    id: int
    username: str
    name: str
    token_hash: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None = None


@dataclass
class StoredScore:
    version: int
    score: Score


@dataclass
class Tables:
    """Everything stored, keyed as the SQL tables' unique keys are (mission slug first)."""

    users: dict[str, User] = field(default_factory=dict)
    passwords: dict[str, str | None] = field(default_factory=dict)
    tokens: dict[int, Token] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # session hash -> username
    missions: dict[str, Mission] = field(default_factory=dict)
    mission_versions: dict[str, int] = field(default_factory=dict)
    roles: list[RoleAssignment] = field(default_factory=list)
    council: dict[str, list[CouncilMember]] = field(default_factory=dict)
    quarters: dict[str, dict[str, Quarter]] = field(default_factory=dict)
    packs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    candidates: dict[str, dict[str, Candidate]] = field(default_factory=dict)
    candidate_versions: dict[tuple[str, str], int] = field(default_factory=dict)
    # (slug, quarter, candidate, option, member) -> the score, in the order first written
    scores: dict[tuple[str, str, str, str, str], StoredScore] = field(default_factory=dict)
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    challenges: dict[str, dict[int, Challenge]] = field(default_factory=dict)
    seed_questions: dict[str, dict[str, SeedQuestion]] = field(default_factory=dict)
    seed_answers: dict[tuple[str, str, str], SeedAnswer] = field(default_factory=dict)
    aggregates: dict[str, list[StoredAggregate]] = field(default_factory=dict)
    audit: list[ChainedAuditEntry] = field(default_factory=list)
    history_checks: dict[int, HistoryCheck] = field(default_factory=dict)
    changes: dict[tuple[str, str], list[AllocationChange]] = field(default_factory=dict)
    dissents: dict[str, list[Dissent]] = field(default_factory=dict)
    updates: dict[tuple[str, str], QuarterlyUpdate] = field(default_factory=dict)
    trajectory: dict[str, list[TrajectoryPoint]] = field(default_factory=dict)
    runs: dict[int, OptimiserRun] = field(default_factory=dict)
    # run id -> (owner, heartbeat): the columns of the shared run queue, not in the domain model
    run_owners: dict[int, tuple[str, dt.datetime]] = field(default_factory=dict)
    spend: dict[str, dict[int, SpendEntry]] = field(default_factory=dict)
    contracts: dict[str, dict[int, Contract]] = field(default_factory=dict)
    approvals: dict[str, dict[int, TreasuryApproval]] = field(default_factory=dict)
    last_ids: dict[str, int] = field(default_factory=dict)

    def next_id(self, table: str) -> int:
        """The next id of ``table``: 1, 2, … as a fresh database numbers its rows."""
        self.last_ids[table] = self.last_ids.get(table, 0) + 1
        return self.last_ids[table]

    # -- existence checks the SQL joins and foreign keys make --------------------------------
    def mission(self, slug: str) -> Mission:
        if slug not in self.missions:
            raise NotFound(f"no mission {slug}")
        return self.missions[slug]

    def user(self, username: str) -> User:
        if username not in self.users:
            raise NotFound(f"no user {username}")
        return self.users[username]

    def quarter(self, slug: str, label: str) -> Quarter:
        self.mission(slug)
        found = self.quarters.get(slug, {}).get(label)
        if found is None:
            raise NotFound(f"no quarter {label} in mission {slug}")
        return found

    def candidate(self, slug: str, key: str) -> Candidate:
        found = self.candidates.get(slug, {}).get(key)
        if found is None:
            raise NotFound(f"no candidate {key} in mission {slug}")
        return found

    def option(self, slug: str, key: str, option: str) -> None:
        if all(o.id != option for o in self.candidate(slug, key).options):
            raise NotFound(f"no option {option} of candidate {key}")


class State:
    """The tables a unit of work reads and writes: a holder, so that a rollback can swap in
    the committed tables under every repository at once."""

    def __init__(self, tables: Tables, clock: Callable[[], dt.datetime]) -> None:
        self.t = tables
        self.clock = clock
