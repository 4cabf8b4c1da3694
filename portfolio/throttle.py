"""Sign-in back-off: after 5 failed attempts for a username or from one address within 15
minutes, further attempts are refused for a while (1 minute, doubling, at most 15), without
saying whether the username exists or which part of the credentials was wrong."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portfolio.orm import LoginThrottleRow

FREE_FAILURES = 5
WINDOW = dt.timedelta(minutes=15)
MAX_LOCK = dt.timedelta(minutes=15)


class Throttle:
    def __init__(self, session: Session) -> None:
        self.session = session

    def locked_for(self, keys: list[str], now: dt.datetime) -> dt.timedelta | None:
        """How long these keys are still locked out, if at all."""
        rows = self.session.scalars(select(LoginThrottleRow).where(LoginThrottleRow.key.in_(keys)))
        waits = [r.locked_until - now for r in rows if r.locked_until and r.locked_until > now]
        return max(waits) if waits else None

    def failed(self, keys: list[str], now: dt.datetime) -> None:
        for key in keys:
            row = self.session.get(LoginThrottleRow, key)
            if row is None or now - row.first_failure_at > WINDOW:
                if row is None:
                    row = LoginThrottleRow(key=key)
                    self.session.add(row)
                row.failures, row.first_failure_at, row.locked_until = 0, now, None
            row.failures += 1
            if row.failures >= FREE_FAILURES:
                lock = min(dt.timedelta(minutes=2 ** (row.failures - FREE_FAILURES)), MAX_LOCK)
                row.locked_until = now + lock
        self.session.flush()

    def succeeded(self, key: str) -> None:
        self.session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.key == key))
