"""A closed quarter's audit pack as the zip an auditor downloads (the web's and the API's
``…/quarters/{label}/audit-pack.zip``)."""

from __future__ import annotations

import json
from typing import Any

from portfolio.adapters.auditpack import build_zip
from portfolio.adapters.ports import UnitOfWork
from portfolio.adapters.repository.read_cache import Memo
from portfolio.domain.errors import Conflict
from portfolio.domain.model import Quarter, QuarterState

ZIPS: Memo[tuple[str, ...], bytes] = Memo(8)
"""The zips a server process keeps, at most 8 (about 330 kB each for a large programme's
quarter)."""


def audit_pack_zip(uow: UnitOfWork, slug: str, label: str) -> bytes:
    """The closed quarter's audit pack as one zip: the problem and result files, the pack and
    its hash, and the update letter. Kept in this process under everything it is made of (the
    stored pack's digest, its hash, previous hash and seal): a closed quarter's pack never
    changes, and a row changed in the database behind the product's back is a new key, so the
    download shows it as the database holds it."""
    quarter = uow.missions.quarter(slug, label)
    digest = uow.missions.pack_digest(slug, label)
    if quarter.state is not QuarterState.closed or digest is None:
        raise Conflict(f"{label} is not closed: its audit pack is made when it closes")
    key = (
        slug,
        label,
        digest,
        quarter.pack_hash or "",
        quarter.pack_previous_hash or "",
        quarter.pack_seal or "",
    )
    return ZIPS.kept(key, lambda: _made(uow, slug, label, quarter))


def _made(uow: UnitOfWork, slug: str, label: str, quarter: Quarter) -> bytes:
    content = uow.missions.pack(slug, label)
    if content is None:  # removed since the digest was read
        raise Conflict(f"{label} is not closed: its audit pack is made when it closes")
    return _zip(slug, label, quarter, content)


def _zip(slug: str, label: str, quarter: Quarter, content: dict[str, Any]) -> bytes:
    """The zip of a closed quarter's pack ``content`` (its JSON files indented: Python writes
    indented JSON in pure Python, half a second for a large programme's pack)."""
    files: dict[str, bytes | str] = {
        "pack.json": json.dumps(content, indent=2, sort_keys=True),
        "problem.json": json.dumps(content["run"]["problem"], indent=2),
        "result.json": json.dumps(content["run"]["result"], indent=2),
        "hash.txt": (
            f"sha256 {quarter.pack_hash}\nprevious {quarter.pack_previous_hash}\n"
            f"seal {quarter.pack_seal}\n"
        ),
        "README.txt": (
            f"Audit pack of {slug}, quarter {label}.\n"
            "pack.json holds everything that decided the quarter; problem.json re-solves with\n"
            "`mission-portfolio solve problem.json` to the same allocation (result.json);\n"
            "`--compare result.json` also says whether it ran on the same software, which\n"
            "pack.json records under run.software.\n"
            "hash.txt: SHA-256 of the canonical JSON of {previous, content}, chained to the\n"
            "previous quarter's pack, and the seal: HMAC-SHA-256 of that hash under the\n"
            "server's key, chained to the previous quarter's seal (the seal printed on the\n"
            "public update). `mission-portfolio verify MISSION` checks both chains, the audit\n"
            "trail and the quarter's live rows against pack.json; `--head SEAL` checks that\n"
            "the history still holds a seal someone kept.\n"
        ),
    }
    if content.get("update"):
        files["update.md"] = content["update"]["body"]
    return build_zip(files)
