"""EVPPI benchmark: the time of a value-of-information sweep at the demo's size, on local
processes and on a Dask LocalCluster.

    python -m benchmarks.evppi                       # the demo's current run, K = 48 draws
    python -m benchmarks.evppi --quick               # 6 generated candidates, P(target), K = 4 (CI)
    python -m benchmarks.evppi --db demo.db          # read a demo database instead of loading one
    python -m benchmarks.evppi --objective p_target  # the same problem, maximising P(target)
    python -m benchmarks.evppi --no-dask             # local processes only

The demo is loaded into a temporary SQLite database (as ``mission-portfolio demo`` loads it); the
problem, the portfolio and the council's belief are those of its current quarter's run, read as
the web's "Value of information" analysis reads them (``analytics_jobs.belief_spread``; each
re-solve limited to min(the policy's limit, ``VOI_TIME_LIMIT_S``)). Local: ``default_workers()``
spawned processes. Dask: a ``LocalCluster`` of 2 worker processes with one thread each (needs
``distributed``, from the test extras; without it that row says so). The machine is shared, so
the load average is printed beside the times. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.instances import generate  # noqa: E402
from benchmarks.table import header, line, machine  # noqa: E402
from optimiser.analytics.parallel import default_workers  # noqa: E402
from optimiser.analytics.voi import DEFAULT_DRAWS, Evppi, evppi  # noqa: E402
from optimiser.problem import Problem, load_problem  # noqa: E402
from optimiser.solve import solve  # noqa: E402

PASSWORD = "evppi-benchmark-password-1"
SECRET = "evppi-benchmark-secret-key-0123456789-abcdefghijkl"
QUICK_DRAWS = 4


@contextlib.contextmanager
def demo_database(db: Path | None) -> Iterator[tuple[str, float]]:
    """A demo database's URL (a copy of ``db``, or a newly loaded one) and the seconds taken."""
    from api.cli import load_demo
    from api.settings import Settings
    from portfolio.adapters import database

    folder = Path(tempfile.mkdtemp(prefix="mp-evppi-"))
    began = time.perf_counter()
    try:
        target = folder / "demo.db"
        url = database.sqlite_url(target)
        if db is not None:
            shutil.copyfile(db, target)
        else:
            load_demo(Settings(database_url=url, secret_key=SECRET), PASSWORD)
        yield url, time.perf_counter() - began
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def demo_inputs(url: str) -> tuple[Problem, dict[str, str], dict[str, dict[str, float]], str]:
    """The demo's latest run: its problem, portfolio, the council's belief and its quarter."""
    from portfolio.adapters import database
    from portfolio.adapters.unit_of_work import SqlUnitOfWork, session_factory
    from portfolio.demo.mission import DEMO_SLUG
    from portfolio.services import analytics_jobs

    engine = database.make_engine(url)
    try:
        with SqlUnitOfWork(session_factory(engine, None)) as uow:
            run = max(uow.runs.all(DEMO_SLUG), key=lambda r: r.id or 0)
            assert run.result is not None, "the demo's latest run has no result"
            beliefs = analytics_jobs.belief_spread(uow, run)
            return load_problem(run.problem), dict(run.result.selected), beliefs, run.quarter
    finally:
        engine.dispose()


def quick_inputs() -> tuple[Problem, dict[str, str], dict[str, dict[str, float]], str]:
    """A generated problem of 6 candidates, 300 scenarios, 5,000 evaluation scenarios,
    maximising P(target) (solved exactly in a fraction of a second); its own solution as the
    portfolio."""
    problem = load_problem(generate(6, 300, 1, "p_target", rules="budgets"))
    problem = problem.model_copy(
        update={"evaluation": problem.evaluation.model_copy(update={"count": 5000})}
    )
    result = solve(problem, time_limit=10)
    return problem, dict(result.selected), {}, "generated"


def sweep(
    problem: Problem,
    selected: dict[str, str],
    beliefs: dict[str, dict[str, float]],
    draws: int,
    scheduler: Any = None,
) -> tuple[Evppi, float]:
    from portfolio.services.analytics_jobs import VOI_TIME_LIMIT_S

    limit = min(problem.policy.time_limit_s, VOI_TIME_LIMIT_S)
    began = time.perf_counter()
    found = evppi(
        problem,
        selected=selected,
        spread=beliefs or None,
        draws=draws,
        time_limit=limit,
        scheduler=scheduler,
    )
    return found, time.perf_counter() - began


def on_dask(
    problem: Problem, selected: dict[str, str], beliefs: dict[str, dict[str, float]], draws: int
) -> tuple[Evppi, float, float] | str:
    """The sweep on a fresh LocalCluster (2 processes, 1 thread each): the result, the sweep's
    seconds and the cluster's start-up seconds; or why it could not run."""
    try:
        import distributed
    except ImportError:
        return "distributed is not installed (pip install 'dask[distributed]'): not measured"
    began = time.perf_counter()
    with (
        distributed.LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # the workers' heartbeat errors as the cluster closes
        ) as cluster,
        distributed.Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        started = time.perf_counter() - began
        found, seconds = sweep(problem, selected, beliefs, draws, scheduler=client)
    return found, seconds, started


def row(where: str, found: Evppi, seconds: float, note: str = "") -> str:
    rows = found.rows
    swept = sum(r.status == "swept" for r in rows)
    screened = sum(r.status == "screened" for r in rows)
    separated = [r for r in rows if r.separated]
    top = separated[0].name or separated[0].candidate if separated else "none"
    load = os.getloadavg()[0]
    cells = line(
        where,
        len(rows),
        swept,
        screened,
        found.draws,
        found.solves,
        f"{seconds:.1f}",
        f"{seconds / max(1, found.solves):.2f}",
        len(separated),
        top,
        f"{load:.1f}",
    )
    return cells + note


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 generated candidates, K = 4")
    parser.add_argument("--db", type=Path, help="a demo database to copy instead of loading one")
    parser.add_argument("--draws", type=int, help=f"K (default {DEFAULT_DRAWS}; --quick 4)")
    parser.add_argument(
        "--objective",
        choices=["p_target", "capped", "expected", "cvar"],
        help="solve the same problem with this objective (default: the run's own)",
    )
    parser.add_argument("--no-dask", action="store_true", help="local processes only")
    args = parser.parse_args(argv)
    draws = args.draws or (QUICK_DRAWS if args.quick else DEFAULT_DRAWS)
    setup = ""
    if args.quick:
        problem, selected, beliefs, quarter = quick_inputs()
    else:
        with demo_database(args.db) as (url, loaded):
            problem, selected, beliefs, quarter = demo_inputs(url)
        setup = f"demo {'copied' if args.db else 'loaded'} in {loaded:.1f} s; "
    if args.objective and args.objective != problem.policy.objective:
        policy = problem.policy.model_copy(update={"objective": args.objective})
        problem = problem.model_copy(update={"policy": policy})
        selected = dict(solve(problem, time_limit=problem.policy.time_limit_s).selected)
    options = sum(len(c.options) for c in problem.candidates)
    print(
        f"EVPPI sweep of {quarter}: {len(problem.candidates)} candidates, {options} options, "
        f"{problem.scenarios.count if hasattr(problem.scenarios, 'count') else '?'} optimisation "
        f"scenarios, {problem.evaluation.count} evaluation scenarios per draw, objective "
        f"{problem.policy.objective}, belief {'the council' if beliefs else 'default Beta(10)'}."
    )
    print(f"{machine()}; {setup}load average (1 min) {os.getloadavg()[0]:.1f} at the start.\n")
    print(
        header(
            "where",
            "candidates",
            "swept",
            "screened",
            "K",
            "re-solves",
            "seconds",
            "s per re-solve",
            "separated",
            "most worth learning",
            "load",
        )
    )
    found, seconds = sweep(problem, selected, beliefs, draws)
    print(row(f"local, {default_workers()} processes", found, seconds), flush=True)
    if not args.no_dask:
        remote = on_dask(problem, selected, beliefs, draws)
        if isinstance(remote, str):
            print(line("Dask LocalCluster", remote))
        else:
            found_remote, seconds_remote, started = remote
            same = "same rows" if found_remote.rows == found.rows else "ROWS DIFFER"
            print(
                row(
                    "Dask LocalCluster, 2 processes",
                    found_remote,
                    seconds_remote,
                    f" cluster start {started:.1f} s; {same} as local",
                )
            )


if __name__ == "__main__":
    main()
