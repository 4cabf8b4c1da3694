"""Benchmark runner: prints the performance table, the P(target) check and the quality table.

    python -m benchmarks.run --quick          # n in {20, 50} x S in {500, 2000}, HiGHS
    python -m benchmarks.run                  # n in {20, 50, 200} x S in {500, 2000, 5000}
    python -m benchmarks.run --full           # adds n = 1000 and CBC on n <= 50
    python -m benchmarks.run --quality        # out-of-sample quality vs greedy / deterministic
    python -m benchmarks.run --quality --levels 0.4 0.5 0.6   # ... at other mission targets
    python -m benchmarks.run --ptarget-check  # p_target at n=200 x S=2000: 10 s vs a long run
    python -m benchmarks.run --ptarget-exact  # p_target n in {16, 20, 24}, five seeds: proved?
    python -m benchmarks.run --ptarget-gap    # p_target proven gaps at 50 x 2000 and 200 x 5000
    python -m benchmarks.run --deterministic  # expected objective at n = 1000 (HiGHS and CBC)
    python -m benchmarks.run --core [--quick] # core index, 100 resamples at the demo's size
    python -m benchmarks.run --sizes 1000 --counts 500 2000 5000   # any sub-grid
    python -m benchmarks.run --evppi [--quick]  # value of information sweep (benchmarks/evppi.py)
    python -m benchmarks.run --cvar-explicit  # cvar, explicit scenarios: whole solve vs reference

Every configuration runs in its own subprocess (so peak memory is its own); times are the median
of 3 runs (1 run when a single run exceeds 20 s), split into sampling + build and solve. The
reference is the straightforward PuLP + HiGHS build in `benchmarks/reference.py` on the same
instance and scenarios; `ratio` is our total time over the reference's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.instances import generate  # noqa: E402
from benchmarks.ptarget_gap import main as ptarget_gap  # noqa: E402
from benchmarks.reference import build_reference, solve_reference  # noqa: E402
from benchmarks.table import fmt, header, line, machine  # noqa: E402
from optimiser.baselines import expected_knapsack, greedy_by_ratio  # noqa: E402
from optimiser.data import problem_data  # noqa: E402
from optimiser.evaluate import evaluate_portfolio  # noqa: E402
from optimiser.feasibility import SelectionChecker  # noqa: E402
from optimiser.milp import run_milp, solve_model  # noqa: E402
from optimiser.model import build_model  # noqa: E402
from optimiser.objectives import objective_value, set_objective  # noqa: E402
from optimiser.problem import load_problem  # noqa: E402
from optimiser.ptarget import allowed_choices, solve_p_target  # noqa: E402
from optimiser.result import Progress  # noqa: E402
from optimiser.scenarios import optimisation_scenarios  # noqa: E402
from optimiser.solve import solve  # noqa: E402

OBJECTIVES = ["expected", "capped", "cvar", "p_target"]
TIME_LIMIT = {"expected": 60.0, "capped": 120.0, "cvar": 120.0, "p_target": 10.0}
REFERENCE_LIMIT = {"expected": 60.0, "capped": 120.0, "cvar": 120.0, "p_target": 30.0}
RESULTS = ROOT / "benchmarks" / "results.jsonl"


def run_ours(doc: dict[str, Any], objective: str, solver: str) -> dict[str, Any]:
    text = json.dumps(doc)  # read from the file, as `mission-portfolio solve` does
    t0 = time.perf_counter()
    problem = load_problem(text)
    data = problem_data(problem)
    scen = optimisation_scenarios(data)
    limit = TIME_LIMIT[objective]
    gap = problem.policy.gap
    if objective == "p_target":
        build = time.perf_counter() - t0
        checker = SelectionChecker(data, scen)
        out = solve_p_target(
            data,
            scen,
            checker,
            solver=solver,
            time_limit=limit,
            gap=gap,
            report=lambda p: None,
            should_stop=None,
            clock_start=t0,
        )
        x, status, bound = out.x, out.status, out.bound
    else:
        sampled = time.perf_counter() - t0
        limit = limit if solver == "highs" else 60.0
        res, build_s = solve_model(
            data,
            scen,
            objective,
            SelectionChecker(data, scen),
            solver=solver,
            deadline=time.perf_counter() + limit,
            gap=gap,
        )
        build = sampled + build_s
        x, status = res.x, res.status
        bound = None if res.bound is None else res.bound + 1e-7
    total = time.perf_counter() - t0
    value = None if x is None else objective_value(objective, data, scen, x)
    rel_gap = None
    if value is not None and bound is not None:
        rel_gap = max(0.0, bound - value) / max(abs(value), 1e-9)
    return {
        "build": build,
        "solve": total - build,
        "total": total,
        "status": status,
        "value": value,
        "gap": rel_gap,
    }


def run_reference(doc: dict[str, Any], objective: str) -> dict[str, Any]:
    text = json.dumps(doc)  # read from the file, as `mission-portfolio solve` does
    t0 = time.perf_counter()
    problem = load_problem(text)
    data = problem_data(problem)
    scen = optimisation_scenarios(data)
    prob, x = build_reference(data, scen, objective)
    build = time.perf_counter() - t0
    out = solve_reference(prob, x, time_limit=REFERENCE_LIMIT[objective], gap=problem.policy.gap)
    total = time.perf_counter() - t0
    value = None
    if out["x"] or out["objective"] is not None:
        sel = np.zeros(data.n_options)
        sel[out["x"]] = 1.0
        value = objective_value(objective, data, scen, sel)
    return {
        "build": build,
        "solve": total - build,
        "total": total,
        "status": out["status"],
        "value": value,
        "gap": out["gap"],
    }


def child(config: dict[str, Any]) -> dict[str, Any]:
    doc = generate(
        config["n"], config["S"], seed=config.get("seed", 1), objective=config["objective"]
    )
    runs = []
    for _ in range(3):
        if config["who"] == "reference":
            runs.append(run_reference(doc, config["objective"]))
        else:
            runs.append(run_ours(doc, config["objective"], config["solver"]))
        if runs[-1]["total"] > 20:
            break
    best = sorted(runs, key=lambda r: r["total"])[len(runs) // 2]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        **config,
        "repeats": len(runs),
        "build": statistics.median(r["build"] for r in runs),
        "solve": statistics.median(r["solve"] for r in runs),
        "total": statistics.median(r["total"] for r in runs),
        "status": best["status"],
        "value": best["value"],
        "gap": best["gap"],
        "peak_mb": peak_mb,
    }


def spawn(config: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--child", json.dumps(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        return {**config, "error": proc.stderr.strip().splitlines()[-1:]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


HEADER = header(
    "objective",
    "solver",
    "n",
    "S",
    "build s",
    "solve s",
    "total s",
    "gap",
    "peak MB",
    "status",
    "value",
    "ref total s",
    "ref status",
    "ref value",
    "ratio",
)


def row(ours: dict[str, Any], ref: dict[str, Any] | None) -> str:
    if "error" in ours:
        error = f"error: {ours['error']}"
        return line(ours["objective"], ours["solver"], ours["n"], ours["S"], error)
    ratio = None
    ref_total = ref_status = ref_value = None
    if ref and "error" not in ref:
        ratio = ours["total"] / ref["total"]
        ref_total, ref_status, ref_value = ref["total"], ref["status"], ref["value"]
    return line(
        ours["objective"],
        ours["solver"],
        ours["n"],
        ours["S"],
        fmt(ours["build"]),
        fmt(ours["solve"]),
        fmt(ours["total"]),
        fmt(ours["gap"], ".2%"),
        fmt(ours["peak_mb"], ".0f"),
        ours["status"],
        fmt(ours["value"], ".4f"),
        fmt(ref_total),
        ref_status or "-",
        fmt(ref_value, ".4f"),
        fmt(ratio),
    )


def performance(
    sizes: list[int], counts: list[int], cbc_up_to: int, objectives: list[str] = OBJECTIVES
) -> None:
    print(machine_line())
    print(HEADER, flush=True)
    for n in sizes:
        for s in counts:
            for objective in objectives:
                base = {"n": n, "S": s, "objective": objective}
                ref = spawn({**base, "who": "reference", "solver": "highs"})
                ours = spawn({**base, "who": "ours", "solver": "highs"})
                _save(ours, ref)
                print(row(ours, ref), flush=True)
                if n <= cbc_up_to and objective != "p_target":
                    cbc = spawn({**base, "who": "ours", "solver": "cbc"})
                    _save(cbc, None)
                    print(row(cbc, None), flush=True)


def _save(ours: dict[str, Any], ref: dict[str, Any] | None) -> None:
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"ours": ours, "reference": ref, "at": time.time()}) + "\n")


def machine_line() -> str:
    return f"Machine: {machine()}; load average at start {os.getloadavg()[0]:.1f}"


#: mission targets for the quality family: ambitious (P(target) about 0.5) and conservative (0.85)
TARGET_LEVELS = {"ambitious": 0.8, "conservative": 0.3}


def quality(sizes: list[int], levels: dict[str, float] | None = None) -> None:
    """Few platforms, correlation 0.6: out-of-sample metrics of each portfolio, as ratios, at an
    ambitious and at a conservative mission target (or at the given target shares)."""
    print(
        header(
            "target",
            "n",
            "portfolio",
            "P(target)",
            "E[impact]",
            "CVaR shortfall",
            "P / greedy",
            "CVaR / greedy",
            "E / deterministic",
        )
    )
    for level, share in (levels or TARGET_LEVELS).items():
        for n in sizes:
            doc = generate(
                n,
                2000,
                seed=11,
                objective="expected",
                platforms=3,
                correlation=0.6,
                rules="budgets",
                target_share=share,
            )
            problem = load_problem(doc)
            portfolios = {
                "greedy": greedy_by_ratio(problem),
                "deterministic": expected_knapsack(problem, time_limit=60),
            }
            for objective in ("capped", "cvar", "p_target"):
                policy = problem.policy.model_copy(update={"objective": objective})
                result = solve(problem.model_copy(update={"policy": policy}), time_limit=20)
                portfolios[objective] = result.selected
            metrics = {name: evaluate_portfolio(problem, sel) for name, sel in portfolios.items()}
            g, d = metrics["greedy"], metrics["deterministic"]
            for name, mt in metrics.items():
                cells = line(
                    level,
                    n,
                    name,
                    f"{mt.p_target:.4f}",
                    f"{mt.expected_impact:.3f}",
                    f"{mt.cvar_shortfall:.3f}",
                    _ratio(mt.p_target, g.p_target),
                    _ratio(mt.cvar_shortfall, g.cvar_shortfall),
                    _ratio(mt.expected_impact, d.expected_impact),
                )
                print(cells, flush=True)


def _ratio(a: float, b: float) -> str:
    return "-" if b == 0 else f"{a / b:.3f}"


def ptarget_exact(
    sizes: tuple[int, ...] = (16, 20, 24),
    counts: tuple[int, ...] = (500, 2000, 5000),
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5),
) -> None:
    """p_target on small generated instances: status, method and the median of 3 total times
    (from the problem text to the answer, including sampling, with a 10 s limit)."""
    print(machine_line())
    print(
        header(
            "n",
            "S",
            "seed",
            "free",
            "selections in budget (about)",
            "status",
            "method",
            "seconds",
            "objective",
        ),
        flush=True,
    )
    for n in sizes:
        for s in counts:
            for seed in seeds:
                text = json.dumps(generate(n, s, seed=seed, objective="p_target"))
                times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    data = problem_data(load_problem(text))
                    scen = optimisation_scenarios(data)
                    checker = SelectionChecker(data, scen)
                    out = solve_p_target(
                        data,
                        scen,
                        checker,
                        solver="highs",
                        time_limit=10.0,
                        gap=0.005,
                        report=lambda p: None,
                        should_stop=None,
                        clock_start=t0,
                    )
                    times.append(time.perf_counter() - t0)
                choices = allowed_choices(data, checker)
                free = sum(len(c) > 1 for c in choices)
                value = (
                    "-"
                    if out.x is None
                    else f"{objective_value('p_target', data, scen, out.x):.4f}"
                )
                seconds = f"{statistics.median(times):.2f}"
                in_budget = f"{_in_budget(data, choices):,}"
                cells = line(n, s, seed, free, in_budget, out.status, out.method, seconds, value)
                print(cells, flush=True)


def _in_budget(data: Any, choices: list[list[int]]) -> int:
    """About how many selections cost at most the total budget (dynamic programming over costs
    rounded to 0.01)."""
    cap = round(float(data.budget.sum()) * 100)
    ways = np.zeros(cap + 1)
    ways[0] = 1.0
    for ks in choices:
        nxt = np.zeros(cap + 1)
        for k in ks:
            c = 0 if k < 0 else round(float(data.total_cost[k]) * 100)
            if c <= cap:
                nxt[c:] += ways[: cap + 1 - c]
        ways = nxt
    return int(ways.sum())


def ptarget_check(n: int = 200, s: int = 2000, long_limit: float = 120.0) -> None:
    """p_target in 10 s vs a long run, and vs the cvar and deterministic portfolios."""
    doc = generate(n, s, seed=1, objective="p_target")
    problem = load_problem(doc)
    data = problem_data(problem)
    scen = optimisation_scenarios(data)
    rows = []
    for label, limit in (("p_target 10 s", 10.0), (f"p_target {long_limit:.0f} s", long_limit)):
        t = time.perf_counter()
        log: list[Progress] = []
        out = solve_p_target(
            data,
            scen,
            SelectionChecker(data, scen),
            solver="highs",
            time_limit=limit,
            gap=0.0,
            report=log.append,
            should_stop=None,
            clock_start=t,
        )
        assert out.x is not None
        rows.append(
            (
                label,
                objective_value("p_target", data, scen, out.x),
                out.bound,
                time.perf_counter() - t,
            )
        )
    for objective in ("cvar", "expected"):
        m = build_model(data, scen)
        set_objective(m, scen, objective)
        res = run_milp(m, time_limit=120, gap=0.005)
        if res.x is not None:
            rows.append(
                (
                    f"{objective} portfolio",
                    objective_value("p_target", data, scen, res.x),
                    None,
                    res.seconds,
                )
            )
    best = max(r[1] for r in rows)
    print(f"p_target check, n={n}, S={s} (objective = P(target) − switching charge)")
    print(header("method", "P(target) objective", "bound", "seconds", "behind best"))
    for label, value, bound, secs in rows:
        behind = f"{(best - value) * 100:.2f} pp"
        print(line(label, f"{value:.4f}", fmt(bound, ".4f"), f"{secs:.1f}", behind), flush=True)


def overrun(
    sizes: tuple[int, ...] = (50, 200),
    s: int = 2000,
    objectives: tuple[str, ...] = ("expected", "cvar", "p_target"),
    limit: float = 60.0,
) -> None:
    """The overrun chance constraint (problem format version 2): each instance with 15 %
    over-programming, solved without a limit and with P(overrun) at most 20 % in sample; time,
    status, gap and P(overrun) in and out of sample (overruns judged on realised spend: PERT
    draws of `cost_range`, failures stop spending; optimiser/README.md)."""
    print(f"Overrun chance constraint, S = {s}, over-programming 15 %, time limit {limit:.0f} s")
    print(
        header(
            "n",
            "objective",
            "P(overrun) limit",
            "status",
            "seconds",
            "gap",
            "objective value",
            "P(overrun) in",
            "P(overrun) out",
            "P(target) out",
        )
    )
    for n in sizes:
        for objective in objectives:
            for eps in (None, 0.2):
                doc = generate(n, s, seed=1, objective=objective)
                doc["version"] = 2
                doc["policy"].update(
                    {
                        "over_programming": 0.15,
                        "max_overrun_probability": eps,
                        "time_limit_s": limit,
                    }
                )
                t = time.perf_counter()
                result = solve(load_problem(doc))
                secs = time.perf_counter() - t
                ins, oos = result.metrics.in_sample, result.metrics.out_of_sample
                gap = None if result.solver.gap is None else result.solver.gap * 100
                cells = line(
                    n,
                    objective,
                    "none" if eps is None else f"{eps:.0%}",
                    result.status,
                    f"{secs:.1f}",
                    f"{fmt(gap)} %",
                    fmt(result.objective, ".4f"),
                    fmt(ins.p_overrun if ins else None, ".3f"),
                    fmt(oos.p_overrun if oos else None, ".3f"),
                    fmt(oos.p_target if oos else None, ".3f"),
                )
                print(cells, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--quality", action="store_true")
    parser.add_argument(
        "--levels",
        type=float,
        nargs="+",
        help="mission target shares for --quality (ambitious 0.8, conservative 0.3 by default)",
    )
    parser.add_argument("--ptarget-check", action="store_true")
    parser.add_argument(
        "--overrun", action="store_true", help="the overrun chance constraint at n = 50 and 200"
    )
    parser.add_argument("--ptarget-exact", action="store_true")
    parser.add_argument("--ptarget-gap", action="store_true", help="benchmarks/ptarget_gap.py")
    parser.add_argument(
        "--evppi",
        action="store_true",
        help="the value of information (EVPPI) sweep at the demo's size, local and on Dask",
    )
    parser.add_argument(
        "--core",
        action="store_true",
        help="the 100-resample core index at the demo's size, locally and on Dask "
        "(benchmarks/core.py; 10 resamples with --quick)",
    )
    parser.add_argument(
        "--deterministic", action="store_true", help="only the expected objective at n = 1000"
    )
    parser.add_argument("--sizes", type=int, nargs="+", help="candidate counts n (custom grid)")
    parser.add_argument(
        "--objectives",
        nargs="+",
        choices=OBJECTIVES,
        default=OBJECTIVES,
        help="objectives for --sizes",
    )
    parser.add_argument(
        "--counts",
        type=int,
        nargs="+",
        default=[500, 2000, 5000],
        help="scenario counts S for --sizes",
    )
    parser.add_argument("--cvar-explicit", action="store_true", help="benchmarks/cvar_explicit.py")
    return parser


def main() -> None:
    args = _parser().parse_args()
    if args.cvar_explicit:
        from benchmarks.cvar_explicit import main as cvar_explicit

        cvar_explicit([])
        return
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    if args.core:
        from benchmarks.core import main as core_benchmark

        core_benchmark(["--quick"] if args.quick else [])
    elif args.quality:
        levels = {f"{v:.2f}": v for v in args.levels} if args.levels else None
        quality([20, 50, 200], levels)
    elif args.ptarget_check:
        ptarget_check()
    elif args.overrun:
        overrun()
    elif args.ptarget_exact:
        ptarget_exact()
    elif args.ptarget_gap:
        ptarget_gap()
    elif args.evppi:
        from benchmarks import evppi

        evppi.main(["--quick"] if args.quick else [])
    elif args.sizes:
        performance(args.sizes, args.counts, cbc_up_to=0, objectives=args.objectives)
    elif args.deterministic:
        performance([1000], [500, 2000, 5000], cbc_up_to=1000, objectives=["expected"])
    elif args.quick:
        performance([20, 50], [500, 2000], cbc_up_to=0)
    elif args.full:
        performance([20, 50, 200, 1000], [500, 2000, 5000], cbc_up_to=50)
    else:
        performance([20, 50, 200], [500, 2000, 5000], cbc_up_to=20)


if __name__ == "__main__":
    main()
