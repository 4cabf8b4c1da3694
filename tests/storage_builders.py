"""Building blocks of the storage tests: a fresh migrated database and a small mission with one
candidate, written through the repositories."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from portfolio.adapters import database
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import (
    Candidate,
    Confidence,
    CouncilMember,
    Envelope,
    FundingOption,
    Mission,
    OrganisationType,
    Quarter,
    Role,
    Score,
    ScoreStatus,
    Sector,
    ThreePoint,
    Tier,
    User,
)

SLUG = "test-mission"
YEARS = ["2026-27", "2027-28", "2028-29"]


@pytest.fixture(name="engine")
def fresh_engine(empty_db_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated, empty database; disposed before the database is dropped."""
    engine = database.make_engine(empty_db_url)
    yield engine
    engine.dispose()


def a_mission(**changes: object) -> Mission:
    mission = Mission(
        slug=SLUG,
        name="A test mission",
        description="Figures are made up.",
        target=4.5,
        unit="MtCO2e/yr",
        deadline=dt.date(2029, 3, 31),
        years=YEARS,
        envelopes=[
            Envelope(
                id="sbc",
                name="Single business case",
                budget={"2026-27": 10.0, "2027-28": 12.25, "2028-29": 0.0},
            ),
            Envelope(id="ukri", name="UKRI", budget={"2027-28": 3.5}, min_spend=1.5),
        ],
        dal=40.0,
        dal_mode="cap",
    )
    return mission.model_copy(update=changes)


def a_candidate(key: str = "h2-combustion", **changes: object) -> Candidate:
    candidate = Candidate(
        id=key,
        name="Hydrogen combustion demonstrator",
        description="A made-up candidate.",
        organisation="Fictional Aero Ltd",
        organisation_type=OrganisationType.rising_star,
        platform="hydrogen",
        tier=Tier.moonshot,
        trl=3,
        eligible_envelopes=["sbc", "ukri"],
        ncr=True,
        treasury_approved=False,
        commercially_sensitive=True,
        registered_by="council1",
        options=[
            FundingOption(
                id="explore",
                name="Exploration",
                cost_profile={"2026-27": 1.5, "2027-28": 0.75},
                cost_range=None,
                p_success=0.2,
                impact=ThreePoint(low=0.01, most_likely=0.05, high=0.125),
            ),
            FundingOption(
                id="demonstrate",
                name="Demonstrator",
                cost_profile={"2026-27": 3.0, "2027-28": 6.0, "2028-29": 4.5},
                cost_range=ThreePoint(low=12.0, most_likely=13.5, high=21.6),
                p_success=0.35,
                impact=ThreePoint(low=0.1, most_likely=0.3, high=0.55),
            ),
        ],
    )
    return candidate.model_copy(update=changes)


def a_score(**changes: object) -> Score:
    score = Score(
        member="council1",
        quarter="2026-27 Q3",
        candidate="h2-combustion",
        option="demonstrate",
        status=ScoreStatus.submitted,
        p_success=0.31,
        cost=ThreePoint(low=11.0, most_likely=14.0, high=20.5),
        impact=ThreePoint(low=0.12, most_likely=0.25, high=0.6),
        trl=4,
        confidence=Confidence.medium,
        rationale="Rig results look plausible.",
    )
    return score.model_copy(update=changes)


def given_a_mission_with_a_candidate(engine: Engine, quarters: list[str] | None = None) -> None:
    """A mission, the users ceo and council1 (a council member), a candidate and quarters."""
    with SqlUnitOfWork(engine) as uow:
        uow.users.add(User(username="ceo", display_name="The CEO"), None)
        uow.users.add(User(username="council1", display_name="Dr One"), "hash-1")
        uow.missions.add(a_mission())
        uow.missions.assign(SLUG, "council1", Role.council_member)
        uow.missions.set_council_member(
            SLUG, CouncilMember(username="council1", sector=Sector.academia)
        )
        uow.candidates.add(SLUG, a_candidate())
        for label in quarters or ["2026-27 Q3"]:
            uow.missions.add_quarter(SLUG, Quarter(label=label))
        uow.commit()
