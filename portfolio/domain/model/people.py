"""People and what they did: users, their roles on a mission, and the audit trail of every change
with its place in the mission's hash chain."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from portfolio.domain.model.common import Name, Slug, Strict, Username


class Role(StrEnum):
    mission_ceo = "mission_ceo"
    council_member = "council_member"
    treasury_reviewer = "treasury_reviewer"


ROLE_LABELS = {
    Role.mission_ceo: "Mission CEO",
    Role.council_member: "Expert Council member",
    Role.treasury_reviewer: "Treasury reviewer",
}


class User(Strict):
    username: Username
    display_name: Name
    is_admin: bool = False
    active: bool = True


class RoleAssignment(Strict):
    username: Username
    mission: Slug
    role: Role


class AuditEntry(Strict):
    """One change: who, when, what, before -> after. Never edited or deleted."""

    at: dt.datetime
    actor: str
    mission: Slug | None
    entity: str
    entity_id: str
    action: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


Hash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ChainedAuditEntry(AuditEntry):
    """An audit entry with its place in its mission's hash chain
    (``portfolio/adapters/auditpack.py``),
    as exported and restored: ``seq`` None for an entry written before the chain existed."""

    seq: int | None = Field(None, ge=1)
    previous_hash: Hash | None = None
    entry_hash: Hash | None = None


HISTORY_CHECK_ACTIVE = ("queued", "running")


class HistoryCheck(Strict):
    """A full check of a mission's history, run in the background: who asked and when, and
    once it is done the report (``portfolio.services.history.HistoryReport`` as JSON), or why
    it failed."""

    id: int | None = None
    mission: Slug
    requested_by: str
    requested_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    status: str = Field("queued", pattern="^(queued|running|done|failed)$")
    report: dict[str, Any] | None = None
    error: str | None = None

    @property
    def active(self) -> bool:
        """Queued or running: not finished yet."""
        return self.status in HISTORY_CHECK_ACTIVE
