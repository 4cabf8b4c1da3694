"""The demo mission "Carbon-neutral UK air travel by 2030", built deterministically.

The authored data (the mission, its people, the 23 candidates and their options, the evidence,
the seed questions and the challenges) is the data file ``mission.json`` beside this module; this
module reads it through typed models and derives the rest by fixed rules with a fixed seed, so the
document is the same on every call:

* each option's cost profile, cost range and impact range follow from its planned total, its
  impact and the candidate's tier (a moonshot's ranges are wider);
* the council's scores over the four closed quarters and the current one are drawn around each
  option's p, cost and impact, with a fixed bias per member on the dividing candidate;
* the members' seed answers are drawn around the known answers with each member's bias and width.

Every figure is invented for demonstration: organisations are fictional, costs, probabilities and
impacts are illustrative.

Fixtures worth knowing about when testing council flags:

* ``lh2-tank`` is scored only by the two academia members (everybody else marks themselves not
  competent), so it is scored by a single sector and by fewer than three members.
* ``dac-fischer-tropsch`` divides the council: academia is optimistic and business pessimistic, so
  the spread of ``p_success`` among submitted scores exceeds 0.25 in every quarter.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
from pydantic import BaseModel, ConfigDict

from portfolio.adapters.exchange import MemberRole, MissionDocument
from portfolio.domain.model import (
    Candidate,
    Challenge,
    Confidence,
    CouncilMember,
    Evidence,
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


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DemoOption(_Data):
    id: str
    name: str
    cost: float  # planned total, £ million
    p: float
    impact: float  # most likely impact if it succeeds, MtCO2e/yr


class DemoCandidate(_Data):
    id: str
    name: str
    organisation: str
    organisation_type: OrganisationType
    platform: str
    tier: Tier
    trl: int
    ukri: bool
    registered_by: str
    description: str
    options: tuple[DemoOption, ...]
    ncr: bool = False
    treasury_approved: bool = False
    commercially_sensitive: bool = False


class StaffMember(_Data):
    username: str
    display_name: str
    role: Role | None = None
    is_admin: bool = False


class DemoMember(_Data):
    username: str
    display_name: str
    sector: Sector


class ProfileShape(_Data):
    """Share of an option's planned total spent in each mission year from ``first_year``."""

    first_year: int
    shares: tuple[float, ...]


class Disagreement(_Data):
    """The dividing candidate: a fixed offset to each member's p."""

    candidate: str
    bias: dict[str, float]


class SeedStyle(_Data):
    """How far a member's median strays from the truth (in widths) and how wide they answer."""

    bias: float
    width: float


class DemoData(_Data):
    """``mission.json``: everything about the demo that a person wrote rather than drew."""

    about: str
    seed: int
    closed_quarters: list[str]
    current_quarter: str
    mission: Mission
    staff: list[StaffMember]
    council: list[DemoMember]
    profile_shapes: dict[str, ProfileShape]
    candidates: list[DemoCandidate]
    not_competent: dict[str, frozenset[str]]
    disagreement: Disagreement
    rationales: dict[str, tuple[str, ...]]
    evidence: list[Evidence]
    seed_questions: list[SeedQuestion]
    seed_style: dict[str, SeedStyle]
    challenges: list[Challenge]


@cache
def demo_data() -> DemoData:
    """The demo's data file, read and checked once."""
    text = resources.files("portfolio.demo").joinpath("mission.json").read_text(encoding="utf-8")
    return DemoData.model_validate_json(text)


DEMO_SLUG = demo_data().mission.slug
DEMO_SEED = demo_data().seed
# The mission started in the third quarter of 2025-26 with a half-year budget: four quarters have
# been run and closed (their spend recorded), the fifth is open.
YEARS = list(demo_data().mission.years)
CLOSED_QUARTERS = list(demo_data().closed_quarters)
CURRENT_QUARTER = demo_data().current_quarter

_TRL_LIMITS = (1, 9)


def _round(value: float, places: int = 2) -> float:
    return float(round(float(value), places))


def _three_point(low: float, most_likely: float, high: float, places: int = 2) -> ThreePoint:
    ml = _round(most_likely, places)
    return ThreePoint(
        low=min(_round(low, places), ml), most_likely=ml, high=max(_round(high, places), ml)
    )


def _overrun(tier: Tier) -> float:
    """The high end of a cost range, as a multiple of the planned cost, by tier."""
    return 1.6 if tier is Tier.moonshot else 1.3


def _cost_profile(kind: str, total: float) -> dict[str, float]:
    shape = demo_data().profile_shapes[kind]
    amounts = [_round(total * share) for share in shape.shares[:-1]]
    amounts.append(_round(total - sum(amounts)))
    return dict(zip(YEARS[shape.first_year :], amounts, strict=False))


def _option(cand: DemoCandidate, opt: DemoOption) -> FundingOption:
    impact_low, impact_high = (0.4, 1.8) if cand.tier is Tier.moonshot else (0.6, 1.4)
    return FundingOption(
        id=opt.id,
        name=opt.name,
        cost_profile=_cost_profile(opt.id, opt.cost),
        cost_range=_three_point(0.92 * opt.cost, opt.cost, _overrun(cand.tier) * opt.cost),
        p_success=opt.p,
        impact=_three_point(impact_low * opt.impact, opt.impact, impact_high * opt.impact, 3),
    )


def _candidate(cand: DemoCandidate) -> Candidate:
    return Candidate(
        id=cand.id,
        name=cand.name,
        description=cand.description,
        organisation=cand.organisation,
        organisation_type=cand.organisation_type,
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


def _users() -> list[User]:
    data = demo_data()
    ceo, *others = data.staff
    people: list[StaffMember | DemoMember] = [ceo, *data.council, *others]
    return [
        User(
            username=p.username,
            display_name=p.display_name,
            is_admin=isinstance(p, StaffMember) and p.is_admin,
        )
        for p in people
    ]


def _roles() -> list[MemberRole]:
    data = demo_data()
    ceo, *others = data.staff
    roles = [MemberRole(username=ceo.username, role=Role.mission_ceo)] if ceo.role else []
    roles += [MemberRole(username=m.username, role=Role.council_member) for m in data.council]
    roles += [MemberRole(username=s.username, role=s.role) for s in others if s.role is not None]
    return roles


def _not_competent(
    member: str, quarter: str, cand: DemoCandidate, opt: DemoOption, status: ScoreStatus
) -> Score:
    return Score(
        member=member,
        quarter=quarter,
        candidate=cand.id,
        option=opt.id,
        status=status,
        not_competent=True,
        rationale="Outside my expertise.",
    )


def _score(
    rng: np.random.Generator,
    member: str,
    quarter: str,
    cand: DemoCandidate,
    opt: DemoOption,
    status: ScoreStatus,
) -> Score:
    data = demo_data()
    if cand.id in data.not_competent[member]:
        return _not_competent(member, quarter, cand, opt, status)
    if cand.id == data.disagreement.candidate:
        p_raw = opt.p + data.disagreement.bias[member] + rng.normal(0.0, 0.015)
    else:
        p_raw = opt.p + rng.normal(0.0, 0.045)
    p = _round(min(0.99, max(0.01, p_raw)), 3)
    cost_ml = opt.cost * float(np.exp(rng.normal(0.0, 0.1)))
    cost = _three_point(
        cost_ml * (0.85 + 0.1 * rng.random()),
        cost_ml,
        cost_ml * (_overrun(cand.tier) + 0.2 * rng.random()),
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
    texts = data.rationales[mood]
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
        rationale=texts[int(rng.integers(0, len(texts)))],
    )


def _round_of(
    rng: np.random.Generator, quarter: str, members: list[str], status: ScoreStatus
) -> list[Score]:
    """Every member's score of every option in ``quarter``."""
    return [
        _score(rng, member, quarter, cand, opt, status)
        for member in members
        for cand in demo_data().candidates
        for opt in cand.options
    ]


def _scores() -> list[Score]:
    data = demo_data()
    rng = np.random.default_rng(DEMO_SEED)
    members = [m.username for m in data.council]
    first_year, this_year = CLOSED_QUARTERS[:2], CLOSED_QUARTERS[2:]
    scores: list[Score] = []
    for quarter in this_year:
        scores += _round_of(rng, quarter, members, ScoreStatus.submitted)
    early = np.random.default_rng(DEMO_SEED + 2)  # the first half-year's rounds, drawn apart
    for quarter in first_year:
        scores += _round_of(early, quarter, members, ScoreStatus.submitted)
    # Current quarter: council1-3 have submitted, council4 has submitted most but left two
    # candidates in draft, council5 has drafts for the first eight candidates only, and
    # council6 and council7 have not scored yet.
    council4_drafts = {"ai-atc-sequencing", "free-route-airspace"}
    for member in ("council1", "council2", "council3", "council4", "council5"):
        for index, cand in enumerate(data.candidates):
            if member == "council5" and index >= 8:
                break
            draft = member == "council5" or (member == "council4" and cand.id in council4_drafts)
            status = ScoreStatus.draft if draft else ScoreStatus.submitted
            for opt in cand.options:
                scores.append(_score(rng, member, CURRENT_QUARTER, cand, opt, status))
    return scores


def _seed_answers() -> list[SeedAnswer]:
    """Each member's 5 %, 50 % and 95 % answers to each seed question (the target item, with no
    known answer yet, is drawn around 8)."""
    rng = np.random.default_rng(DEMO_SEED + 1)
    answers = []
    for question in demo_data().seed_questions:
        truth = question.realization if question.realization is not None else 8.0
        for member, style in demo_data().seed_style.items():
            spread = 0.5 * truth * style.width
            median = truth * (1 + style.bias * float(rng.choice([-1.0, 1.0])) * 0.5)
            median = max(median, 0.01 * truth)
            low = max(median - spread * float(rng.uniform(0.8, 1.2)), 0.0)
            high = median + spread * float(rng.uniform(0.8, 1.2))
            low = min(low, median * 0.95)
            answers.append(
                SeedAnswer(
                    question=question.id,
                    member=member,
                    q5=_round(low, 3),
                    q50=_round(median, 3),
                    q95=_round(high, 3),
                )
            )
    return answers


def demo_document() -> MissionDocument:
    """The demo mission, the same on every call. Figures are illustrative."""
    data = demo_data()
    return MissionDocument(
        mission=data.mission,
        users=_users(),
        roles=_roles(),
        council=[CouncilMember(username=m.username, sector=m.sector) for m in data.council],
        candidates=[_candidate(cand) for cand in data.candidates],
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
        evidence=list(data.evidence),
        challenges=list(data.challenges),
        seed_questions=list(data.seed_questions),
        seed_answers=_seed_answers(),
        audit=[],
    )
