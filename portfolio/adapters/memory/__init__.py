"""Storage in memory: a unit of work and repositories with the methods, the refusals and the
transaction semantics of the SQL ones (``portfolio/adapters/ports.py`` states them), so a
service's rules can be tested without a database (cosmicpython's fake unit of work).

    store = MemoryStore()
    with FakeUnitOfWork(store) as uow:
        missions.create_mission(uow, "admin", mission)
        uow.commit()

Each unit of work works on a deep copy of the committed tables: nothing it writes is seen by
another until ``commit``; ``rollback``, or leaving the ``with`` block without committing,
discards it all. ``store.committed`` is what a fresh unit of work would read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from copy import deepcopy
from types import TracebackType
from typing import TYPE_CHECKING, Self

from portfolio.adapters.memory.council import (
    MemoryAggregates,
    MemoryChallenges,
    MemoryEvidence,
    MemoryScores,
    MemorySeeds,
)
from portfolio.adapters.memory.history_checks import MemoryHistoryChecks
from portfolio.adapters.memory.people import (
    MemoryCandidates,
    MemoryMissions,
    MemorySessions,
    MemoryUsers,
)
from portfolio.adapters.memory.records import (
    MemoryApprovals,
    MemoryAudit,
    MemoryContracts,
    MemoryCycle,
    MemoryRuns,
    MemorySpend,
)
from portfolio.adapters.memory.tables import State, Tables, utc_now


class MemoryStore:
    """The "database": the committed tables, and the clock every unit of work on it reads
    (``now``; set ``clock`` to fix the time in a test)."""

    def __init__(
        self,
        clock: Callable[[], dt.datetime] = utc_now,
        history_key: bytes | None = None,
    ) -> None:
        self.committed = Tables()
        self.clock = clock
        self.history_key = history_key


class FakeUnitOfWork:
    """``with FakeUnitOfWork(store) as uow: ...; uow.commit()`` — anything not committed is
    rolled back on exit, as ``SqlUnitOfWork`` does."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.history_key = store.history_key
        self.committed = False
        self._state = State(deepcopy(store.committed), store.clock)
        self.users = MemoryUsers(self._state)
        self.sessions = MemorySessions(self._state)
        self.missions = MemoryMissions(self._state)
        self.candidates = MemoryCandidates(self._state)
        self.scores = MemoryScores(self._state)
        self.evidence = MemoryEvidence(self._state)
        self.challenges = MemoryChallenges(self._state)
        self.seeds = MemorySeeds(self._state)
        self.aggregates = MemoryAggregates(self._state)
        self.audit = MemoryAudit(self._state, store.history_key)
        self.history_checks = MemoryHistoryChecks(self._state)
        self.cycle = MemoryCycle(self._state)
        self.runs = MemoryRuns(self._state)
        self.spend = MemorySpend(self._state)
        self.contracts = MemoryContracts(self._state)
        self.approvals = MemoryApprovals(self._state)

    def __enter__(self) -> Self:
        self.rollback()  # start from what is committed now
        self.committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def now(self) -> dt.datetime:
        return self._state.clock()

    def flush(self) -> None:
        """Nothing to send: every refusal is raised as the write is made."""

    def commit(self) -> None:
        self.store.committed = deepcopy(self._state.t)
        self.committed = True

    def rollback(self) -> None:
        self._state.t = deepcopy(self.store.committed)


if TYPE_CHECKING:  # mypy checks that the fake offers everything the services may ask for
    from portfolio.adapters.ports import UnitOfWork

    _satisfies: UnitOfWork = FakeUnitOfWork(MemoryStore())

__all__ = ["FakeUnitOfWork", "MemoryStore", "Tables"]
