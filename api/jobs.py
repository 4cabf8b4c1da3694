"""Background jobs: optimiser runs execute off the request, one at a time per server process,
in a separate worker process so a long solve never holds the web server's interpreter; analyses
run from a thread (their re-solves fan out to processes or Dask themselves), one at a time; full
checks of a mission's history (``history_checks``) from a thread of their own, one at a time.

Runs wait in a queue every server process shares, in the database (``mission-portfolio serve
--workers N`` on PostgreSQL). A thread of each process's runner ("run-queue") claims the oldest
queued run, atomically (``runs.claim_next_run``: two processes never take the same run), solves
it, refreshes its heartbeat every ``HEARTBEAT_S`` seconds while it solves, and then takes the
next; when none is queued it looks again every ``POLL_S`` seconds, or at once when a request of
its own process queued one (``submit``). A run is solved by whichever process is free first.

Runs come first: an analysis or a history check waits to start while a run of this server is
solving, so neither holds up a run. With ``auto_analyses`` (the setting ``MP_AUTO_ANALYSES``), a
run that found a portfolio gets its frontier, core index and price of policy queued when it
finishes (``analytics_jobs.queue_automatic``) and this runner starts them on the analysis thread.

On start-up, and every ``STALE_AFTER_S`` seconds after, runs whose process stopped while solving
them (running, their owner's heartbeat older than ``STALE_AFTER_S``, or no owner at all) are
marked failed with the reason, so they never stay "running" forever; the CEO can start them
again. Another live process's runs are never touched, and queued runs are not failed: they are
claimed and solved. Analyses and history checks left queued or running have no owner: a lone
server fails them at start-up, and ``serve --workers N`` does once before it starts the
processes (``recover``), so a process that starts later never fails a live one's. Start-up never
fails on them: if the database cannot be written, they are left for later. On shutdown a running
solve is asked to stop and records the best portfolio found so far (status ``feasible``); a run
claimed at that moment goes back in the queue.

The solver process dies with the server, even one killed with SIGKILL: on Linux it asks the
kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere a thread in it
watches its parent. Linux sends that signal when the *thread* that started the process ends, so
the process is started from a thread that lives as long as the job runner.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from portfolio.adapters.database import make_engine, storage_problem
from portfolio.adapters.unit_of_work import SqlUnitOfWork, history_key_of, session_factory
from portfolio.domain.model import ANALYTICS_KINDS, RUN_ACTIVE
from portfolio.services import analytics_jobs, history_checks
from portfolio.services.runs import (
    HEARTBEAT_S,
    STALE_AFTER_S,
    claim_next_run,
    execute_run,
    fail_interrupted_runs,
    fail_run,
    keep_alive,
    release_run,
    worker_identity,
)

log = logging.getLogger(__name__)
_stop: Any = None  # the worker process's stop event
#: an idle runner looks for queued runs this often (seconds)
POLL_S = 2.0


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _init_worker(stop: Any, parent: int) -> None:
    global _stop
    _stop = stop
    _die_with(parent)


def _die_with(parent: int) -> None:
    """End this process when process ``parent`` (the server) ends, however it ends."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
        if armed:
            if os.getppid() != parent:  # the server died before the signal was armed
                os._exit(1)
            return
    threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _execute_in_worker(
    database_url: str, run_id: int, history_key: bytes | None = None, analyses: bool = False
) -> str:
    """Runs in the solver process: its own engine, the same service as inline (its audit
    entries sealed with the server's history key, passed along), on a run the server claimed."""
    engine = make_engine(database_url)
    try:
        factory = session_factory(engine, history_key)
        return execute_run(
            lambda: SqlUnitOfWork(factory),
            run_id,
            _stop.is_set if _stop is not None else None,
            analyses=analyses,
            claimed=True,
        )
    finally:
        engine.dispose()


def recover(
    factory: sessionmaker[Session], stale_after_s: float = STALE_AFTER_S, *, analyses: bool = True
) -> list[int]:
    """Mark the runs a stopped server left unfinished as failed (only those whose process
    stopped, ``fail_interrupted_runs``) and, with ``analyses``, every analysis and history check
    left queued or running (``analytics_jobs.fail_interrupted``,
    ``history_checks.fail_interrupted``: they have no owner, so this is for a start when no other
    process serves the database: ``serve`` does it once before starting N processes). Never
    raises: when the database cannot be written they stay as they are, and a later start-up
    marks them."""
    checks: list[int] = []
    try:
        with SqlUnitOfWork(factory) as uow:
            failed = fail_interrupted_runs(uow, stale_after_s)
            if analyses:
                analytics_jobs.fail_interrupted(uow)
                checks = history_checks.fail_interrupted(uow)
            uow.commit()
    except SQLAlchemyError as exc:
        log.error(
            "could not mark interrupted optimiser runs as failed (%s); a later start-up will",
            storage_problem(exc) or exc,
        )
        return []
    if failed:
        log.warning("marked interrupted optimiser runs as failed: %s", failed)
    if checks:
        log.warning("marked interrupted history checks as failed: %s", checks)
    return failed


class JobRunner:
    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        inline: bool = False,
        database_url: str | None = None,
        auto_analyses: bool = False,
        poll_s: float = POLL_S,
        heartbeat_s: float = HEARTBEAT_S,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        self.factory = factory
        self.inline = inline
        self.database_url = database_url
        self.auto_analyses = auto_analyses
        self.poll_s, self.heartbeat_s, self.stale_after_s = poll_s, heartbeat_s, stale_after_s
        self.owner = worker_identity()  # this process in the shared run queue
        self.stopping = threading.Event()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis")
        self._checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-check")
        self.check_futures: dict[int, Future[str]] = {}
        # solves without a database URL to reconnect from run on a thread of their own, never
        # behind an analysis
        self._solve_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="solver")
        self._idle = threading.Condition()  # notified when a solve of this server ends
        self._solving = 0
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._solver: ProcessPoolExecutor | None = None
        # the thread the solver process is started from (see the module's docstring)
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="solver-spawner")
        self._wake = threading.Event()  # a run was queued: look now
        self._queue: threading.Thread | None = None
        self._queue_lock = threading.Lock()
        self._queue_problem: str | None = None  # logged once, not on every poll
        self.futures: dict[int, Future[str]] = {}

    def _solver_pool(self) -> ProcessPoolExecutor:
        if self._solver is None:
            self._solver = ProcessPoolExecutor(
                max_workers=1,
                mp_context=self._context,
                initializer=_init_worker,
                initargs=(self._stop, os.getpid()),
            )
        return self._solver

    def _submit_to_solver(self, run_id: int) -> Future[str]:
        """On the spawner thread: queue the run in the solver process (started if need be)."""
        assert self.database_url is not None
        args = (self.database_url, run_id, history_key_of(self.factory), self.auto_analyses)
        try:
            return self._solver_pool().submit(_execute_in_worker, *args)
        except BrokenProcessPool:  # the solver process died (killed, out of memory): a new one
            log.warning("the solver process had died; starting a new one")
            self._solver = None
            return self._solver_pool().submit(_execute_in_worker, *args)

    def new_uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.factory)

    def recover(self, *, analyses: bool = True) -> list[int]:
        """``recover`` at this runner's start-up (``analyses``: see there)."""
        return recover(self.factory, self.stale_after_s, analyses=analyses)

    def catch_up(self) -> None:
        """With ``auto_analyses``: start the automatic analyses of each mission's latest approved
        allocation that never had them (``analytics_jobs.queue_missing_automatic``). Never
        raises: a database that cannot be written is left for the next start-up."""
        if not self.auto_analyses or self.inline or self.stopping.is_set():
            return
        try:
            with self.new_uow() as uow:
                runs = analytics_jobs.queue_missing_automatic(uow)
                uow.commit()
        except SQLAlchemyError as exc:
            log.warning("could not queue the approved allocations' analyses (%s)", exc)
            return
        for run_id in runs:
            self._start_queued_analyses(run_id)

    # -- the shared run queue ------------------------------------------------------------------
    def start(self) -> None:
        """Start taking runs from the shared queue (the server's start-up; ``submit`` starts it
        too). Nothing inline, once stopping, or when started already."""
        if self.inline or self.stopping.is_set():
            return
        with self._queue_lock:
            if self._queue is None:
                self._queue = threading.Thread(
                    target=self._take_runs, name="run-queue", daemon=True
                )
                self._queue.start()

    def submit(self, run_id: int) -> None:
        """Run ``run_id``, just queued: inline, now; otherwise the first server process free
        solves it (this one is told to look at once)."""
        if self.inline:
            execute_run(
                self.new_uow,
                run_id,
                self.stopping.is_set,
                analyses=self.auto_analyses,
                owner=self.owner,
            )
            self._start_queued_analyses(run_id)
            return
        self.start()
        self._wake.set()

    def _take_runs(self) -> None:
        """The run-queue thread: claim the oldest queued run and solve it, one at a time; when
        none is queued, wait for ``submit`` or ``poll_s``, and now and then fail the runs of
        processes that stopped (``stale_after_s``)."""
        checked = time.monotonic()
        while not self.stopping.is_set():
            self._wake.clear()  # a run queued from now on is seen by the claim or wakes the wait
            try:
                run_id = self._claim()
                if run_id is not None:
                    self._solve(run_id)
                else:
                    self._wake.wait(self.poll_s)
                if time.monotonic() - checked >= self.stale_after_s and not self.stopping.is_set():
                    checked = time.monotonic()
                    self._fail_abandoned()
            except Exception:  # never let the queue stop: log, wait, look again
                log.exception("optimiser run queue: unexpected error; looking again")
                self._wake.wait(self.poll_s)

    def _queue_call(self, what: str, call: Any) -> Any:
        """``call(uow)`` committed; None (logged, once until it works again) when the database
        refuses it."""
        try:
            with self.new_uow() as uow:
                value = call(uow)
                uow.commit()
        except SQLAlchemyError as exc:
            problem = f"could not {what} ({storage_problem(exc) or exc})"
            if problem != self._queue_problem:
                log.warning("optimiser run queue: %s", problem)
            self._queue_problem = problem
            return None
        self._queue_problem = None
        return value

    def _claim(self) -> int | None:
        run_id: int | None = self._queue_call(
            "look for queued runs", lambda uow: claim_next_run(uow, self.owner)
        )
        if run_id is not None and self.stopping.is_set():  # leave it to another process
            self._queue_call(
                f"put run {run_id} back", lambda uow: release_run(uow, run_id, self.owner)
            )
            return None
        return run_id

    def _fail_abandoned(self) -> None:
        failed = self._queue_call(
            "mark abandoned runs failed", lambda uow: fail_interrupted_runs(uow, self.stale_after_s)
        )
        if failed:
            log.warning("marked optimiser runs whose server stopped as failed: %s", failed)

    def _solve(self, run_id: int) -> None:
        """Solve the claimed run ``run_id`` (in the solver process when there is a database URL
        to reconnect from, else on the solver thread), refreshing its heartbeat meanwhile."""
        with self._idle:
            self._solving += 1
        try:
            if self.database_url is None:
                future = self._solve_thread.submit(
                    execute_run,
                    self.new_uow,
                    run_id,
                    self.stopping.is_set,
                    analyses=self.auto_analyses,
                    claimed=True,
                )
            else:
                future = self._spawner.submit(self._submit_to_solver, run_id).result()
            self.futures[run_id] = future
            while not wait_for_futures([future], timeout=self.heartbeat_s).done:
                self._queue_call("refresh the heartbeat", lambda uow: keep_alive(uow, self.owner))
            crash = None if future.cancelled() else future.exception()
        except Exception as exc:  # the solver could not be started
            crash = exc
        if crash is not None:
            log.error("optimiser run %s: the solver failed", run_id, exc_info=crash)
            fail_run(
                self.new_uow,
                run_id,
                f"the solver process stopped before the run finished ({crash}); start it again",
            )
        self._solve_ended(run_id)

    def _solve_ended(self, run_id: int) -> None:
        with self._idle:
            self._solving -= 1
            self._idle.notify_all()
        self._start_queued_analyses(run_id)

    def _start_queued_analyses(self, run_id: int) -> None:
        """Start the analyses the finished run ``run_id`` queued (``auto_analyses``). Never
        raises: they stay queued, and the report offers to start them by hand."""
        if not self.auto_analyses or self.stopping.is_set():
            return
        try:
            with self.new_uow() as uow:
                kinds = [k for k, a in uow.analyses.for_run(run_id).items() if a.status == "queued"]
            for kind in kinds:
                self.submit_analysis(run_id, kind)
        except (SQLAlchemyError, RuntimeError):  # RuntimeError: the runner is shutting down
            log.warning("run %s: its analyses could not be started", run_id, exc_info=True)

    def submit_analysis(self, run_id: int, kind: str) -> None:
        if self.inline:
            analytics_jobs.execute(self.new_uow, run_id, kind)
            return
        self.futures[-run_id * 100 - ANALYTICS_KINDS.index(kind)] = self.executor.submit(
            self._analyse, run_id, kind
        )

    def _analyse(self, run_id: int, kind: str) -> str:
        """On the analysis thread: wait until no run of this server is solving, then analyse.
        A server that stops meanwhile leaves the analysis queued (the next start-up marks it)."""
        with self._idle:
            self._idle.wait_for(lambda: self._solving == 0 or self.stopping.is_set())
        if self.stopping.is_set():
            return "queued"
        return analytics_jobs.execute(self.new_uow, run_id, kind)

    def wait_analysis(self, run_id: int, kind: str, timeout: float | None = None) -> str | None:
        future = self.futures.get(-run_id * 100 - ANALYTICS_KINDS.index(kind))
        return future.result(timeout) if future else None

    def submit_history_check(self, check_id: int) -> None:
        """Run the history check ``check_id``, just queued: inline, now; otherwise on the
        history-check thread once no run of this server is solving."""
        if self.inline:
            history_checks.execute(self.new_uow, check_id)
            return
        self.check_futures[check_id] = self._checker.submit(self._check_history, check_id)

    def _check_history(self, check_id: int) -> str:
        """On the history-check thread: wait until no run of this server is solving, then check.
        A server that stops meanwhile leaves the check queued (the next start-up fails it)."""
        with self._idle:
            self._idle.wait_for(lambda: self._solving == 0 or self.stopping.is_set())
        if self.stopping.is_set():
            return "queued"
        return history_checks.execute(self.new_uow, check_id)

    def wait_history_check(self, check_id: int, timeout: float | None = None) -> str | None:
        future = self.check_futures.get(check_id)
        return future.result(timeout) if future else None

    def wait(self, run_id: int, timeout: float | None = None) -> str | None:
        """The final status of run ``run_id``: its solve's, when this runner takes it, else as
        stored once it has finished (another process took it); None when there is no such run.
        Raises ``TimeoutError`` when it is still queued or running after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            future = self.futures.get(run_id)
            if future is not None:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                return future.result(left)
            with self.new_uow() as uow:
                run = uow.runs.find(run_id)
            if run is None or run.status not in RUN_ACTIVE:
                return run.status if run else None
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"optimiser run {run_id} is still {run.status}")
            time.sleep(0.05)

    def shutdown(self) -> None:
        """Stop: a running solve returns its best portfolio so far (status ``feasible``)."""
        self.stopping.set()
        self._stop.set()
        self._wake.set()
        with self._idle:
            self._idle.notify_all()  # an analysis or a check waiting for a solve gives up
        if self._queue is not None:  # it ends once its solve has recorded the best found
            self._queue.join()
        if self._solver is not None:
            self._solver.shutdown(wait=True, cancel_futures=True)
        self._spawner.shutdown(wait=True, cancel_futures=True)
        self._solve_thread.shutdown(wait=True, cancel_futures=True)
        self.executor.shutdown(wait=True, cancel_futures=True)
        self._checker.shutdown(wait=True, cancel_futures=True)
