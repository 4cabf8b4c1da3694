"""Sign-in throttling: every attempt *reserves* a failure on its counters before the password
(or code) is checked, with one conditional UPDATE per counter, so concurrent attempts cannot all
pass; a success gives the reservation back. Past a counter's free failures each further failure
makes the next attempt wait, doubling up to a ceiling: a delay, not a lockout anyone can impose.

The policy (SECURITY.md, "Authentication"):

- **account and address** (the pair): 5 failures free, then 1 minute, doubling to 1 hour. This
  is the brute-force bound; a success from the pair clears it.
- **address**, over all accounts: 30 failures free, then 1 minute doubling to 15 minutes
  (password spraying from one address).
- **account**, over all addresses: 20 failures free, then 30 seconds doubling to 5 minutes
  (a distributed guess at one account); short, so the real user is not kept out for long.
- a pair that signed in successfully in the last 30 days is *known*: it is held to its own
  counter only, so an attacker elsewhere, or behind the same address with other accounts,
  cannot delay the real user at all.
- a counter forgets its failures a while after the last one (``forget_after``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from portfolio.adapters.orm import LoginThrottleRow as T

MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Rule:
    """How one kind of counter throttles."""

    kind: str  # words for the security log
    free: int  # failures before any delay
    first_delay: dt.timedelta
    max_delay: dt.timedelta
    forget_after: dt.timedelta

    def delay_after(self, failures: int) -> dt.timedelta | None:
        """The wait imposed once ``failures`` failures are counted, if any."""
        if failures < self.free:
            return None
        delay: dt.timedelta = self.first_delay * 2 ** min(failures - self.free, 20)
        return min(delay, self.max_delay)


PAIR = Rule("this account from this address", 5, MINUTE, 60 * MINUTE, dt.timedelta(hours=24))
ADDRESS = Rule("this address, any account", 30, MINUTE, 15 * MINUTE, dt.timedelta(hours=1))
ACCOUNT = Rule("this account, any address", 20, MINUTE / 2, 5 * MINUTE, dt.timedelta(hours=1))
SECOND_FACTOR = Rule("second factor", 5, MINUTE, 60 * MINUTE, dt.timedelta(hours=24))
CURRENT_PASSWORD = Rule(
    "current password (change of password)", 5, MINUTE, 60 * MINUTE, dt.timedelta(hours=24)
)
KNOWN_FOR = dt.timedelta(days=30)
MAX_TRIES = 50  # compare-and-set retries under contention before giving up (refused)


def pair_key(username: str, address: str) -> str:
    return f"pair:{address}|{username}"  # an address never contains "|"


@dataclass
class Attempt:
    """The outcome of reserving an attempt: allowed (the check may run) or a wait."""

    allowed: bool
    wait: dt.timedelta | None = None
    reserved: list[tuple[str, Rule]] = field(default_factory=list)
    #: counters whose reservation started (or lengthened) a delay: (rule, delay)
    delays: list[tuple[Rule, dt.timedelta]] = field(default_factory=list)


class Throttle:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- sign-in -------------------------------------------------------------------------------
    def sign_in(self, username: str, address: str, now: dt.datetime) -> Attempt:
        """Reserve one password check for ``username`` from ``address``; commit before checking
        the password, so concurrent attempts see the reservation."""
        counters = [(pair_key(username, address), PAIR)]
        if not self.known(username, address, now):
            counters += [(f"account:{username}", ACCOUNT), (f"address:{address}", ADDRESS)]
        return self.attempt(counters, now)

    def signed_in(self, attempt: Attempt, now: dt.datetime) -> None:
        """The password was right: clear the pair (and remember it as known), give the shared
        counters their reservation back, and drop counters nobody needs any more."""
        for key, rule in attempt.reserved:
            if rule is PAIR:
                self.session.execute(
                    update(T)
                    .where(T.key == key)
                    .values(failures=0, last_failure_at=None, blocked_until=None)
                    .values(last_success_at=now)
                    .execution_options(synchronize_session=False)
                )
            else:
                self.give_back(key, rule)
        self.purge(now)

    def known(self, username: str, address: str, now: dt.datetime) -> bool:
        last = self.session.scalar(
            select(T.last_success_at).where(T.key == pair_key(username, address))
        )
        return last is not None and now - last <= KNOWN_FOR

    # -- any counters ------------------------------------------------------------------------
    def attempt(self, counters: list[tuple[str, Rule]], now: dt.datetime) -> Attempt:
        """Reserve a failure on every counter, or on none if one of them is waiting."""
        rows = self.session.execute(
            select(T.key, T.blocked_until).where(T.key.in_([k for k, _ in counters]))
        )
        waits = [b - now for _, b in rows if b is not None and b > now]
        if waits:
            return Attempt(False, wait=max(waits))
        attempt = Attempt(True)
        for key, rule in counters:
            ok, wait, delay = self._reserve(key, rule, now)
            if not ok:
                return Attempt(False, wait=wait, delays=attempt.delays)
            attempt.reserved.append((key, rule))
            if delay is not None:
                attempt.delays.append((rule, delay))
        return attempt

    def succeeded(self, key: str) -> None:
        """Forget a counter's failures (the code or password was right)."""
        self.session.execute(
            update(T)
            .where(T.key == key)
            .values(failures=0, blocked_until=None)
            .execution_options(synchronize_session=False)
        )

    def give_back(self, key: str, rule: Rule) -> None:
        """Return one reservation to a shared counter (its check succeeded)."""
        self.session.execute(
            update(T)
            .where(T.key == key, T.failures > 0)
            .values(
                failures=T.failures - 1,
                blocked_until=case((T.failures - 1 < rule.free, None), else_=T.blocked_until),
            )
            .execution_options(synchronize_session=False)
        )

    def purge(self, now: dt.datetime) -> None:
        """Drop counters with nothing left to remember."""
        stale = now - max(r.forget_after for r in (PAIR, ADDRESS, ACCOUNT, SECOND_FACTOR))
        self.session.execute(
            delete(T)
            .where(
                or_(T.last_success_at.is_(None), T.last_success_at < now - KNOWN_FOR),
                or_(T.last_failure_at.is_(None), T.last_failure_at < stale),
                or_(T.blocked_until.is_(None), T.blocked_until < now),
            )
            .execution_options(synchronize_session=False)
        )

    def _ensure(self, key: str) -> None:
        if self.session.scalar(select(T.key).where(T.key == key)) is not None:
            return
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else None
        statement = (insert or sqlite_insert)(T).values(key=key, failures=0)
        self.session.execute(statement.on_conflict_do_nothing(index_elements=[T.key]))

    def _reserve(
        self, key: str, rule: Rule, now: dt.datetime
    ) -> tuple[bool, dt.timedelta | None, dt.timedelta | None]:
        """Compare-and-set one more failure on ``key``: (reserved, wait, delay started).

        The UPDATE only applies if the count is still the one read and the counter is not
        waiting; the database evaluates that on the current row (PostgreSQL re-checks it after
        waiting for a concurrent writer, SQLite has one writer at a time), so two attempts
        can never both take the last free failure."""
        for _ in range(MAX_TRIES):
            row = self.session.execute(
                select(T.failures, T.last_failure_at, T.blocked_until).where(T.key == key)
            ).one_or_none()
            if row is None:  # new, or purged meanwhile as stale
                self._ensure(key)
                continue
            failures, last, blocked = row
            if blocked is not None and blocked > now:
                return False, blocked - now, None
            fresh = last is not None and now - last <= rule.forget_after
            counted = (failures if fresh else 0) + 1
            delay = rule.delay_after(counted)
            result = self.session.execute(
                update(T)
                .where(
                    T.key == key,
                    T.failures == failures,
                    or_(T.blocked_until.is_(None), T.blocked_until <= now),
                )
                .values(
                    failures=counted,
                    last_failure_at=now,
                    blocked_until=now + delay if delay is not None else None,
                )
                .execution_options(synchronize_session=False)
            )
            assert isinstance(result, CursorResult)
            if result.rowcount == 1:
                return True, None, delay
        return False, rule.first_delay, None
