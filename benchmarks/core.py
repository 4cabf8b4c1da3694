"""Core-index benchmark: a 100-resample core index at the demo's size, locally and on Dask.

    python -m benchmarks.core                   # 100 resamples: local (2, 1 processes), Dask
    python -m benchmarks.core --quick           # 10 resamples, 2 local processes and Dask (seconds)
    python -m benchmarks.core --resamples 200   # any number of resamples
    python -m benchmarks.core --scenarios 100   # ... also with 100 optimisation scenarios each
    python -m benchmarks.core --db demo.db      # reuse a demo database (read, not changed)
    python -m benchmarks.run --core [--quick]   # the same, from the benchmark runner

What is timed is what the automatic analysis runs after every run (``analytics_jobs.compute``,
kind "core"): the demo's latest approved allocation (23 candidates, 49 options, its 300
optimisation scenarios, objective CVaR), the council's member scores of the round it used
(``analytics_jobs.council_inputs``: every option's members bootstrapped), a fresh scenario seed
per resample, each re-solve limited to ``CORE_TIME_LIMIT_S``. Rows:

- ``local``: the local process pool (``spawn``; the time includes starting the processes);
- ``dask``: a ``distributed.LocalCluster`` of 2 worker processes, 1 thread each, started before
  the clock and stopped after it (what a configured ``DASK_SCHEDULER`` gives); when
  ``dask[distributed]`` is not installed the benchmark says so and times locally only;
- ``beta``: for comparison, the same resamples with every p drawn from the default
  Beta(10p, 10(1 − p)) instead of the council (what the core index did before issue 18).

``per re-solve`` is the solver's own time per resample (median and maximum), ``at time limit``
how many re-solves stopped at the limit with a portfolio not proved optimal (machine-dependent);
the last column counts the candidates core / borderline / exterior. Not a test: nothing is
asserted; whether Dask gave the same shares as local processes is printed (it does unless a
re-solve stopped at its time limit, where a solve stops depending on the machine's load).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.table import header, line, machine

SLUG = "uk-air-travel"
PASSWORD = "core-benchmark-password-1"
SECRET = "core-benchmark-secret-key-0123456789-abcdefghijkl"


def demo_inputs(db: Path | None) -> tuple[Any, dict[str, str], dict[str, Any], str]:
    """(problem, candidate names, council inputs, what was loaded) of the demo's latest approved
    allocation; the demo is loaded into a temporary SQLite database unless ``db`` is given."""
    from api.cli import load_demo
    from api.settings import Settings
    from optimiser.problem import load_problem
    from portfolio.adapters import database
    from portfolio.adapters.unit_of_work import SqlUnitOfWork
    from portfolio.services import analytics_jobs

    folder = Path(tempfile.mkdtemp(prefix="mp-core-"))
    try:
        target = folder / "demo.db"
        if db is not None:
            shutil.copyfile(db, target)
        else:
            load_demo(
                Settings(database_url=database.sqlite_url(target), secret_key=SECRET), PASSWORD
            )
        engine = database.make_engine(database.sqlite_url(target))
        try:
            with SqlUnitOfWork(engine) as uow:
                approved = [q.approved_run for q in uow.missions.quarters(SLUG) if q.approved_run]
                run = uow.runs.get(SLUG, approved[-1])
                names = {c.id: c.name for c in uow.candidates.all(SLUG)}
                council = analytics_jobs.council_inputs(uow, run)
        finally:
            engine.dispose()
        return load_problem(run.problem), names, council, f"run {run.id} ({run.quarter})"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


Timing = tuple[float, Any, list[Any]]


def timed(
    problem: Any,
    council: dict[str, Any] | None,
    resamples: int,
    scenarios: int | None,
    **where: Any,
) -> Timing:
    """(wall seconds, the CoreIndex, the SolveSummary of each re-solve)."""
    from optimiser.analytics import robustness
    from portfolio.services.analytics_jobs import ANALYSIS_TIME_LIMIT_S, CORE_TIME_LIMIT_S

    solves: list[Any] = []
    real = robustness.map_solves  # type: ignore[attr-defined]

    def keep(fn: Any, items: Any, **kw: Any) -> Any:
        out = real(fn, items, **kw)
        solves.extend(out)
        return out

    robustness.map_solves = keep  # type: ignore[attr-defined]
    try:
        limit = min(problem.policy.time_limit_s, ANALYSIS_TIME_LIMIT_S, CORE_TIME_LIMIT_S)
        began = time.perf_counter()
        index = robustness.core_index(
            problem,
            resamples=resamples,
            member_scores=(council or {}).get("member_scores") or None,
            spread=(council or {}).get("spread") or None,
            scenarios=scenarios,
            time_limit=limit,
            **where,
        )
        return time.perf_counter() - began, index, solves
    finally:
        robustness.map_solves = real  # type: ignore[attr-defined]


def classes(index: Any) -> str:
    counts = dict.fromkeys(("core", "borderline", "exterior"), 0)
    for row in index.rows:
        counts[row.classification] += 1
    return " / ".join(str(counts[c]) for c in ("core", "borderline", "exterior"))


def stopped(out: Timing) -> int:
    """How many re-solves stopped at their time limit (a portfolio found, not proved optimal)."""
    return sum(s.status == "feasible" for s in out[2])


def row(backend: str, workers: str, estimates: str, out: Timing) -> str:
    seconds, index, solves = out
    times = [s.seconds for s in solves]
    return line(
        backend,
        workers,
        estimates,
        index.resamples,
        index.scenario_count,
        f"{seconds:.1f}",
        f"{float(np.median(times)):.2f}",
        f"{max(times):.2f}",
        index.solved,
        stopped(out),
        classes(index),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 resamples, no serial row")
    parser.add_argument("--resamples", type=int, help="resamples (100; 10 with --quick)")
    parser.add_argument(
        "--scenarios", type=int, nargs="*", default=[], help="also time with this many scenarios"
    )
    parser.add_argument("--db", type=Path, help="a demo database to read (copied, not changed)")
    args = parser.parse_args(argv)
    resamples = args.resamples or (10 if args.quick else 100)

    began = time.perf_counter()
    problem, _, council, which = demo_inputs(args.db)
    loaded = time.perf_counter() - began
    options = sum(len(c.options) for c in problem.candidates)
    print(f"Core index benchmark on {machine()}")
    print(
        f"Demo {which}: {len(problem.candidates)} candidates, {options} options, "
        f"{problem.scenarios.count} optimisation scenarios, objective {problem.policy.objective}; "
        f"{len(council['member_scores'])} options with member scores "
        f"(demo loaded in {loaded:.1f} s)\n"
    )
    print(
        header(
            "backend",
            "workers",
            "estimates",
            "resamples",
            "scenarios",
            "total s",
            "per re-solve median s",
            "per re-solve max s",
            "solved",
            "at time limit",
            "core / borderline / exterior",
        )
    )
    local = timed(problem, council, resamples, None)
    print(row("local", "2 processes", "council", local), flush=True)
    if not args.quick:
        print(
            row(
                "local", "1 process", "council", timed(problem, council, resamples, None, workers=1)
            ),
            flush=True,
        )
        print(
            row("local", "2 processes", "beta", timed(problem, None, resamples, None)), flush=True
        )
    for count in args.scenarios:
        print(
            row("local", "2 processes", "council", timed(problem, council, resamples, count)),
            flush=True,
        )
    try:
        import distributed
    except ImportError:
        print("\ndask[distributed] is not installed: timed on local processes only.")
        return
    with (
        distributed.LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        remote = timed(problem, council, resamples, None, scheduler=client)
    print(row("dask", "LocalCluster 2 × 1", "council", remote))
    same = [r.share for r in remote[1].rows] == [r.share for r in local[1].rows]
    limited = stopped(local) + stopped(remote)
    print(
        "\nDask gives the same shares as local processes: "
        + (
            "yes"
            if same
            else f"no: {limited} re-solves stopped at the time limit, and where a solve stops "
            "depends on the machine's load"
            if limited
            else "NO"
        )
    )


if __name__ == "__main__":
    main()
