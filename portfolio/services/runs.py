"""Optimiser runs: start one from the mission's current data, execute it, record the outcome.

A run stores the exact problem file it solves and the result it produced, so anyone can re-run
it with ``mission-portfolio solve``. Execution happens in a background job; every state change is
its own short transaction, so a crash or a restart never leaves a half-written result.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from optimiser.errors import ProblemError
from optimiser.problem import Policy, load_problem
from optimiser.result import Progress
from optimiser.solve import solve
from portfolio.adapters.database import storage_problem
from portfolio.adapters.ports import UnitOfWork
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.domain.model import RUN_ACTIVE, OptimiserRun, QuarterState
from portfolio.domain.money import loss_share_of, switching_cost_of
from portfolio.domain.run_policy import DEFAULT_SCENARIOS
from portfolio.services import analytics_jobs
from portfolio.services.ledger import spent
from portfolio.services.missions import SYSTEM, record
from portfolio.services.quarters import current_quarter as current_quarter
from portfolio.services.quarters import lock_current
from portfolio.services.to_problem import mission_problem

log = logging.getLogger(__name__)
INTERRUPTED = (
    "left unfinished: the server solving it stopped, or its result could not be saved; "
    "start it again"
)
PROGRESS_EVERY_S = 1.0
#: the server process solving a run refreshes its heartbeat this often (seconds) ...
HEARTBEAT_S = 10.0
#: ... and a running run whose heartbeat is older than this was abandoned: its process stopped
STALE_AFTER_S = 60.0


def export_problem(
    uow: SqlUnitOfWork,
    slug: str,
    policy: Policy | None = None,
    *,
    scenarios: int = DEFAULT_SCENARIOS,
    seed: int = 42,
    budget_scale: float = 1.0,
) -> dict[str, Any]:
    """The problem file the mission's current data gives (``budget_scale`` for a what-if): the
    council's frozen aggregates updated by the evidence since (``beliefs.current_estimates``)."""
    from portfolio.services.beliefs import current_estimates

    problem = mission_problem(
        uow.missions.get(slug),
        uow.candidates.all(slug),
        policy,
        estimates=current_estimates(uow, slug),
        scenarios=scenarios,
        seed=seed,
        spent=spent(uow, slug),
        quarter=current_quarter(uow, slug),
        budget_scale=budget_scale,
    )
    return problem.model_dump(mode="json")


def start_run(
    uow: SqlUnitOfWork,
    actor: str,
    slug: str,
    policy: Policy,
    *,
    scenarios: int = DEFAULT_SCENARIOS,
    seed: int = 42,
    solver: str = "highs",
    note: str = "",
    overrides: dict[str, str] | None = None,
    budget_scale: float = 1.0,
    switching_loss: float | None = None,
) -> int:
    """Queue a run of the optimiser on the mission's current data; returns its id.

    Every lock and exclusion needs its reason in ``overrides``. Every live contract becomes a
    commitment and, unless the policy names it, the last approved allocation ``previous`` (for
    the switching cost): ``carry_forward_commitments``. A ``budget_scale`` other than 1 makes a
    what-if run, stored as such: it can never be approved. ``switching_loss`` states the switching
    cost in money (the share of de-committed money that is lost, 0–1); it becomes the policy's
    ``switching_cost`` in the objective's units (`portfolio.domain.money`). The settings become the
    mission's stored policy, which the optimiser form starts from next time.

    The run is recorded in the quarter current at that moment: the quarter is locked for the
    transaction (``quarters.lock_current``), so a concurrent close waits or has finished."""
    quarter = lock_current(uow, slug).label
    overrides = {k: v.strip() for k, v in (overrides or {}).items() if v.strip()}
    missing = [ref for ref in [*policy.locks, *policy.exclusions] if ref not in overrides]
    if missing:
        raise InvalidInput(
            [(f"overrides.{ref}", "give the reason for this lock or exclusion") for ref in missing]
        )
    policy = carry_forward_commitments(uow, slug, quarter, policy, actor=actor)
    try:
        problem = export_problem(
            uow, slug, policy, scenarios=scenarios, seed=seed, budget_scale=budget_scale
        )
    except ProblemError as exc:  # e.g. a lock naming no candidate of the mission
        raise InvalidInput(exc.errors) from exc
    if switching_loss is not None:
        if not (math.isfinite(switching_loss) and 0 <= switching_loss <= 1):
            raise InvalidInput.single("switching_loss", "must be a share from 0 to 1")
        problem["policy"]["switching_cost"] = switching_cost_of(switching_loss, problem)
    _store_policy(uow, actor, slug, problem, solver, round(loss_share_of(problem), 9))
    run_id = uow.runs.add(
        slug,
        OptimiserRun(
            mission=slug,
            quarter=quarter,
            objective=policy.objective,
            solver=solver,
            status="queued",
            started_by=actor,
            note=note,
            created_at=uow.now(),
            problem=problem,
            overrides=overrides,
            budget_scale=budget_scale,
        ),
    )
    record(
        uow,
        actor,
        slug,
        "optimiser_run",
        str(run_id),
        "started",
        after={
            "quarter": quarter,
            "objective": policy.objective,
            "solver": solver,
            "policy": problem["policy"],
            "scenarios": problem["scenarios"],
            "budget_scale": budget_scale,
        },
    )
    return run_id


def _store_policy(
    uow: SqlUnitOfWork,
    actor: str,
    slug: str,
    problem: dict[str, Any],
    solver: str,
    switching_loss: float,
) -> None:
    """Keep the CEO's settings as the mission's policy (audited when they change); the
    contracts, locks, exclusions and last quarter's allocation are per run, not policy."""
    per_run = {"commitments", "previous", "locks", "exclusions", "dal", "dal_mode"}
    stored = {
        "policy": {k: v for k, v in problem["policy"].items() if k not in per_run},
        "scenarios": problem["scenarios"],
        "solver": solver,
        "switching_loss": switching_loss,
    }
    mission = uow.missions.get(slug)
    if mission.policy == stored:
        return
    uow.missions.update(mission.with_changes(policy=stored))
    record(uow, actor, slug, "mission", slug, "policy", before=mission.policy, after=stored)


def carry_forward_commitments(
    uow: SqlUnitOfWork, slug: str, quarter: str, policy: Policy, *, actor: str = SYSTEM
) -> Policy:
    """Add every live contract to ``commitments`` (after completing those with nothing left to
    spend, ``contracts.complete_finished``) and fill ``previous`` from the last approved quarter.

    A failed stage gate does not release a contract: only ending it does. A contract whose
    candidate (or option) the CEO excludes is left out of this run's problem, so the run can show
    the portfolio without it; such a run cannot be approved until the contract is ended."""
    from portfolio.services.contracts import complete_finished, ref
    from portfolio.services.cycle import previous_holdings

    excluded = set(policy.exclusions)
    carried = [
        ref(c)
        for c in complete_finished(uow, actor, slug, quarter)
        if c.candidate not in excluded and ref(c) not in excluded
    ]
    update: dict[str, Any] = {}
    commitments = sorted({*policy.commitments, *carried})
    if commitments != policy.commitments:
        update["commitments"] = commitments
    if not policy.previous:
        update["previous"] = {c: o for c, (o, _) in previous_holdings(uow, slug, quarter).items()}
    if not update:
        return policy
    return type(policy).model_validate({**policy.model_dump(), **update})


def execute_run(
    new_uow: Callable[[], SqlUnitOfWork],
    run_id: int,
    should_stop: Callable[[], bool] | None = None,
    *,
    analyses: bool = False,
    claimed: bool = False,
    owner: str | None = None,
) -> str:
    """Solve run ``run_id`` and store its result; returns the final status. Never raises: a
    failed solve is recorded on the run and shown to the user, and so is a result that cannot
    be saved (``_record_failure``). With ``analyses``, a run that found a portfolio then gets
    its automatic analyses queued (``analytics_jobs.queue_automatic``), after its result is
    saved and in a transaction of their own, so they can never fail or hold up the run.

    A queued run is claimed first (for ``owner``, by default this process): when another
    process has claimed it meanwhile, nothing is done. ``claimed``: the caller has claimed it
    already (``claim_next_run``), and it is solved if it is still running."""
    begun = _begin(new_uow, run_id, claimed, owner)
    if isinstance(begun, str):
        return begun
    run, last = begun, [0.0]

    def on_progress(progress: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S:
            return
        last[0] = now
        try:
            with new_uow() as uow:
                uow.runs.update(
                    run_id,
                    progress={
                        "elapsed": round(progress.elapsed, 1),
                        "incumbent": progress.incumbent,
                        "bound": progress.bound,
                        "phase": progress.phase,
                    },
                )
                uow.commit()
        except SQLAlchemyError:  # progress is a courtesy: the solve goes on without it
            log.warning("run %s: its progress could not be saved", run_id, exc_info=True)

    try:
        problem = load_problem(run.problem)
        result = solve(
            problem, solver=run.solver, on_progress=on_progress, should_stop=should_stop
        ).model_dump(mode="json")
        status, error = str(result["status"]), result.get("message")
    except Exception as exc:  # a solver crash is recorded, never left "running"
        result, status, error = None, "failed", f"the solver failed: {exc}"
    try:
        with new_uow() as uow:
            uow.runs.update(
                run_id, status=status, result=result, error=error, finished_at=uow.now()
            )
            _record_finished(uow, run, status, error)
            uow.commit()
    except SQLAlchemyError as exc:
        return _record_failure(
            new_uow, run_id, f"the solve ended ({status}) but its result could not be saved", exc
        )
    if analyses:
        _queue_analyses(new_uow, run_id)
    return status


def _begin(
    new_uow: Callable[[], SqlUnitOfWork], run_id: int, claimed: bool, owner: str | None
) -> OptimiserRun | str:
    """The run to solve, claimed; or the status to return when it is not this caller's."""
    try:
        with new_uow() as uow:
            run = uow.runs.find(run_id)
            if run is None:
                return "failed"
            if claimed:
                return run if run.status == "running" else run.status
            if uow.runs.claim(owner or worker_identity(), uow.now(), run_id) is None:
                return run.status if run.status != "queued" else "running"
            uow.commit()
            return run
    except SQLAlchemyError as exc:
        return _record_failure(new_uow, run_id, "the run could not be started", exc)


def _queue_analyses(new_uow: Callable[[], SqlUnitOfWork], run_id: int) -> None:
    try:
        with new_uow() as uow:
            run = uow.runs.find(run_id)
            if run is not None and analytics_jobs.queue_automatic(uow, run):
                uow.commit()
    except (SQLAlchemyError, Conflict):  # the analyses can be started by hand from the report
        log.warning("run %s: its analyses could not be queued", run_id, exc_info=True)


def _record_finished(uow: SqlUnitOfWork, run: OptimiserRun, status: str, error: str | None) -> None:
    record(
        uow,
        run.started_by,
        run.mission,
        "optimiser_run",
        str(run.id),
        "finished",
        after={"status": status, **({"error": error} if error else {})},
    )


def _record_failure(
    new_uow: Callable[[], SqlUnitOfWork], run_id: int, what: str, exc: SQLAlchemyError
) -> str:
    """Mark the run failed because the database refused its state (read-only, full, …). When
    even that cannot be written, the run stays as it was in the database: a queued run is
    claimed again by a server process, a running one is marked failed once its heartbeat is
    stale (``fail_interrupted_runs``)."""
    error = f"{what}: {storage_problem(exc) or 'the database refused the change'}; start it again"
    log.error("optimiser run %s: %s", run_id, error, exc_info=exc)
    return fail_run(new_uow, run_id, error)


def fail_run(new_uow: Callable[[], SqlUnitOfWork], run_id: int, error: str) -> str:
    """Mark run ``run_id`` failed with ``error`` (for a person to read) unless it has finished;
    never raises."""
    try:
        with new_uow() as uow:
            run = uow.runs.find(run_id)
            if run is not None and run.status in RUN_ACTIVE:
                uow.runs.update(run_id, status="failed", error=error, finished_at=uow.now())
                _record_finished(uow, run, "failed", error)
                uow.commit()
    except SQLAlchemyError:
        log.error(
            "optimiser run %s could not be marked failed either: left queued, a server runs "
            "it later; left running, a server marks it failed once its heartbeat is stale",
            run_id,
            exc_info=True,
        )
    return "failed"


# -- the run queue every server process shares (mission-portfolio serve --workers N) -----------
def worker_identity() -> str:
    """This server process as the owner of the runs it claims: host:pid:random (the random part
    tells apart a later process that reuses the pid)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def claim_next_run(uow: UnitOfWork, owner: str) -> int | None:
    """Claim the oldest queued run for server process ``owner`` (it becomes running, owned by
    ``owner``): its id, or None when none is queued. Two processes never claim the same run."""
    return uow.runs.claim(owner, uow.now())


def keep_alive(uow: UnitOfWork, owner: str) -> list[int]:
    """``owner`` is alive: refresh the heartbeat of the runs it is solving; their ids."""
    return uow.runs.heartbeat(owner, uow.now())


def release_run(uow: UnitOfWork, run_id: int, owner: str) -> bool:
    """Put a run ``owner`` claimed but will not solve (it is stopping) back in the queue."""
    return uow.runs.release(run_id, owner)


def fail_interrupted_runs(uow: UnitOfWork, stale_after_s: float = STALE_AFTER_S) -> list[int]:
    """Mark failed (``INTERRUPTED``) the runs a stopped server left running, so they can be
    re-run: those whose owner's heartbeat is older than ``stale_after_s`` seconds, and those
    running with no owner (left by a version before the shared queue). A live process's runs
    are left alone, and so are queued runs: the next process to look claims them."""
    now = uow.now()
    return uow.runs.fail_abandoned(now - dt.timedelta(seconds=stale_after_s), INTERRUPTED, now)


def rerun(uow: SqlUnitOfWork, actor: str, slug: str, run_id: int) -> int:
    """Queue a new run with exactly the problem file of run ``run_id``: the same quarter (its
    money was that quarter's remaining money), overrides and budgets (a what-if stays one).
    A closed quarter records no new run."""
    old = uow.runs.get(slug, run_id)
    if uow.missions.lock_quarter(slug, old.quarter).state is QuarterState.closed:
        raise Conflict(
            f"run {run_id} belongs to {old.quarter}, which is closed: a closed quarter records no "
            "new runs. Download its problem file to re-solve it (mission-portfolio solve), or "
            "start a run in the current quarter"
        )
    new_id = uow.runs.add(
        slug,
        OptimiserRun(
            mission=slug,
            quarter=old.quarter,
            objective=old.objective,
            solver=old.solver,
            status="queued",
            started_by=actor,
            note=f"re-run of run {run_id}",
            created_at=uow.now(),
            problem=old.problem,
            overrides=old.overrides,
            budget_scale=old.budget_scale,
        ),
    )
    record(uow, actor, slug, "optimiser_run", str(new_id), "started", after={"rerun_of": run_id})
    return new_id
