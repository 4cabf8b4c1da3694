"""Background jobs: optimiser runs execute off the request, one at a time per server process.

On start-up, runs that a stopped server left queued or running are marked failed (with the reason)
so they never stay "running" forever; the CEO can start them again.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker

from portfolio import analytics_jobs
from portfolio.model import ANALYTICS_KINDS
from portfolio.runs import execute_run, fail_interrupted_runs
from portfolio.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, factory: sessionmaker[Session], *, inline: bool = False) -> None:
        self.factory = factory
        self.inline = inline
        self.stopping = threading.Event()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="optimiser")
        self.futures: dict[int, Future[str]] = {}

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
        self.futures[run_id] = self.executor.submit(
            execute_run, self.new_uow, run_id, self.stopping.is_set
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
        self.executor.shutdown(wait=True, cancel_futures=True)
