"""The quarter's records: allocation changes, dissents, the update letter, the planned
trajectory and review comments on the allocation report."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portfolio.adapters.orm import (
    ChangeRow,
    DissentRow,
    QuarterRow,
    ReviewCommentRow,
    TrajectoryRow,
    UpdateRow,
)
from portfolio.adapters.repository.missions import Missions
from portfolio.domain.errors import NotFound
from portfolio.domain.model import (
    AllocationChange,
    Dissent,
    QuarterlyUpdate,
    ReviewComment,
    TrajectoryPoint,
)

_CHANGE_COLUMNS = (
    ChangeRow.candidate,
    ChangeRow.kind,
    ChangeRow.option_before,
    ChangeRow.option_after,
    ChangeRow.amount_before,
    ChangeRow.amount_after,
    ChangeRow.reason,
    ChangeRow.contracted,
)
"""What a change of an allocation is read as: columns named as ``AllocationChange``'s fields, not
ORM objects (a large programme's quarters hold thousands)."""
_CHANGE_FIELDS = tuple(column.key for column in _CHANGE_COLUMNS)


class CycleLog:
    """Per-quarter records of the cycle: allocation changes, dissents, the update letter and
    the CEO's planned trajectory."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _quarter(self, slug: str, label: str) -> QuarterRow:
        return Missions(self.session).quarter_row(slug, label)

    def _quarter_ids(self, slug: str) -> dict[int, str]:
        mission = Missions(self.session).row(slug)
        rows = self.session.execute(
            select(QuarterRow.id, QuarterRow.label).where(QuarterRow.mission_id == mission.id)
        )
        return {quarter_id: label for quarter_id, label in rows}  # noqa: C416 - a Row, not a pair

    # changes
    def set_changes(self, slug: str, label: str, changes: list[AllocationChange]) -> None:
        quarter = self._quarter(slug, label)
        self.session.execute(delete(ChangeRow).where(ChangeRow.quarter_id == quarter.id))
        for c in changes:
            data = c.model_dump(exclude={"quarter"})
            data["kind"] = c.kind.value
            self.session.add(ChangeRow(quarter_id=quarter.id, **data))
        self.session.flush()

    def changes(self, slug: str, label: str | None = None) -> list[AllocationChange]:
        """The changes of the mission's approved allocations (of quarter ``label`` only, if
        given: chosen in the query, not after reading every quarter's), oldest quarter first."""
        labels = self._quarter_ids(slug)
        wanted = [i for i, name in labels.items() if label is None or name == label]
        rows = self.session.execute(
            select(ChangeRow.quarter_id, *_CHANGE_COLUMNS)
            .where(ChangeRow.quarter_id.in_(wanted))
            .order_by(ChangeRow.quarter_id, ChangeRow.id)
        )
        return [
            AllocationChange(
                quarter=labels[quarter_id], **dict(zip(_CHANGE_FIELDS, values, strict=True))
            )
            for quarter_id, *values in rows
        ]

    # dissents
    def add_dissent(self, slug: str, dissent: Dissent) -> None:
        quarter = self._quarter(slug, dissent.quarter)
        self.session.add(
            DissentRow(quarter_id=quarter.id, **dissent.model_dump(exclude={"quarter"}))
        )
        self.session.flush()

    def dissents(self, slug: str, label: str | None = None) -> list[Dissent]:
        labels = self._quarter_ids(slug)
        wanted = [i for i, name in labels.items() if label is None or name == label]
        rows = self.session.scalars(
            select(DissentRow).where(DissentRow.quarter_id.in_(wanted)).order_by(DissentRow.id)
        )
        return [
            Dissent(
                quarter=labels[r.quarter_id], author=r.author, text=r.text, created_at=r.created_at
            )
            for r in rows
        ]

    # the update letter
    def set_update(self, slug: str, update: QuarterlyUpdate) -> None:
        quarter = self._quarter(slug, update.quarter)
        row = self.session.scalar(select(UpdateRow).where(UpdateRow.quarter_id == quarter.id))
        if row is None:
            row = UpdateRow(quarter_id=quarter.id)
            self.session.add(row)
        row.body, row.published = update.body, update.published
        row.published_at, row.published_by = update.published_at, update.published_by
        self.session.flush()

    def update(self, slug: str, label: str) -> QuarterlyUpdate | None:
        quarter = self._quarter(slug, label)
        row = self.session.scalar(select(UpdateRow).where(UpdateRow.quarter_id == quarter.id))
        if row is None:
            return None
        return QuarterlyUpdate(
            quarter=label,
            body=row.body,
            published=row.published,
            published_at=row.published_at,
            published_by=row.published_by,
        )

    def updates(self, slug: str) -> list[QuarterlyUpdate]:
        labels = self._quarter_ids(slug)
        rows = self.session.scalars(select(UpdateRow).where(UpdateRow.quarter_id.in_(list(labels))))
        return sorted(
            (
                QuarterlyUpdate(
                    quarter=labels[r.quarter_id],
                    body=r.body,
                    published=r.published,
                    published_at=r.published_at,
                    published_by=r.published_by,
                )
                for r in rows
            ),
            key=lambda u: u.quarter,
        )

    # trajectory
    def set_trajectory(self, slug: str, points: list[TrajectoryPoint]) -> None:
        mission = Missions(self.session).row(slug)
        self.session.execute(delete(TrajectoryRow).where(TrajectoryRow.mission_id == mission.id))
        for p in points:
            self.session.add(
                TrajectoryRow(
                    mission_id=mission.id, quarter=p.quarter, planned_p_target=p.planned_p_target
                )
            )
        self.session.flush()

    def trajectory(self, slug: str) -> list[TrajectoryPoint]:
        mission = Missions(self.session).row(slug)
        rows = self.session.scalars(
            select(TrajectoryRow)
            .where(TrajectoryRow.mission_id == mission.id)
            .order_by(TrajectoryRow.quarter)
        )
        return [
            TrajectoryPoint(quarter=r.quarter, planned_p_target=r.planned_p_target) for r in rows
        ]


class Reviews:
    """Review comments on quarters' allocation reports."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, slug: str, comment: ReviewComment) -> int:
        quarter = Missions(self.session).quarter_row(slug, comment.quarter)
        row = ReviewCommentRow(quarter_id=quarter.id, **comment.model_dump(exclude={"quarter"}))
        self.session.add(row)
        self.session.flush()
        return row.id

    def all(self, slug: str, label: str | None = None) -> list[tuple[int, ReviewComment]]:
        mission = Missions(self.session).row(slug)
        query = (
            select(ReviewCommentRow, QuarterRow.label)
            .join(QuarterRow, ReviewCommentRow.quarter_id == QuarterRow.id)
            .where(QuarterRow.mission_id == mission.id)
            .order_by(ReviewCommentRow.id)
        )
        if label is not None:
            query = query.where(QuarterRow.label == label)
        return [
            (
                r.id,
                ReviewComment(
                    quarter=q,
                    author=r.author,
                    text=r.text,
                    created_at=r.created_at,
                    reply=r.reply,
                    replied_by=r.replied_by,
                    replied_at=r.replied_at,
                ),
            )
            for r, q in self.session.execute(query)
        ]

    def reply(self, slug: str, comment_id: int, text: str, by: str, at: dt.datetime) -> str:
        for cid, comment in self.all(slug):
            if cid == comment_id:
                row = self.session.get(ReviewCommentRow, cid)
                assert row is not None
                row.reply, row.replied_by, row.replied_at = text, by, at
                return comment.quarter
        raise NotFound(f"no review comment {comment_id} in mission {slug}")
