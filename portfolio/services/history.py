"""The tamper-evident history (issue 16, finding 5): checking that nobody rewrote it.

What is sealed, and how (``portfolio/adapters/auditpack.py``):

- every audit entry is numbered in its mission's chain and carries the HMAC-SHA-256, under the
  server's history key, of itself and the previous entry (``repository.AuditTrail.add``);
- every closed quarter's pack (the frozen rows that decided it, and the audit chain's length and
  head at the close) carries a plain SHA-256 chained to the previous pack and a keyed seal
  chained to the previous quarter's seal (``cycle.close_quarter``).

:func:`check` recomputes all of it and compares the live rows of every closed quarter with its
pack, so it finds an inserted, edited or deleted audit entry, an edited RAG rating, run note or
dissent of a closed quarter, and a pack rewritten with recomputed plain hashes; each finding in
words. The seal of each closed quarter is printed on its public update (:func:`published_seal`):
whoever kept one can later ask :func:`check` whether the history still holds it, which even the
holder of the key cannot fake after rewriting what the seal covers. :func:`check_published` asks
only that, at once: the full check is slow on a large mission and runs in the background
(``portfolio.services.history_checks``).

Without the key (``uow.history_key`` None) the seals cannot be recomputed: the structure, the
plain hashes and the live rows are still checked, and the report says the seals were not.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from portfolio.adapters import auditpack
from portfolio.adapters.auditpack import PackRecord, short, verify_chain
from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import InvalidInput, NotFound
from portfolio.domain.model import ChainedAuditEntry, Quarter, QuarterState
from portfolio.services.history_diff import live_differences

MAX_LISTED = 20  # findings of one kind listed one by one; the rest are counted
SEAL_PATTERN = re.compile(r"^[0-9a-f]{12,64}$")


class SealedQuarter(BaseModel):
    """A closed quarter's place in the sealed history."""

    quarter: str
    seal: str | None = Field(description="the keyed seal printed on the public update")
    pack_hash: str | None = Field(description="SHA-256 of the pack, chained to the previous one")
    audit_entries: int | None = Field(
        None, description="how many of the mission's audit entries the seal vouches for"
    )


class PublishedSeal(BaseModel):
    """A seal someone kept from a published update: the quarter it was printed for (if known)
    and the seal, in full or its first 12 characters at least."""

    quarter: str | None = None
    seal: str


class HistoryReport(BaseModel):
    """The result of checking a mission's history."""

    mission: str
    intact: bool = Field(description="no problem was found")
    keyed: bool = Field(description="checked with the server's key, so the seals were too")
    problems: list[str] = Field(description="what was changed, in words")
    notes: list[str] = Field(description="what was not or could not be checked, and why")
    confirmed: list[str] = Field(description="published seals the history still holds")
    audit_entries: int = Field(description="entries in the mission's audit chain")
    audit_head: str | None = Field(description="hash of the chain's last entry")
    quarters: list[SealedQuarter]


# -- describing things as people know them -------------------------------------------------------
def _when(at: dt.datetime) -> str:
    return f"{at.day} {at:%b %Y %H:%M}"


def _describe(e: ChainedAuditEntry) -> str:
    where = f"entry #{e.seq}" if e.seq is not None else "the entry"
    return f"{where} ({_when(e.at)}, {e.actor}: {e.entity} {e.entity_id} {e.action})"


def _listed(items: list[str], more: str) -> list[str]:
    if len(items) <= MAX_LISTED:
        return items
    return [*items[:MAX_LISTED], more.format(n=len(items) - MAX_LISTED)]


# -- the audit chain -----------------------------------------------------------------------------
def _order_problem(
    e: ChainedAuditEntry,
    previous: ChainedAuditEntry | None,
    before: Sequence[ChainedAuditEntry],
    key: bytes | None,
    chain: str | None,
) -> str | None:
    """What is wrong with entry ``e``'s place in the chain after ``previous``, if anything."""
    assert e.seq is not None
    expected = previous.seq + 1 if previous is not None and previous.seq else 1
    if e.seq > expected:
        gap = f"#{expected}" if e.seq == expected + 1 else f"#{expected}–#{e.seq - 1}"
        return (
            f"audit entries {gap} are missing: deleted from the trail (the entry after "
            f"them is {_describe(e)})"
        )
    if e.seq < expected:
        return f"two audit entries are numbered #{e.seq}: {_describe(e)} is one"
    if e.seq == 1:
        contents = [b.model_dump() for b in before]
        starts = {auditpack.chain_start(k, chain, contents) for k in (key, None)}
        if key is not None and e.previous_hash not in starts:
            return (
                f"the {len(before)} audit entries written before the chain began were "
                "changed, added or removed since entry #1 vouched for them"
            )
    elif previous is not None and e.previous_hash != previous.entry_hash:
        return (
            f"{_describe(e)} does not follow entry #{previous.seq}: the entry before it "
            "was replaced"
        )
    return None


@dataclass
class _SealTally:
    """How the chained entries' seals checked out, in the order the entries were read."""

    key: bytes | None
    sealed: int = 0
    unsealed_early: int = 0
    unchecked: int = 0
    edited: list[str] = field(default_factory=list)
    unsealed_late: list[str] = field(default_factory=list)

    def add(self, e: ChainedAuditEntry) -> None:
        """Entry ``e`` matches the keyed seal, only the plain hash, or neither."""
        assert e.seq is not None
        content = e.model_dump()
        previous_hash = e.previous_hash or ""
        plain = auditpack.entry_hash(None, e.seq, previous_hash, content)
        keyed = (
            auditpack.entry_hash(self.key, e.seq, previous_hash, content)
            if self.key is not None
            else None
        )
        if keyed is not None and keyed == (e.entry_hash or ""):
            self.sealed += 1
        elif plain == e.entry_hash:
            if self.key is None:
                return
            if self.sealed:
                self.unsealed_late.append(
                    f"{_describe(e)} is not sealed with the server's key: it was written "
                    "without the key, or forged"
                )
            else:
                self.unsealed_early += 1
        elif self.key is None:
            self.unchecked += 1
        else:
            self.edited.append(
                f"{_describe(e)} does not match its seal: it was changed after it was written, "
                "or forged"
            )

    def report(self, problems: list[str], notes: list[str]) -> None:
        edited = self.edited
        if self.key is not None and edited and not self.sealed and not self.unsealed_early:
            if len(edited) > 1:
                problems.append(
                    f"none of the {len(edited)} audit entries matches this server's key: it is "
                    "not the key that sealed this history (was MP_SECRET_KEY changed?), or the "
                    "whole trail was rewritten"
                )
                edited = []
        problems.extend(_listed(edited, "… and {n} more audit entries do not match their seals"))
        problems.extend(_listed(self.unsealed_late, "… and {n} more audit entries are not sealed"))
        if self.unsealed_early:
            notes.append(
                f"The first {self.unsealed_early} audit entries were written while the server "
                "had no key (MP_SECRET_KEY): they are chained but not sealed; the first sealed "
                "entry after them vouches for them."
            )
        if self.unchecked:
            notes.append(
                f"{self.unchecked} audit entries are sealed; without the server's key their "
                "seals were not checked."
            )


def _check_entries(
    entries: Sequence[ChainedAuditEntry],
    key: bytes | None,
    chain: str | None,
    problems: list[str],
    notes: list[str],
) -> None:
    first = next((i for i, e in enumerate(entries) if e.seq is not None), None)
    if first is None:
        if entries:
            notes.append(
                f"The audit trail's {len(entries)} entries were written before the history was "
                "chained; the next entry will vouch for them."
            )
        return
    before = list(entries[:first])
    late = [e for e in entries[first:] if e.seq is None]
    problems.extend(
        _listed(
            [
                f"{_describe(e)} was inserted after the chain began: it has no place in it"
                for e in late
            ],
            "… and {n} more entries inserted outside the chain",
        )
    )
    tally = _SealTally(key)
    previous: ChainedAuditEntry | None = None
    for e in sorted((e for e in entries if e.seq is not None), key=lambda e: e.seq or 0):
        problem = _order_problem(e, previous, before, key, chain)
        if problem is not None:
            problems.append(problem)
        tally.add(e)
        previous = e
    tally.report(problems, notes)
    if before:
        notes.append(
            f"{len(before)} audit entries were written before the history was chained; "
            "entry #1 vouches for them."
        )


# -- the packs' chain and seals ------------------------------------------------------------------
def _link(q: Quarter | None) -> str | None:
    """What the next quarter's seal is chained to: this quarter's seal, or its plain hash if
    it was closed before seals existed."""
    return None if q is None else q.pack_seal or q.pack_hash


def _check_seals(
    quarters: Sequence[Quarter], key: bytes | None, problems: list[str], notes: list[str]
) -> None:
    first = next((i for i, q in enumerate(quarters) if q.pack_seal is not None), None)
    sealed = False
    unchecked = 0
    for i, q in enumerate(quarters):
        previous = quarters[i - 1] if i else None
        if q.pack_seal is None:
            if first is not None and i > first:
                problems.append(
                    f"{q.label}: its seal is missing (the quarters before it are sealed)"
                )
            continue
        plain = auditpack.pack_seal(None, _link(previous), q.pack_hash or "")
        if key is not None and auditpack.pack_seal(key, _link(previous), q.pack_hash or "") == (
            q.pack_seal
        ):
            sealed = True
        elif plain == q.pack_seal:
            if sealed:
                problems.append(
                    f"{q.label}: its pack is not sealed with the server's key: sealed without "
                    "the key, or forged"
                )
        elif key is None:
            unchecked += 1
        else:
            problems.append(
                f"{q.label}: its seal does not match: its pack, its hash or an earlier "
                "quarter's seal was rewritten (or MP_SECRET_KEY is not the key that sealed it)"
            )
    if first is not None and first > 0:
        labels = ", ".join(q.label for q in quarters[:first])
        notes.append(
            f"{labels} closed before the history was sealed; the seal of "
            f"{quarters[first].label} vouches for their packs."
        )
    elif first is None and quarters:
        notes.append("No closed quarter is sealed: they closed before the history was sealed.")
    if unchecked:
        notes.append(
            f"{unchecked} closed quarters are sealed; without the server's key their seals "
            "were not checked."
        )


def _check_pack_history(
    quarters: Sequence[Quarter],
    packs: Mapping[str, Mapping[str, Any]],
    entries: Sequence[ChainedAuditEntry],
    problems: list[str],
) -> None:
    """Each pack records the audit chain's length and head when its quarter closed; that entry
    must still be there, unchanged."""
    by_seq = {e.seq: e for e in entries if e.seq is not None}
    for q in quarters:
        history = packs[q.label].get("history") or {}
        n, head = history.get("audit_entries"), history.get("audit_head")
        if not n or not head:
            continue
        found = by_seq.get(n)
        if found is None:
            problems.append(
                f"{q.label}: audit entry #{n}, the last when it closed, is no longer in the "
                "trail: entries were deleted"
            )
        elif found.entry_hash != head:
            problems.append(
                f"{q.label}: the audit trail up to its close (entry #{n}) differs from the one "
                "sealed in its pack: it was rewritten"
            )


def _check_closings(
    quarters: Sequence[Quarter], entries: Sequence[ChainedAuditEntry], problems: list[str]
) -> None:
    """The audit entry that recorded each close names the pack's hash and seal."""
    closed = {q.label: q for q in quarters}
    for e in entries:
        if e.entity != "quarter" or e.action != "closed":
            continue
        after = e.after or {}
        q = closed.get(e.entity_id)
        if q is None:
            problems.append(
                f"{e.entity_id}: {_describe(e)} records that it closed, but it is not closed now"
            )
            continue
        if after.get("pack_hash") and after["pack_hash"] != q.pack_hash:
            problems.append(
                f"{q.label}: its pack hash ({short(q.pack_hash)}) is not the one recorded when it "
                f"closed ({short(after['pack_hash'])}): the pack was replaced"
            )
        if after.get("seal") and after["seal"] != q.pack_seal:
            problems.append(
                f"{q.label}: its seal ({short(q.pack_seal)}) is not the one recorded when it "
                f"closed ({short(after['seal'])}): the pack was resealed"
            )


# -- published seals -----------------------------------------------------------------------------
def _check_published(
    slug: str,
    quarters: Sequence[Quarter],
    published: Sequence[PublishedSeal],
    problems: list[str],
    confirmed: list[str],
) -> None:
    closed = {q.label: q for q in quarters}
    for p in published:
        seal = p.seal.strip().lower()
        if not SEAL_PATTERN.match(seal):
            raise InvalidInput.single(
                "seal", "must be 12 to 64 hexadecimal characters, as printed on the update"
            )
        if p.quarter is not None:
            q = closed.get(p.quarter)
            if q is None:
                problems.append(
                    f"{p.quarter}: a seal was published for it ({short(seal)}), but it is not a "
                    "closed quarter now"
                )
            elif q.pack_seal is None or not q.pack_seal.startswith(seal):
                problems.append(
                    f"{q.label}: the seal published for it ({short(seal)}) is not its seal now "
                    f"({short(q.pack_seal)}): the history up to {q.label} was rewritten after "
                    "it was published"
                )
            else:
                confirmed.append(
                    f"{q.label}: the history still holds the published seal {short(seal)}."
                )
            continue
        found = [q for q in quarters if q.pack_seal and q.pack_seal.startswith(seal)]
        if found:
            confirmed.append(
                f"{found[0].label}: the history still holds the published seal {short(seal)}."
            )
        else:
            problems.append(
                f"the published seal {short(seal)} is not the seal of any closed quarter of "
                f"{slug}: the history it vouched for was rewritten (or it is another mission's)"
            )


class PublishedCheck(BaseModel):
    """Whether the history still holds the seals someone kept from published updates."""

    problems: list[str] = Field(description="seals the history no longer holds, in words")
    confirmed: list[str] = Field(description="published seals the history still holds")


def check_published(
    uow: UnitOfWork, slug: str, published: Sequence[PublishedSeal]
) -> PublishedCheck:
    """Only whether mission ``slug``'s closed quarters still hold the ``published`` seals, as
    their seals are stored now: nothing is rebuilt, so it is quick. :func:`check` makes the same
    comparison after it has checked that those seals are themselves the history's."""
    if not uow.missions.exists(slug):
        raise NotFound(f"there is no mission {slug}")
    problems: list[str] = []
    confirmed: list[str] = []
    quarters = _closed_quarters(uow, slug, problems)
    _check_published(slug, quarters, published, problems, confirmed)
    return PublishedCheck(problems=problems, confirmed=confirmed)


# -- the whole check -----------------------------------------------------------------------------
def _closed_quarters(uow: UnitOfWork, slug: str, problems: list[str]) -> list[Quarter]:
    try:
        return [q for q in uow.missions.quarters(slug) if q.state is QuarterState.closed]
    except ValueError as exc:  # a row edited into something the model refuses
        problems.append(f"the quarters cannot be read: {exc}")
        return []


def check(uow: UnitOfWork, slug: str, published: Sequence[PublishedSeal] = ()) -> HistoryReport:
    """Check mission ``slug``'s history: its audit chain, its packs' chain and seals, the live
    rows of each closed quarter against its pack, and any ``published`` seals."""
    if not uow.missions.exists(slug):
        raise NotFound(f"there is no mission {slug}")
    key = uow.history_key
    problems: list[str] = []
    notes: list[str] = []
    confirmed: list[str] = []
    entries = uow.audit.chain(slug)
    _check_entries(entries, key, slug, problems, notes)
    quarters = _closed_quarters(uow, slug, problems)
    packs = {q.label: uow.missions.pack(slug, q.label) or {} for q in quarters}
    records: list[PackRecord] = [
        (q.label, packs[q.label], q.pack_hash or "", q.pack_previous_hash) for q in quarters
    ]
    problems += verify_chain(records)
    _check_seals(quarters, key, problems, notes)
    _check_pack_history(quarters, packs, entries, problems)
    _check_closings(quarters, entries, problems)
    for q in quarters:
        problems += live_differences(uow, slug, q, packs[q.label])
    _check_published(slug, quarters, published, problems, confirmed)
    if key is None:
        notes.insert(
            0,
            "This server has no key (MP_SECRET_KEY is not set), so the seals were not "
            "recomputed: anyone who can write to the database could have rewritten the "
            "history without this check noticing. Run it with the server's MP_SECRET_KEY.",
        )
    chained = [e for e in entries if e.seq is not None]
    last = max(chained, key=lambda e: e.seq or 0) if chained else None
    return HistoryReport(
        mission=slug,
        intact=not problems,
        keyed=key is not None,
        problems=problems,
        notes=notes,
        confirmed=confirmed,
        audit_entries=len(chained),
        audit_head=last.entry_hash if last else None,
        quarters=[
            SealedQuarter(
                quarter=q.label,
                seal=q.pack_seal,
                pack_hash=q.pack_hash,
                audit_entries=(packs[q.label].get("history") or {}).get("audit_entries"),
            )
            for q in quarters
        ],
    )


def published_seal(uow: UnitOfWork, slug: str, label: str) -> SealedQuarter | None:
    """The seal a public update of quarter ``label`` prints: that quarter's once it is closed,
    before that the latest sealed quarter's before it (None if nothing is sealed yet)."""
    sealed = [
        q
        for q in uow.missions.quarters(slug)
        if q.state is QuarterState.closed and q.pack_seal and q.label <= label
    ]
    if not sealed:
        return None
    q = sealed[-1]
    pack = uow.missions.pack(slug, q.label) or {}
    return SealedQuarter(
        quarter=q.label,
        seal=q.pack_seal,
        pack_hash=q.pack_hash,
        audit_entries=(pack.get("history") or {}).get("audit_entries"),
    )


def seals_in(document: str) -> list[PublishedSeal]:
    """The seals in a saved public update: its open data (``allocation.json``, whose
    ``history_seal`` names the quarter and the seal) or its page (``data-history-seal``)."""
    try:
        data = json.loads(document)
    except ValueError:
        data = None
    if isinstance(data, dict):
        seal = data.get("history_seal")
        if isinstance(seal, dict) and isinstance(seal.get("seal"), str):
            quarter = seal.get("quarter")
            return [
                PublishedSeal(
                    quarter=quarter if isinstance(quarter, str) else None, seal=seal["seal"]
                )
            ]
        return []
    return [
        PublishedSeal(quarter=m.group(1), seal=m.group(2))
        for m in re.finditer(
            r'data-history-quarter="([^"]+)"\s+data-history-seal="([0-9a-f]{64})"', document
        )
    ]
