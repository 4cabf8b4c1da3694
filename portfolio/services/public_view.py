"""What the public sees without signing in, built once: the public pages render these views and
the JSON API returns them. Only what was published, and only what is published about it: a
mission's name and target, its published letters, their delivery confidence, each dissent by its
author's sector (never their name), spend by platform and the seal of the history. Drafts never
appear (``publication.published_quarters``)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import NotFound
from portfolio.domain.model import Mission, QuarterlyUpdate, Sector
from portfolio.domain.quarterly_update import SECTOR_WORDS
from portfolio.domain.rag import Rag
from portfolio.services import history, publication


class PublicMission(BaseModel):
    slug: str
    name: str
    target: float
    unit: str
    deadline: dt.date


class PublicLetter(BaseModel):
    quarter: str
    body: str = Field(description="the letter, in the product's plain-text markup")
    published_at: dt.datetime | None


class PublicUpdateEntry(BaseModel):
    letter: PublicLetter
    url: str = Field(description="the update's public page")
    rag: Rag | None = Field(description="the delivery confidence published with it")


class PublicMissionUpdates(BaseModel):
    mission: PublicMission
    updates: list[PublicUpdateEntry] = Field(description="newest first")


class PublicIndex(BaseModel):
    missions: list[PublicMissionUpdates]


class PublicRating(BaseModel):
    shown: Rag | None = Field(description="the published rating: the override, else computed")
    computed: Rag | None = Field(description="computed from out-of-sample P(target)")
    overridden: bool = Field(description="the Mission CEO overrode the computed rating")
    reason: str = Field(description="the Mission CEO's justification of an override")


class PublicSeal(BaseModel):
    quarter: str = Field(description="the latest sealed quarter up to the update's")
    seal: str | None = Field(
        description="the keyed seal (HMAC-SHA-256), chained quarter to quarter"
    )
    audit_entries: int | None = Field(
        description="how many of the mission's audit entries the seal vouches for"
    )


class PublicDissent(BaseModel):
    sector: str = Field(description="the author's sector in words (never their name)")
    text: str


class PublicUpdate(BaseModel):
    mission: PublicMission
    letter: PublicLetter
    url_quarter: str = Field(description="the quarter as written in addresses: 2026-27-Q3")
    rating: PublicRating
    dissents: list[PublicDissent]
    by_platform: dict[str, float] = Field(description="platform -> £m, largest first")
    total: float = Field(description="£m")
    seal: PublicSeal | None = Field(
        description="the seal of the history up to this quarter (or the latest sealed one before "
        "it); none before the first quarter closes"
    )


def label_of(quarter: str) -> str:
    """Accept ``2026-27 Q3`` and the URL-friendly ``2026-27-Q3``."""
    return quarter.replace("-Q", " Q")


def url_quarter(label: str) -> str:
    """``2026-27 Q3`` as it appears in a public address: ``2026-27-Q3``."""
    return label.replace(" ", "-")


def sector_words(sector: Sector | None) -> str:
    """A dissent is published with its author's sector, never their name."""
    return SECTOR_WORDS.get(sector, "a council member") if sector else "a council member"


def _mission(mission: Mission) -> PublicMission:
    return PublicMission(
        slug=mission.slug,
        name=mission.name,
        target=mission.target,
        unit=mission.unit,
        deadline=mission.deadline,
    )


def _letter(update: QuarterlyUpdate) -> PublicLetter:
    return PublicLetter(quarter=update.quarter, body=update.body, published_at=update.published_at)


def published(uow: UnitOfWork, slug: str, quarter: str) -> QuarterlyUpdate:
    """The published update of ``quarter``; NotFound for no such mission or no such update."""
    if not uow.missions.exists(slug):
        raise NotFound("there is no such mission")
    label = label_of(quarter)
    for update in publication.published_quarters(uow, slug):
        if update.quarter == label:
            return update
    raise NotFound(f"no update has been published for {label}")


def mission_updates(uow: UnitOfWork, slug: str) -> PublicMissionUpdates:
    """A mission's published updates, newest first (NotFound for no such mission)."""
    if not uow.missions.exists(slug):
        raise NotFound("there is no such mission")
    return PublicMissionUpdates(
        mission=_mission(uow.missions.get(slug)),
        updates=[
            PublicUpdateEntry(
                letter=_letter(u),
                url=f"/missions/{slug}/updates/{url_quarter(u.quarter)}",
                rag=uow.missions.quarter(slug, u.quarter).rag_shown,
            )
            for u in reversed(publication.published_quarters(uow, slug))
        ],
    )


def public_index(uow: UnitOfWork) -> PublicIndex:
    """Every mission with its published updates."""
    return PublicIndex(missions=[mission_updates(uow, m.slug) for m in uow.missions.all()])


def public_update(uow: UnitOfWork, slug: str, quarter: str) -> PublicUpdate:
    """The published update of ``quarter`` with its open data."""
    letter = published(uow, slug, quarter)
    q = uow.missions.quarter(slug, letter.quarter)
    sectors = {m.username: m.sector for m in uow.missions.council(slug)}
    by_platform: dict[str, float] = {}
    for row in publication.public_allocation(uow, slug, letter.quarter):
        by_platform[row["platform"]] = by_platform.get(row["platform"], 0.0) + row["amount_m"]
    return PublicUpdate(
        mission=_mission(uow.missions.get(slug)),
        letter=_letter(letter),
        url_quarter=url_quarter(letter.quarter),
        rating=PublicRating(
            shown=q.rag_shown,
            computed=q.rag,
            overridden=q.rag_override is not None,
            reason=q.rag_reason,
        ),
        dissents=[
            PublicDissent(sector=sector_words(sectors.get(d.author)), text=d.text)
            for d in uow.cycle.dissents(slug, letter.quarter)
        ],
        by_platform=dict(sorted(by_platform.items(), key=lambda kv: -kv[1])),
        total=sum(by_platform.values()),
        seal=PublicSeal(quarter=seal.quarter, seal=seal.seal, audit_entries=seal.audit_entries)
        if (seal := history.published_seal(uow, slug, letter.quarter))
        else None,
    )
