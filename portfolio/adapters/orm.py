"""SQLAlchemy 2 tables. Only the repository and the unit of work import this module."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from portfolio.domain.rag import AMBER_THRESHOLD, GREEN_THRESHOLD

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    recovery_codes: Mapped[list[Any] | None] = mapped_column(JSON)


class SessionRow(Base):
    """A server-side login session; ``id`` is the SHA-256 of the cookie's random token."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    pending_mfa: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    user: Mapped[UserRow] = relationship(lazy="joined")


class ApiTokenRow(Base):
    """A per-user API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # every token expires; tokens are deleted (not disabled) on a password change or when the
    # user is disabled, so re-enabling a user revives none
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    user: Mapped[UserRow] = relationship(lazy="joined")


class MissionRow(Base):
    __tablename__ = "missions"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    target: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(200))
    deadline: Mapped[dt.date] = mapped_column(Date)
    years: Mapped[list[Any]] = mapped_column(JSON)
    dal: Mapped[float] = mapped_column(Float)
    dal_mode: Mapped[str] = mapped_column(String(8), default="flag")
    aggregation: Mapped[str] = mapped_column(String(16), default="equal", server_default="equal")
    kill_threshold: Mapped[float] = mapped_column(Float, default=0.1, server_default="0.1")
    rag_green: Mapped[float] = mapped_column(
        Float, default=GREEN_THRESHOLD, server_default=str(GREEN_THRESHOLD)
    )
    rag_amber: Mapped[float] = mapped_column(
        Float, default=AMBER_THRESHOLD, server_default=str(AMBER_THRESHOLD)
    )
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # random, set anew by the database's triggers whenever any of the mission's candidates or
    # their options is written (revision 0016): ``Candidates.all`` keeps them read under it
    candidates_token: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # optimistic concurrency: every UPDATE says "WHERE version = <the version read>", so of two
    # concurrent writers the second fails (StaleDataError, a Conflict) instead of overwriting
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    envelopes: Mapped[list[EnvelopeRow]] = relationship(
        order_by="EnvelopeRow.position", cascade="all, delete-orphan"
    )


class EnvelopeRow(Base):
    __tablename__ = "envelopes"
    __table_args__ = (UniqueConstraint("mission_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    budget: Mapped[dict[str, Any]] = mapped_column(JSON)
    min_spend: Mapped[float | None] = mapped_column(Float)


class RoleRow(Base):
    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "mission_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    user: Mapped[UserRow] = relationship(lazy="joined")


class CouncilMemberRow(Base):
    __tablename__ = "council_members"
    __table_args__ = (UniqueConstraint("mission_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sector: Mapped[str] = mapped_column(String(32))
    user: Mapped[UserRow] = relationship(lazy="joined")


class CandidateRow(Base):
    __tablename__ = "candidates"
    __table_args__ = (UniqueConstraint("mission_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    organisation: Mapped[str] = mapped_column(String(200))
    organisation_type: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(32))
    trl: Mapped[int] = mapped_column(Integer)
    eligible_envelopes: Mapped[list[Any]] = mapped_column(JSON)
    ncr: Mapped[bool] = mapped_column(Boolean, default=False)
    treasury_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    commercially_sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_by: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # optimistic concurrency: every UPDATE says "WHERE version = <the version read>", so of two
    # concurrent writers the second fails (StaleDataError, a Conflict) instead of overwriting
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    options: Mapped[list[OptionRow]] = relationship(
        order_by="OptionRow.position", cascade="all, delete-orphan"
    )


class OptionRow(Base):
    __tablename__ = "funding_options"
    __table_args__ = (UniqueConstraint("candidate_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    cost_profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    cost_range: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    p_success: Mapped[float] = mapped_column(Float)
    impact: Mapped[dict[str, Any]] = mapped_column(JSON)


class QuarterRow(Base):
    __tablename__ = "quarters"
    __table_args__ = (UniqueConstraint("mission_id", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open")
    scoring: Mapped[str] = mapped_column(
        String(16), default="not_opened", server_default="not_opened"
    )
    approved_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("optimiser_runs.id", ondelete="RESTRICT", use_alter=True)
    )
    approved_by: Mapped[str | None] = mapped_column(String(40))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    rag: Mapped[str | None] = mapped_column(String(8))
    rag_override: Mapped[str | None] = mapped_column(String(8))
    rag_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # random, set anew by the database's triggers whenever any of the quarter's scores is
    # written (revision 0016): ``Scores.all`` keeps the quarter's scores read under it
    scores_token: Mapped[str | None] = mapped_column(String(32))
    # the audit pack (large) is a row of its own, read on demand: see ``pack``
    pack_row: Mapped[QuarterPackRow | None] = relationship(
        lazy="select", cascade="all, delete-orphan", passive_deletes=True
    )
    pack_hash: Mapped[str | None] = mapped_column(String(64))
    pack_previous_hash: Mapped[str | None] = mapped_column(String(64))
    # HMAC-SHA-256 of pack_hash chained to the previous quarter's seal
    # (portfolio/adapters/auditpack.py)
    pack_seal: Mapped[str | None] = mapped_column(String(64))

    @property
    def pack(self) -> dict[str, Any] | None:
        """The frozen rows that decided the quarter once it closed (None before)."""
        return self.pack_row.pack if self.pack_row is not None else None

    @pack.setter
    def pack(self, content: dict[str, Any] | None) -> None:
        if content is None:
            self.pack_row = None
        elif self.pack_row is None:
            self.pack_row = QuarterPackRow(pack=content)
        else:
            self.pack_row.pack = content


class QuarterPackRow(Base):
    """A closed quarter's audit pack, apart from the quarter's row: SQLite reads a row's columns
    in order, so a pack inside ``quarters`` was read whenever a later column was."""

    __tablename__ = "quarter_packs"
    quarter_id: Mapped[int] = mapped_column(
        ForeignKey("quarters.id", ondelete="CASCADE"), primary_key=True
    )
    pack: Mapped[dict[str, Any]] = mapped_column(JSON)


class ScoreRow(Base):
    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("quarter_id", "option_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    quarter_id: Mapped[int] = mapped_column(ForeignKey("quarters.id", ondelete="CASCADE"))
    option_id: Mapped[int] = mapped_column(ForeignKey("funding_options.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16))
    not_competent: Mapped[bool] = mapped_column(Boolean, default=False)
    p_success: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    impact: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    trl: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[str | None] = mapped_column(String(16))
    rationale: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    # optimistic concurrency: every UPDATE says "WHERE version = <the version read>", so of two
    # concurrent writers the second fails (StaleDataError, a Conflict) instead of overwriting
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class EvidenceRow(Base):
    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="RESTRICT"))
    quarter_id: Mapped[int] = mapped_column(ForeignKey("quarters.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(32))
    date: Mapped[dt.date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(String(200))
    diagnosticity: Mapped[float] = mapped_column(Float, default=1.0)
    trl: Mapped[int | None] = mapped_column(Integer)
    cost_actual: Mapped[float | None] = mapped_column(Float)
    cost_planned: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[bool | None] = mapped_column(Boolean)
    option: Mapped[str | None] = mapped_column(String(64))
    recorded_by: Mapped[str | None] = mapped_column(String(40))


class AuditRow(Base):
    """The append-only audit trail (database triggers refuse UPDATE and DELETE).

    Each mission's entries (and those about no mission) form a hash chain: ``seq`` numbers
    them 1, 2, … and ``entry_hash`` is the HMAC-SHA-256, under the server's history key, of the
    entry and ``previous_hash`` (``portfolio/adapters/auditpack.py``). Entries written before the
    chain
    existed have no ``seq``; the first chained entry vouches for them."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_chain", "mission", "seq", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(40))
    mission: Mapped[str | None] = mapped_column(String(64), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    seq: Mapped[int | None] = mapped_column(Integer)
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))


class RunRow(Base):
    """One optimiser run: the exact problem file it solved and the result it produced."""

    __tablename__ = "optimiser_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), index=True
    )
    quarter: Mapped[str] = mapped_column(String(16))
    objective: Mapped[str] = mapped_column(String(16))
    solver: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    started_by: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    problem: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    overrides: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    budget_scale: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    # the server process solving it (host:pid:random) and when it last said it was alive
    owner: Mapped[str | None] = mapped_column(String(120))
    heartbeat: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ChallengeRow(Base):
    """A red-team challenge on a candidate by a council member, and the CEO's reply."""

    __tablename__ = "challenges"
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True
    )
    quarter: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    reply: Mapped[str] = mapped_column(Text, default="")
    replied_by: Mapped[str | None] = mapped_column(String(40))
    replied_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class SeedQuestionRow(Base):
    __tablename__ = "seed_questions"
    __table_args__ = (UniqueConstraint("mission_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(200), default="")
    scale: Mapped[str] = mapped_column(String(16), default="uniform")
    realization: Mapped[float | None] = mapped_column(Float)


class SeedAnswerRow(Base):
    __tablename__ = "seed_answers"
    __table_args__ = (UniqueConstraint("question_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("seed_questions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    q5: Mapped[float] = mapped_column(Float)
    q50: Mapped[float] = mapped_column(Float)
    q95: Mapped[float] = mapped_column(Float)


class AggregateRow(Base):
    """The pooled estimate of an option as frozen when a scoring round closed."""

    __tablename__ = "aggregates"
    __table_args__ = (UniqueConstraint("quarter_id", "option_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    quarter_id: Mapped[int] = mapped_column(ForeignKey("quarters.id", ondelete="CASCADE"))
    option_id: Mapped[int] = mapped_column(ForeignKey("funding_options.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ChangeRow(Base):
    """A start / continue / scale / stop of a candidate in an approved allocation, and why."""

    __tablename__ = "allocation_changes"
    __table_args__ = (UniqueConstraint("quarter_id", "candidate"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    quarter_id: Mapped[int] = mapped_column(ForeignKey("quarters.id", ondelete="CASCADE"))
    candidate: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    option_before: Mapped[str | None] = mapped_column(String(64))
    option_after: Mapped[str | None] = mapped_column(String(64))
    amount_before: Mapped[float] = mapped_column(Float, default=0.0)
    amount_after: Mapped[float] = mapped_column(Float, default=0.0)
    reason: Mapped[str] = mapped_column(Text, default="")
    contracted: Mapped[bool] = mapped_column(Boolean, default=False)


class DissentRow(Base):
    __tablename__ = "dissents"
    id: Mapped[int] = mapped_column(primary_key=True)
    quarter_id: Mapped[int] = mapped_column(ForeignKey("quarters.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class UpdateRow(Base):
    """The quarterly update letter."""

    __tablename__ = "quarterly_updates"
    id: Mapped[int] = mapped_column(primary_key=True)
    quarter_id: Mapped[int] = mapped_column(
        ForeignKey("quarters.id", ondelete="CASCADE"), unique=True
    )
    body: Mapped[str] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    published_by: Mapped[str | None] = mapped_column(String(40))


class TrajectoryRow(Base):
    __tablename__ = "trajectory"
    __table_args__ = (UniqueConstraint("mission_id", "quarter"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    quarter: Mapped[str] = mapped_column(String(16))
    planned_p_target: Mapped[float] = mapped_column(Float)


class ReviewCommentRow(Base):
    """A Treasury reviewer's comment on a quarter's allocation report, and the CEO's reply."""

    __tablename__ = "review_comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    quarter_id: Mapped[int] = mapped_column(ForeignKey("quarters.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    reply: Mapped[str] = mapped_column(Text, default="")
    replied_by: Mapped[str | None] = mapped_column(String(40))
    replied_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AnalyticsRow(Base):
    """A cached analysis of a run (frontier, core index, value of information, price of policy,
    baseline), computed by a background job."""

    __tablename__ = "run_analytics"
    __table_args__ = (UniqueConstraint("run_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("optimiser_runs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ChartRow(Base):
    """A chart of a run drawn once (SVG), for the data whose hash is ``digest``: shared by every
    server process; new data (a new analysis, a newer trajectory point) gives a new digest."""

    __tablename__ = "chart_cache"
    __table_args__ = (UniqueConstraint("run_id", "name", "digest"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("optimiser_runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    digest: Mapped[str] = mapped_column(String(64))
    svg: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class LoginThrottleRow(Base):
    """One sign-in counter (an account and address pair, an address, an account, a second
    factor): failures reserved before each check, and the delay they impose
    (``portfolio/adapters/throttle.py``)."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class SecurityEventRow(Base):
    """The security log: sign-ins, refusals, token use (append-only: database triggers refuse
    UPDATE and DELETE). Never holds a password or a token."""

    __tablename__ = "security_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    event: Mapped[str] = mapped_column(String(32), index=True)
    username: Mapped[str | None] = mapped_column(String(40), index=True)
    address: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(String(200))


class SpendRow(Base):
    """Money actually spent (the ledger): per option, envelope and financial year."""

    __tablename__ = "spend_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="RESTRICT"), index=True
    )
    option: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[str] = mapped_column(String(64))
    year: Mapped[str] = mapped_column(String(7))
    amount: Mapped[float] = mapped_column(Float)
    quarter_id: Mapped[int] = mapped_column(ForeignKey("quarters.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16), default="actual")
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str | None] = mapped_column(String(40))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ContractRow(Base):
    """A contracted award and its lifecycle (live until ended with a reason, or completed)."""

    __tablename__ = "contracts"
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="RESTRICT"), index=True
    )
    option: Mapped[str] = mapped_column(String(64))
    since: Mapped[str] = mapped_column(String(16))
    awarded_by: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), default="live")
    ended_in: Mapped[str | None] = mapped_column(String(16))
    ended_by: Mapped[str | None] = mapped_column(String(40))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    end_reason: Mapped[str] = mapped_column(Text, default="")
    break_cost: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class TreasuryApprovalRow(Base):
    """A request to Treasury to approve an award above the DAL, and Treasury's decision."""

    __tablename__ = "treasury_approvals"
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="RESTRICT"), index=True
    )
    requested_by: Mapped[str] = mapped_column(String(40))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime)
    request_reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="requested")
    decided_by: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class HistoryCheckRow(Base):
    """A full check of a mission's history run in the background, and its report once done.
    ``pending_mission_id`` is the mission's id while the check is queued or running, else NULL:
    unique, so a mission never has two pending checks."""

    __tablename__ = "history_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), index=True
    )
    pending_mission_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    requested_by: Mapped[str] = mapped_column(String(40))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
