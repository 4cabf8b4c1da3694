"""Missions, with their roles, council members and quarters."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, cast, delete, inspect, select, update
from sqlalchemy.orm import Session

from portfolio.adapters.orm import (
    CouncilMemberRow,
    EnvelopeRow,
    MissionRow,
    QuarterPackRow,
    QuarterRow,
    RoleRow,
    UserRow,
)
from portfolio.adapters.repository._shared import flush_versioned, remembered
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import CouncilMember, Envelope, Mission, Quarter, Role, RoleAssignment

_ROWS = "mission_rows"
"""The session's ``info`` key of the mission rows ``Missions.row`` has read."""


class Missions:
    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, slug: str) -> MissionRow:
        """The mission's row, read once per session (every repository's ``Missions`` shares it
        through ``session.info``): the identity map would hand back the same object from every
        later query anyway, so only the first is sent (a page asked a dozen times). A row rolled
        back or deleted since is read again."""
        rows: dict[str, MissionRow] = self.session.info.setdefault(_ROWS, {})
        row = rows.get(slug)
        if row is not None and inspect(row).persistent:
            return row
        row = self.session.scalar(select(MissionRow).where(MissionRow.slug == slug))
        if row is None:
            raise NotFound(f"no mission {slug}")
        rows[slug] = row
        return row

    @staticmethod
    def _to_model(row: MissionRow) -> Mission:
        return Mission(
            slug=row.slug,
            name=row.name,
            description=row.description,
            target=row.target,
            unit=row.unit,
            deadline=row.deadline,
            years=list(row.years),
            dal=row.dal,
            dal_mode=row.dal_mode,
            aggregation=row.aggregation,
            kill_threshold=row.kill_threshold,
            rag_green=row.rag_green,
            rag_amber=row.rag_amber,
            policy=row.policy,
            envelopes=[
                Envelope(id=e.key, name=e.name, budget=dict(e.budget), min_spend=e.min_spend)
                for e in row.envelopes
            ],
        )

    def get(self, slug: str) -> Mission:
        return self._to_model(self.row(slug))

    def version(self, slug: str) -> int:
        return self.row(slug).version

    def exists(self, slug: str) -> bool:
        return self.session.scalar(select(MissionRow.id).where(MissionRow.slug == slug)) is not None

    def all(self, slugs: Sequence[str] | None = None) -> list[Mission]:
        query = select(MissionRow).order_by(MissionRow.name)
        if slugs is not None:
            query = query.where(MissionRow.slug.in_(list(slugs)))
        return [self._to_model(r) for r in self.session.scalars(query)]

    def add(self, mission: Mission) -> None:
        if self.exists(mission.slug):
            raise Conflict(f"a mission {mission.slug} already exists")
        row = MissionRow(slug=mission.slug, version=1)
        self._fill(row, mission)
        self.session.add(row)
        self.session.flush()

    def update(self, mission: Mission, expected_version: int | None = None) -> None:
        row = self.row(mission.slug)
        if expected_version is not None and row.version != expected_version:
            raise Conflict("the mission was changed by someone else since you opened it")
        self._fill(row, mission)
        flush_versioned(self.session)

    @staticmethod
    def _fill(row: MissionRow, mission: Mission) -> None:
        row.name, row.description = mission.name, mission.description
        row.target, row.unit, row.deadline = mission.target, mission.unit, mission.deadline
        row.years, row.dal, row.dal_mode = list(mission.years), mission.dal, mission.dal_mode
        row.aggregation = mission.aggregation.value
        row.kill_threshold = mission.kill_threshold
        row.rag_green, row.rag_amber = mission.rag_green, mission.rag_amber
        row.policy = mission.policy
        existing = {e.key: e for e in row.envelopes}
        envelopes = []
        for position, env in enumerate(mission.envelopes):
            erow = existing.get(env.id) or EnvelopeRow(key=env.id)
            erow.name, erow.position = env.name, position
            erow.budget, erow.min_spend = dict(env.budget), env.min_spend
            envelopes.append(erow)
        row.envelopes = envelopes

    # -- roles and council ------------------------------------------------------------------
    def assign(self, slug: str, username: str, role: Role) -> bool:
        mission, user = self.row(slug), self._user(username)
        exists = self.session.scalar(
            select(RoleRow.id).where(
                RoleRow.mission_id == mission.id,
                RoleRow.user_id == user.id,
                RoleRow.role == role.value,
            )
        )
        if exists:
            return False
        self.session.add(RoleRow(mission_id=mission.id, user_id=user.id, role=role.value))
        self.session.flush()
        return True

    def unassign(self, slug: str, username: str, role: Role) -> bool:
        mission, user = self.row(slug), self._user(username)
        result = self.session.execute(
            delete(RoleRow).where(
                RoleRow.mission_id == mission.id,
                RoleRow.user_id == user.id,
                RoleRow.role == role.value,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    def roles(self, slug: str) -> list[RoleAssignment]:
        mission = self.row(slug)
        rows = self.session.scalars(
            select(RoleRow).where(RoleRow.mission_id == mission.id).order_by(RoleRow.id)
        )
        return [
            RoleAssignment(username=r.user.username, mission=slug, role=Role(r.role)) for r in rows
        ]

    def roles_of(self, slug: str, username: str) -> set[Role]:
        rows = self.session.scalars(
            select(RoleRow.role)
            .join(MissionRow, RoleRow.mission_id == MissionRow.id)
            .join(UserRow, RoleRow.user_id == UserRow.id)
            .where(MissionRow.slug == slug, UserRow.username == username)
        )
        return {Role(r) for r in rows}

    def slugs_for(self, username: str) -> list[str]:
        rows = self.session.scalars(
            select(MissionRow.slug)
            .join(RoleRow, RoleRow.mission_id == MissionRow.id)
            .join(UserRow, RoleRow.user_id == UserRow.id)
            .where(UserRow.username == username)
            .distinct()
        )
        return sorted(rows)

    def set_council_member(self, slug: str, member: CouncilMember) -> None:
        mission, user = self.row(slug), self._user(member.username)
        row = self.session.scalar(
            select(CouncilMemberRow).where(
                CouncilMemberRow.mission_id == mission.id, CouncilMemberRow.user_id == user.id
            )
        )
        if row is None:
            self.session.add(
                CouncilMemberRow(mission_id=mission.id, user_id=user.id, sector=member.sector.value)
            )
        else:
            row.sector = member.sector.value
        self.session.flush()

    def council(self, slug: str) -> list[CouncilMember]:
        def read() -> list[CouncilMember]:
            rows = self.session.scalars(
                select(CouncilMemberRow)
                .where(CouncilMemberRow.mission_id == self.row(slug).id)
                .order_by(CouncilMemberRow.id)
            )
            return [CouncilMember(username=r.user.username, sector=r.sector) for r in rows]

        return remembered(self.session, ("council", slug), read)

    # -- quarters ---------------------------------------------------------------------------
    def add_quarter(self, slug: str, quarter: Quarter) -> None:
        mission = self.row(slug)
        if any(q.label == quarter.label for q in self.quarters(slug)):
            raise Conflict(f"quarter {quarter.label} already exists")
        self.session.add(
            QuarterRow(
                mission_id=mission.id,
                label=quarter.label,
                state=quarter.state.value,
                scoring=quarter.scoring.value,
                approved_run_id=quarter.approved_run,
                approved_by=quarter.approved_by,
                approved_at=quarter.approved_at,
                closed_at=quarter.closed_at,
                rag=quarter.rag.value if quarter.rag else None,
                rag_override=quarter.rag_override.value if quarter.rag_override else None,
                rag_reason=quarter.rag_reason,
                pack_hash=quarter.pack_hash,
                pack_previous_hash=quarter.pack_previous_hash,
                pack_seal=quarter.pack_seal,
            )
        )
        self.session.flush()

    def quarters(self, slug: str) -> list[Quarter]:
        def read() -> list[Quarter]:
            rows = self.session.scalars(
                select(QuarterRow)
                .where(QuarterRow.mission_id == self.row(slug).id)
                .order_by(QuarterRow.label)
            )
            return [self._quarter(r) for r in rows]

        return remembered(self.session, ("quarters", slug), read)

    @staticmethod
    def _quarter(r: QuarterRow) -> Quarter:
        return Quarter(
            label=r.label,
            state=r.state,
            scoring=r.scoring,
            approved_run=r.approved_run_id,
            approved_by=r.approved_by,
            approved_at=r.approved_at,
            closed_at=r.closed_at,
            rag=r.rag,
            rag_override=r.rag_override,
            rag_reason=r.rag_reason,
            pack_hash=r.pack_hash,
            pack_previous_hash=r.pack_previous_hash,
            pack_seal=r.pack_seal,
        )

    def quarter(self, slug: str, label: str) -> Quarter:
        return self._quarter(self.quarter_row(slug, label))

    def pack(self, slug: str, label: str) -> dict[str, Any] | None:
        return self.quarter_row(slug, label).pack

    def pack_digest(self, slug: str, label: str) -> str | None:
        """SHA-256 of quarter ``label``'s audit pack as the database holds it (its JSON text),
        None without one: it changes whenever the stored pack does, and is read without
        decoding the pack's megabytes."""
        stored = self.session.scalar(
            select(cast(QuarterPackRow.pack, Text)).where(
                QuarterPackRow.quarter_id == self.quarter_row(slug, label).id
            )
        )
        return hashlib.sha256(stored.encode("utf-8")).hexdigest() if stored is not None else None

    def set_quarter(self, slug: str, label: str, **fields: Any) -> None:
        row = self.quarter_row(slug, label)
        for key, value in fields.items():
            setattr(row, key, value)

    def lock_quarter(self, slug: str, label: str) -> Quarter:
        """Lock quarter ``label`` until the transaction ends, and return it as stored now.

        PostgreSQL: ``SELECT … FOR UPDATE`` on its row, so a concurrent close, run start or
        approval of the quarter waits for this transaction and then sees its outcome. SQLite
        locks the whole database for one writer at a time: a no-op UPDATE of the row takes
        that write lock now, so every later read of this transaction is current and no other
        writer can commit in between."""
        mission = self.row(slug)
        where = (QuarterRow.mission_id == mission.id, QuarterRow.label == label)
        if self.session.get_bind().dialect.name == "sqlite":
            self.session.execute(  # the statement takes the lock even when no row matches
                update(QuarterRow)
                .where(*where, QuarterRow.state != "closed")
                .values(state=QuarterRow.state)
                .execution_options(synchronize_session=False)
            )
        row = self.session.scalar(
            select(QuarterRow)
            .where(*where)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None:
            raise NotFound(f"no quarter {label} in mission {slug}")
        return self._quarter(row)

    def quarter_row(self, slug: str, label: str) -> QuarterRow:
        mission = self.row(slug)
        row = self.session.scalar(
            select(QuarterRow).where(QuarterRow.mission_id == mission.id, QuarterRow.label == label)
        )
        if row is None:
            raise NotFound(f"no quarter {label} in mission {slug}")
        return row

    def _user(self, username: str) -> UserRow:
        row = self.session.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            raise NotFound(f"no user {username}")
        return row
