"""The audit trail: append-only, each entry chained (and sealed) as it is written."""

from __future__ import annotations

import datetime as dt
import json
import zlib
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portfolio.adapters import auditpack
from portfolio.adapters.orm import AuditRow
from portfolio.domain.errors import Conflict
from portfolio.domain.model import AuditEntry, ChainedAuditEntry


def _as_stored(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """``value`` as a JSON column gives it back (tuples as lists, keys as strings), so an entry
    hashes the same when it is written and when it is read back."""
    return None if value is None else json.loads(json.dumps(value))


def _naive_utc(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def stored_content(entry: AuditEntry) -> dict[str, Any]:
    """What the trail stores of ``entry``, and its hash covers (``auditpack.ENTRY_FIELDS``):
    the time as naive UTC, no mission as None, ``before``/``after`` as a JSON column gives them
    back. Every implementation of the trail stores this."""
    content = entry.model_dump(include=set(auditpack.ENTRY_FIELDS))
    content.update(
        at=_naive_utc(entry.at),
        mission=entry.mission or None,
        before=_as_stored(entry.before),
        after=_as_stored(entry.after),
    )
    return content


def chain_link(
    key: bytes | None,
    content: dict[str, Any],
    head: tuple[int, str] | None,
    earlier: list[dict[str, Any]],
) -> tuple[int, str, str]:
    """(number, previous hash, hash) of the entry ``content`` (``stored_content``) appended to
    its mission's chain, whose last chained entry is ``head``; with no head the chain starts
    here, pointing at a keyed hash of ``earlier`` (the entries written before chains existed,
    oldest first). Keyed with ``key`` (``auditpack``: None, not sealed)."""
    if head is None:
        seq, previous = 1, auditpack.chain_start(key, content["mission"], earlier)
    else:
        seq, previous = head[0] + 1, head[1]
    return seq, previous, auditpack.entry_hash(key, seq, previous, content)


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
        content = stored_content(entry)
        self._lock_chain(content["mission"])
        head = self.head(content["mission"])
        earlier = []
        if head is None:
            earlier = [e.model_dump() for e in self.chain(content["mission"]) if e.seq is None]
        seq, previous, entry_hash = chain_link(self.history_key, content, head, earlier)
        self.session.add(
            AuditRow(**content, seq=seq, previous_hash=previous, entry_hash=entry_hash)
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
