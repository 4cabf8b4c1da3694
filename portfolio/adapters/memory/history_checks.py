"""In-memory background checks of a mission's history, refused as the SQL ones are: a mission
has at most one queued or running."""

from __future__ import annotations

from portfolio.adapters.memory.tables import State, copied
from portfolio.adapters.repository.history_checks import PENDING
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import HISTORY_CHECK_ACTIVE, HistoryCheck


class MemoryHistoryChecks:
    def __init__(self, state: State) -> None:
        self.s = state

    def _refuse_second_pending(self, check: HistoryCheck) -> None:
        if check.active and any(
            c.active and c.mission == check.mission and c.id != check.id
            for c in self.s.t.history_checks.values()
        ):
            raise Conflict(PENDING)

    def add(self, check: HistoryCheck) -> int:
        self.s.t.mission(check.mission)
        self._refuse_second_pending(check.with_changes(id=None))
        check_id = self.s.t.next_id("history_checks")
        self.s.t.history_checks[check_id] = check.with_changes(id=check_id)
        return check_id

    def get(self, check_id: int) -> HistoryCheck:
        if check_id not in self.s.t.history_checks:
            raise NotFound(f"no history check {check_id}")
        return copied(self.s.t.history_checks[check_id])

    def update(self, check: HistoryCheck) -> None:
        assert check.id is not None
        stored = self.get(check.id)
        changed = check.with_changes(mission=stored.mission)
        self._refuse_second_pending(changed)
        self.s.t.history_checks[check.id] = changed

    def _last(self, mission_slug: str, statuses: tuple[str, ...]) -> HistoryCheck | None:
        found = [
            c
            for c in self.s.t.history_checks.values()
            if c.mission == mission_slug and c.status in statuses
        ]
        return copied(max(found, key=lambda c: c.id or 0)) if found else None

    def latest(self, mission_slug: str, *, finished: bool = False) -> HistoryCheck | None:
        done = ("done", "failed")
        return self._last(mission_slug, done if finished else (*done, *HISTORY_CHECK_ACTIVE))

    def pending(self, mission_slug: str) -> HistoryCheck | None:
        return self._last(mission_slug, HISTORY_CHECK_ACTIVE)

    def unfinished(self) -> list[int]:
        return sorted(i for i, c in self.s.t.history_checks.items() if c.active)
