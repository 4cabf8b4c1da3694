"""The demo mission "Carbon-neutral UK air travel by 2030", built deterministically.

Every figure here is invented for demonstration: organisations are fictional, costs, probabilities
and impacts are illustrative. The document is the same on every call (fixed seed, fixed dates).

Fixtures worth knowing about when testing council flags:

* ``lh2-tank`` is scored only by the two academia members (everybody else marks themselves not
  competent), so it is scored by a single sector and by fewer than three members.
* ``dac-fischer-tropsch`` divides the council: academia is optimistic and business pessimistic, so
  the spread of ``p_success`` among submitted scores exceeds 0.25 in every quarter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from portfolio.adapters.exchange import MemberRole, MissionDocument
from portfolio.domain.model import (
    Candidate,
    Challenge,
    Confidence,
    CouncilMember,
    Envelope,
    Evidence,
    EvidenceKind,
    FundingOption,
    Mission,
    OrganisationType,
    Quarter,
    QuarterState,
    Role,
    Score,
    ScoreStatus,
    ScoringState,
    Sector,
    SeedAnswer,
    SeedQuestion,
    ThreePoint,
    Tier,
    User,
)

DEMO_SLUG = "uk-air-travel"
DEMO_SEED = 2026

# The mission started in the third quarter of 2025-26 with a half-year budget: four quarters have
# been run and closed (their spend recorded), the fifth is open.
YEARS = ["2025-26", "2026-27", "2027-28", "2028-29", "2029-30"]
CLOSED_QUARTERS = ["2025-26 Q3", "2025-26 Q4", "2026-27 Q1", "2026-27 Q2"]
CURRENT_QUARTER = "2026-27 Q3"

# Share of an option's planned total spent in each mission year from its first, by option kind:
# exploration can start in the mission's first half-year, demonstrators and plants from the first
# full year.
_PROFILE_SHAPES: dict[str, tuple[int, tuple[float, ...]]] = {
    "explore": (0, (0.6, 0.4)),
    "demonstrate": (1, (0.2, 0.35, 0.3, 0.15)),
    "scale": (1, (0.1, 0.2, 0.35, 0.35)),
}

# username, display name, sector
_COUNCIL: list[tuple[str, str, Sector]] = [
    ("council1", "Dr Asha Patel (academia)", Sector.academia),
    ("council2", "Prof. Tomasz Nowicki (academia)", Sector.academia),
    ("council3", "Gareth Pryce-Evans (business)", Sector.business),
    ("council4", "Priya Raman (business)", Sector.business),
    ("council5", "Siobhan Delaney (public sector)", Sector.public_sector),
    ("council6", "Dr Kwame Asante-Boateng (public sector)", Sector.public_sector),
    ("council7", "Eleanor Marsh-Whitby (civil society)", Sector.civil_society),
]


@dataclass(frozen=True)
class _Opt:
    id: str
    name: str
    cost: float  # planned total, £ million
    p: float
    impact: float  # most likely impact if it succeeds, MtCO2e/yr


@dataclass(frozen=True)
class _Cand:
    id: str
    name: str
    organisation: str
    org_type: OrganisationType
    platform: str
    tier: Tier
    trl: int
    ukri: bool
    registered_by: str
    description: str
    options: tuple[_Opt, ...]
    ncr: bool = False
    treasury_approved: bool = False
    commercially_sensitive: bool = False


_INC = OrganisationType.incumbent
_RS = OrganisationType.rising_star
_CONV = Tier.conventional
_MOON = Tier.moonshot

_CANDIDATES: tuple[_Cand, ...] = (
    _Cand(
        "northsea-hefa",
        "Humber waste-oil HEFA refinery",
        "Humberline Renewable Fuels Ltd",
        _INC,
        "hefa-saf",
        _CONV,
        8,
        False,
        "council3",
        "Hydroprocessed esters and fatty acids (HEFA) jet fuel from used cooking oil and tallow "
        "at a converted refinery unit.",
        (
            _Opt("demonstrate", "Demonstrate: co-processing trial at 50 kt/yr", 45, 0.80, 1.2),
            _Opt("scale", "Scale: dedicated 250 kt/yr HEFA unit", 160, 0.70, 4.5),
        ),
        treasury_approved=True,
    ),
    _Cand(
        "tallow-to-jet",
        "Category 1 tallow to jet",
        "Cumbrian Biorefineries Ltd",
        _RS,
        "hefa-saf",
        _CONV,
        7,
        True,
        "council4",
        "Small modular HEFA plants fed by rendering-industry tallow, sited next to the feedstock.",
        (
            _Opt("explore", "Explore: feedstock survey and modular design", 8, 0.80, 0.3),
            _Opt("demonstrate", "Demonstrate: first 20 kt/yr modular plant", 35, 0.70, 0.9),
        ),
    ),
    _Cand(
        "atj-teesside",
        "Teesside ethanol-to-jet",
        "Teesvale Alcohol-to-Jet plc",
        _INC,
        "alcohol-to-jet",
        _CONV,
        6,
        False,
        "council3",
        "Alcohol-to-jet conversion of imported and UK-grown bioethanol at an existing chemicals "
        "site.",
        (
            _Opt("demonstrate", "Demonstrate: 30 kt/yr demonstration train", 50, 0.60, 1.0),
            _Opt("scale", "Scale: 150 kt/yr commercial plant", 140, 0.50, 3.5),
        ),
    ),
    _Cand(
        "cellulosic-atj",
        "Straw-to-jet via cellulosic ethanol",
        "Fenland Cellulose Labs Ltd",
        _RS,
        "alcohol-to-jet",
        _MOON,
        4,
        True,
        "council1",
        "Enzymatic conversion of wheat straw to ethanol, then to jet fuel; avoids food-crop "
        "feedstock.",
        (
            _Opt("explore", "Explore: enzyme cocktail and pre-treatment pilot", 10, 0.50, 0.4),
            _Opt("demonstrate", "Demonstrate: integrated straw-to-jet pilot", 40, 0.35, 1.5),
        ),
    ),
    _Cand(
        "ptl-orkney",
        "Orkney wind-to-kerosene",
        "Orkney Power-to-Liquid Co-operative",
        _RS,
        "e-saf",
        _MOON,
        4,
        True,
        "council7",
        "Power-to-liquid synthetic kerosene from curtailed island wind, electrolytic hydrogen and "
        "biogenic CO2.",
        (
            _Opt("explore", "Explore: electrolyser and synthesis front-end design", 12, 0.50, 0.3),
            _Opt("demonstrate", "Demonstrate: 5 MW integrated pilot", 55, 0.35, 1.2),
            _Opt("scale", "Scale: 100 MW e-kerosene plant", 150, 0.25, 4.0),
        ),
    ),
    _Cand(
        "e-kerosene-forth",
        "Forth estuary e-kerosene",
        "Forthgate Synthetic Fuels Ltd",
        _INC,
        "e-saf",
        _CONV,
        5,
        False,
        "council4",
        "Reverse water-gas shift and Fischer-Tropsch synthesis using industrial CO2 from a "
        "neighbouring cement works.",
        (
            _Opt("demonstrate", "Demonstrate: 10 kt/yr Fischer-Tropsch unit", 60, 0.45, 1.5),
            _Opt("scale", "Scale: 80 kt/yr first-of-a-kind plant", 180, 0.35, 5.5),
        ),
        ncr=True,
        commercially_sensitive=True,
    ),
    _Cand(
        "dac-fischer-tropsch",
        "Direct-air-capture jet fuel",
        "Carbonloop Aviation Ltd",
        _RS,
        "e-saf",
        _MOON,
        3,
        True,
        "council2",
        "University spin-out combining low-temperature direct air capture with a compact "
        "Fischer-Tropsch reactor.",
        (
            _Opt("explore", "Explore: sorbent lifetime and reactor bench tests", 6, 0.35, 0.2),
            _Opt("demonstrate", "Demonstrate: containerised 1 t/day pilot", 30, 0.20, 1.0),
        ),
    ),
    _Cand(
        "h2-turbine-derby",
        "Hydrogen-burning turbofan core",
        "Trentside Aero Propulsion plc",
        _INC,
        "hydrogen-combustion",
        _MOON,
        4,
        False,
        "council3",
        "Lean-burn hydrogen combustor for a narrow-body turbofan core, with NOx control.",
        (
            _Opt("explore", "Explore: combustor sector rig", 15, 0.45, 0.3),
            _Opt("demonstrate", "Demonstrate: full engine ground test", 70, 0.30, 1.0),
            _Opt("scale", "Scale: flight-test programme on a testbed aircraft", 200, 0.15, 6.0),
        ),
        treasury_approved=True,
    ),
    _Cand(
        "lh2-tank",
        "Conformal liquid-hydrogen tank",
        "Cryoform Structures Ltd",
        _RS,
        "hydrogen-combustion",
        _MOON,
        3,
        True,
        "council1",
        "Linerless carbon-composite cryogenic tank for liquid hydrogen, integrated into the "
        "fuselage.",
        (
            _Opt("explore", "Explore: coupon cryogenic cycling", 7, 0.40, 0.15),
            _Opt("demonstrate", "Demonstrate: full-scale tank pressure test", 25, 0.25, 0.6),
        ),
    ),
    _Cand(
        "h2-airport-hub",
        "Regional airport hydrogen hub",
        "Solent Airports Group Ltd",
        _INC,
        "hydrogen-combustion",
        _CONV,
        6,
        False,
        "council5",
        "Liquid-hydrogen storage and refuelling at a regional airport, shared with ground "
        "vehicles and buses.",
        (_Opt("demonstrate", "Demonstrate: refuelling hub serving ground fleet", 35, 0.60, 0.4),),
        ncr=True,
    ),
    _Cand(
        "fc-regional-19",
        "19-seat fuel-cell regional aircraft",
        "Zephyrine Aerotech Ltd",
        _RS,
        "hydrogen-fuel-cell",
        _MOON,
        5,
        True,
        "council4",
        "Retrofit of a 19-seat turboprop with a hydrogen fuel-cell electric powertrain for "
        "island and regional routes.",
        (
            _Opt("explore", "Explore: powertrain iron bird", 10, 0.55, 0.2),
            _Opt("demonstrate", "Demonstrate: flight-test aircraft", 45, 0.40, 0.8),
            _Opt("scale", "Scale: certification and first route service", 110, 0.30, 2.0),
        ),
        commercially_sensitive=True,
    ),
    _Cand(
        "fc-stack-hd",
        "High-power-density fuel-cell stack",
        "Ceramic Power Systems plc",
        _INC,
        "hydrogen-fuel-cell",
        _CONV,
        6,
        False,
        "council3",
        "Aviation-rated proton-exchange membrane stack at over 3 kW/kg for regional aircraft.",
        (
            _Opt("demonstrate", "Demonstrate: 1 MW flight-weight stack", 30, 0.60, 0.5),
            _Opt("scale", "Scale: production line for 200 stacks a year", 75, 0.50, 1.2),
        ),
    ),
    _Cand(
        "ev-trainer",
        "Electric flight-training fleet",
        "Skylark Electric Aviation Ltd",
        _RS,
        "battery-electric",
        _CONV,
        6,
        True,
        "council6",
        "Battery-electric two-seat trainers for flying schools, replacing piston trainers.",
        (
            _Opt("explore", "Explore: fleet trial at two flying schools", 5, 0.80, 0.1),
            _Opt(
                "demonstrate", "Demonstrate: national training fleet of 60 aircraft", 18, 0.70, 0.25
            ),
        ),
    ),
    _Cand(
        "solid-state-cell",
        "Solid-state aviation battery cell",
        "Isis Cells Ltd",
        _RS,
        "battery-electric",
        _MOON,
        3,
        True,
        "council2",
        "Lithium-metal solid-state cells aiming at 500 Wh/kg for short-haul electric aircraft.",
        (
            _Opt("explore", "Explore: pouch-cell cycling to 500 cycles", 9, 0.40, 0.2),
            _Opt("demonstrate", "Demonstrate: flight-weight 100 kWh pack", 35, 0.25, 0.9),
        ),
    ),
    _Cand(
        "island-hopper-ev",
        "Electric island-hopper services",
        "Highland & Islands Air Services Ltd",
        _INC,
        "battery-electric",
        _CONV,
        7,
        False,
        "council5",
        "Battery-electric nine-seat aircraft on the shortest island routes, with airfield "
        "charging.",
        (
            _Opt("demonstrate", "Demonstrate: two routes with chargers", 22, 0.75, 0.3),
            _Opt("scale", "Scale: twelve routes across the islands", 55, 0.65, 0.6),
        ),
    ),
    _Cand(
        "hybrid-retrofit-atr",
        "Hybrid-electric turboprop retrofit",
        "Bristol Hybrid Aero Ltd",
        _INC,
        "hybrid-electric",
        _CONV,
        6,
        False,
        "council4",
        "Parallel hybrid retrofit of 70-seat turboprops, cutting fuel burn on regional routes.",
        (
            _Opt("demonstrate", "Demonstrate: flight demonstrator", 40, 0.60, 0.8),
            _Opt("scale", "Scale: supplemental type certificate and 30 retrofits", 95, 0.50, 1.8),
        ),
    ),
    _Cand(
        "distributed-propulsion",
        "Distributed electric propulsion wing",
        "Fanwing Dynamics Ltd",
        _RS,
        "hybrid-electric",
        _MOON,
        2,
        True,
        "council1",
        "Blown-wing distributed propulsion for very short take-off regional aircraft.",
        (
            _Opt("explore", "Explore: wind-tunnel campaign", 6, 0.30, 0.2),
            _Opt("demonstrate", "Demonstrate: sub-scale flying demonstrator", 28, 0.15, 1.0),
        ),
    ),
    _Cand(
        "contrail-routing",
        "Contrail-avoidance flight planning",
        "Met Horizon Analytics Ltd",
        _RS,
        "contrails",
        _CONV,
        6,
        True,
        "council6",
        "Forecasts of ice-supersaturated regions fed into airline flight planning to avoid "
        "persistent warming contrails.",
        (
            _Opt("explore", "Explore: trial with one airline", 4, 0.70, 0.4),
            _Opt("demonstrate", "Demonstrate: UK-wide trial with three airlines", 20, 0.55, 1.5),
            _Opt("scale", "Scale: operational service for all UK departures", 45, 0.45, 3.0),
        ),
    ),
    _Cand(
        "contrail-satellite-verify",
        "Satellite verification of contrail avoidance",
        "Orbital Contrail Observatory (university consortium)",
        _RS,
        "contrails",
        _MOON,
        4,
        True,
        "council2",
        "Geostationary and low-orbit imagery with machine learning to verify that avoided "
        "contrails were really avoided.",
        (
            _Opt("explore", "Explore: detection algorithm on archive imagery", 5, 0.60, 0.1),
            _Opt("demonstrate", "Demonstrate: near-real-time verification service", 18, 0.45, 0.5),
        ),
    ),
    _Cand(
        "low-aromatic-fuel",
        "Low-aromatic jet fuel blending",
        "Kestrel Fuel Blending plc",
        _INC,
        "contrails",
        _CONV,
        7,
        False,
        "council3",
        "Hydrotreated low-aromatic jet fuel that forms fewer soot particles and weaker contrails.",
        (
            _Opt("demonstrate", "Demonstrate: supply to one hub airport", 25, 0.70, 0.6),
            _Opt("scale", "Scale: supply to the five largest airports", 70, 0.55, 1.6),
        ),
    ),
    _Cand(
        "free-route-airspace",
        "Free-route upper airspace",
        "Airspace Modernisation Partnership",
        _INC,
        "airspace",
        _CONV,
        7,
        False,
        "council5",
        "Free-route operations above 25,000 ft, letting aircraft fly direct rather than along "
        "fixed airways.",
        (
            _Opt("demonstrate", "Demonstrate: northern sector live trial", 40, 0.75, 0.7),
            _Opt("scale", "Scale: national free-route airspace", 90, 0.65, 1.4),
        ),
    ),
    _Cand(
        "continuous-descent",
        "Continuous descent approaches",
        "Glidepath Systems Ltd",
        _RS,
        "airspace",
        _CONV,
        6,
        True,
        "council6",
        "Arrival management software enabling continuous descent with the engines near idle.",
        (
            _Opt("explore", "Explore: trial at two regional airports", 3, 0.85, 0.1),
            _Opt("demonstrate", "Demonstrate: roll-out to ten airports", 12, 0.75, 0.3),
        ),
    ),
    _Cand(
        "ai-atc-sequencing",
        "AI arrival sequencing",
        "Corvid Air Traffic AI Ltd",
        _RS,
        "airspace",
        _MOON,
        4,
        True,
        "council7",
        "Machine-learning arrival and departure sequencing that cuts holding and taxi fuel.",
        (
            _Opt("explore", "Explore: shadow-mode trial", 6, 0.50, 0.2),
            _Opt("demonstrate", "Demonstrate: live advisory at a hub airport", 26, 0.35, 0.7),
        ),
    ),
)

# Members who mark themselves not competent on a candidate (outside their expertise).
_NOT_COMPETENT: dict[str, frozenset[str]] = {
    "council1": frozenset({"free-route-airspace", "h2-airport-hub"}),
    "council2": frozenset({"island-hopper-ev"}),
    "council3": frozenset({"contrail-satellite-verify", "lh2-tank"}),
    "council4": frozenset({"lh2-tank", "continuous-descent"}),
    "council5": frozenset({"lh2-tank", "solid-state-cell", "dac-fischer-tropsch"}),
    "council6": frozenset({"lh2-tank", "distributed-propulsion", "cellulosic-atj"}),
    "council7": frozenset(
        {
            "lh2-tank",
            "fc-stack-hd",
            "solid-state-cell",
            "h2-turbine-derby",
            "distributed-propulsion",
        }
    ),
}

# The dividing candidate: a fixed offset to each member's p (academia optimistic, business not).
_DISAGREEMENT_CANDIDATE = "dac-fischer-tropsch"
_DISAGREEMENT_BIAS = {
    "council1": 0.28,
    "council2": 0.18,
    "council3": -0.12,
    "council4": -0.14,
    "council5": 0.0,
    "council6": 0.02,
    "council7": 0.05,
}

_RATIONALES: dict[str, tuple[str, ...]] = {
    "optimistic": (
        "Team has delivered comparable projects on time; supply chain is in place.",
        "Recent test results are better than the plan assumed.",
        "Strong offtake interest from airlines de-risks the commercial case.",
    ),
    "neutral": (
        "Plausible plan; main risk is schedule rather than technology.",
        "In line with the applicant's own estimate; no new information this quarter.",
        "Costs look reasonable against similar first-of-a-kind plants.",
    ),
    "pessimistic": (
        "Key component has not yet been shown at this scale; expect slippage.",
        "Cost estimate excludes grid connection and permitting risk.",
        "Certification pathway is long and the team has not done it before.",
    ),
}

_TRL_LIMITS = (1, 9)


def _round(value: float, places: int = 2) -> float:
    return float(round(float(value), places))


def _three_point(low: float, most_likely: float, high: float, places: int = 2) -> ThreePoint:
    ml = _round(most_likely, places)
    return ThreePoint(
        low=min(_round(low, places), ml), most_likely=ml, high=max(_round(high, places), ml)
    )


def _cost_profile(kind: str, total: float) -> dict[str, float]:
    first, shape = _PROFILE_SHAPES[kind]
    amounts = [_round(total * share) for share in shape[:-1]]
    amounts.append(_round(total - sum(amounts)))
    return dict(zip(YEARS[first:], amounts, strict=False))


def _option(cand: _Cand, opt: _Opt) -> FundingOption:
    overrun = 1.6 if cand.tier is Tier.moonshot else 1.3
    impact_low, impact_high = (0.4, 1.8) if cand.tier is Tier.moonshot else (0.6, 1.4)
    return FundingOption(
        id=opt.id,
        name=opt.name,
        cost_profile=_cost_profile(opt.id, opt.cost),
        cost_range=_three_point(0.92 * opt.cost, opt.cost, overrun * opt.cost),
        p_success=opt.p,
        impact=_three_point(impact_low * opt.impact, opt.impact, impact_high * opt.impact, 3),
    )


def _candidate(cand: _Cand) -> Candidate:
    return Candidate(
        id=cand.id,
        name=cand.name,
        description=cand.description,
        organisation=cand.organisation,
        organisation_type=cand.org_type,
        platform=cand.platform,
        tier=cand.tier,
        trl=cand.trl,
        eligible_envelopes=["sbc", "ukri"] if cand.ukri else ["sbc"],
        ncr=cand.ncr,
        treasury_approved=cand.treasury_approved,
        commercially_sensitive=cand.commercially_sensitive,
        registered_by=cand.registered_by,
        options=[_option(cand, opt) for opt in cand.options],
    )


def _mission() -> Mission:
    return Mission(
        slug=DEMO_SLUG,
        name="Carbon-neutral UK air travel by 2030",
        description=(
            "A technological innovation mission to cut the net climate impact of UK air travel "
            "by the end of the 2029-30 financial year, funding a hedged portfolio of sustainable "
            "aviation fuels, hydrogen and electric aircraft, contrail avoidance and airspace "
            "modernisation. The target is the annual abatement, in MtCO2e a year, that the "
            "funded solutions deliver once they succeed. Figures are illustrative, not real "
            "programme data."
        ),
        target=9.0,
        unit="MtCO2e/yr",
        deadline=dt.date(2030, 3, 31),
        years=list(YEARS),
        envelopes=[
            Envelope(
                id="sbc",
                name="Single business case",
                budget=dict(zip(YEARS, [30.0, 80.0, 120.0, 150.0, 150.0], strict=True)),
            ),
            Envelope(
                id="ukri",
                name="UKRI envelope",
                budget=dict(zip(YEARS, [10.0, 25.0, 30.0, 30.0, 30.0], strict=True)),
                min_spend=60.0,
            ),
        ],
        dal=50.0,
        dal_mode="flag",
    )


def _users() -> list[User]:
    users = [User(username="ceo", display_name="Morag Fairbairn (Mission CEO)")]
    users += [User(username=name, display_name=display) for name, display, _ in _COUNCIL]
    users.append(User(username="treasury", display_name="Daniel Okonjo (Treasury reviewer)"))
    users.append(User(username="admin", display_name="Site administrator", is_admin=True))
    return users


def _roles() -> list[MemberRole]:
    roles = [MemberRole(username="ceo", role=Role.mission_ceo)]
    roles += [MemberRole(username=name, role=Role.council_member) for name, _, _ in _COUNCIL]
    roles.append(MemberRole(username="treasury", role=Role.treasury_reviewer))
    return roles


def _score(
    rng: np.random.Generator,
    member: str,
    quarter: str,
    cand: _Cand,
    opt: _Opt,
    status: ScoreStatus,
) -> Score:
    if cand.id in _NOT_COMPETENT[member]:
        return Score(
            member=member,
            quarter=quarter,
            candidate=cand.id,
            option=opt.id,
            status=status,
            not_competent=True,
            rationale="Outside my expertise.",
        )
    if cand.id == _DISAGREEMENT_CANDIDATE:
        p_raw = opt.p + _DISAGREEMENT_BIAS[member] + rng.normal(0.0, 0.015)
    else:
        p_raw = opt.p + rng.normal(0.0, 0.045)
    p = _round(min(0.99, max(0.01, p_raw)), 3)
    cost_factor = float(np.exp(rng.normal(0.0, 0.1)))
    overrun = 1.6 if cand.tier is Tier.moonshot else 1.3
    cost_ml = opt.cost * cost_factor
    cost = _three_point(
        cost_ml * (0.85 + 0.1 * rng.random()), cost_ml, cost_ml * (overrun + 0.2 * rng.random())
    )
    impact_ml = opt.impact * float(np.exp(rng.normal(0.0, 0.15)))
    impact = _three_point(
        impact_ml * (0.4 + 0.2 * rng.random()),
        impact_ml,
        impact_ml * (1.3 + 0.5 * rng.random()),
        3,
    )
    trl = int(min(_TRL_LIMITS[1], max(_TRL_LIMITS[0], cand.trl + int(rng.integers(-1, 2)))))
    confidence = (Confidence.low, Confidence.medium, Confidence.high)[int(rng.integers(0, 3))]
    mood = "optimistic" if p > opt.p + 0.03 else "pessimistic" if p < opt.p - 0.03 else "neutral"
    texts = _RATIONALES[mood]
    rationale = texts[int(rng.integers(0, len(texts)))]
    return Score(
        member=member,
        quarter=quarter,
        candidate=cand.id,
        option=opt.id,
        status=status,
        p_success=p,
        cost=cost,
        impact=impact,
        trl=trl,
        confidence=confidence,
        rationale=rationale,
    )


def _scores() -> list[Score]:
    rng = np.random.default_rng(DEMO_SEED)
    scores: list[Score] = []
    members = [name for name, _, _ in _COUNCIL]
    first_year, this_year = CLOSED_QUARTERS[:2], CLOSED_QUARTERS[2:]
    for quarter in this_year:
        for member in members:
            for cand in _CANDIDATES:
                for opt in cand.options:
                    scores.append(_score(rng, member, quarter, cand, opt, ScoreStatus.submitted))
    early = np.random.default_rng(DEMO_SEED + 2)  # the first half-year's rounds, drawn apart
    for quarter in first_year:
        for member in members:
            for cand in _CANDIDATES:
                for opt in cand.options:
                    scores.append(_score(early, member, quarter, cand, opt, ScoreStatus.submitted))
    # Current quarter: council1-3 have submitted, council4 has submitted most but left two
    # candidates in draft, council5 has drafts for the first eight candidates only, and
    # council6 and council7 have not scored yet.
    council4_drafts = {"ai-atc-sequencing", "free-route-airspace"}
    for member in ("council1", "council2", "council3", "council4", "council5"):
        for index, cand in enumerate(_CANDIDATES):
            if member == "council5" and index >= 8:
                break
            draft = member == "council5" or (member == "council4" and cand.id in council4_drafts)
            status = ScoreStatus.draft if draft else ScoreStatus.submitted
            for opt in cand.options:
                scores.append(_score(rng, member, CURRENT_QUARTER, cand, opt, status))
    return scores


def _evidence() -> list[Evidence]:
    q3_first, q4_first, q1, q2 = CLOSED_QUARTERS
    k = EvidenceKind
    return [
        Evidence(
            candidate="distributed-propulsion",
            quarter=q3_first,
            kind=k.milestone_met,
            date=dt.date(2025, 11, 20),
            summary="Wind-tunnel model built and instrumented; first test slot booked",
            recorded_by="ceo",
        ),
        Evidence(
            candidate="contrail-routing",
            quarter=q4_first,
            kind=k.milestone_met,
            date=dt.date(2026, 2, 12),
            summary="Met Office humidity forecasts integrated with the flight-planning system",
            recorded_by="council6",
        ),
        Evidence(
            candidate="cellulosic-atj",
            quarter=q4_first,
            kind=k.cost_actuals,
            date=dt.date(2026, 3, 27),
            cost_actual=3.4,
            cost_planned=3.0,
            summary="Pre-treatment pilot commissioning ran over plan",
            recorded_by="ceo",
        ),
        Evidence(
            candidate="northsea-hefa",
            quarter=q1,
            kind=k.milestone_met,
            date=dt.date(2026, 5, 14),
            summary="Feedstock supply agreement signed for 120 kt/yr of waste oils",
            recorded_by="ceo",
        ),
        Evidence(
            candidate="contrail-routing",
            quarter=q1,
            kind=k.milestone_met,
            date=dt.date(2026, 5, 28),
            diagnosticity=2.0,
            summary="Airline trial of 1,200 flights cut persistent contrail distance by 55%",
            recorded_by="council6",
        ),
        Evidence(
            candidate="fc-regional-19",
            quarter=q1,
            kind=k.trl_change,
            date=dt.date(2026, 6, 2),
            trl=6,
            summary="Iron-bird ground test of the 600 kW fuel-cell powertrain completed",
            recorded_by="council1",
        ),
        Evidence(
            candidate="ptl-orkney",
            quarter=q1,
            kind=k.milestone_missed,
            date=dt.date(2026, 6, 10),
            diagnosticity=1.5,
            summary="Electrolyser delivery slipped by one quarter after a supplier insolvency",
            recorded_by="council3",
        ),
        Evidence(
            candidate="ev-trainer",
            quarter=q1,
            kind=k.stage_gate,
            date=dt.date(2026, 6, 20),
            outcome=True,
            summary="Gate 1 passed: certification basis agreed and fleet trial flown",
            recorded_by="council5",
        ),
        Evidence(
            candidate="atj-teesside",
            quarter=q1,
            kind=k.cost_actuals,
            date=dt.date(2026, 6, 30),
            cost_actual=6.8,
            cost_planned=5.5,
            summary="Q1 spend on front-end engineering design above plan",
            recorded_by="ceo",
        ),
        Evidence(
            candidate="lh2-tank",
            quarter=q2,
            kind=k.milestone_missed,
            date=dt.date(2026, 7, 22),
            diagnosticity=2.0,
            summary="Composite liner cracked in the third cryogenic cycling test",
            recorded_by="council1",
        ),
        Evidence(
            candidate="hybrid-retrofit-atr",
            quarter=q2,
            kind=k.milestone_met,
            date=dt.date(2026, 7, 30),
            summary="First flight of the hybrid-electric retrofit demonstrator",
            recorded_by="council4",
        ),
        Evidence(
            candidate="tallow-to-jet",
            quarter=q2,
            kind=k.milestone_met,
            date=dt.date(2026, 8, 12),
            summary="Fuel samples accepted for qualification testing",
            recorded_by="council2",
        ),
        Evidence(
            candidate="distributed-propulsion",
            quarter=q2,
            kind=k.stage_gate,
            date=dt.date(2026, 8, 19),
            outcome=False,
            summary="Gate 1 failed: wind-tunnel results showed no lift gain over the baseline wing",
            recorded_by="council2",
        ),
        Evidence(
            candidate="free-route-airspace",
            quarter=q2,
            kind=k.cost_actuals,
            date=dt.date(2026, 8, 31),
            cost_actual=4.1,
            cost_planned=4.5,
            summary="Design-phase spend slightly under plan",
            recorded_by="ceo",
        ),
        Evidence(
            candidate="h2-turbine-derby",
            quarter=q2,
            kind=k.trl_change,
            date=dt.date(2026, 9, 8),
            trl=5,
            summary="Full-annular combustor rig run on 100% hydrogen at take-off power",
            recorded_by="council3",
        ),
        Evidence(
            candidate="continuous-descent",
            quarter=q2,
            kind=k.stage_gate,
            date=dt.date(2026, 9, 15),
            outcome=True,
            summary="Gate 1 passed: trial at two regional airports cut fuel per arrival by 4%",
            recorded_by="council5",
        ),
        Evidence(
            candidate="solid-state-cell",
            quarter=q2,
            kind=k.trl_change,
            date=dt.date(2026, 9, 25),
            trl=4,
            summary="Pouch cells passed 300 cycles at 450 Wh/kg in the laboratory",
            recorded_by="council1",
        ),
        Evidence(
            candidate="e-kerosene-forth",
            quarter=q2,
            kind=k.cost_actuals,
            date=dt.date(2026, 9, 30),
            cost_actual=11.2,
            cost_planned=9.0,
            summary="Site preparation and grid connection costs above plan",
            recorded_by="ceo",
        ),
    ]


# Seed questions: quantities whose value is known (illustrative figures), so the council can be
# scored on its calibration (Cooke's classical model); the last is a target item, still unknown.
_SEEDS: list[tuple[str, str, str, float | None]] = [
    ("saf-share-2025", "Share of UK jet fuel that was sustainable aviation fuel in 2025", "%", 2.1),
    ("h2-cost-2025", "Average cost of green hydrogen in the UK in 2025", "£/kg", 8.4),
    ("contrail-flights", "Share of flights causing 80 % of contrail warming", "%", 3.5),
    (
        "ev-aircraft-range",
        "Range of the longest-flying battery-electric aircraft in 2025",
        "km",
        1003.0,
    ),
    ("hefa-capacity", "World HEFA production capacity at the end of 2025", "Mt/yr", 13.0),
    (
        "saf-share-2030",
        "Share of UK jet fuel that will be sustainable aviation fuel in 2030",
        "%",
        None,
    ),
]
# how far each member's median strays from the truth (in widths) and how wide they answer:
# council3 and council6 are overconfident, council1 and council5 well calibrated.
_SEED_STYLE = {
    "council1": (0.1, 1.0),
    "council2": (0.4, 0.8),
    "council3": (0.9, 0.35),
    "council4": (0.3, 1.2),
    "council5": (0.05, 0.9),
    "council6": (1.2, 0.4),
    "council7": (0.5, 1.5),
}


def _seed_questions() -> list[SeedQuestion]:
    return [
        SeedQuestion(id=key, question=text, unit=unit, realization=value)
        for key, text, unit, value in _SEEDS
    ]


def _seed_answers() -> list[SeedAnswer]:
    rng = np.random.default_rng(DEMO_SEED + 1)
    answers = []
    for key, _, _, value in _SEEDS:
        truth = value if value is not None else 8.0
        for member, (bias, width) in _SEED_STYLE.items():
            spread = 0.5 * truth * width
            median = truth * (1 + bias * float(rng.choice([-1.0, 1.0])) * 0.5)
            median = max(median, 0.01 * truth)
            low = max(median - spread * float(rng.uniform(0.8, 1.2)), 0.0)
            high = median + spread * float(rng.uniform(0.8, 1.2))
            low = min(low, median * 0.95)
            answers.append(
                SeedAnswer(
                    question=key,
                    member=member,
                    q5=_round(low, 3),
                    q50=_round(median, 3),
                    q95=_round(high, 3),
                )
            )
    return answers


def _challenges() -> list[Challenge]:
    return [
        Challenge(
            candidate="dac-fischer-tropsch",
            quarter=CLOSED_QUARTERS[3],
            author="council4",
            text="The direct-air-capture energy demand assumes a grid intensity the UK will "
            "not reach before 2032; the impact range looks at least twice too high.",
            created_at=dt.datetime(2026, 8, 14, 10, 30),
            reply="Agreed to ask the team for a sensitivity with the 2030 grid mix before the "
            "next stage gate.",
            replied_by="ceo",
            replied_at=dt.datetime(2026, 8, 20, 9, 0),
        ),
        Challenge(
            candidate="lh2-tank",
            quarter=CURRENT_QUARTER,
            author="council7",
            text="Only academia has scored this tank; nobody from industry has looked at the "
            "certification route. Can we get an airframer's view before we scale it?",
            created_at=dt.datetime(2026, 10, 21, 16, 5),
        ),
    ]


def demo_document() -> MissionDocument:
    """The demo mission, the same on every call. Figures are illustrative."""
    return MissionDocument(
        mission=_mission(),
        users=_users(),
        roles=_roles(),
        council=[CouncilMember(username=name, sector=sector) for name, _, sector in _COUNCIL],
        candidates=[_candidate(cand) for cand in _CANDIDATES],
        quarters=[
            # the past quarters are replayed through the cycle (approve, publish, close) by
            # portfolio.demo.loader, so they start open with their scoring rounds closed
            *(
                Quarter(label=label, state=QuarterState.open, scoring=ScoringState.closed)
                for label in CLOSED_QUARTERS
            ),
            Quarter(label=CURRENT_QUARTER, state=QuarterState.open, scoring=ScoringState.open),
        ],
        scores=_scores(),
        evidence=_evidence(),
        challenges=_challenges(),
        seed_questions=_seed_questions(),
        seed_answers=_seed_answers(),
        audit=[],
    )
