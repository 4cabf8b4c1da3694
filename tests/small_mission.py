"""A small mission written through the services, on any unit of work (the in-memory one of
tests/unit/portfolio/test_services_fake_uow.py, or ``SqlUnitOfWork`` in
tests/integration/test_fake_uow_parity.py):

    seed_mission(uow)   # users, roles, council, an open quarter, candidate "alpha"

``alpha`` has two options: ``base`` (£20m, under the Delegated Authority Limit of £50m) and
``big`` (£80m, above it)."""

from __future__ import annotations

import datetime as dt

from optimiser.pert import ThreePoint
from optimiser.result import FundingRow, Metrics, MetricsPair, Result, SolverInfo
from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.model import (
    Candidate,
    Confidence,
    CouncilMember,
    Envelope,
    FundingOption,
    Mission,
    OptimiserRun,
    OrganisationType,
    Quarter,
    Role,
    Score,
    Sector,
    Tier,
    User,
)
from portfolio.services import missions as services

SLUG = "small-mission"
YEARS = ["2026-27", "2027-28"]
QUARTER = "2026-27 Q1"
NOW = dt.datetime(2026, 5, 1, 9, 0)
ADMIN, CEO, TREASURY, ANNA, BEN = "admin", "carol", "tess", "anna", "ben"


def a_mission(**changes: object) -> Mission:
    mission = Mission(
        slug=SLUG,
        name="A small mission",
        target=1.0,
        deadline=dt.date(2028, 3, 31),
        years=YEARS,
        dal=50.0,
        envelopes=[Envelope(id="core", name="Core budget", budget=dict.fromkeys(YEARS, 100.0))],
    )
    return mission.with_changes(**changes) if changes else mission


def a_candidate(key: str = "alpha", **changes: object) -> Candidate:
    candidate = Candidate(
        id=key,
        name=f"Candidate {key.title()}",
        organisation="Example Ltd",
        organisation_type=OrganisationType.incumbent,
        platform="hefa",
        tier=Tier.conventional,
        trl=6,
        eligible_envelopes=["core"],
        options=[
            FundingOption(
                id="base",
                name="Base",
                cost_profile=dict.fromkeys(YEARS, 10.0),
                p_success=0.5,
                impact=ThreePoint(low=0.1, most_likely=0.5, high=1.0),
            ),
            FundingOption(
                id="big",
                name="Big",
                cost_profile=dict.fromkeys(YEARS, 40.0),
                p_success=0.4,
                impact=ThreePoint(low=0.2, most_likely=1.0, high=2.0),
            ),
        ],
    )
    return candidate.with_changes(**changes) if changes else candidate


def seed_mission(uow: UnitOfWork) -> None:
    """Users without passwords (hashing one takes a second), the mission, its CEO, Treasury
    reviewer and council (anna: academia, ben: business), quarter QUARTER and ``alpha``."""
    for username in (ADMIN, CEO, TREASURY, ANNA, BEN):
        user = User(username=username, display_name=username.title(), is_admin=username == ADMIN)
        services.create_user(uow, "system", user, None)
    services.create_mission(uow, ADMIN, a_mission())
    services.assign_role(uow, ADMIN, SLUG, CEO, Role.mission_ceo)
    services.assign_role(uow, ADMIN, SLUG, TREASURY, Role.treasury_reviewer)
    for member, sector in ((ANNA, Sector.academia), (BEN, Sector.business)):
        services.assign_role(uow, ADMIN, SLUG, member, Role.council_member)
        services.set_council_member(uow, ADMIN, SLUG, CouncilMember(username=member, sector=sector))
    uow.missions.add_quarter(SLUG, Quarter(label=QUARTER))
    services.register_candidate(uow, CEO, SLUG, a_candidate())


def a_score(member: str, option: str, **changes: object) -> Score:
    """``member``'s complete score of ``alpha``'s ``option`` in QUARTER (a draft)."""
    values: dict[str, object] = {
        "member": member,
        "quarter": QUARTER,
        "candidate": "alpha",
        "option": option,
        "p_success": 0.6,
        "cost": ThreePoint(low=15, most_likely=20, high=30),
        "impact": ThreePoint(low=0.2, most_likely=0.5, high=0.9),
        "trl": 6,
        "confidence": Confidence.medium,
    }
    return Score.model_validate({**values, **changes})


def a_run(uow: UnitOfWork, p_target: float, option: str | None = "base") -> int:
    """A finished optimiser run of QUARTER funding ``alpha``'s ``option`` (nothing when None),
    with out-of-sample P(target) ``p_target``; its id."""
    result = Result(
        status="optimal",
        selected={"alpha": option} if option else {},
        funding=[
            FundingRow(candidate="alpha", option=option, envelope="core", year=y, amount=10.0)
            for y in YEARS
            if option
        ],
        metrics=MetricsPair(
            out_of_sample=Metrics(p_target=p_target, expected_impact=1.0, cvar_shortfall=0.0)
        ),
        solver=SolverInfo(name="highs", version="1", seconds=0.1),
    )
    run = OptimiserRun(
        mission=SLUG,
        quarter=QUARTER,
        objective="p_target",
        started_by=CEO,
        created_at=NOW,
        problem={},
        result=result,
    )
    run_id = uow.runs.add(SLUG, run)  # queued; the solve then records its result
    uow.runs.update(run_id, status="optimal", result=run.result_document(), finished_at=NOW)
    return run_id
