"""Users, their API tokens and their sign-in sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portfolio.adapters.orm import ApiTokenRow, MissionRow, RoleRow, SessionRow, UserRow
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import Role, RoleAssignment, User


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
