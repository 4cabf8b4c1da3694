"""The security log (OWASP ASVS 5.0 V16): sign-ins and their failures and delays, refusals
(403, CSRF), API token use, password changes. Append-only in the database, like the audit trail.

It never holds a password, a token or a code: only the username as typed (cut to 40
characters), the client address, the request's method and path (no query string) and a short
detail written by the code that records the event."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from portfolio.adapters.orm import SecurityEventRow


class SecurityEventKind(StrEnum):
    signed_in = "signed_in"
    sign_in_failed = "sign_in_failed"
    sign_in_throttled = "sign_in_throttled"
    sign_in_delayed = "sign_in_delayed"
    second_factor_failed = "second_factor_failed"
    second_factor_throttled = "second_factor_throttled"
    password_changed = "password_changed"
    password_change_failed = "password_change_failed"
    forbidden = "forbidden"
    csrf_refused = "csrf_refused"
    token_used = "token_used"
    token_refused = "token_refused"
    tokens_revoked = "tokens_revoked"


EVENT_LABELS: dict[SecurityEventKind, str] = {
    SecurityEventKind.signed_in: "Signed in",
    SecurityEventKind.sign_in_failed: "Sign-in failed",
    SecurityEventKind.sign_in_throttled: "Sign-in refused: waiting",
    SecurityEventKind.sign_in_delayed: "Sign-in delay started",
    SecurityEventKind.second_factor_failed: "Wrong second-factor code",
    SecurityEventKind.second_factor_throttled: "Second factor refused: waiting",
    SecurityEventKind.password_changed: "Password changed",
    SecurityEventKind.password_change_failed: "Password change refused",
    SecurityEventKind.forbidden: "Refused (403)",
    SecurityEventKind.csrf_refused: "Refused: cross-site or expired form",
    SecurityEventKind.token_used: "API token used",
    SecurityEventKind.token_refused: "API token refused",
    SecurityEventKind.tokens_revoked: "API tokens revoked",
}

#: events an anonymous caller can produce as fast as they like: one a minute per address is kept
DEDUPLICATED = {SecurityEventKind.sign_in_throttled, SecurityEventKind.token_refused}


class SecurityEvent(BaseModel):
    id: int | None = None
    at: dt.datetime
    event: SecurityEventKind
    username: str | None = Field(None, max_length=40, description="as typed, cut to 40")
    address: str | None = Field(None, max_length=64)
    method: str = Field(max_length=8)
    path: str = Field(max_length=200)
    detail: str = Field("", max_length=200)


class SecurityLog:
    """The security log's rows; only ``add`` writes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, entry: SecurityEvent) -> None:
        if entry.event in DEDUPLICATED:
            recent = self.session.scalar(
                select(SecurityEventRow.id)
                .where(
                    SecurityEventRow.event == entry.event.value,
                    SecurityEventRow.address == entry.address,
                    SecurityEventRow.at > entry.at - dt.timedelta(minutes=1),
                )
                .limit(1)
            )
            if recent is not None:
                return
        self.session.add(
            SecurityEventRow(**entry.model_dump(exclude={"id", "event"}), event=entry.event.value)
        )

    def _filtered(
        self, event: SecurityEventKind | None, username: str | None
    ) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if event is not None:
            where.append(SecurityEventRow.event == event.value)
        if username:
            where.append(SecurityEventRow.username == username)
        return where

    def recent(
        self,
        *,
        event: SecurityEventKind | None = None,
        username: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[SecurityEvent]:
        """Newest first."""
        rows = self.session.scalars(
            select(SecurityEventRow)
            .where(*self._filtered(event, username))
            .order_by(SecurityEventRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [
            SecurityEvent(
                id=r.id,
                at=r.at,
                event=SecurityEventKind(r.event),
                username=r.username,
                address=r.address,
                method=r.method,
                path=r.path,
                detail=r.detail,
            )
            for r in rows
        ]

    def count(self, *, event: SecurityEventKind | None = None, username: str | None = None) -> int:
        return int(
            self.session.scalar(
                select(func.count(SecurityEventRow.id)).where(*self._filtered(event, username))
            )
            or 0
        )


def security_event(
    at: dt.datetime,
    event: SecurityEventKind,
    *,
    username: str | None,
    address: str | None,
    method: str,
    path: str,
    detail: str = "",
) -> SecurityEvent:
    """An event with every free-text part cut to its column (what was typed may be long)."""
    return SecurityEvent(
        at=at,
        event=event,
        username=username[:40] if username else None,
        address=address[:64] if address else None,
        method=method[:8],
        path=path[:200],
        detail=detail[:200],
    )
