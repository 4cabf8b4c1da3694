"""The background checks of a mission's history, with their kept reports."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portfolio.adapters.orm import HistoryCheckRow, MissionRow
from portfolio.adapters.repository.missions import Missions
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import HISTORY_CHECK_ACTIVE, HistoryCheck

PENDING = "a check of this mission's history is already queued or running"
"""Why a second pending check of one mission is refused."""


class HistoryChecks:
    """One row per check asked for; a mission has at most one queued or running."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @staticmethod
    def _model(row: HistoryCheckRow, slug: str) -> HistoryCheck:
        return HistoryCheck(
            id=row.id,
            mission=slug,
            requested_by=row.requested_by,
            requested_at=row.requested_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            status=row.status,
            report=row.report,
            error=row.error,
        )

    def _write(self, row: HistoryCheckRow, check: HistoryCheck) -> None:
        if check.active:
            pending = self.pending(check.mission)
            if pending is not None and pending.id != row.id:
                raise Conflict(PENDING)
        row.requested_by = check.requested_by
        row.requested_at = check.requested_at
        row.started_at = check.started_at
        row.finished_at = check.finished_at
        row.status = check.status
        row.report = check.report
        row.error = check.error
        row.pending_mission_id = row.mission_id if check.active else None
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError as exc:  # one added at the same time by another transaction
            raise Conflict(PENDING) from exc

    def add(self, check: HistoryCheck) -> int:
        row = HistoryCheckRow(mission_id=Missions(self.session).row(check.mission).id)
        self._write(row, check.with_changes(id=None))
        return row.id

    def get(self, check_id: int) -> HistoryCheck:
        found = self.session.execute(
            select(HistoryCheckRow, MissionRow.slug)
            .join(MissionRow, HistoryCheckRow.mission_id == MissionRow.id)
            .where(HistoryCheckRow.id == check_id)
        ).one_or_none()
        if found is None:
            raise NotFound(f"no history check {check_id}")
        return self._model(*found)

    def update(self, check: HistoryCheck) -> None:
        stored = self.get(check.id or 0)
        row = self.session.get(HistoryCheckRow, check.id)
        assert row is not None
        self._write(row, check.with_changes(mission=stored.mission))

    def _last(self, mission_slug: str, *statuses: str) -> HistoryCheck | None:
        row = self.session.scalar(
            select(HistoryCheckRow)
            .join(MissionRow, HistoryCheckRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug, HistoryCheckRow.status.in_(statuses))
            .order_by(HistoryCheckRow.id.desc())
            .limit(1)
        )
        return self._model(row, mission_slug) if row is not None else None

    def latest(self, mission_slug: str, *, finished: bool = False) -> HistoryCheck | None:
        """The mission's last check asked for (``finished``: the last done or failed)."""
        if finished:
            return self._last(mission_slug, "done", "failed")
        return self._last(mission_slug, "done", "failed", *HISTORY_CHECK_ACTIVE)

    def pending(self, mission_slug: str) -> HistoryCheck | None:
        """The mission's check that is queued or running, if any."""
        return self._last(mission_slug, *HISTORY_CHECK_ACTIVE)

    def unfinished(self) -> list[int]:
        """Every mission's queued or running checks, oldest first."""
        return list(
            self.session.scalars(
                select(HistoryCheckRow.id)
                .where(HistoryCheckRow.status.in_(HISTORY_CHECK_ACTIVE))
                .order_by(HistoryCheckRow.id)
            )
        )
