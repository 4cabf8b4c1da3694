"""Background jobs: optimiser runs execute off the request, one at a time per server process,
in a separate worker process so a long solve never holds the web server's interpreter; analyses
run from a thread (their re-solves fan out to processes or Dask themselves).

On start-up, runs that a stopped server left queued or running are marked failed (with the reason)
so they never stay "running" forever; the CEO can start them again. On shutdown a running solve
is asked to stop and records the best portfolio found so far (status ``feasible``).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from portfolio import analytics_jobs
from portfolio.database import make_engine
from portfolio.model import ANALYTICS_KINDS
from portfolio.runs import execute_run, fail_interrupted_runs
from portfolio.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)
_stop: Any = None  # the worker process's stop event


def _init_worker(stop: Any) -> None:
    global _stop
    _stop = stop


def _execute_in_worker(database_url: str, run_id: int) -> str:
    """Runs in the solver process: its own engine, the same service as inline."""
    engine = make_engine(database_url)
    try:
        factory = sessionmaker(engine, expire_on_commit=False)
        return execute_run(
            lambda: SqlUnitOfWork(factory), run_id, _stop.is_set if _stop is not None else None
        )
    finally:
        engine.dispose()


class JobRunner:
    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        inline: bool = False,
        database_url: str | None = None,
    ) -> None:
        self.factory = factory
        self.inline = inline
        self.database_url = database_url
        self.stopping = threading.Event()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis")
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._solver: ProcessPoolExecutor | None = None
        self.futures: dict[int, Future[str]] = {}

    def _solver_pool(self) -> ProcessPoolExecutor:
        if self._solver is None:
            self._solver = ProcessPoolExecutor(
                max_workers=1,
                mp_context=self._context,
                initializer=_init_worker,
                initargs=(self._stop,),
            )
        return self._solver

    def new_uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.factory)

    def recover(self) -> list[int]:
        with self.new_uow() as uow:
            failed = fail_interrupted_runs(uow)
            analytics_jobs.fail_interrupted(uow)
            uow.commit()
        if failed:
            log.warning("marked interrupted optimiser runs as failed: %s", failed)
        return failed

    def submit(self, run_id: int) -> None:
        if self.inline:
            execute_run(self.new_uow, run_id, self.stopping.is_set)
            return
        if self.database_url is None:  # no URL to reconnect from: solve on a thread
            self.futures[run_id] = self.executor.submit(
                execute_run, self.new_uow, run_id, self.stopping.is_set
            )
            return
        self.futures[run_id] = self._solver_pool().submit(
            _execute_in_worker, self.database_url, run_id
        )

    def submit_analysis(self, run_id: int, kind: str) -> None:
        if self.inline:
            analytics_jobs.execute(self.new_uow, run_id, kind)
            return
        self.futures[-run_id * 100 - ANALYTICS_KINDS.index(kind)] = self.executor.submit(
            analytics_jobs.execute, self.new_uow, run_id, kind
        )

    def wait_analysis(self, run_id: int, kind: str, timeout: float | None = None) -> str | None:
        future = self.futures.get(-run_id * 100 - ANALYTICS_KINDS.index(kind))
        return future.result(timeout) if future else None

    def wait(self, run_id: int, timeout: float | None = None) -> str | None:
        future = self.futures.get(run_id)
        return future.result(timeout) if future else None

    def shutdown(self) -> None:
        """Stop: a running solve returns its best portfolio so far (status ``feasible``)."""
        self.stopping.set()
        self._stop.set()
        if self._solver is not None:
            self._solver.shutdown(wait=True, cancel_futures=True)
        self.executor.shutdown(wait=True, cancel_futures=True)
