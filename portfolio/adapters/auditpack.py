"""Audit packs: canonical JSON, a hash chain from quarter to quarter, and a reproducible zip.

Issue 5. Each quarter's pack (problem file, result, seed, solver and version, policy, every CEO
override with its reason) is hashed together with the hash of the previous quarter's pack:

    hash_q = SHA-256(canonical_json({"previous": hash_{q-1}, "content": content_q}))

so editing any earlier pack, or re-hashing it, breaks the link from the pack after it. Pure
functions, no I/O.

Issue 16 (finding 5) adds seals: a plain SHA-256 chain can be recomputed by anyone who can write
to the database, so the audit trail's entries and the packs are also chained with
HMAC-SHA-256 under a server key that is not in the database (``MP_SECRET_KEY``):

    entry_n = HMAC(key, canonical({"kind": "audit-entry", "seq": n, "previous": entry_{n-1}, …}))
    seal_q  = HMAC(key, canonical({"kind": "pack-seal", "previous": seal_{q-1}, "pack": hash_q}))

Without a key (``key=None``) the same chains are computed under the public ``NO_KEY``: they still
show accidental damage and gaps, but anyone could recompute them, so they are "not sealed".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import math
import zipfile
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from pydantic import BaseModel

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o644
HASH_PREFIX = 12  # characters of a hash shown in messages
NO_KEY = b"mission-portfolio/no-server-key"
"""The public key of chains written without a server key: they detect damage, not an insider."""
ENTRY_FIELDS = ("at", "actor", "mission", "entity", "entity_id", "action", "before", "after")
"""What an audit entry says; its chain fields (seq, previous hash, hash) are about it."""

PackRecord = tuple[str, Mapping[str, Any], str, str | None]
"""(label, content, stored hash, stored previous hash), as kept for one quarter."""


def _plain(obj: Any, path: str) -> Any:
    """``obj`` as JSON values only, refusing what would not survive a round trip unchanged."""
    if obj is None or isinstance(obj, bool | str):
        return obj.value if isinstance(obj, Enum) else obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"{path}: {obj} is not a finite number and has no JSON form")
        return float(obj)
    if isinstance(obj, Enum):
        return _plain(obj.value, path)
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    if isinstance(obj, BaseModel):
        return _plain(obj.model_dump(mode="json"), path)
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: keys must be strings, got {key!r}")
            out[key] = _plain(value, f"{path}.{key}")
        return out
    if isinstance(obj, list | tuple):
        return [_plain(value, f"{path}[{i}]") for i, value in enumerate(obj)]
    raise ValueError(f"{path}: a {type(obj).__name__} has no canonical JSON form")


class _Unfit(Exception):
    """Raised by :func:`_plain_fast` where :func:`_plain` would name the offending value."""


def _plain_fast(obj: Any) -> Any:
    """:func:`_plain` for the values packs are made of (exact ``str``, ``float``, ``int``,
    ``bool``, ``None``, ``dict`` with string keys, ``list``), dispatching on the exact type
    and building no path; anything else goes to :func:`_plain`. Raises :class:`_Unfit` where
    :func:`_plain` would refuse, so the caller can run :func:`_plain` for its message."""
    kind = type(obj)
    if kind is str or kind is bool or obj is None:
        return obj
    if kind is float:
        if not math.isfinite(obj):
            raise _Unfit
        return obj
    if kind is int:
        return obj
    if kind is dict:
        out = {}
        for key, value in obj.items():
            if type(key) is not str:
                raise _Unfit
            out[key] = _plain_fast(value)
        return out
    if kind is list:
        return [_plain_fast(value) for value in obj]
    try:
        return _plain(obj, "$")
    except ValueError:
        raise _Unfit from None


def canonical_json(obj: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no whitespace; the same value always gives the same bytes.

    Floats are written by ``repr`` (shortest round-trip), so a pack read back from storage hashes
    the same. Dates become ISO strings, enums their values, pydantic models their JSON dump,
    tuples lists. NaN and infinity, non-string keys (which JSON would turn into strings, changing
    the order) and other types are refused with the path of the offending value.
    """
    try:
        plain = _plain_fast(obj)
    except _Unfit:
        plain = _plain(obj, "$")  # raises, naming the path of what has no JSON form
    return json.dumps(
        plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def pack_hash(pack_content: Mapping[str, Any], previous_hash: str | None) -> str:
    """SHA-256 (hex) of the canonical JSON of {"previous": previous_hash, "content": content}."""
    document = {"previous": previous_hash, "content": pack_content}
    return hashlib.sha256(canonical_json(document)).hexdigest()


def _check_name(name: str) -> None:
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ValueError(
            f"files: {name!r} is not a safe relative path (use names like 'result/allocation.csv')"
        )


def build_zip(files: Mapping[str, bytes | str]) -> bytes:
    """A zip of ``files`` (name → bytes, or text written as UTF-8) that is the same byte for byte
    every time: names in sorted order, every timestamp 1980-01-01 00:00, mode 644, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            _check_name(name)
            data = files[name]
            payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever machine builds it
            info.external_attr = (0o100000 | ZIP_FILE_MODE) << 16
            archive.writestr(info, payload, compresslevel=9)
    return buffer.getvalue()


def _short(h: str | None) -> str:
    return "nothing" if h is None else f"{h[:HASH_PREFIX]}…"


def verify_chain(packs: Sequence[PackRecord]) -> list[str]:
    """Problems with a mission's chain of packs, oldest first, in words; empty when intact.

    Each pack's content must still hash (with its stored previous hash) to its stored hash, the
    first pack must point at nothing, and every later pack at the stored hash of the one before.
    """
    problems: list[str] = []
    for i, (label, content, stored_hash, stored_previous) in enumerate(packs):
        try:
            recomputed: str | None = pack_hash(content, stored_previous)
        except ValueError as exc:
            problems.append(f"{label}: its content cannot be hashed ({exc})")
            recomputed = None
        if recomputed is not None and recomputed != stored_hash:
            problems.append(f"{label}: its content no longer matches its hash — history was edited")
        if i == 0:
            if stored_previous is not None:
                problems.append(
                    f"{label}: it is the first pack but points at a previous pack "
                    f"({_short(stored_previous)})"
                )
            continue
        previous_label, _, previous_hash, _ = packs[i - 1]
        if stored_previous != previous_hash:
            problems.append(
                f"{label}: does not point at the previous quarter's pack ({previous_label}): "
                f"it names {_short(stored_previous)}, that pack's hash is {_short(previous_hash)}"
            )
    return problems


# -- seals: the keyed chains (issue 16, finding 5) -----------------------------------------------
def _mac(key: bytes | None, data: bytes) -> str:
    return hmac.new(key if key is not None else NO_KEY, data, hashlib.sha256).hexdigest()


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def entry_bytes(document: Mapping[str, Any]) -> bytes:
    """Canonical bytes of an audit document: sorted keys, no whitespace, dates as ISO strings.

    Unlike :func:`canonical_json` this accepts what the JSON columns already hold (``before`` and
    ``after`` are normalised through JSON when the entry is written), so an entry can always be
    hashed the same way it was stored."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_iso
    ).encode("utf-8")


def entry_content(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an audit entry that its hash covers (:data:`ENTRY_FIELDS`)."""
    return {name: entry.get(name) for name in ENTRY_FIELDS}


def entry_hash(key: bytes | None, seq: int, previous: str, content: Mapping[str, Any]) -> str:
    """The keyed hash of audit entry number ``seq`` of its chain, chained to ``previous``."""
    document = {"kind": "audit-entry", "seq": seq, "previous": previous, **entry_content(content)}
    return _mac(key, entry_bytes(document))


def chain_start(key: bytes | None, chain: str | None, before: Sequence[Mapping[str, Any]]) -> str:
    """What the first chained entry of ``chain`` (a mission, or None for entries about no
    mission) points at: a keyed hash of the entries written before the chain began (before the
    migration that introduced it), oldest first, so those are vouched for from then on."""
    document = {
        "kind": "audit-chain-start",
        "chain": chain,
        "before": [entry_content(e) for e in before],
    }
    return _mac(key, entry_bytes(document))


def pack_seal(key: bytes | None, previous: str | None, pack_hash_: str) -> str:
    """The keyed seal of a closed quarter's pack: its (plain) pack hash chained to the previous
    quarter's seal, or to that quarter's plain hash if it was closed before seals existed."""
    document = {"kind": "pack-seal", "previous": previous, "pack": pack_hash_}
    return _mac(key, canonical_json(document))


def short(h: str | None) -> str:
    """A hash as shown in messages: its first characters and an ellipsis."""
    return _short(h)
