"""How the live rows of a closed quarter differ from its sealed pack, in words (issue 16).

``portfolio.services.history.check`` calls :func:`live_differences` for every closed quarter;
each difference names the quarter, the thing as a person knows it ("the RAG rating", "the
dissent by council4") and the value now against the value sealed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from portfolio.adapters.auditpack import canonical_json
from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import PortfolioError
from portfolio.domain.model import Quarter

# -- the live rows of a closed quarter against its pack ------------------------------------------
SKIPPED = {"format", "version", "mission", "quarter", "history"}
WORDS: dict[tuple[str, str], str] = {
    ("approved", "by"): "who approved the allocation",
    ("approved", "at"): "when the allocation was approved",
    ("run", "objective"): "the approved run's objective",
    ("run", "solver"): "the approved run's solver",
    ("run", "note"): "the approved run's note",
    ("run", "started_by"): "who started the approved run",
    ("run", "seed"): "the approved run's random seed",
    ("run", "policy"): "the approved run's policy",
    ("run", "solver_report"): "the approved run's solver report",
    ("run", "software"): "the software that solved the approved run",
    ("run", "problem"): "the approved run's problem file",
    ("run", "result"): "the approved run's result",
    ("rag", "computed"): "the RAG rating",
    ("rag", "override"): "the Mission CEO's override of the RAG rating",
    ("rag", "reason"): "the reason given for the RAG override",
    ("update", "body"): "the published update's text",
    ("update", "published"): "whether the update is published",
    ("update", "published_at"): "when the update was published",
    ("update", "published_by"): "who published the update",
    ("update", "quarter"): "the quarter of the update",
}


def _value(value: Any) -> str | None:
    """A value short enough to quote in a sentence, or None."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str) and len(value) <= 40 and "\n" not in value:
        return f"“{value}”" if " " in value or "," in value else value or "empty"
    return None


def _now_and_sealed(now: Any, sealed: Any) -> str | None:
    """ "A now, B sealed", with whichever values are short enough to quote."""
    a, b = _value(now), _value(sealed)
    if a is not None and b is not None:
        return f"{a} now, {b} sealed"
    if a is not None:
        return f"{a} now"
    if b is not None:
        return f"{b} when sealed"
    return None


def _differs(label: str, what: str, now: Any, sealed: Any) -> str:
    values = _now_and_sealed(now, sealed)
    return f"{label}: {what} differs from the sealed pack" + (f": {values}" if values else "")


def _fields(label: str, name: str, now: Mapping[str, Any], sealed: Mapping[str, Any]) -> str:
    changed = [k for k in sorted(set(now) | set(sealed)) if now.get(k) != sealed.get(k)]
    parts = []
    for k in changed:
        values = _now_and_sealed(now.get(k), sealed.get(k))
        word = k.replace("_", " ")
        parts.append(f"{word} {values}" if values else f"its {word} changed")
    return f"{label}: {name} differs from the sealed pack: {'; '.join(parts)}"


def _without_id(item: Any) -> Any:
    return {k: v for k, v in item.items() if k != "id"} if isinstance(item, dict) else item


def _items(
    label: str,
    what: str,
    now: Any,
    sealed: Any,
    key: Callable[[Mapping[str, Any]], Any],
    name: Callable[[Mapping[str, Any]], str],
) -> list[str]:
    """Differences between two lists of records matched by ``key`` (ids are not compared: a
    restore renumbers them)."""
    if not isinstance(now, list) or not isinstance(sealed, list):
        return [] if now == sealed else [f"{label}: {what} differ from the sealed pack"]

    def keyed(items: Iterable[Any]) -> dict[Any, Mapping[str, Any]]:
        out: dict[Any, Mapping[str, Any]] = {}
        for item in items:
            item = _without_id(item)
            k = key(item) if isinstance(item, dict) else repr(item)
            n = 0
            while (k, n) in out:
                n += 1
            out[(k, n)] = item
        return out

    live, frozen = keyed(now), keyed(sealed)
    out = []
    for k, item in frozen.items():
        if k not in live:
            out.append(f"{label}: {name(item)} is gone (it is in the sealed pack)")
        elif live[k] != item:
            out.append(_fields(label, name(item), live[k], item))
    out.extend(
        f"{label}: {name(item)} was added after the quarter was sealed"
        for k, item in live.items()
        if k not in frozen
    )
    return out


def _contracts(label: str, now: Any, sealed: Any, names: Mapping[str, str]) -> list[str]:
    """Contracts go on after a quarter closes (they end or complete later), so only what was
    settled when it closed is compared: who holds each and since when, and how any that had
    ended by then ended; a contract from then that is not in the pack was slipped in."""
    if not isinstance(now, list) or not isinstance(sealed, list):
        return [] if now == sealed else [f"{label}: the contracts differ from the sealed pack"]

    def key(c: Mapping[str, Any]) -> tuple[Any, ...]:
        return (c.get("candidate"), c.get("option"), c.get("since"), c.get("awarded_by"))

    def name(c: Mapping[str, Any]) -> str:
        who = names.get(str(c.get("candidate")), str(c.get("candidate")))
        return f"the contract for {who} ({c.get('option')}, since {c.get('since')})"

    live = [_without_id(c) for c in now if isinstance(c, dict)]
    out = []
    for c in (_without_id(c) for c in sealed if isinstance(c, dict)):
        match = [x for x in live if key(x) == key(c)]
        if not match:
            out.append(f"{label}: {name(c)} is gone (it is in the sealed pack)")
            continue
        if c.get("state") == "live":
            ended = [x for x in match if x.get("ended_in") and x["ended_in"] <= label]
            if len(ended) == len(match):
                out.append(
                    f"{label}: {name(c)} was live when the quarter was sealed, but now "
                    f"ended in {ended[0]['ended_in']}"
                )
        elif c not in match:
            out.append(_fields(label, name(c), match[0], c))
        live.remove(match[0])
    out.extend(
        f"{label}: {name(x)} was added after the quarter was sealed"
        for x in live
        if str(x.get("since", "")) <= label
    )
    return out


def live_differences(
    uow: UnitOfWork, slug: str, quarter: Quarter, pack: Mapping[str, Any]
) -> list[str]:
    """How the live rows of closed ``quarter`` differ from its sealed pack, in words."""
    from portfolio.services.cycle import (
        pack_content,  # cycle closes quarters with this module's rules
    )

    label = quarter.label
    if quarter.approved_run is None:
        return [f"{label}: it no longer has an approved allocation (its sealed pack has one)"]
    try:
        now = json.loads(canonical_json(pack_content(uow, slug, label)))
    except (ValueError, LookupError, TypeError, PortfolioError) as exc:
        return [f"{label}: its rows cannot be read back to compare with the sealed pack ({exc})"]
    names: dict[str, str] = {str(c.id): str(c.name) for c in uow.candidates.all(slug)}

    def cand(c: Mapping[str, Any]) -> str:
        return names.get(str(c.get("candidate")), str(c.get("candidate")))

    out: list[str] = []
    for section, sealed in pack.items():
        if section in SKIPPED:
            continue
        live = now.get(section)
        if section == "changes":
            out += _items(
                label,
                "the allocation changes",
                live,
                sealed,
                lambda c: c.get("candidate"),
                lambda c: f"the allocation change for {cand(c)}",
            )
        elif section == "dissents":
            out += _items(
                label,
                "the dissents",
                live,
                sealed,
                lambda d: (d.get("author"), d.get("created_at")),
                lambda d: f"the dissent by {d.get('author')}",
            )
        elif section == "overrides":
            if live != sealed:
                out.append(_differs(label, "the CEO's locks and exclusions", live, sealed))
        elif section == "inputs" and isinstance(sealed, dict):
            out += _inputs(label, live if isinstance(live, dict) else {}, sealed, cand, names)
        elif isinstance(sealed, dict) and isinstance(live, dict):
            for k, value in sealed.items():
                if live.get(k) != value:
                    what = WORDS.get((section, k), f"{section} {k}".replace("_", " "))
                    out.append(_differs(label, what, live.get(k), value))
        elif live != sealed:
            what = {"update": "the published update"}.get(section, section.replace("_", " "))
            out.append(_differs(label, what, live, sealed))
    return out


def _inputs(
    label: str,
    now: Mapping[str, Any],
    sealed: Mapping[str, Any],
    cand: Callable[[Mapping[str, Any]], str],
    names: Mapping[str, str],
) -> list[str]:
    out: list[str] = []
    for part, frozen in sealed.items():
        live = now.get(part)
        if part == "scores":
            out += _items(
                label,
                "the council's scores",
                live,
                frozen,
                lambda s: (s.get("member"), s.get("candidate"), s.get("option")),
                lambda s: f"{s.get('member')}'s score for {cand(s)} ({s.get('option')})",
            )
        elif part == "aggregates":
            out += _items(
                label,
                "the pooled estimates",
                live,
                frozen,
                lambda a: (a.get("candidate"), a.get("option")),
                lambda a: f"the pooled estimate for {cand(a)} ({a.get('option')})",
            )
        elif part == "evidence":
            out += _items(
                label,
                "the evidence",
                live,
                frozen,
                lambda e: (e.get("candidate"), e.get("date"), e.get("kind"), e.get("summary")),
                lambda e: f"the evidence on {cand(e)} of {e.get('date')} ({e.get('summary')})",
            )
        elif part == "spend":
            out += _items(
                label,
                "the spend recorded",
                live,
                frozen,
                lambda s: (
                    s.get("candidate"),
                    s.get("option"),
                    s.get("envelope"),
                    s.get("year"),
                    s.get("recorded_at"),
                ),
                lambda s: (
                    f"the spend of £{s.get('amount')}m on {cand(s)} ({s.get('option')}, "
                    f"{s.get('envelope')}, {s.get('year')})"
                ),
            )
        elif part == "contracts":
            out += _contracts(label, live, frozen, names)
        elif live != frozen:
            out.append(_differs(label, f"the inputs' {part}", live, frozen))
    return out
