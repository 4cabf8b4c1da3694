"""A mission ten times the demo, generated: for measuring every page, the solve and the analyses
at the size a real mission reaches (``python -m benchmarks.pages --size large``,
``mission-portfolio demo --size large``).

``large_document(size)`` draws, from one ``numpy`` generator seeded by ``size.seed``, a mission
document in the exchange format the demo uses: by default 300 candidates on 15 platforms, each
with one to three nested funding options (explore, demonstrate, scale), 15 council members across
the four sectors, and 12 quarters from 2025-26 Q1, the last one open. ``large_replay`` says how
``portfolio.demo.loader.load_mission`` replays its closed quarters through the real cycle (the
same path the demo takes); ``load_large`` does both.

What is drawn, and by what rule:

* candidates are spread unevenly over the platforms (every platform has at least one); about a
  third are moonshots and a little over half rising stars; an option's cost, p and impact are
  drawn around a median for its stage (a moonshot's p lower and its impact higher), its cost
  range's high end between 1.2 and 1.8 times its planned total, its cost profile one of three
  shapes starting in one of the first three years;
* each platform has five experts among the members; a few expert-candidate pairs are marked not
  competent; every third of the members' p drifts per quarter around the option's p, and some
  candidates divide academia (optimistic) from business (pessimistic);
* in the open quarter two thirds of the members have submitted, two have drafts for half the
  candidates, the rest have not started;
* each closed quarter has evidence on about one candidate in 25 (milestones, cost actuals, TRL
  changes, stage gates) and every other quarter a challenge; cost actuals that ran over plan
  make the candidate overspend in the ledger.

Simplified against the demo, to keep loading to minutes: members score only the platforms they
know (the demo's members score every candidate); the past quarters' runs use 300 scenarios and
the expected-impact objective (the current quarter's run is CVaR, also on 300 scenarios); the CEO
makes no locks, exclusions or early contract ends; the budget is 30 % of the cost of funding
every candidate's largest option, rising over the years. Every name and figure is invented.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from optimiser.pert import ThreePoint
from optimiser.problem import Policy
from portfolio.adapters.exchange import MemberRole, MissionDocument
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.demo.loader import DEMO_SCENARIOS, Replay, load_mission
from portfolio.demo.mission import demo_data
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
    Tier,
    User,
    next_quarter,
    quarter_dates,
)

LARGE_SLUG = "uk-aviation-large"
FIRST_QUARTER = "2025-26 Q1"
YEARS = [f"{y}-{(y + 1) % 100:02d}" for y in range(2025, 2032)]

#: platform → the technologies its candidates are named after
PLATFORMS: dict[str, tuple[str, ...]] = {
    "hefa-saf": ("HEFA refinery", "waste-oil hydrotreater", "tallow-to-jet plant"),
    "alcohol-to-jet": ("ethanol-to-jet plant", "isobutanol upgrader", "straw-ethanol jet line"),
    "e-saf": ("e-kerosene plant", "power-to-liquid pilot", "methanol-to-jet unit"),
    "gasification-ft": ("waste gasifier", "Fischer-Tropsch train", "wood-residue syngas plant"),
    "hydrogen-combustion": ("hydrogen combustor rig", "H2 turbine demonstrator", "hydrogen APU"),
    "hydrogen-fuel-cell": ("fuel-cell powertrain", "aircraft PEM stack", "fuel-cell commuter"),
    "battery-electric": ("electric trainer", "electric commuter aircraft", "aviation cell line"),
    "hybrid-electric": ("hybrid-electric retrofit", "turbo-generator", "parallel hybrid drive"),
    "contrails": ("contrail-avoidance routing", "humidity sensing network", "contrail check"),
    "airspace": ("free-route airspace", "arrival sequencing", "continuous-descent approaches"),
    "airport-ground": ("electric ground fleet", "airport hydrogen hub", "stand power and air"),
    "lightweight-structures": ("composite wing", "thermoplastic fuselage", "printed titanium"),
    "engine-efficiency": ("open-fan engine", "high-bypass demonstrator", "engine-wash robot"),
    "carbon-removal": ("direct-air-capture plant", "biochar removals", "waste-to-energy BECCS"),
    "operations": ("single-engine taxiing", "fuel-tankering optimiser", "lighter cabin"),
}
_PLACES = (
    "Aberdeen", "Ayr", "Bangor", "Barrow", "Belfast", "Bristol", "Cardiff", "Carlisle", "Derby",
    "Dundee", "Exeter", "Falkirk", "Grimsby", "Hull", "Inverness", "Ipswich", "Kendal", "Leeds",
    "Lincoln", "Luton", "Milford", "Newport", "Norwich", "Oban", "Perth", "Preston", "Reading",
    "Selby", "Stirling", "Swansea", "Swindon", "Truro", "Wick", "Wrexham", "York", "Yeovil",
    "Humber", "Solent", "Tees", "Clyde",
)  # fmt: skip
_ORGANISATIONS = ("Aerospace Ltd", "Fuels Ltd", "Energy plc", "Labs Ltd", "Systems Ltd", "Aero plc")
_FIRST = ("Amira", "Ben", "Carys", "Dev", "Elin", "Fergus", "Grace", "Hamid", "Isla", "Jonas")
_LAST = ("Adeyemi", "Baird", "Chowdhury", "Doyle", "Evans", "Fraser", "Gill", "Hughes", "Iqbal")
_SECTORS = (Sector.academia, Sector.business, Sector.public_sector, Sector.civil_society)

#: stage → (option name, median cost £m, p, median impact MtCO2e/yr, TRL, cost profile shape)
_STAGES: dict[str, tuple[str, float, float, float, int, tuple[float, ...]]] = {
    "explore": ("Explore: feasibility and design", 6.0, 0.75, 0.12, 3, (0.6, 0.4)),
    "demonstrate": ("Demonstrate: first pilot", 35.0, 0.6, 0.5, 5, (0.2, 0.35, 0.3, 0.15)),
    "scale": ("Scale: commercial roll-out", 120.0, 0.5, 1.8, 7, (0.1, 0.2, 0.35, 0.35)),
}
_BUDGET_SHARES = (0.06, 0.1, 0.14, 0.17, 0.18, 0.18, 0.17)  # of the budget, year by year
_EXPERTS_PER_PLATFORM = 5
_DIVIDE = {Sector.academia: 0.15, Sector.business: -0.15}  # on the dividing candidates
_EVIDENCE_KINDS = (
    (EvidenceKind.milestone_met, 0.35),
    (EvidenceKind.milestone_missed, 0.15),
    (EvidenceKind.cost_actuals, 0.2),
    (EvidenceKind.trl_change, 0.15),
    (EvidenceKind.stage_gate, 0.15),
)
_CHALLENGES = (
    "The impact range assumes feedstock the UK does not yet secure; can we see the supply plan?",
    "The cost profile has no contingency for grid connection; what happens if it slips a year?",
    "Only one sector has looked at the certification route; can we get an airframer's view?",
)


class LargeSize(BaseModel):
    """How large a mission ``large_document`` draws, and from which seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidates: int = Field(300, ge=1, le=2000)
    platforms: int = Field(15, ge=1, le=len(PLATFORMS))
    members: int = Field(15, ge=2, le=60)
    quarters: int = Field(12, ge=2, le=4 * len(YEARS), description="with scores; the last open")
    seed: int = Field(2032, ge=0)


def quarter_labels(size: LargeSize) -> list[str]:
    """The mission's quarters from ``FIRST_QUARTER``: all closed once replayed but the last."""
    labels = [FIRST_QUARTER]
    while len(labels) < size.quarters:
        labels.append(next_quarter(labels[-1]))
    return labels


def _r(value: float, places: int = 2) -> float:
    return float(round(float(value), places))


def _three_point(low: float, most_likely: float, high: float, places: int = 2) -> ThreePoint:
    ml = _r(most_likely, places)
    return ThreePoint(low=min(_r(low, places), ml), most_likely=ml, high=max(_r(high, places), ml))


def _option(rng: np.random.Generator, stage: str, tier: Tier, start: int) -> FundingOption:
    name, cost_median, p, impact_median, _, shape = _STAGES[stage]
    moonshot = tier is Tier.moonshot
    cost = _r(min(cost_median * float(np.exp(rng.normal(0.0, 0.5))), 400.0), 1)
    first = start if stage == "explore" else start + 1
    amounts = [_r(cost * share) for share in shape[:-1]]
    amounts.append(_r(cost - sum(amounts)))
    impact = impact_median * float(np.exp(rng.normal(0.0, 0.4))) * (1.5 if moonshot else 1.0)
    spread = (0.4, 1.8) if moonshot else (0.6, 1.4)
    p_success = p - (0.15 if moonshot else 0.0) + float(rng.normal(0.0, 0.07))
    return FundingOption(
        id=stage,
        name=name,
        cost_profile=dict(zip(YEARS[first:], amounts, strict=False)),
        cost_range=_three_point(
            0.92 * cost, cost, cost * (1.2 + 0.3 * float(rng.random()) + (0.3 if moonshot else 0.0))
        ),
        p_success=_r(min(0.95, max(0.1, p_success)), 2),
        impact=_three_point(spread[0] * impact, impact, spread[1] * impact, 3),
    )


def _candidates(rng: np.random.Generator, size: LargeSize, members: list[str]) -> list[Candidate]:
    platforms = list(PLATFORMS)[: size.platforms]
    weights = rng.dirichlet(np.full(len(platforms), 8.0))
    drawn = rng.choice(len(platforms), size=size.candidates, p=weights)
    drawn[: len(platforms)] = np.arange(min(len(platforms), size.candidates))
    counts: dict[str, int] = {}
    out = []
    for index in drawn:
        platform = platforms[int(index)]
        counts[platform] = counts.get(platform, 0) + 1
        tier = Tier.moonshot if rng.random() < 0.35 else Tier.conventional
        kind = OrganisationType.rising_star if rng.random() < 0.55 else OrganisationType.incumbent
        n_options = int(rng.choice([1, 2, 3], p=[0.25, 0.45, 0.3]))
        first_stage = int(rng.integers(0, 4 - n_options))
        stages = list(_STAGES)[first_stage : first_stage + n_options]
        start = int(rng.integers(0, 3))
        options = [_option(rng, stage, tier, start) for stage in stages]
        place = _PLACES[int(rng.integers(len(_PLACES)))]
        technology = PLATFORMS[platform][int(rng.integers(len(PLATFORMS[platform])))]
        organisation = f"{_PLACES[int(rng.integers(len(_PLACES)))]} "
        organisation += _ORGANISATIONS[int(rng.integers(len(_ORGANISATIONS)))]
        largest = max(sum(o.cost_profile.values()) for o in options)
        out.append(
            Candidate(
                id=f"{platform}-{counts[platform]:02d}",
                name=f"{place} {technology} {counts[platform]}",
                description=f"A {technology} proposed by {organisation} ({platform}).",
                organisation=organisation,
                organisation_type=kind,
                platform=platform,
                tier=tier,
                trl=int(min(9, max(1, _STAGES[stages[0]][4] + int(rng.integers(-1, 2))))),
                eligible_envelopes=["sbc", "ukri"] if rng.random() < 0.5 else ["sbc"],
                ncr=bool(rng.random() < 0.03),
                treasury_approved=bool(largest > 50 and rng.random() < 0.3),
                commercially_sensitive=bool(rng.random() < 0.05),
                registered_by=members[int(rng.integers(len(members)))],
                options=options,
            )
        )
    return out


def _mission(size: LargeSize, candidates: list[Candidate]) -> Mission:
    """A budget of 30 % of the cost of every candidate's largest option, rising over the years
    (``_BUDGET_SHARES``; unspent money carries forward), 80 % SBC and 20 % UKRI; the target a
    quarter of the sum of the candidates' best expected impacts."""
    total = sum(max(sum(o.cost_profile.values()) for o in c.options) for c in candidates)
    best_impact = sum(
        max(o.p_success * o.impact.most_likely for o in c.options) for c in candidates
    )
    budget = {year: 0.3 * total * share for year, share in zip(YEARS, _BUDGET_SHARES, strict=True)}
    return Mission(
        slug=LARGE_SLUG,
        name="Net-zero UK aviation by 2032 (a large generated mission)",
        description=f"A generated mission of {size.candidates} candidates on {size.platforms} "
        "platforms, for measuring the application at scale. Every name and figure is invented.",
        target=_r(0.25 * best_impact, 1),
        deadline=dt.date(2032, 3, 31),
        years=YEARS,
        envelopes=[
            Envelope(
                id="sbc",
                name="Single business case",
                budget={y: _r(0.8 * b, 1) for y, b in budget.items()},
            ),
            Envelope(
                id="ukri",
                name="UKRI envelope",
                budget={y: _r(0.2 * b, 1) for y, b in budget.items()},
                min_spend=_r(0.2 * 0.2 * sum(budget.values()), 1),
            ),
        ],
    )


def _council(rng: np.random.Generator, size: LargeSize) -> tuple[list[CouncilMember], list[User]]:
    members, users = [], []
    for i in range(size.members):
        sector = _SECTORS[i % len(_SECTORS)]
        name = f"{_FIRST[i % len(_FIRST)]} {_LAST[int(rng.integers(len(_LAST)))]}"
        username = f"council{i + 1}"
        members.append(CouncilMember(username=username, sector=sector))
        users.append(
            User(username=username, display_name=f"{name} ({sector.value.replace('_', ' ')})")
        )
    return members, users


@dataclass(frozen=True)
class _Panel:
    """Who scores what: each platform's experts, the pairs not competent, the dividing
    candidates, and each option's p drifting from quarter to quarter."""

    experts: dict[str, list[CouncilMember]]
    not_competent: frozenset[tuple[str, str]]
    dividing: frozenset[str]
    drift: dict[tuple[str, str], list[float]]


def _panel(
    rng: np.random.Generator, size: LargeSize, council: list[CouncilMember], cands: list[Candidate]
) -> _Panel:
    count = min(_EXPERTS_PER_PLATFORM, len(council))
    experts = {
        platform: [council[int(j)] for j in sorted(rng.choice(len(council), count, replace=False))]
        for platform in list(PLATFORMS)[: size.platforms]
    }
    not_competent = frozenset(
        (m.username, c.id) for c in cands for m in experts[c.platform] if rng.random() < 0.05
    )
    drift = {
        (c.id, o.id): list(np.cumsum(rng.normal(0.0, 0.02, size.quarters)))
        for c in cands
        for o in c.options
    }
    return _Panel(
        experts=experts,
        not_competent=not_competent,
        dividing=frozenset(c.id for c in cands[::25]),
        drift=drift,
    )


def _score(
    rng: np.random.Generator,
    panel: _Panel,
    member: CouncilMember,
    quarter: tuple[int, str],
    cand: Candidate,
    opt: FundingOption,
    status: ScoreStatus,
) -> Score:
    index, label = quarter
    head = {"member": member.username, "quarter": label, "candidate": cand.id, "option": opt.id}
    if (member.username, cand.id) in panel.not_competent:
        return Score(**head, status=status, not_competent=True, rationale="Outside my expertise.")
    bias = _DIVIDE.get(member.sector, 0.0) if cand.id in panel.dividing else 0.0
    truth = opt.p_success + panel.drift[(cand.id, opt.id)][index]
    p = _r(min(0.99, max(0.01, truth + bias + float(rng.normal(0.0, 0.045)))), 3)
    planned = sum(opt.cost_profile.values())
    overrun = opt.cost_range.high / planned if opt.cost_range else 1.3
    cost_ml = planned * float(np.exp(rng.normal(0.0, 0.1)))
    impact_ml = opt.impact.most_likely * float(np.exp(rng.normal(0.0, 0.15)))
    mood = "optimistic" if p > truth + 0.03 else "pessimistic" if p < truth - 0.03 else "neutral"
    texts = demo_data().rationales[mood]
    return Score(
        **head,
        status=status,
        p_success=p,
        cost=_three_point(
            cost_ml * (0.85 + 0.1 * rng.random()),
            cost_ml,
            cost_ml * (overrun + 0.2 * rng.random()),
        ),
        impact=_three_point(
            impact_ml * (0.4 + 0.2 * rng.random()),
            impact_ml,
            impact_ml * (1.3 + 0.5 * rng.random()),
            3,
        ),
        trl=int(min(9, max(1, cand.trl + int(rng.integers(-1, 2))))),
        confidence=(Confidence.low, Confidence.medium, Confidence.high)[int(rng.integers(0, 3))],
        rationale=texts[int(rng.integers(0, len(texts)))],
    )


def _scores(
    rng: np.random.Generator, size: LargeSize, panel: _Panel, cands: list[Candidate]
) -> list[Score]:
    """Every expert's score of every option of the platforms they know, in each closed quarter;
    in the open one, two thirds of the members submitted and two more have drafts for half."""
    labels = quarter_labels(size)
    order = [f"council{i + 1}" for i in range(size.members)]
    submitted = set(order[: (2 * size.members) // 3])
    drafting = set(order[(2 * size.members) // 3 :][:2])

    def status_of(username: str, position: int, is_open: bool) -> ScoreStatus | None:
        if not is_open or username in submitted:
            return ScoreStatus.submitted
        if username in drafting and position < len(cands) // 2:
            return ScoreStatus.draft
        return None  # not started

    scores = []
    for index, label in enumerate(labels):
        for position, cand in enumerate(cands):
            for member in panel.experts[cand.platform]:
                status = status_of(member.username, position, index == len(labels) - 1)
                if status is None:
                    continue
                scores += [
                    _score(rng, panel, member, (index, label), cand, opt, status)
                    for opt in cand.options
                ]
    return scores


def _evidence_item(
    rng: np.random.Generator, label: str, cand: Candidate, kind: EvidenceKind
) -> Evidence:
    first, _ = quarter_dates(label)
    date = first + dt.timedelta(days=int(rng.integers(0, 85)))
    option = cand.options[0]
    head = {"candidate": cand.id, "quarter": label, "kind": kind, "date": date}
    if kind is EvidenceKind.cost_actuals:
        planned = _r(sum(option.cost_profile.values()) * rng.uniform(0.1, 0.4))
        actual = _r(planned * float(np.exp(rng.normal(0.05, 0.15))))
        return Evidence(
            **head,
            summary=f"Spend to date on the {option.id} tranche reported",
            cost_planned=planned,
            cost_actual=actual,
            recorded_by="ceo",
        )
    if kind is EvidenceKind.trl_change:
        trl = min(9, cand.trl + 1)
        return Evidence(**head, summary=f"Assessed at TRL {trl}", trl=trl, recorded_by="ceo")
    if kind is EvidenceKind.stage_gate:
        passed = bool(rng.random() < 0.7)
        return Evidence(
            **head,
            summary=f"Stage gate of the {option.id} tranche {'passed' if passed else 'failed'}",
            outcome=passed,
            option=option.id,
            recorded_by="ceo",
        )
    met = kind is EvidenceKind.milestone_met
    return Evidence(
        **head,
        summary="Quarterly milestone " + ("met on time" if met else "missed: the plan slips"),
        recorded_by="ceo",
    )


def _evidence(rng: np.random.Generator, size: LargeSize, cands: list[Candidate]) -> list[Evidence]:
    kinds = [k for k, _ in _EVIDENCE_KINDS]
    weights = [w for _, w in _EVIDENCE_KINDS]
    out = []
    for label in quarter_labels(size)[:-1]:
        for j in rng.choice(len(cands), max(1, len(cands) // 25), replace=False):
            kind = kinds[int(rng.choice(len(kinds), p=weights))]
            out.append(_evidence_item(rng, label, cands[int(j)], kind))
    return out


def _challenges(
    rng: np.random.Generator, size: LargeSize, members: list[str], cands: list[Candidate]
) -> list[Challenge]:
    """One challenge every other quarter (answered by the CEO once the quarter closed)."""
    labels = quarter_labels(size)
    out = []
    for index, label in enumerate(labels):
        if index % 2 and index != len(labels) - 1:
            continue
        first, _ = quarter_dates(label)
        at = dt.datetime.combine(first + dt.timedelta(days=30), dt.time(10, 30))
        closed = index != len(labels) - 1
        out.append(
            Challenge(
                candidate=cands[int(rng.integers(len(cands)))].id,
                quarter=label,
                author=members[int(rng.integers(len(members)))],
                text=_CHALLENGES[index % len(_CHALLENGES)],
                created_at=at,
                reply="We asked the team for it before the next stage gate." if closed else "",
                replied_by="ceo" if closed else None,
                replied_at=at + dt.timedelta(days=5) if closed else None,
            )
        )
    return out


def _seed_answers(rng: np.random.Generator, members: list[str]) -> list[SeedAnswer]:
    """Each member's 5 %, 50 % and 95 % answers to the demo's seed questions, with a bias (in
    widths) and a width of their own."""
    styles = {m: (float(rng.uniform(0.05, 1.2)), float(rng.uniform(0.35, 1.5))) for m in members}
    answers = []
    for question in demo_data().seed_questions:
        truth = question.realization if question.realization is not None else 8.0
        for member, (bias, width) in styles.items():
            spread = 0.5 * truth * width
            median = max(truth * (1 + bias * float(rng.choice([-1.0, 1.0])) * 0.5), 0.01 * truth)
            low = min(max(median - spread * float(rng.uniform(0.8, 1.2)), 0.0), median * 0.95)
            high = median + spread * float(rng.uniform(0.8, 1.2))
            answers.append(
                SeedAnswer(
                    question=question.id,
                    member=member,
                    q5=_r(low, 3),
                    q50=_r(median, 3),
                    q95=_r(high, 3),
                )
            )
    return answers


def large_document(size: LargeSize | None = None) -> MissionDocument:
    """The generated mission of ``size`` (default: 300 candidates, 15 platforms, 15 members, 12
    quarters), the same for the same size and seed."""
    size = size or LargeSize()
    rng = np.random.default_rng(size.seed)
    council, member_users = _council(rng, size)
    members = [m.username for m in council]
    candidates = _candidates(rng, size, members)
    panel = _panel(rng, size, council, candidates)
    labels = quarter_labels(size)
    return MissionDocument(
        mission=_mission(size, candidates),
        users=[
            User(username="ceo", display_name="Rhiannon Cole (Mission CEO)"),
            *member_users,
            User(username="treasury", display_name="Marcus Webb (Treasury reviewer)"),
            User(username="admin", display_name="Site administrator", is_admin=True),
        ],
        roles=[
            MemberRole(username="ceo", role=Role.mission_ceo),
            *(MemberRole(username=m, role=Role.council_member) for m in members),
            MemberRole(username="treasury", role=Role.treasury_reviewer),
        ],
        council=council,
        candidates=candidates,
        quarters=[
            # replayed through the cycle by portfolio.demo.loader: open, their rounds closed
            *(
                Quarter(label=label, state=QuarterState.open, scoring=ScoringState.closed)
                for label in labels[:-1]
            ),
            Quarter(label=labels[-1], state=QuarterState.open, scoring=ScoringState.open),
        ],
        scores=_scores(rng, size, panel, candidates),
        evidence=_evidence(rng, size, candidates),
        challenges=_challenges(rng, size, members, candidates),
        seed_questions=list(demo_data().seed_questions),
        seed_answers=_seed_answers(rng, members),
        audit=[],
    )


def large_replay(size: LargeSize, document: MissionDocument) -> Replay:
    """How ``document``'s closed quarters are replayed: 300 scenarios, the expected objective in
    the past quarters and CVaR in the current one, a platform share of at most 20 % (or enough
    for the platforms there are), and the overspend its cost actuals report."""
    labels = quarter_labels(size)
    policy = Policy(
        objective="expected",
        max_platform_share=max(0.2, min(0.99, 1.5 / size.platforms)),
        min_platforms=min(5, size.platforms),
        min_rising_star_share=0.1,
        time_limit_s=30,
    )
    overruns: dict[str, float] = {}
    for ev in document.evidence:
        if ev.kind is EvidenceKind.cost_actuals and ev.cost_actual and ev.cost_planned:
            ratio = ev.cost_actual / ev.cost_planned
            if ratio > 1.1:
                overruns[ev.candidate] = _r(min(ratio, 1.3), 2)
    steps = 4 * len(YEARS)
    business = [m.username for m in document.council if m.sector is Sector.business]
    return Replay(
        slug=LARGE_SLUG,
        seed=size.seed,
        closed_quarters=labels[:-1],
        current_quarter=labels[-1],
        planned=[_r(0.3 + 0.55 * i / (steps - 1)) for i in range(steps)],
        past_policy=policy,
        current_policy=Policy.model_validate(
            {**policy.model_dump(), "objective": "cvar", "cvar_alpha": 0.9, "cvar_lambda": 1.0}
        ),
        scenarios=DEMO_SCENARIOS,
        overruns=overruns,
        rag_reason="Several scale-up stage gates are still ahead this year; until they pass, "
        "the modelled probability flatters the portfolio.",
        dissent=(
            (business or [document.council[0].username])[0],
            "Too much of the portfolio depends on plants that have not yet secured feedstock.",
        ),
    )


def load_large(
    make: Callable[[], SqlUnitOfWork], password: str, size: LargeSize | None = None
) -> None:
    """Generate the large mission of ``size`` and load it as the demo is loaded: its users (all
    with ``password``), its closed quarters replayed, the current quarter's run solved."""
    size = size or LargeSize()
    document = large_document(size)
    load_mission(make, password, document, large_replay(size, document))
