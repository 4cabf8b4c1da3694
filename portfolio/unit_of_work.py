"""The unit of work: one transaction, the repositories on it, commit or nothing."""

from __future__ import annotations

import datetime as dt
from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from portfolio.errors import Conflict
from portfolio.orm import utcnow
from portfolio.repository import (
    Aggregates,
    Analyses,
    AuditTrail,
    Candidates,
    Challenges,
    Contracts,
    CycleLog,
    EvidenceLog,
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
from portfolio.throttle import Throttle

STALE = "someone else changed this at the same time; reload it and apply your change again"


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()`` — anything not committed is rolled back on exit."""

    def __init__(self, engine_or_factory: Engine | sessionmaker[Session]) -> None:
        if isinstance(engine_or_factory, Engine):
            engine_or_factory = sessionmaker(engine_or_factory, expire_on_commit=False)
        self.session_factory = engine_or_factory
        self.committed = False

    def __enter__(self) -> Self:
        self.session = self.session_factory()
        self.users = Users(self.session)
        self.sessions = Sessions(self.session)
        self.missions = Missions(self.session)
        self.candidates = Candidates(self.session)
        self.scores = Scores(self.session)
        self.evidence = EvidenceLog(self.session)
        self.audit = AuditTrail(self.session)
        self.runs = Runs(self.session)
        self.challenges = Challenges(self.session)
        self.seeds = Seeds(self.session)
        self.aggregates = Aggregates(self.session)
        self.cycle = CycleLog(self.session)
        self.reviews = Reviews(self.session)
        self.analyses = Analyses(self.session)
        self.throttle = Throttle(self.session)
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
