"""What the public sees without signing in: published quarterly updates and their open data."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import UowDep
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import NotFound
from portfolio.domain.model import QuarterlyUpdate, Sector
from portfolio.domain.quarterly_update import SECTOR_WORDS
from portfolio.domain.rag import RAG_LABELS, RAG_SOURCE, RAG_WORDING
from portfolio.services import history, publication
from portfolio.services.csvio import to_csv

router = APIRouter(include_in_schema=False)


def _label(quarter: str) -> str:
    """Accept ``2026-27 Q3`` and the URL-friendly ``2026-27-Q3``."""
    return quarter.replace("-Q", " Q")


def _published(uow: SqlUnitOfWork, slug: str, quarter: str) -> QuarterlyUpdate:
    if not uow.missions.exists(slug):
        raise NotFound("there is no such mission")
    label = _label(quarter)
    for update in publication.published_quarters(uow, slug):
        if update.quarter == label:
            return update
    raise NotFound(f"no update has been published for {label}")


def _seal_json(uow: SqlUnitOfWork, slug: str, label: str) -> dict[str, object] | None:
    seal = history.published_seal(uow, slug, label)
    if seal is None:
        return None
    return {
        "quarter": seal.quarter,
        "seal": seal.seal,
        "audit_entries": seal.audit_entries,
        "algorithm": "HMAC-SHA-256 under the server's key, chained quarter to quarter",
    }


def _sector_words(sector: Sector | None) -> str:
    """A dissent is published with its author's sector, never their name."""
    return SECTOR_WORDS.get(sector, "a council member") if sector else "a council member"


def _url_quarter(label: str) -> str:
    """``2026-27 Q3`` as it appears in a public address: ``2026-27-Q3``."""
    return label.replace(" ", "-")


@router.get("/public")
def front_door(request: Request, uow: UowDep) -> Response:
    """The public's way in (no sign-in): every mission with its published quarterly updates,
    newest first, and each update's allocation as open data. Drafts never appear: only what
    ``publication.published_quarters`` says was published."""
    missions = []
    for mission in uow.missions.all():
        published = list(reversed(publication.published_quarters(uow, mission.slug)))
        missions.append(
            {
                "mission": mission,
                "updates": [
                    {
                        "letter": u,
                        "url": f"/missions/{mission.slug}/updates/{_url_quarter(u.quarter)}",
                        "rag": uow.missions.quarter(mission.slug, u.quarter).rag_shown,
                    }
                    for u in published
                ],
            }
        )
    return render(request, "public/index.html", {"missions": missions, "rag_labels": RAG_LABELS})


@router.get("/missions/{slug}/updates")
def updates(request: Request, slug: str, uow: UowDep) -> Response:
    if not uow.missions.exists(slug):
        raise NotFound("there is no such mission")
    mission = uow.missions.get(slug)
    published = publication.published_quarters(uow, slug)
    ratings = {u.quarter: uow.missions.quarter(slug, u.quarter).rag_shown for u in published}
    return render(
        request,
        "public/updates.html",
        {
            "public_mission": mission,
            "updates": list(reversed(published)),
            "ratings": ratings,
            "rag_labels": RAG_LABELS,
        },
    )


@router.get("/missions/{slug}/updates/{quarter}")
def update(request: Request, slug: str, quarter: str, uow: UowDep) -> Response:
    letter = _published(uow, slug, quarter)
    q = uow.missions.quarter(slug, letter.quarter)
    sectors = {m.username: m.sector for m in uow.missions.council(slug)}
    rows = publication.public_allocation(uow, slug, letter.quarter)
    by_platform: dict[str, float] = {}
    for r in rows:
        by_platform[r["platform"]] = by_platform.get(r["platform"], 0.0) + r["amount_m"]
    return render(
        request,
        "public/update.html",
        {
            "public_mission": uow.missions.get(slug),
            "letter": letter,
            "quarter": q,
            "rag": q.rag_shown,
            "rag_labels": RAG_LABELS,
            "rag_wording": RAG_WORDING,
            "rag_source": RAG_SOURCE,
            "dissents": [
                (_sector_words(sectors.get(d.author)), d)
                for d in uow.cycle.dissents(slug, letter.quarter)
            ],
            "by_platform": dict(sorted(by_platform.items(), key=lambda kv: -kv[1])),
            "total": sum(by_platform.values()),
            "url_quarter": _url_quarter(letter.quarter),
            "seal": history.published_seal(uow, slug, letter.quarter),
        },
    )


@router.get("/missions/{slug}/updates/{quarter}/allocation.csv")
def allocation_csv(slug: str, quarter: str, uow: UowDep) -> Response:
    letter = _published(uow, slug, quarter)
    rows = publication.public_allocation(uow, slug, letter.quarter)
    body = to_csv(rows, publication.PUBLIC_COLUMNS)
    name = f"{slug}-{letter.quarter.replace(' ', '-')}-allocation.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/missions/{slug}/updates/{quarter}/allocation.json")
def allocation_json(slug: str, quarter: str, uow: UowDep) -> Response:
    letter = _published(uow, slug, quarter)
    q = uow.missions.quarter(slug, letter.quarter)
    document = {
        "mission": slug,
        "quarter": letter.quarter,
        "rag": q.rag_shown.value if q.rag_shown else None,
        "published_at": letter.published_at.isoformat() if letter.published_at else None,
        "unit": "GBP million",
        "risk": publication.public_risk(uow, slug, letter.quarter),
        "allocation": publication.public_allocation(uow, slug, letter.quarter),
        # the seal of the history up to this quarter (or the latest sealed one before it): keep
        # it, and `mission-portfolio verify MISSION --against-published FILE` checks it later
        "history_seal": _seal_json(uow, slug, letter.quarter),
    }
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n", media_type="application/json"
    )
