"""Load the demo mission and replay its two past quarters through the real cycle: each closes
its council round, runs the optimiser, approves the allocation with reasons, publishes the
update and closes into a hash-chained audit pack. The current quarter then has one run waiting
for the CEO. Figures are illustrative."""

from __future__ import annotations

from collections.abc import Callable

from optimiser.problem import Policy
from portfolio import council, cycle, runs, services
from portfolio.demo import CURRENT_QUARTER, DEMO_SLUG, demo_document
from portfolio.errors import PortfolioError
from portfolio.model import QuarterState, Rag, Role, ScoringState, TrajectoryPoint
from portfolio.unit_of_work import SqlUnitOfWork

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
DEMO_SWITCHING_LOSS = 0.1  # of money de-committed, lost (portfolio.money)
DEMO_SCENARIOS = 300
PLANNED = [
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


def load_demo(make: Callable[[], SqlUnitOfWork], password: str) -> None:
    """``make()`` gives a fresh unit of work on the target database (each step commits)."""
    document = demo_document()
    with make() as uow:
        for user in document.users:
            services.create_user(uow, "cli", user, password)
        services.import_mission(uow, "cli", document)
        labels = cycle.quarters_to_deadline(uow, DEMO_SLUG)
        cycle.set_trajectory(
            uow,
            ACTOR,
            DEMO_SLUG,
            [
                TrajectoryPoint(quarter=q, planned_p_target=p)
                for q, p in zip(labels, PLANNED, strict=False)
            ],
        )
        uow.commit()
    for quarter in document.quarters:
        if quarter.label == CURRENT_QUARTER:
            break
        _replay_quarter(make, quarter.label)
    with make() as uow:
        run_id = runs.start_run(
            uow,
            ACTOR,
            DEMO_SLUG,
            DEMO_POLICY,
            scenarios=DEMO_SCENARIOS,
            seed=3,
            switching_loss=DEMO_SWITCHING_LOSS,
            note="First look at this quarter with the new scores",
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


def _replay_quarter(make: Callable[[], SqlUnitOfWork], label: str) -> None:
    with make() as uow:
        if council.round_state(uow, DEMO_SLUG, label) is ScoringState.closed:
            council.freeze_aggregates(uow, DEMO_SLUG, label)
        run_id = runs.start_run(
            uow,
            ACTOR,
            DEMO_SLUG,
            DEMO_POLICY,
            scenarios=DEMO_SCENARIOS,
            seed=1,
            switching_loss=DEMO_SWITCHING_LOSS,
            note=f"Quarterly rebalance, {label}",
        )
        uow.commit()
    _execute(make, run_id)
    with make() as uow:
        changes = cycle.proposed_changes(uow, DEMO_SLUG, run_id)
        reasons = {c.candidate: _reason(c.kind.value) for c in changes}
        funded = {c.candidate for c in changes if c.option_after is not None}
        contracted = set(sorted(funded)[: max(1, len(funded) // 3)])
        cycle.approve_run(uow, ACTOR, DEMO_SLUG, run_id, reasons=reasons, contracted=contracted)
        if label.endswith("Q2"):
            quarter = uow.missions.quarter(DEMO_SLUG, label)
            if quarter.rag is Rag.green:
                cycle.override_rag(
                    uow,
                    ACTOR,
                    DEMO_SLUG,
                    Rag.amber,
                    "Two hydrogen stage gates are still ahead this year; until "
                    "they pass, the modelled probability flatters the portfolio.",
                )
            cycle.add_dissent(
                uow,
                "council4",
                {Role.council_member},
                DEMO_SLUG,
                "The portfolio leans on sustainable aviation fuel volumes that "
                "depend on feedstock the UK does not yet secure.",
            )
        cycle.save_update(
            uow, ACTOR, DEMO_SLUG, cycle.draft_letter(uow, DEMO_SLUG, label), publish=True
        )
        cycle.close_quarter(uow, ACTOR, DEMO_SLUG)
        uow.commit()


def _reason(kind: str) -> str:
    return {
        "start": "New evidence and council scores make it one of the best uses of the budget.",
        "stop": "The portfolio does better without it at this quarter's estimates.",
        "scale up": "Milestones met: moving to the larger tranche.",
        "scale down": "Costs rose; holding it at a smaller tranche until the next gate.",
    }.get(kind, "")


__all__ = ["QuarterState", "load_demo"]
