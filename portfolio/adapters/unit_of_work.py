"""The unit of work: one transaction, the repositories on it, commit or nothing.

``SqlUnitOfWork`` is the SQLAlchemy implementation of ``UnitOfWork`` (the Protocol the services
are typed against, ``portfolio/adapters/ports.py``); ``portfolio/adapters/memory/`` is the
in-memory one the services' tests use."""

from __future__ import annotations

import datetime as dt
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from portfolio.adapters.orm import utcnow
from portfolio.adapters.ports import UnitOfWork as UnitOfWork
from portfolio.adapters.repository import STALE as STALE
from portfolio.adapters.repository import (
    Aggregates,
    Analyses,
    AuditTrail,
    Candidates,
    Challenges,
    Charts,
    Contracts,
    CycleLog,
    EvidenceLog,
    HistoryChecks,
    Missions,
    Reviews,
    Runs,
    Scores,
    Seeds,
    Sessions,
    SpendLedger,
    TreasuryApprovals,
    Users,
)
from portfolio.adapters.security_log import SecurityLog
from portfolio.adapters.throttle import Throttle
from portfolio.domain.errors import Conflict

HISTORY_KEY = "mission_portfolio_history_key"  # where a session factory carries the key


def session_factory(engine: Engine, history_key: bytes | None) -> sessionmaker[Session]:
    """Sessions whose units of work seal the history with ``history_key`` (the server's key,
    from ``api.settings``; None: the history is chained but not sealed)."""
    return sessionmaker(engine, expire_on_commit=False, info={HISTORY_KEY: history_key})


def history_key_of(factory: sessionmaker[Session]) -> bytes | None:
    """The history key a factory made by :func:`session_factory` carries (None otherwise)."""
    key = (factory.kw.get("info") or {}).get(HISTORY_KEY)
    return key if isinstance(key, bytes) else None


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()`` — anything not committed is rolled back on exit.

    ``history_key`` seals the audit entries and the closed quarters' packs it writes
    (HMAC-SHA-256, ``portfolio/adapters/auditpack.py``); by default it is the key the session
    factory carries (:func:`session_factory`), else None (chained, not sealed)."""

    def __init__(
        self,
        engine_or_factory: Engine | sessionmaker[Session],
        history_key: bytes | None = None,
    ) -> None:
        if isinstance(engine_or_factory, Engine):
            engine_or_factory = sessionmaker(engine_or_factory, expire_on_commit=False)
        self.session_factory = engine_or_factory
        self.history_key = (
            history_key if history_key is not None else history_key_of(engine_or_factory)
        )
        self.committed = False

    def __enter__(self) -> Self:
        self.session = self.session_factory()
        self.users = Users(self.session)
        self.sessions = Sessions(self.session)
        self.missions = Missions(self.session)
        self.candidates = Candidates(self.session)
        self.scores = Scores(self.session)
        self.evidence = EvidenceLog(self.session)
        self.audit = AuditTrail(self.session, self.history_key)
        self.history_checks = HistoryChecks(self.session)
        self.runs = Runs(self.session)
        self.challenges = Challenges(self.session)
        self.seeds = Seeds(self.session)
        self.aggregates = Aggregates(self.session)
        self.cycle = CycleLog(self.session)
        self.reviews = Reviews(self.session)
        self.analyses = Analyses(self.session)
        self.charts = Charts(self.session)
        self.throttle = Throttle(self.session)
        self.security = SecurityLog(self.session)
        self.spend = SpendLedger(self.session)
        self.contracts = Contracts(self.session)
        self.approvals = TreasuryApprovals(self.session)
        self.committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def now(self) -> dt.datetime:
        """Naive UTC time, the timestamps' convention throughout the database."""
        return utcnow()

    def flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as exc:
            raise Conflict("the change clashes with data already stored") from exc
        except StaleDataError as exc:
            raise Conflict(STALE) from exc

    def commit(self) -> None:
        try:
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            raise Conflict("the change clashes with data already stored") from exc
        except StaleDataError as exc:
            self.session.rollback()
            raise Conflict(STALE) from exc
        self.committed = True

    def rollback(self) -> None:
        self.session.rollback()


if TYPE_CHECKING:  # mypy checks that the SQL unit of work is a UnitOfWork

    def _satisfies(uow: SqlUnitOfWork) -> UnitOfWork:
        return uow
