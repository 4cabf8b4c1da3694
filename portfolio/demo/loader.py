"""Load a mission document and replay its past quarters through the real cycle: each closes its
council round, runs the optimiser, approves the allocation with reasons (contracting some awards),
records the quarter's actual spend in the ledger, publishes the update and closes into a
hash-chained audit pack. The current quarter then has one run waiting for the CEO.

``load_demo`` replays the demo (``DEMO_REPLAY``); ``load_mission`` replays any document by a
``Replay``, which is how the generated large mission (``portfolio.demo.large``) is loaded.

The demo's money story (issue 15): spend runs close to plan with a few overruns (the fuel
plants whose cost actuals ran over), the wind-tunnel campaign of the distributed-propulsion wing
is contracted in the first quarter, fails its stage gate in 2026-27 Q2, and the CEO ends its
contract with a break cost and stops it; what it spent stays spent. Figures are illustrative."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optimiser.problem import Policy
from portfolio.adapters.exchange import MissionDocument
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.demo.mission import (
    CLOSED_QUARTERS,
    CURRENT_QUARTER,
    DEMO_SEED,
    DEMO_SLUG,
    demo_document,
)
from portfolio.domain.errors import PortfolioError
from portfolio.domain.model import (
    QuarterState,
    Rag,
    Role,
    ScoringState,
    SpendEntry,
    TrajectoryPoint,
)
from portfolio.services import contracts, council, cycle, ledger, publication, runs
from portfolio.services import missions as services

ACTOR = "ceo"


class DemoLoadError(PortfolioError):
    """The demo could not be built: says which run failed, its status and the solver's words."""

    status = 500


DEMO_POLICY = Policy(
    objective="cvar",
    max_platform_share=0.45,
    min_platforms=3,
    min_rising_star_share=0.1,
    cvar_alpha=0.9,
    cvar_lambda=1.0,
    time_limit_s=30,
)
DEMO_SWITCHING_LOSS = 0.1  # of money de-committed, lost (portfolio.domain.money)
DEMO_SCENARIOS = 300
PLANNED = [
    0.35,
    0.4,
    0.45,
    0.5,
    0.55,
    0.6,
    0.62,
    0.65,
    0.68,
    0.7,
    0.72,
    0.74,
    0.76,
    0.78,
    0.8,
    0.82,
    0.84,
    0.86,
]


@dataclass(frozen=True)
class Decisions:
    """What the CEO decided in a past quarter beyond the optimiser's answer."""

    locks: dict[str, str] = field(default_factory=dict)  # ref → reason
    exclusions: dict[str, str] = field(default_factory=dict)  # ref → reason
    contract: frozenset[str] = frozenset()  # candidates contracted besides the usual third
    end_contracts: dict[str, tuple[str, float]] = field(default_factory=dict)  # → reason, £m


@dataclass(frozen=True)
class Replay:
    """How a document's past quarters are replayed: the runs' settings, the CEO's decisions, the
    spend, and what is said in each second quarter (a RAG override from green, a dissent)."""

    slug: str
    seed: int  # of the spend drawn each quarter
    closed_quarters: list[str]
    current_quarter: str
    planned: list[float]  # the planned trajectory of P(target), from the first quarter
    past_policy: Policy  # the rebalance run of each past quarter
    current_policy: Policy  # the run waiting for the CEO in the current quarter
    scenarios: int = DEMO_SCENARIOS
    switching_loss: float = DEMO_SWITCHING_LOSS
    decisions: dict[str, Decisions] = field(default_factory=dict)  # quarter → decisions
    overruns: dict[str, float] = field(default_factory=dict)  # candidate → spend / plan
    rag_reason: str = ""  # why a green second quarter is overridden to amber
    dissent: tuple[str, str] | None = None  # (member, text) added in each second quarter
    current_note: str = "First look at this quarter with the new scores"


_WING = "distributed-propulsion"
DEMO_REPLAY = Replay(
    slug=DEMO_SLUG,
    seed=DEMO_SEED,
    closed_quarters=CLOSED_QUARTERS,
    current_quarter=CURRENT_QUARTER,
    planned=PLANNED,
    past_policy=DEMO_POLICY,
    current_policy=DEMO_POLICY,
    decisions={
        CLOSED_QUARTERS[0]: Decisions(
            locks={
                f"{_WING}/explore": "The only short take-off concept in the pool: a £6m "
                "wind-tunnel campaign settles whether it deserves a demonstrator."
            },
            contract=frozenset({_WING}),
        ),
        CLOSED_QUARTERS[3]: Decisions(
            exclusions={
                _WING: "Gate 1 failed: the wind tunnel showed no lift gain over the baseline wing."
            },
            end_contracts={
                _WING: (
                    "Gate 1 failed in August: the wind-tunnel results showed no lift gain over "
                    "the baseline wing, so the campaign stops before its final test series.",
                    0.3,
                )
            },
        ),
    },
    # Actual spend against the quarter's share of the approved plan: the plants whose cost
    # actuals ran over spend above plan; everyone else lands between 85 % and 100 % of it.
    overruns={"atj-teesside": 1.24, "e-kerosene-forth": 1.25, "cellulosic-atj": 1.13},
    rag_reason="Two hydrogen stage gates are still ahead this year; until they pass, the "
    "modelled probability flatters the portfolio.",
    dissent=(
        "council4",
        "The portfolio leans on sustainable aviation fuel volumes that depend on feedstock the "
        "UK does not yet secure.",
    ),
)


def load_demo(make: Callable[[], SqlUnitOfWork], password: str) -> None:
    """``make()`` gives a fresh unit of work on the target database (each step commits)."""
    load_mission(make, password, demo_document(), DEMO_REPLAY)


def load_mission(
    make: Callable[[], SqlUnitOfWork], password: str, document: MissionDocument, replay: Replay
) -> None:
    """Create the document's users (all with ``password``), import it, set its planned
    trajectory, replay its past quarters by ``replay`` and start the current quarter's run."""
    with make() as uow:
        for user in document.users:
            services.create_user(uow, "cli", user, password)
        services.import_mission(uow, "cli", document)
        labels = cycle.quarters_to_deadline(uow, replay.slug)
        cycle.set_trajectory(
            uow,
            ACTOR,
            replay.slug,
            [
                TrajectoryPoint(quarter=q, planned_p_target=p)
                for q, p in zip(labels, replay.planned, strict=False)
            ],
        )
        uow.commit()
    for quarter in document.quarters:
        if quarter.label == replay.current_quarter:
            break
        _replay_quarter(make, replay, quarter.label)
    with make() as uow:
        run_id = runs.start_run(
            uow,
            ACTOR,
            replay.slug,
            replay.current_policy,
            scenarios=replay.scenarios,
            seed=3,
            switching_loss=replay.switching_loss,
            note=replay.current_note,
        )
        uow.commit()
    _execute(make, run_id)


def _execute(make: Callable[[], SqlUnitOfWork], run_id: int) -> None:
    """Solve run ``run_id``; a run that found no portfolio stops the demo with its own story."""
    status = runs.execute_run(make, run_id)
    if status in ("optimal", "feasible"):
        return
    with make() as uow:
        run = uow.runs.find(run_id)
        note = f" ({run.note})" if run and run.note else ""
        error = (run.error if run else None) or "no message was recorded"
    raise DemoLoadError(
        f"the demo could not be loaded: optimiser run {run_id}{note} ended with status "
        f"{status}: {error}"
    )


def _replay_quarter(make: Callable[[], SqlUnitOfWork], replay: Replay, label: str) -> None:
    decisions = replay.decisions.get(label, Decisions())
    slug = replay.slug
    with make() as uow:
        if council.round_state(uow, slug, label) is ScoringState.closed:
            council.freeze_aggregates(uow, slug, label)
        live = contracts.live_by_candidate(uow, slug)
        for candidate, (why, break_cost) in decisions.end_contracts.items():
            contract = live[candidate]
            assert contract.id is not None
            contracts.end_contract(uow, ACTOR, slug, contract.id, why, break_cost)
        policy = Policy.model_validate(
            {
                **replay.past_policy.model_dump(),
                "locks": list(decisions.locks),
                "exclusions": list(decisions.exclusions),
            }
        )
        run_id = runs.start_run(
            uow,
            ACTOR,
            slug,
            policy,
            scenarios=replay.scenarios,
            seed=1,
            switching_loss=replay.switching_loss,
            note=f"Quarterly rebalance, {label}",
            overrides={**decisions.locks, **decisions.exclusions},
        )
        uow.commit()
    _execute(make, run_id)
    with make() as uow:
        _approve(uow, replay, label, run_id, decisions)
        _record_spend(uow, replay, label, run_id)
        if label.endswith("Q2"):
            _second_quarter_notes(uow, replay, label)
        publication.save_update(
            uow, ACTOR, slug, publication.draft_letter(uow, slug, label), publish=True
        )
        cycle.close_quarter(uow, ACTOR, slug)
        uow.commit()


def _approve(
    uow: SqlUnitOfWork, replay: Replay, label: str, run_id: int, decisions: Decisions
) -> None:
    """Approve the run with a reason per change, contracting the first third of the funded
    candidates (by id) and those the decisions name."""
    changes = cycle.proposed_changes(uow, replay.slug, run_id)
    reasons = {c.candidate: _reason(c.kind.value) for c in changes}
    for candidate, why in decisions.exclusions.items():
        reasons[candidate.split("/")[0]] = why
    funded = {c.candidate for c in changes if c.option_after is not None}
    contracted = set(sorted(funded)[: max(1, len(funded) // 3)]) | (decisions.contract & funded)
    cycle.approve_run(uow, ACTOR, replay.slug, run_id, reasons=reasons, contracted=contracted)


def _second_quarter_notes(uow: SqlUnitOfWork, replay: Replay, label: str) -> None:
    """A green rating overridden to amber with the replay's reason, and its dissent."""
    quarter = uow.missions.quarter(replay.slug, label)
    if quarter.rag is Rag.green and replay.rag_reason:
        cycle.override_rag(uow, ACTOR, replay.slug, Rag.amber, replay.rag_reason)
    if replay.dissent is not None:
        author, text = replay.dissent
        cycle.add_dissent(uow, author, {Role.council_member}, replay.slug, text)


def _record_spend(uow: SqlUnitOfWork, replay: Replay, label: str, run_id: int) -> None:
    """The quarter's actual spend on the approved allocation: its share of the year's remaining
    plan (a quarter of it in Q1, a third in Q2, half in Q3, all in Q4), times the candidate's
    overrun or a small underspend."""
    run = uow.runs.get(replay.slug, run_id)
    year = ledger.financial_year(label)
    share = 1.0 / (5 - int(label[-1]))
    rng = np.random.default_rng(replay.seed + replay.closed_quarters.index(label))
    entries = []
    for row in sorted(
        run.funding,
        key=lambda r: (r.candidate, r.option, r.envelope),
    ):
        if row.year != year or row.amount <= 0:
            continue
        factor = replay.overruns.get(row.candidate) or float(rng.uniform(0.85, 1.0))
        amount = round(row.amount * share * factor, 2)
        if amount > 0:
            entries.append(
                SpendEntry(
                    candidate=row.candidate,
                    option=row.option,
                    envelope=row.envelope,
                    year=year,
                    amount=amount,
                    quarter=label,
                    note=f"Grant claims paid in {label}",
                )
            )
    ledger.record_spend(uow, ACTOR, replay.slug, entries, source="import")


def _reason(kind: str) -> str:
    return {
        "start": "New evidence and council scores make it one of the best uses of the budget.",
        "stop": "The portfolio does better without it at this quarter's estimates.",
        "scale up": "Milestones met: moving to the larger tranche.",
        "scale down": "Costs rose; holding it at a smaller tranche until the next gate.",
    }.get(kind, "")


__all__ = ["QuarterState", "load_demo", "load_mission"]
