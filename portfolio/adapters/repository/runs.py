"""Optimiser runs, their cached analyses and their SVG charts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from optimiser.result import Result
from portfolio.adapters.orm import AnalyticsRow, ChartRow, MissionRow, RunRow
from portfolio.adapters.repository.missions import Missions
from portfolio.adapters.repository.read_cache import RUN_RESULTS
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import OptimiserRun, RunAnalysis, RunRecord

_RECORD_COLUMNS = (
    RunRow.id,
    RunRow.quarter,
    RunRow.objective,
    RunRow.solver,
    RunRow.status,
    RunRow.started_by,
    RunRow.note,
    RunRow.created_at,
    RunRow.started_at,
    RunRow.finished_at,
    cast(RunRow.result, Text).label("result"),  # its text, parsed once a process (RUN_RESULTS)
    RunRow.progress,
    RunRow.error,
    RunRow.overrides,
    RunRow.budget_scale,
)
"""What ``Runs.records`` reads of a run: all but its problem file."""


def _result(text: str | None) -> Result | None:
    """A stored result, from its text: parsed by pydantic from JSON (half the time of decoding
    and then validating), once per text and process (``RUN_RESULTS``)."""
    if text is None:
        return None
    return RUN_RESULTS.kept(text, lambda: Result.model_validate_json(text))


class Runs:
    """Optimiser runs of a mission, with the exact problem file and result of each."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, mission_slug: str, run: OptimiserRun) -> int:
        mission = Missions(self.session).row(mission_slug)
        row = RunRow(
            mission_id=mission.id,
            quarter=run.quarter,
            objective=run.objective,
            solver=run.solver,
            status=run.status,
            started_by=run.started_by,
            note=run.note,
            created_at=run.created_at,
            problem=run.problem,
            overrides=run.overrides,
            budget_scale=run.budget_scale,
        )
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError as exc:  # the database refuses a run in a closed quarter
            raise Conflict(
                f"quarter {run.quarter} is closed: no optimiser run can be recorded in it"
            ) from exc
        return row.id

    def _row(self, mission_slug: str, run_id: int) -> RunRow:
        row = self.session.scalar(
            select(RunRow)
            .join(MissionRow, RunRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug, RunRow.id == run_id)
        )
        if row is None:
            raise NotFound(f"no optimiser run {run_id} in mission {mission_slug}")
        return row

    @staticmethod
    def _record(row: Any, slug: str) -> dict[str, Any]:
        """The fields of a ``RunRecord`` from ``row`` (an ORM row, or a result row of
        ``_RECORD_COLUMNS``: both name their columns as attributes)."""
        return {
            "id": row.id,
            "mission": slug,
            "quarter": row.quarter,
            "objective": row.objective,
            "solver": row.solver,
            "status": row.status,
            "started_by": row.started_by,
            "note": row.note,
            "created_at": row.created_at,
            "started_at": row.started_at,
            "finished_at": row.finished_at,
            "result": row.result,
            "progress": row.progress,
            "error": row.error,
            "overrides": row.overrides or {},
            "budget_scale": row.budget_scale if row.budget_scale is not None else 1.0,
        }

    @classmethod
    def _to_model(cls, row: RunRow, slug: str) -> OptimiserRun:
        return OptimiserRun(**cls._record(row, slug), problem=row.problem)

    def get(self, mission_slug: str, run_id: int) -> OptimiserRun:
        return self._to_model(self._row(mission_slug, run_id), mission_slug)

    def find(self, run_id: int) -> OptimiserRun | None:
        row = self.session.get(RunRow, run_id)
        if row is None:
            return None
        slug = self.session.scalar(select(MissionRow.slug).where(MissionRow.id == row.mission_id))
        return self._to_model(row, slug or "")

    def all(self, mission_slug: str, quarter: str | None = None) -> list[OptimiserRun]:
        """The mission's runs (of one quarter, if given), newest first."""
        query = (
            select(RunRow)
            .join(MissionRow, RunRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug)
            .order_by(RunRow.id.desc())
        )
        if quarter is not None:
            query = query.where(RunRow.quarter == quarter)
        return [self._to_model(r, mission_slug) for r in self.session.scalars(query)]

    def records(self, mission_slug: str, run_ids: Collection[int] | None = None) -> list[RunRecord]:
        """The mission's runs (those among ``run_ids``, if given), newest first, without their
        problem files (``all`` with them): what a list of runs shows. Columns, not ORM objects,
        so the problems are never read."""
        query = (
            select(*_RECORD_COLUMNS)
            .join(MissionRow, RunRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug)
            .order_by(RunRow.id.desc())
        )
        if run_ids is not None:
            query = query.where(RunRow.id.in_(list(run_ids)))
        return [
            RunRecord(**{**self._record(r, mission_slug), "result": _result(r.result)})
            for r in self.session.execute(query)
        ]

    def policies(self, mission_slug: str, run_ids: Collection[int]) -> dict[int, dict[str, Any]]:
        """The ``policy`` of the problem file of each of the mission's runs among ``run_ids``,
        by id, as the file states it (``{}`` when it states none), read from inside the stored
        problem: the finance history needs a few settings of each approved run, not its whole
        problem file (hundreds of kilobytes at the size of a large programme)."""
        rows = self.session.execute(
            select(RunRow.id, RunRow.problem["policy"])
            .join(MissionRow, RunRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug, RunRow.id.in_(list(run_ids)))
        )
        return {run_id: policy or {} for run_id, policy in rows}

    def p_targets(self, mission_slug: str, run_ids: Collection[int]) -> dict[int, float | None]:
        """P(target) out of sample (``p_target_of``) of the mission's runs among ``run_ids``, by
        id, read from inside the stored result: the dashboard's trajectory needs one figure of
        each approved run, not its problem file or whole result."""
        p_target = RunRow.result[("metrics", "out_of_sample", "p_target")].as_float()
        rows = self.session.execute(
            select(RunRow.id, p_target)
            .join(MissionRow, RunRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug, RunRow.id.in_(list(run_ids)))
        )
        return dict(rows.all())

    def update(self, run_id: int, **fields: Any) -> None:
        row = self.session.get(RunRow, run_id)
        if row is None:
            raise NotFound(f"no optimiser run {run_id}")
        for key, value in fields.items():
            setattr(row, key, value)

    # -- the queue every server process shares (``mission-portfolio serve --workers N``) -------
    def claim(self, owner: str, now: dt.datetime, run_id: int | None = None) -> int | None:
        """Take the oldest queued run (run ``run_id`` when given) for server process ``owner``:
        it becomes running, owned by ``owner``, started and its heartbeat ``now``; its id, or
        None when no run is queued (or run ``run_id`` is no longer).

        One UPDATE that re-checks that the run is still queued, so two processes never take the
        same run: the second finds nothing to update. On PostgreSQL the oldest queued run is
        chosen ``FOR UPDATE SKIP LOCKED``, so a second claimer takes the next run instead of
        waiting for the first (SQLite has one writer at a time and ignores the clause)."""
        queued = select(RunRow.id).where(RunRow.status == "queued")
        if run_id is not None:
            queued = queued.where(RunRow.id == run_id)
        if self.session.scalar(queued.limit(1)) is None:  # a plain read: no write lock when idle
            return None
        oldest = queued.order_by(RunRow.id).limit(1).with_for_update(skip_locked=True)
        return self.session.scalar(
            update(RunRow)
            .where(RunRow.id == oldest.scalar_subquery(), RunRow.status == "queued")
            .values(status="running", owner=owner, heartbeat=now, started_at=now)
            .returning(RunRow.id)
        )

    def heartbeat(self, owner: str, now: dt.datetime) -> list[int]:
        """Server process ``owner`` is alive: the heartbeat of every run it is solving becomes
        ``now``; their ids."""
        return sorted(
            self.session.scalars(
                update(RunRow)
                .where(RunRow.owner == owner, RunRow.status == "running")
                .values(heartbeat=now)
                .returning(RunRow.id)
            )
        )

    def release(self, run_id: int, owner: str) -> bool:
        """Put run ``run_id``, claimed by ``owner`` but not solved (the process is stopping),
        back in the queue for another process; False when ``owner`` does not hold it."""
        released = self.session.scalar(
            update(RunRow)
            .where(RunRow.id == run_id, RunRow.owner == owner, RunRow.status == "running")
            .values(status="queued", owner=None, heartbeat=None, started_at=None)
            .returning(RunRow.id)
        )
        return released is not None

    def fail_abandoned(self, stale_before: dt.datetime, error: str, now: dt.datetime) -> list[int]:
        """Mark failed, with ``error``, every running run whose owner's last heartbeat is older
        than ``stale_before`` or that has no owner (left running by a version before the shared
        queue); their ids. Queued runs are left for a process to claim; a live process's runs
        are never touched. One UPDATE, so a heartbeat that comes meanwhile is not overwritten."""
        abandoned = or_(
            RunRow.owner.is_(None), RunRow.heartbeat.is_(None), RunRow.heartbeat < stale_before
        )
        return sorted(
            self.session.scalars(
                update(RunRow)
                .where(RunRow.status == "running", abandoned)
                .values(status="failed", error=error, finished_at=now)
                .returning(RunRow.id)
            )
        )


class Analyses:
    """Cached analyses of runs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @staticmethod
    def _model(row: AnalyticsRow) -> RunAnalysis:
        return RunAnalysis(
            run=row.run_id,
            kind=row.kind,
            status=row.status,
            progress=row.progress,
            result=row.result,
            error=row.error,
            requested_by=row.requested_by,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )

    def _row(self, run_id: int, kind: str) -> AnalyticsRow | None:
        return self.session.scalar(
            select(AnalyticsRow).where(AnalyticsRow.run_id == run_id, AnalyticsRow.kind == kind)
        )

    def get(self, run_id: int, kind: str) -> RunAnalysis | None:
        row = self._row(run_id, kind)
        return self._model(row) if row else None

    def for_run(self, run_id: int) -> dict[str, RunAnalysis]:
        rows = self.session.scalars(select(AnalyticsRow).where(AnalyticsRow.run_id == run_id))
        return {r.kind: self._model(r) for r in rows}

    def put(self, analysis: RunAnalysis) -> None:
        row = self._row(analysis.run, analysis.kind)
        if row is None:
            row = AnalyticsRow(run_id=analysis.run, kind=analysis.kind)
            self.session.add(row)
        for key, value in analysis.model_dump(exclude={"run", "kind"}).items():
            setattr(row, key, value)
        self.session.flush()

    def unfinished(self) -> list[tuple[int, str]]:
        rows = self.session.execute(
            select(AnalyticsRow.run_id, AnalyticsRow.kind).where(
                AnalyticsRow.status.in_(("queued", "running"))
            )
        )
        return [(run_id, kind) for run_id, kind in rows]


class Charts:
    """The SVG charts of runs, drawn once per run, chart and data (``digest``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, run_id: int, name: str, digest: str) -> bytes | None:
        return self.session.scalar(
            select(ChartRow.svg).where(
                ChartRow.run_id == run_id, ChartRow.name == name, ChartRow.digest == digest
            )
        )

    def of_mission(
        self, slug: str, name: str, digest: str, run_id: int | None = None
    ) -> bytes | None:
        """The drawing of chart ``name`` for ``digest`` of a run of mission ``slug`` (of run
        ``run_id`` when given): one query, for a page that names the drawing it wants."""
        query = (
            select(ChartRow.svg)
            .join(RunRow, ChartRow.run_id == RunRow.id)
            .join(MissionRow, RunRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == slug, ChartRow.name == name, ChartRow.digest == digest)
        )
        if run_id is not None:
            query = query.where(ChartRow.run_id == run_id)
        return self.session.scalars(query.limit(1)).first()

    def put(self, run_id: int, name: str, digest: str, svg: bytes, at: dt.datetime) -> None:
        """Keep ``svg``; the chart's drawings for other data are dropped."""
        self.session.execute(
            delete(ChartRow).where(
                ChartRow.run_id == run_id, ChartRow.name == name, ChartRow.digest != digest
            )
        )
        if self.get(run_id, name, digest) is None:
            self.session.add(
                ChartRow(run_id=run_id, name=name, digest=digest, svg=svg, created_at=at)
            )
        self.session.flush()
