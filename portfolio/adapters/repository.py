"""Repositories: translate between the pydantic domain and the SQLAlchemy rows.

Services never see a row or a session; they see these methods and domain models.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from portfolio.adapters import auditpack
from portfolio.adapters.orm import (
    AggregateRow,
    AnalyticsRow,
    ApiTokenRow,
    AuditRow,
    CandidateRow,
    ChallengeRow,
    ChangeRow,
    ChartRow,
    ContractRow,
    CouncilMemberRow,
    DissentRow,
    EnvelopeRow,
    EvidenceRow,
    MissionRow,
    OptionRow,
    QuarterRow,
    ReviewCommentRow,
    RoleRow,
    RunRow,
    ScoreRow,
    SeedAnswerRow,
    SeedQuestionRow,
    SessionRow,
    SpendRow,
    TrajectoryRow,
    TreasuryApprovalRow,
    UpdateRow,
    UserRow,
    utcnow,
)
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import (
    RUN_ACTIVE,
    AllocationChange,
    AuditEntry,
    Candidate,
    ChainedAuditEntry,
    Challenge,
    Contract,
    ContractState,
    CouncilMember,
    Dissent,
    Envelope,
    Evidence,
    FundingOption,
    Mission,
    OptimiserRun,
    Quarter,
    QuarterlyUpdate,
    ReviewComment,
    Role,
    RoleAssignment,
    RunAnalysis,
    Score,
    ScoreStatus,
    SeedAnswer,
    SeedQuestion,
    SpendEntry,
    StoredAggregate,
    ThreePoint,
    TrajectoryPoint,
    TreasuryApproval,
    User,
)


def _flush_versioned(session: Session) -> None:
    """Flush an update of a versioned row; a concurrent writer's change is a Conflict."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(
            "someone else changed this at the same time; reload it and apply your change again"
        ) from exc


def _three(value: dict[str, Any] | None) -> ThreePoint | None:
    return ThreePoint.model_validate(value) if value is not None else None


def _dump(value: ThreePoint | None) -> dict[str, Any] | None:
    return value.model_dump() if value is not None else None


def _seed_question(row: SeedQuestionRow) -> SeedQuestion:
    """A seed question; a true value stored before values were checked (NaN, an infinity, out of
    range, not above 0 on the log scale) reads as not yet known, so it can be recorded again."""
    fields = {"id": row.key, "question": row.question, "unit": row.unit, "scale": row.scale}
    try:
        return SeedQuestion(**fields, realization=row.realization)
    except ValidationError:
        return SeedQuestion(**fields, realization=None)


class Users:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _row(self, username: str) -> UserRow:
        row = self.session.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            raise NotFound(f"no user {username}")
        return row

    @staticmethod
    def _to_model(row: UserRow) -> User:
        return User(
            username=row.username,
            display_name=row.display_name,
            is_admin=row.is_admin,
            active=row.active,
        )

    def get(self, username: str) -> User:
        return self._to_model(self._row(username))

    def find(self, username: str) -> User | None:
        row = self.session.scalar(select(UserRow).where(UserRow.username == username))
        return self._to_model(row) if row else None

    def all(self) -> list[User]:
        rows = self.session.scalars(select(UserRow).order_by(UserRow.username))
        return [self._to_model(r) for r in rows]

    def add(self, user: User, password_hash: str | None) -> None:
        if self.find(user.username) is not None:
            raise Conflict(f"username {user.username} is already taken")
        self.session.add(
            UserRow(
                username=user.username,
                display_name=user.display_name,
                is_admin=user.is_admin,
                active=user.active,
                password_hash=password_hash,
            )
        )
        self.session.flush()

    def update(self, user: User) -> None:
        row = self._row(user.username)
        row.display_name, row.is_admin, row.active = user.display_name, user.is_admin, user.active

    def password_hash(self, username: str) -> str | None:
        row = self.session.scalar(select(UserRow).where(UserRow.username == username))
        return row.password_hash if row else None

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self._row(username).password_hash = password_hash

    def totp(self, username: str) -> tuple[str | None, bool, list[str]]:
        """(secret, enabled, hashed recovery codes) of a user's second factor."""
        row = self._row(username)
        return row.totp_secret, row.totp_enabled, list(row.recovery_codes or [])

    def set_totp(
        self, username: str, secret: str | None, enabled: bool, recovery_codes: list[str]
    ) -> None:
        row = self._row(username)
        row.totp_secret, row.totp_enabled, row.recovery_codes = secret, enabled, recovery_codes

    def roles(self, username: str) -> list[RoleAssignment]:
        rows = self.session.execute(
            select(RoleRow.role, MissionRow.slug)
            .join(UserRow, RoleRow.user_id == UserRow.id)
            .join(MissionRow, RoleRow.mission_id == MissionRow.id)
            .where(UserRow.username == username)
            .order_by(MissionRow.slug, RoleRow.role)
        )
        return [RoleAssignment(username=username, mission=slug, role=Role(r)) for r, slug in rows]

    # -- API tokens ---------------------------------------------------------------------------
    def add_token(
        self, username: str, name: str, token_hash: str, now: dt.datetime, expires_at: dt.datetime
    ) -> None:
        self.session.add(
            ApiTokenRow(
                user_id=self._row(username).id,
                name=name,
                token_hash=token_hash,
                created_at=now,
                expires_at=expires_at,
            )
        )

    def user_for_token(
        self, token_hash: str, now: dt.datetime
    ) -> tuple[User, str, dt.datetime | None] | None:
        """(user, token name, when it was last used before now) for a live token of an active
        user, or None; the token's last use becomes now."""
        row = self.session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash))
        if row is None or not row.user.active or row.expires_at <= now:
            return None
        previous, row.last_used_at = row.last_used_at, now
        return self._to_model(row.user), row.name, previous

    def tokens(self, username: str) -> list[dict[str, Any]]:
        rows = self.session.scalars(
            select(ApiTokenRow)
            .where(ApiTokenRow.user_id == self._row(username).id)
            .order_by(ApiTokenRow.id)
        )
        return [
            {
                "id": r.id,
                "name": r.name,
                "created_at": r.created_at,
                "last_used_at": r.last_used_at,
                "expires_at": r.expires_at,
            }
            for r in rows
        ]

    def revoke_token(self, username: str, token_id: int) -> str:
        row = self.session.get(ApiTokenRow, token_id)
        if row is None or row.user.username != username:
            raise NotFound("no such API token")
        name = row.name
        self.session.delete(row)
        return name

    def revoke_all_tokens(self, username: str) -> list[str]:
        """Delete every API token of ``username`` (nothing is left to revive); their names."""
        rows = list(
            self.session.scalars(
                select(ApiTokenRow).where(ApiTokenRow.user_id == self._row(username).id)
            )
        )
        for row in rows:
            self.session.delete(row)
        return [r.name for r in rows]


class Sessions:
    """Server-side login sessions, keyed by the SHA-256 of the cookie token."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        session_hash: str,
        username: str,
        csrf_token: str,
        now: dt.datetime,
        expires_at: dt.datetime,
        *,
        pending_mfa: bool = False,
    ) -> None:
        user_id = self.session.scalar(select(UserRow.id).where(UserRow.username == username))
        if user_id is None:
            raise NotFound(f"no user {username}")
        self.session.add(
            SessionRow(
                id=session_hash,
                user_id=user_id,
                csrf_token=csrf_token,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
                pending_mfa=pending_mfa,
            )
        )

    def get(self, session_hash: str) -> tuple[User, str, dt.datetime, dt.datetime] | None:
        """(user, csrf token, last seen, absolute expiry) of a live, fully signed-in session."""
        row = self.session.get(SessionRow, session_hash)
        if row is None or not row.user.active or row.pending_mfa:
            return None
        return Users._to_model(row.user), row.csrf_token, row.last_seen_at, row.expires_at

    def pending(self, session_hash: str, now: dt.datetime) -> str | None:
        """The username of a sign-in waiting for its second factor, or None."""
        row = self.session.get(SessionRow, session_hash)
        if row is None or not row.pending_mfa or row.expires_at < now or not row.user.active:
            return None
        return row.user.username

    def touch(self, session_hash: str, now: dt.datetime) -> None:
        row = self.session.get(SessionRow, session_hash)
        if row is not None:
            row.last_seen_at = now

    def remove(self, session_hash: str) -> None:
        self.session.execute(delete(SessionRow).where(SessionRow.id == session_hash))

    def remove_for_user(self, username: str, *, keep: str | None = None) -> None:
        """End every session of ``username`` (but the one whose hash is ``keep``)."""
        user_id = self.session.scalar(select(UserRow.id).where(UserRow.username == username))
        self.session.execute(
            delete(SessionRow).where(SessionRow.user_id == user_id, SessionRow.id != (keep or ""))
        )

    def purge_expired(self, now: dt.datetime) -> None:
        self.session.execute(delete(SessionRow).where(SessionRow.expires_at < now))


class Missions:
    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, slug: str) -> MissionRow:
        row = self.session.scalar(select(MissionRow).where(MissionRow.slug == slug))
        if row is None:
            raise NotFound(f"no mission {slug}")
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
        _flush_versioned(self.session)

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
        mission = self.row(slug)
        rows = self.session.scalars(
            select(CouncilMemberRow)
            .where(CouncilMemberRow.mission_id == mission.id)
            .order_by(CouncilMemberRow.id)
        )
        return [CouncilMember(username=r.user.username, sector=r.sector) for r in rows]

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
        mission = self.row(slug)
        rows = self.session.scalars(
            select(QuarterRow).where(QuarterRow.mission_id == mission.id).order_by(QuarterRow.label)
        )
        return [self._quarter(r) for r in rows]

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


class Candidates:
    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, mission_slug: str, key: str) -> CandidateRow:
        row = self.session.scalar(
            select(CandidateRow)
            .join(MissionRow, CandidateRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug, CandidateRow.key == key)
        )
        if row is None:
            raise NotFound(f"no candidate {key} in mission {mission_slug}")
        return row

    @staticmethod
    def _to_model(row: CandidateRow) -> Candidate:
        return Candidate(
            id=row.key,
            name=row.name,
            description=row.description,
            organisation=row.organisation,
            organisation_type=row.organisation_type,
            platform=row.platform,
            tier=row.tier,
            trl=row.trl,
            eligible_envelopes=list(row.eligible_envelopes),
            ncr=row.ncr,
            treasury_approved=row.treasury_approved,
            commercially_sensitive=row.commercially_sensitive,
            registered_by=row.registered_by,
            options=[
                FundingOption(
                    id=o.key,
                    name=o.name,
                    cost_profile=dict(o.cost_profile),
                    cost_range=_three(o.cost_range),
                    p_success=o.p_success,
                    impact=ThreePoint.model_validate(o.impact),
                )
                for o in row.options
            ],
        )

    def get(self, mission_slug: str, key: str) -> Candidate:
        return self._to_model(self.row(mission_slug, key))

    def version(self, mission_slug: str, key: str) -> int:
        return self.row(mission_slug, key).version

    def all(self, mission_slug: str) -> list[Candidate]:
        rows = self.session.scalars(
            select(CandidateRow)
            .join(MissionRow, CandidateRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug)
            .order_by(CandidateRow.platform, CandidateRow.name)
            .options(selectinload(CandidateRow.options))  # one query for all the options
        )
        return [self._to_model(r) for r in rows]

    def count(self, mission_slug: str) -> int:
        return (
            self.session.scalar(
                select(func.count(CandidateRow.id))
                .join(MissionRow, CandidateRow.mission_id == MissionRow.id)
                .where(MissionRow.slug == mission_slug)
            )
            or 0
        )

    def add(self, mission_slug: str, candidate: Candidate) -> None:
        mission = Missions(self.session).row(mission_slug)
        exists = self.session.scalar(
            select(CandidateRow.id).where(
                CandidateRow.mission_id == mission.id, CandidateRow.key == candidate.id
            )
        )
        if exists:
            raise Conflict(f"a candidate with id {candidate.id} already exists in this mission")
        row = CandidateRow(mission_id=mission.id, key=candidate.id, version=1)
        self._fill(row, candidate)
        self.session.add(row)
        self.session.flush()

    def update(self, mission_slug: str, candidate: Candidate, expected_version: int | None) -> None:
        row = self.row(mission_slug, candidate.id)
        if expected_version is not None and row.version != expected_version:
            raise Conflict("this candidate was changed by someone else since you opened it")
        removed = {o.key for o in row.options} - {o.id for o in candidate.options}
        for option in row.options:
            if option.key in removed and self.session.scalar(
                select(func.count(ScoreRow.id)).where(ScoreRow.option_id == option.id)
            ):
                raise Conflict(f"option {option.key} has council scores and cannot be removed")
        self._fill(row, candidate)
        _flush_versioned(self.session)

    @staticmethod
    def _fill(row: CandidateRow, c: Candidate) -> None:
        row.name, row.description, row.organisation = c.name, c.description, c.organisation
        row.organisation_type, row.platform = c.organisation_type.value, c.platform
        row.tier, row.trl = c.tier.value, c.trl
        row.eligible_envelopes = list(c.eligible_envelopes)
        row.ncr, row.treasury_approved = c.ncr, c.treasury_approved
        row.commercially_sensitive, row.registered_by = c.commercially_sensitive, c.registered_by
        existing = {o.key: o for o in row.options}
        options = []
        for position, o in enumerate(c.options):
            orow = existing.get(o.id) or OptionRow(key=o.id)
            orow.name, orow.position = o.name, position
            orow.cost_profile, orow.cost_range = dict(o.cost_profile), _dump(o.cost_range)
            orow.p_success, orow.impact = o.p_success, o.impact.model_dump()
            options.append(orow)
        row.options = options

    def option_row(self, mission_slug: str, key: str, option: str) -> OptionRow:
        for orow in self.row(mission_slug, key).options:
            if orow.key == option:
                return orow
        raise NotFound(f"no option {option} of candidate {key}")


class Scores:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._ids: dict[tuple[str, ...], int] = {}

    def _id(self, key: tuple[str, ...]) -> int:
        """Row ids of quarters, options and users, looked up once per unit of work."""
        if key not in self._ids:
            kind, slug, *rest = key
            if kind == "quarter":
                self._ids[key] = Missions(self.session).quarter_row(slug, rest[0]).id
            elif kind == "option":
                self._ids[key] = Candidates(self.session).option_row(slug, rest[0], rest[1]).id
            else:
                self._ids[key] = Missions(self.session)._user(rest[0]).id
        return self._ids[key]

    def version_of(self, mission_slug: str, quarter: str, member: str, candidate: str) -> int:
        """A number that changes whenever the member's scores of the candidate change."""
        total = self.session.scalar(
            select(func.coalesce(func.sum(ScoreRow.version), 0))
            .join(OptionRow, ScoreRow.option_id == OptionRow.id)
            .join(CandidateRow, OptionRow.candidate_id == CandidateRow.id)
            .where(
                ScoreRow.quarter_id == self._id(("quarter", mission_slug, quarter)),
                ScoreRow.user_id == self._id(("user", mission_slug, member)),
                CandidateRow.key == candidate,
            )
        )
        return int(total or 0)

    def replace_drafts(
        self, mission_slug: str, scores: Sequence[Score], expected_version: int | None = None
    ) -> str | None:
        """Write one member's scores of one candidate (a Score per option, all of the same
        member, quarter and candidate) over their drafts. None when written, else why nothing
        may be written: ``"submitted"`` (a stored score is submitted, and submitted scores are
        final) or ``"changed"`` (the stored scores are not at ``expected_version``, the
        ``version_of`` the caller read, or changed while this was being written).

        Each stored row is replaced by ``UPDATE … WHERE id = … AND status = 'draft' AND
        version = <the version read>`` and its row count checked; a missing row is inserted
        under the unique key (quarter, option, member). Check and write are one statement, so of
        concurrent writers at most one turns a draft into a submission and the others change
        nothing (a database trigger refuses any change to a submitted score as well)."""
        if not scores:
            return None
        first = scores[0]
        quarter_id = self._id(("quarter", mission_slug, first.quarter))
        user_id = self._id(("user", mission_slug, first.member))
        option_ids = {
            s.option: self._id(("option", mission_slug, s.candidate, s.option)) for s in scores
        }
        stored = {
            option_id: (row_id, version, status)
            for row_id, option_id, version, status in self.session.execute(
                select(ScoreRow.id, ScoreRow.option_id, ScoreRow.version, ScoreRow.status).where(
                    ScoreRow.quarter_id == quarter_id,
                    ScoreRow.user_id == user_id,
                    ScoreRow.option_id.in_(list(option_ids.values())),
                )
            )
        }
        if any(status == ScoreStatus.submitted.value for _, _, status in stored.values()):
            return "submitted"
        if expected_version is not None and expected_version != sum(
            version for _, version, _ in stored.values()
        ):
            return "changed"
        for score in scores:
            option_id = option_ids[score.option]
            if option_id not in stored:
                self.session.add(
                    ScoreRow(
                        quarter_id=quarter_id,
                        option_id=option_id,
                        user_id=user_id,
                        version=1,
                        **self._values(score),
                    )
                )
                try:
                    self.session.flush()
                except IntegrityError:  # a concurrent first save of the same score won
                    return "changed"
                continue
            row_id, version, _ = stored[option_id]
            written = self.session.execute(
                update(ScoreRow)
                .where(
                    ScoreRow.id == row_id,
                    ScoreRow.status == ScoreStatus.draft.value,
                    ScoreRow.version == version,
                )
                .values(version=ScoreRow.version + 1, **self._values(score))
                .execution_options(synchronize_session="fetch")
            )
            if written.rowcount != 1:  # type: ignore[attr-defined]
                now = self.session.scalar(select(ScoreRow.status).where(ScoreRow.id == row_id))
                return "submitted" if now == ScoreStatus.submitted.value else "changed"
        return None

    @staticmethod
    def _values(score: Score) -> dict[str, Any]:
        return {
            "status": score.status.value,
            "not_competent": score.not_competent,
            "p_success": score.p_success,
            "cost": _dump(score.cost),
            "impact": _dump(score.impact),
            "trl": score.trl,
            "confidence": score.confidence.value if score.confidence else None,
            "rationale": score.rationale,
        }

    def add(self, mission_slug: str, score: Score) -> None:
        self.session.add(
            ScoreRow(
                quarter_id=self._id(("quarter", mission_slug, score.quarter)),
                option_id=self._id(("option", mission_slug, score.candidate, score.option)),
                user_id=self._id(("user", mission_slug, score.member)),
                version=1,
                **self._values(score),
            )
        )

    def all(self, mission_slug: str, quarter: str | None = None) -> list[Score]:
        """The mission's scores (of one quarter, if given), in the order they were made."""
        mission = Missions(self.session).row(mission_slug)
        query = (
            select(ScoreRow, QuarterRow.label, CandidateRow.key, OptionRow.key, UserRow.username)
            .join(QuarterRow, ScoreRow.quarter_id == QuarterRow.id)
            .join(OptionRow, ScoreRow.option_id == OptionRow.id)
            .join(CandidateRow, OptionRow.candidate_id == CandidateRow.id)
            .join(UserRow, ScoreRow.user_id == UserRow.id)
            .where(QuarterRow.mission_id == mission.id)
            .order_by(ScoreRow.id)
        )
        if quarter is not None:
            query = query.where(QuarterRow.label == quarter)
        rows = self.session.execute(query)
        return [
            Score(
                member=username,
                quarter=label,
                candidate=ckey,
                option=okey,
                status=s.status,
                not_competent=s.not_competent,
                p_success=s.p_success,
                cost=_three(s.cost),
                impact=_three(s.impact),
                trl=s.trl,
                confidence=s.confidence,
                rationale=s.rationale,
            )
            for s, label, ckey, okey, username in rows
        ]


class EvidenceLog:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, mission_slug: str, evidence: Evidence) -> None:
        quarter = Missions(self.session).quarter_row(mission_slug, evidence.quarter)
        candidate = Candidates(self.session).row(mission_slug, evidence.candidate)
        data = evidence.model_dump(exclude={"candidate", "quarter"})
        data["kind"] = evidence.kind.value
        self.session.add(EvidenceRow(candidate_id=candidate.id, quarter_id=quarter.id, **data))

    def all(self, mission_slug: str, candidate: str | None = None) -> list[Evidence]:
        mission = Missions(self.session).row(mission_slug)
        query = (
            select(EvidenceRow, QuarterRow.label, CandidateRow.key)
            .join(QuarterRow, EvidenceRow.quarter_id == QuarterRow.id)
            .join(CandidateRow, EvidenceRow.candidate_id == CandidateRow.id)
            .where(CandidateRow.mission_id == mission.id)
            .order_by(EvidenceRow.date, EvidenceRow.id)
        )
        if candidate is not None:
            query = query.where(CandidateRow.key == candidate)
        return [
            Evidence(
                candidate=ckey,
                quarter=label,
                kind=e.kind,
                date=e.date,
                summary=e.summary,
                diagnosticity=e.diagnosticity,
                trl=e.trl,
                cost_actual=e.cost_actual,
                cost_planned=e.cost_planned,
                outcome=e.outcome,
                recorded_by=e.recorded_by,
                option=e.option,
            )
            for e, label, ckey in self.session.execute(query)
        ]


def _as_stored(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """``value`` as a JSON column gives it back (tuples as lists, keys as strings), so an entry
    hashes the same when it is written and when it is read back."""
    return None if value is None else json.loads(json.dumps(value))


def _naive_utc(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo is not None else at


# the advisory-lock class of the audit chains on PostgreSQL ("MPH1"); the object is the chain
CHAIN_LOCK = 0x4D504831


def _chain_lock_id(mission: str | None) -> int:
    """A signed 32-bit number for the chain of ``mission`` (collisions only serialise more)."""
    n = zlib.crc32((mission or "").encode("utf-8"))
    return n - (1 << 32) if n >= 1 << 31 else n


class AuditTrail:
    """Append-only: entries are added, never changed (the database refuses UPDATE/DELETE).

    Each entry is chained as it is added, in the transaction that writes it: it takes the next
    number of its mission's chain and the keyed hash of itself and the previous entry
    (``portfolio/adapters/auditpack.py``) under ``history_key`` (None: the public key, "not
    sealed").
    Concurrent writers of one chain queue on a transaction-long advisory lock on PostgreSQL;
    SQLite has a single writer; the unique index on (mission, seq) refuses a second entry n in
    any case, so the chain can never fork."""

    def __init__(self, session: Session, history_key: bytes | None = None) -> None:
        self.session = session
        self.history_key = history_key

    @staticmethod
    def _of(mission: str | None) -> Any:
        return AuditRow.mission == mission if mission else AuditRow.mission.is_(None)

    def add(self, entry: AuditEntry) -> None:
        content = entry.model_dump(include=set(auditpack.ENTRY_FIELDS))
        content.update(
            at=_naive_utc(entry.at),
            mission=entry.mission or None,
            before=_as_stored(entry.before),
            after=_as_stored(entry.after),
        )
        self._lock_chain(content["mission"])
        head = self.head(content["mission"])
        if head is None:
            seq = 1
            before = [e.model_dump() for e in self.chain(content["mission"]) if e.seq is None]
            previous = auditpack.chain_start(self.history_key, content["mission"], before)
        else:
            seq, previous = head[0] + 1, head[1]
        self.session.add(
            AuditRow(
                **content,
                seq=seq,
                previous_hash=previous,
                entry_hash=auditpack.entry_hash(self.history_key, seq, previous, content),
            )
        )
        try:
            self.session.flush()
        except IntegrityError as exc:  # another writer took entry n first (the index refused it)
            raise Conflict(
                "someone else changed this mission at the same moment; apply your change again"
            ) from exc

    def _lock_chain(self, mission: str | None) -> None:
        """Until the transaction ends, be the only writer of ``mission``'s chain: a
        transaction-long advisory lock on PostgreSQL; on SQLite, its one write lock (a write
        that changes nothing takes it now, so the head read next is the latest)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(:chains, :chain)"),
                {"chains": CHAIN_LOCK, "chain": _chain_lock_id(mission)},
            )
        else:
            self.session.execute(text("UPDATE audit_entries SET seq = seq WHERE 1 = 0"))

    def restore(self, entry: ChainedAuditEntry) -> None:
        """Store an exported entry as it was, chain fields and all (a restore from a backup:
        the seals it carries are checked by ``verify``, never recomputed)."""
        data = entry.model_dump()
        data.update(before=_as_stored(entry.before), after=_as_stored(entry.after))
        self.session.add(AuditRow(**data))
        self.session.flush()

    def head(self, mission: str | None) -> tuple[int, str] | None:
        """The number and hash of the last chained entry of ``mission``'s chain, if any."""
        found = self.session.execute(
            select(AuditRow.seq, AuditRow.entry_hash)
            .where(self._of(mission), AuditRow.seq.is_not(None))
            .order_by(AuditRow.seq.desc())
            .limit(1)
        ).first()
        if found is None or found[0] is None or found[1] is None:
            return None
        return int(found[0]), str(found[1])

    def chain(self, mission: str | None) -> list[ChainedAuditEntry]:
        """Every entry of ``mission`` with its chain fields, in the order written (oldest
        first); entries written before the chain existed have no ``seq``."""
        query = select(AuditRow).where(self._of(mission)).order_by(AuditRow.id)
        return [
            ChainedAuditEntry(
                **self._fields(r),
                seq=r.seq,
                previous_hash=r.previous_hash,
                entry_hash=r.entry_hash,
            )
            for r in self.session.scalars(query)
        ]

    @staticmethod
    def _fields(r: AuditRow) -> dict[str, Any]:
        """What an entry says, as every reader of the trail shows it."""
        return {
            "at": r.at,
            "actor": r.actor,
            "mission": r.mission,
            "entity": r.entity,
            "entity_id": r.entity_id,
            "action": r.action,
            "before": r.before,
            "after": r.after,
        }

    def all(
        self,
        mission: str | None,
        *,
        limit: int | None = None,
        offset: int = 0,
        entity: str | None = None,
        entity_id: str | None = None,
    ) -> list[AuditEntry]:
        query = select(AuditRow).order_by(AuditRow.id.desc())
        query = query.where(AuditRow.mission == mission if mission else AuditRow.mission.is_(None))
        if entity:
            query = query.where(AuditRow.entity == entity)
        if entity_id:
            query = query.where(AuditRow.entity_id == entity_id)
        if limit is not None:
            query = query.limit(limit).offset(offset)
        return [AuditEntry(**self._fields(r)) for r in self.session.scalars(query)]

    def count(self, mission: str | None) -> int:
        query = select(func.count(AuditRow.id))
        query = query.where(AuditRow.mission == mission if mission else AuditRow.mission.is_(None))
        return self.session.scalar(query) or 0


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
    def _to_model(row: RunRow, slug: str) -> OptimiserRun:
        return OptimiserRun(
            id=row.id,
            mission=slug,
            quarter=row.quarter,
            objective=row.objective,
            solver=row.solver,
            status=row.status,
            started_by=row.started_by,
            note=row.note,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            problem=row.problem,
            result=row.result,
            progress=row.progress,
            error=row.error,
            overrides=row.overrides or {},
            budget_scale=row.budget_scale if row.budget_scale is not None else 1.0,
        )

    def get(self, mission_slug: str, run_id: int) -> OptimiserRun:
        return self._to_model(self._row(mission_slug, run_id), mission_slug)

    def find(self, run_id: int) -> OptimiserRun | None:
        row = self.session.get(RunRow, run_id)
        if row is None:
            return None
        slug = self.session.scalar(select(MissionRow.slug).where(MissionRow.id == row.mission_id))
        return self._to_model(row, slug or "")

    def all(self, mission_slug: str) -> list[OptimiserRun]:
        rows = self.session.scalars(
            select(RunRow)
            .join(MissionRow, RunRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug)
            .order_by(RunRow.id.desc())
        )
        return [self._to_model(r, mission_slug) for r in rows]

    def update(self, run_id: int, **fields: Any) -> None:
        row = self.session.get(RunRow, run_id)
        if row is None:
            raise NotFound(f"no optimiser run {run_id}")
        for key, value in fields.items():
            setattr(row, key, value)

    def unfinished(self) -> list[int]:
        return list(self.session.scalars(select(RunRow.id).where(RunRow.status.in_(RUN_ACTIVE))))


class Challenges:
    """Red-team challenges on candidates, with replies."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, mission_slug: str, challenge: Challenge) -> int:
        candidate = Candidates(self.session).row(mission_slug, challenge.candidate)
        row = ChallengeRow(candidate_id=candidate.id, **challenge.model_dump(exclude={"candidate"}))
        self.session.add(row)
        self.session.flush()
        return row.id

    def all(self, mission_slug: str, candidate: str | None = None) -> list[tuple[int, Challenge]]:
        mission = Missions(self.session).row(mission_slug)
        query = (
            select(ChallengeRow, CandidateRow.key)
            .join(CandidateRow, ChallengeRow.candidate_id == CandidateRow.id)
            .where(CandidateRow.mission_id == mission.id)
            .order_by(ChallengeRow.id)
        )
        if candidate is not None:
            query = query.where(CandidateRow.key == candidate)
        return [
            (
                r.id,
                Challenge(
                    candidate=key,
                    quarter=r.quarter,
                    author=r.author,
                    text=r.text,
                    created_at=r.created_at,
                    reply=r.reply,
                    replied_by=r.replied_by,
                    replied_at=r.replied_at,
                ),
            )
            for r, key in self.session.execute(query)
        ]

    def reply(
        self, mission_slug: str, challenge_id: int, text: str, by: str, at: dt.datetime
    ) -> Challenge:
        for cid, challenge in self.all(mission_slug):
            if cid == challenge_id:
                row = self.session.get(ChallengeRow, cid)
                assert row is not None
                row.reply, row.replied_by, row.replied_at = text, by, at
                return challenge
        raise NotFound(f"no challenge {challenge_id} in mission {mission_slug}")


class Seeds:
    """Seed questions of a mission and the members' quantile answers."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _question_row(self, mission_slug: str, key: str) -> SeedQuestionRow:
        mission = Missions(self.session).row(mission_slug)
        row = self.session.scalar(
            select(SeedQuestionRow).where(
                SeedQuestionRow.mission_id == mission.id, SeedQuestionRow.key == key
            )
        )
        if row is None:
            raise NotFound(f"no seed question {key} in mission {mission_slug}")
        return row

    def questions(self, mission_slug: str) -> list[SeedQuestion]:
        mission = Missions(self.session).row(mission_slug)
        rows = self.session.scalars(
            select(SeedQuestionRow)
            .where(SeedQuestionRow.mission_id == mission.id)
            .order_by(SeedQuestionRow.id)
        )
        return [_seed_question(r) for r in rows]

    def add_question(self, mission_slug: str, question: SeedQuestion) -> None:
        mission = Missions(self.session).row(mission_slug)
        if any(q.id == question.id for q in self.questions(mission_slug)):
            raise Conflict(f"a seed question {question.id} already exists")
        self.session.add(
            SeedQuestionRow(
                mission_id=mission.id,
                key=question.id,
                question=question.question,
                unit=question.unit,
                scale=question.scale,
                realization=question.realization,
            )
        )
        self.session.flush()

    def update_question(self, mission_slug: str, question: SeedQuestion) -> None:
        row = self._question_row(mission_slug, question.id)
        row.question, row.unit, row.scale = question.question, question.unit, question.scale
        row.realization = question.realization

    def answers(self, mission_slug: str) -> list[SeedAnswer]:
        mission = Missions(self.session).row(mission_slug)
        rows = self.session.execute(
            select(SeedAnswerRow, SeedQuestionRow.key, UserRow.username)
            .join(SeedQuestionRow, SeedAnswerRow.question_id == SeedQuestionRow.id)
            .join(UserRow, SeedAnswerRow.user_id == UserRow.id)
            .where(SeedQuestionRow.mission_id == mission.id)
            .order_by(SeedAnswerRow.id)
        )
        answers = []
        for a, key, username in rows:
            try:
                answers.append(
                    SeedAnswer(question=key, member=username, q5=a.q5, q50=a.q50, q95=a.q95)
                )
            except ValidationError:  # stored before values were bounded: unusable, left out
                continue
        return answers

    def set_answer(self, mission_slug: str, answer: SeedAnswer) -> None:
        question = self._question_row(mission_slug, answer.question)
        user = Missions(self.session)._user(answer.member)
        row = self.session.scalar(
            select(SeedAnswerRow).where(
                SeedAnswerRow.question_id == question.id, SeedAnswerRow.user_id == user.id
            )
        )
        if row is None:
            row = SeedAnswerRow(question_id=question.id, user_id=user.id)
            self.session.add(row)
        row.q5, row.q50, row.q95 = answer.q5, answer.q50, answer.q95
        self.session.flush()


class Aggregates:
    """Pooled estimates frozen when a scoring round closed."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def replace(self, mission_slug: str, quarter: str, aggregates: list[StoredAggregate]) -> None:
        quarter_row = Missions(self.session).quarter_row(mission_slug, quarter)
        self.session.execute(delete(AggregateRow).where(AggregateRow.quarter_id == quarter_row.id))
        candidates = Candidates(self.session)
        for agg in aggregates:
            option = candidates.option_row(mission_slug, agg.candidate, agg.option)
            self.session.add(
                AggregateRow(
                    quarter_id=quarter_row.id,
                    option_id=option.id,
                    method=agg.method.value,
                    data=agg.data,
                )
            )
        self.session.flush()

    def all(self, mission_slug: str, quarter: str | None = None) -> list[StoredAggregate]:
        mission = Missions(self.session).row(mission_slug)
        query = (
            select(AggregateRow, QuarterRow.label, CandidateRow.key, OptionRow.key)
            .join(QuarterRow, AggregateRow.quarter_id == QuarterRow.id)
            .join(OptionRow, AggregateRow.option_id == OptionRow.id)
            .join(CandidateRow, OptionRow.candidate_id == CandidateRow.id)
            .where(QuarterRow.mission_id == mission.id)
            .order_by(QuarterRow.label, AggregateRow.id)
        )
        if quarter is not None:
            query = query.where(QuarterRow.label == quarter)
        return [
            StoredAggregate(
                quarter=label, candidate=ckey, option=okey, method=a.method, data=a.data
            )
            for a, label, ckey, okey in self.session.execute(query)
        ]


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
        labels = self._quarter_ids(slug)
        query = (
            select(ChangeRow)
            .where(ChangeRow.quarter_id.in_(list(labels)))
            .order_by(ChangeRow.quarter_id, ChangeRow.id)
        )
        out = []
        for r in self.session.scalars(query):
            if label is not None and labels[r.quarter_id] != label:
                continue
            out.append(
                AllocationChange(
                    quarter=labels[r.quarter_id],
                    candidate=r.candidate,
                    kind=r.kind,
                    option_before=r.option_before,
                    option_after=r.option_after,
                    amount_before=r.amount_before,
                    amount_after=r.amount_after,
                    reason=r.reason,
                    contracted=r.contracted,
                )
            )
        return out

    # dissents
    def add_dissent(self, slug: str, dissent: Dissent) -> None:
        quarter = self._quarter(slug, dissent.quarter)
        self.session.add(
            DissentRow(quarter_id=quarter.id, **dissent.model_dump(exclude={"quarter"}))
        )
        self.session.flush()

    def dissents(self, slug: str, label: str | None = None) -> list[Dissent]:
        labels = self._quarter_ids(slug)
        rows = self.session.scalars(
            select(DissentRow)
            .where(DissentRow.quarter_id.in_(list(labels)))
            .order_by(DissentRow.id)
        )
        return [
            Dissent(
                quarter=labels[r.quarter_id], author=r.author, text=r.text, created_at=r.created_at
            )
            for r in rows
            if label is None or labels[r.quarter_id] == label
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
        _flush_versioned(self.session)


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
        _flush_versioned(self.session)
