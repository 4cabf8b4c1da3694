"""Run independent re-solves in parallel: local processes by default, a Dask cluster on request.

`map_solves(fn, items)` applies a picklable, top-level function to every item and returns the
results in input order, whichever backend ran them and in whatever order they finished, so an
analysis gives the same answer on a laptop, in CI and on a cluster. Local runs use a
`ProcessPoolExecutor` with the ``spawn`` start method (safe with threads, HiGHS and pulp; the
functions and items must be importable and picklable). A Dask cluster is used only when the caller
passes `scheduler` (an address such as ``tcp://host:8786`` or a `distributed.Client`); the
`distributed` package is imported only then. `scheduler_from_env()` reads ``DASK_SCHEDULER`` for
callers (the web's background jobs) that follow the environment.

`SolveTask` / `run_solve_task` is the standard unit of work of the analytics: one `solve()` of a
(modified) problem with a solver and time limit; `SolveSummary` is what the reports keep of it.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from optimiser.problem import Evaluation, Problem
from optimiser.result import Result
from optimiser.solve import solve

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int], None]
SCHEDULER_ENV = "DASK_SCHEDULER"


def default_workers() -> int:
    """min(2, number of CPUs): the machines this runs on have two cores."""
    return max(1, min(2, os.cpu_count() or 1))


def scheduler_from_env() -> str | None:
    """The Dask scheduler address in ``DASK_SCHEDULER``, or None (run on local processes)."""
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    return address or None


def map_solves(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int | None = None,
    scheduler: Any = None,
    on_progress: Progress | None = None,
) -> list[R]:
    """[fn(item) for item in items], computed in parallel; results in input order.

    `workers`: local processes (default `default_workers()`); 1, or a single item, runs in this
    process. `scheduler`: a Dask scheduler address or a `distributed.Client`; when given, the
    items run on that cluster and `workers` is ignored. `on_progress(done, total)` is called once
    before any work (done = 0) and then as each item finishes. An exception raised by `fn` is
    re-raised here.
    """
    items = list(items)
    total = len(items)
    if on_progress is not None:
        on_progress(0, total)
    if total == 0:
        return []
    if scheduler is not None:
        return _map_dask(fn, items, scheduler, on_progress)
    n = default_workers() if workers is None else workers
    if n < 1:
        raise ValueError(f"workers: must be at least 1, got {n}")
    if n == 1 or total == 1:
        results = []
        for done, item in enumerate(items, start=1):
            results.append(fn(item))
            if on_progress is not None:
                on_progress(done, total)
        return results
    return _map_processes(fn, items, min(n, total), on_progress)


def _map_processes(
    fn: Callable[[T], R], items: list[T], n: int, on_progress: Progress | None
) -> list[R]:
    context = multiprocessing.get_context("spawn")
    results: dict[int, R] = {}
    with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
        pending: dict[Future[R], int] = {pool.submit(fn, item): j for j, item in enumerate(items)}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    results[pending.pop(future)] = future.result()
                    if on_progress is not None:
                        on_progress(len(results), len(items))
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return [results[j] for j in range(len(items))]


def _map_dask(
    fn: Callable[[T], R], items: list[T], scheduler: Any, on_progress: Progress | None
) -> list[R]:
    # imported lazily (only callers asking for a cluster need it), typed loosely on purpose
    distributed: Any = importlib.import_module("distributed")
    own = isinstance(scheduler, str)
    client = distributed.Client(scheduler) if own else scheduler
    try:
        futures = client.map(fn, items, pure=False)
        index = {future.key: j for j, future in enumerate(futures)}
        results: dict[int, R] = {}
        for future in distributed.as_completed(futures):
            results[index[future.key]] = future.result()
            if on_progress is not None:
                on_progress(len(results), len(items))
        return [results[j] for j in range(len(items))]
    finally:
        if own:
            client.close()


@dataclass(frozen=True)
class SolveTask:
    """One re-solve: a problem and how to solve it (picklable, sent to a worker)."""

    problem: Problem
    solver: str = "highs"
    time_limit: float | None = None


def run_solve_task(task: SolveTask) -> Result:
    """`solve(task.problem)` with the task's solver and time limit (runs in a worker)."""
    return solve(task.problem, solver=task.solver, time_limit=task.time_limit)


class SolveSummary(BaseModel):
    """What an analysis keeps of one re-solve (metrics out of sample unless named in-sample)."""

    status: str
    objective: float | None = None
    p_target: float | None = None
    expected_impact: float | None = None
    cvar_shortfall: float | None = None
    p_target_in_sample: float | None = None
    expected_impact_in_sample: float | None = None
    cvar_shortfall_in_sample: float | None = None
    spend: float = 0.0
    selected: dict[str, str] = Field(default_factory=dict)
    seconds: float = 0.0
    gap: float | None = None

    @property
    def solved(self) -> bool:
        """A portfolio was found (optimal, or feasible at the time limit)."""
        return self.status in ("optimal", "feasible")


def summarise(result: Result) -> SolveSummary:
    """The `SolveSummary` of a `Result`."""
    oos = result.metrics.out_of_sample
    ins = result.metrics.in_sample
    return SolveSummary(
        status=result.status,
        objective=result.objective,
        p_target=None if oos is None else oos.p_target,
        expected_impact=None if oos is None else oos.expected_impact,
        cvar_shortfall=None if oos is None else oos.cvar_shortfall,
        p_target_in_sample=None if ins is None else ins.p_target,
        expected_impact_in_sample=None if ins is None else ins.expected_impact,
        cvar_shortfall_in_sample=None if ins is None else ins.cvar_shortfall,
        spend=result.spend.total,
        selected=dict(result.selected),
        seconds=result.solver.seconds,
        gap=result.solver.gap,
    )


def run_summary_task(task: SolveTask) -> SolveSummary:
    """`summarise(run_solve_task(task))` (runs in a worker; a small answer to send back)."""
    return summarise(run_solve_task(task))


def without_evaluation(problem: Problem) -> Problem:
    """`problem` with a one-scenario `evaluation` block, for re-solves whose out-of-sample
    metrics are not reported (saves sampling the default 20,000 evaluation scenarios)."""
    return problem.model_copy(
        update={"evaluation": Evaluation(count=1, seed=problem.evaluation.seed)}
    )
