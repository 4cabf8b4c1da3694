"""The run queue every server process shares (``mission-portfolio serve --workers N``), on SQLite
and PostgreSQL: a queued run is claimed by exactly one process, even when many claim at once; a
process's start-up fails only the runs of processes that stopped (a stale heartbeat, or no owner),
never a live one's, and leaves queued runs to be solved; a queued run left by a stopped server is
solved by the next; the heartbeat of a run is refreshed while it solves."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from support import DEMO

from api.app import create_app
from api.jobs import JobRunner
from api.settings import Settings
from optimiser.problem import Policy
from portfolio.adapters.database import make_engine
from portfolio.adapters.orm import RunRow
from portfolio.adapters.unit_of_work import SqlUnitOfWork, session_factory
from portfolio.domain.model import OptimiserRun
from portfolio.services import runs

SECRET = "x" * 40
QUARTER = "2026-27 Q3"  # the demo's open quarter


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def queue(engine: Engine, count: int = 1) -> list[int]:
    """``count`` queued runs (an empty problem: for the queue, not the solver)."""
    with SqlUnitOfWork(engine) as uow:
        ids = [
            uow.runs.add(
                DEMO,
                OptimiserRun(
                    mission=DEMO,
                    quarter=QUARTER,
                    objective="expected",
                    started_by="ceo",
                    created_at=uow.now(),
                    problem={},
                ),
            )
            for _ in range(count)
        ]
        uow.commit()
    return ids


def row(engine: Engine, run_id: int) -> Any:
    """The stored state of run ``run_id``: status, owner, heartbeat, error, finished_at."""
    with SqlUnitOfWork(engine) as uow:
        return uow.session.execute(
            select(
                RunRow.status, RunRow.owner, RunRow.heartbeat, RunRow.error, RunRow.finished_at
            ).where(RunRow.id == run_id)
        ).one()


def claimed_by(engine: Engine, owner: str, heartbeat: dt.datetime) -> int:
    """A run queued and claimed by server process ``owner``, its last heartbeat ``heartbeat``."""
    (run_id,) = queue(engine)
    with SqlUnitOfWork(engine) as uow:
        assert uow.runs.claim(owner, heartbeat, run_id) == run_id
        uow.commit()
    return run_id


def test_processes_claiming_at_once_never_take_the_same_run(engine: Engine) -> None:
    """Eight claimers (threads, each its own connection) race for 40 queued runs."""
    ids = queue(engine, 40)
    taken: list[tuple[str, int]] = []
    barrier = threading.Barrier(8)

    def claimer(owner: str) -> None:
        barrier.wait()
        while True:
            with SqlUnitOfWork(engine) as uow:
                run_id = runs.claim_next_run(uow, owner)
                uow.commit()
            if run_id is None:
                return
            taken.append((owner, run_id))

    threads = [threading.Thread(target=claimer, args=(f"host:{n}:t",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claims = Counter(run_id for _, run_id in taken)
    assert sorted(claims) == ids  # every run claimed ...
    assert set(claims.values()) == {1}  # ... once
    for owner, run_id in taken:  # by the process that was told it had it
        stored = row(engine, run_id)
        assert (stored.status, stored.owner) == ("running", owner)


def test_start_up_fails_only_the_runs_of_processes_that_stopped(
    engine: Engine, db_url: str
) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    live = claimed_by(engine, "other-host:41:live", now)
    gone = claimed_by(engine, "other-host:42:gone", now - dt.timedelta(minutes=10))
    (old_version,) = queue(engine)  # running, with no owner: left by a version before the queue
    with SqlUnitOfWork(engine) as uow:
        uow.runs.update(old_version, status="running", started_at=now)
        uow.commit()
    (waiting,) = queue(engine)
    app = create_app(Settings(database_url=db_url, secret_key=SECRET))  # start-up; not serving
    try:
        assert (row(engine, live).status, row(engine, live).error) == ("running", None)
        assert row(engine, waiting).status == "queued"  # left to be claimed, not failed
        for run_id in (gone, old_version):
            stored = row(engine, run_id)
            assert (stored.status, stored.error) == ("failed", runs.INTERRUPTED)
            assert stored.finished_at is not None
        assert "server solving it stopped" in runs.INTERRUPTED  # says why, to a person
    finally:
        app.state.jobs.shutdown()
        app.state.engine.dispose()


def test_a_queued_run_left_by_a_stopped_server_is_solved_by_the_next(
    engine: Engine, db_url: str
) -> None:
    with SqlUnitOfWork(engine) as uow:
        run_id = runs.start_run(uow, "ceo", DEMO, Policy(objective="expected"), scenarios=100)
        uow.commit()
    app = create_app(Settings(database_url=db_url, secret_key=SECRET))
    assert row(engine, run_id).status == "queued"  # start-up did not fail it
    with TestClient(app):  # serving: the runner takes queued runs from the shared queue
        assert app.state.jobs.wait(run_id, timeout=120) == "optimal"
    stored = row(engine, run_id)
    assert (stored.status, stored.owner) == ("optimal", app.state.jobs.owner)
    app.state.engine.dispose()


class FakeSolves:
    """``execute_run`` for the runners of a test: records which runner solved which run,
    holds each solve ``seconds``, then stores it optimal as a solve would."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.solved: list[int] = []
        self.lock = threading.Lock()

    def __call__(
        self, new_uow: Callable[[], SqlUnitOfWork], run_id: int, should_stop: Any = None, **_: Any
    ) -> str:
        time.sleep(self.seconds)
        with self.lock:
            self.solved.append(run_id)
        with new_uow() as uow:
            uow.runs.update(run_id, status="optimal", finished_at=uow.now())
            uow.commit()
        return "optimal"


def test_two_runners_share_the_queue_and_solve_each_run_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    solves = FakeSolves(seconds=0.05)
    monkeypatch.setattr("api.jobs.execute_run", solves)
    first, second = (JobRunner(session_factory(engine, None), poll_s=0.1) for _ in range(2))
    try:
        ids = queue(engine, 12)
        first.submit(ids[0])  # each starts taking runs; either may take any
        second.submit(ids[0])
        for run_id in ids:
            assert first.wait(run_id, timeout=30) == "optimal"
        assert sorted(solves.solved) == ids
        owners = {row(engine, run_id).owner for run_id in ids}
        assert owners <= {first.owner, second.owner}
    finally:
        first.shutdown()
        second.shutdown()


def test_a_solving_run_keeps_its_heartbeat_fresh(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.jobs.execute_run", FakeSolves(seconds=1.5))
    runner = JobRunner(session_factory(engine, None), poll_s=0.1, heartbeat_s=0.2)
    try:
        (run_id,) = queue(engine)
        runner.submit(run_id)
        deadline = time.monotonic() + 10
        while row(engine, run_id).status == "queued" and time.monotonic() < deadline:
            time.sleep(0.05)
        claimed = row(engine, run_id)
        assert (claimed.status, claimed.owner) == ("running", runner.owner)
        time.sleep(0.8)
        beating = row(engine, run_id)
        assert beating.heartbeat is not None and claimed.heartbeat is not None
        assert beating.heartbeat > claimed.heartbeat
        assert runner.wait(run_id, timeout=10) == "optimal"
    finally:
        runner.shutdown()
