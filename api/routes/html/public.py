"""What the public sees without signing in: published quarterly updates and their open data."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import UowDep
from api.downloads import CSV, attachment, quarter_file
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import QuarterlyUpdate
from portfolio.domain.rag import RAG_LABELS, RAG_SOURCE, RAG_WORDING
from portfolio.services import history, public_view, publication
from portfolio.services.csvio import to_csv

router = APIRouter(include_in_schema=False)


def _published(uow: SqlUnitOfWork, slug: str, quarter: str) -> QuarterlyUpdate:
    return public_view.published(uow, slug, quarter)


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


@router.get("/public")
def front_door(request: Request, uow: UowDep) -> Response:
    """The public's way in (no sign-in): every mission with its published quarterly updates,
    newest first, and each update's allocation as open data (``public_view.public_index``)."""
    view = public_view.public_index(uow)
    return render(
        request, "public/index.html", {"missions": view.missions, "rag_labels": RAG_LABELS}
    )


@router.get("/missions/{slug}/updates")
def updates(request: Request, slug: str, uow: UowDep) -> Response:
    view = public_view.mission_updates(uow, slug)
    return render(
        request,
        "public/updates.html",
        {
            "public_mission": view.mission,
            "updates": [u.letter for u in view.updates],
            "ratings": {u.letter.quarter: u.rag for u in view.updates},
            "rag_labels": RAG_LABELS,
        },
    )


@router.get("/missions/{slug}/updates/{quarter}")
def update(request: Request, slug: str, quarter: str, uow: UowDep) -> Response:
    view = public_view.public_update(uow, slug, quarter)
    return render(
        request,
        "public/update.html",
        {
            "public_mission": view.mission,
            "letter": view.letter,
            "rating": view.rating,
            "rag": view.rating.shown,
            "rag_labels": RAG_LABELS,
            "rag_wording": RAG_WORDING,
            "rag_source": RAG_SOURCE,
            "dissents": [(d.sector, d) for d in view.dissents],
            "by_platform": view.by_platform,
            "total": view.total,
            "url_quarter": view.url_quarter,
            "seal": view.seal,
        },
    )


@router.get("/missions/{slug}/updates/{quarter}/allocation.csv")
def allocation_csv(slug: str, quarter: str, uow: UowDep) -> Response:
    letter = _published(uow, slug, quarter)
    rows = publication.public_allocation(uow, slug, letter.quarter)
    body = to_csv(rows, publication.PUBLIC_COLUMNS)
    return attachment(body, CSV, quarter_file(slug, letter.quarter, "allocation.csv"))


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
