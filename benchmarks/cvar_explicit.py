"""CVaR on explicit scenarios (issue 20): the whole `solve` process against the reference.

    python -m benchmarks.run --cvar-explicit              # n = 200 x S = 5,000, 3 rounds
    python -m benchmarks.cvar_explicit --n 50 --scenarios 2000 --rounds 1

The problem file is the benchmark generator's instance (`benchmarks.instances`, every rule on,
the P(any success) floor included, policy gap 0.5 %) with its sampled scenarios written out as
explicit ones (`scenarios.impact`, three decimals). Each round runs, each in a fresh process and
timed from outside (interpreter start, imports and reading the file included):
- ours: ``python -m optimiser FILE`` (the `mission-portfolio solve` command);
- the reference: ``python -m benchmarks.cvar_explicit --reference FILE``, which reads the same
  file with `load_problem`, builds `benchmarks.reference`'s straightforward PuLP model and solves
  it with PuLP's HiGHS.
`value` is each portfolio's objective recomputed exactly on the file's scenarios (the switching
charge included); `ratio` is our wall time over the reference's in the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.instances import generate  # noqa: E402
from benchmarks.table import fmt, header, line, machine  # noqa: E402

REFERENCE_LIMIT_S = 300.0


def explicit_document(n: int, count: int, seed: int = 1) -> dict[str, Any]:
    """The generated cvar instance with its sampled scenarios written out explicitly."""
    from optimiser.data import problem_data
    from optimiser.problem import load_problem
    from optimiser.scenarios import optimisation_scenarios

    doc = generate(n, count, seed=seed, objective="cvar")
    data = problem_data(load_problem(doc))
    impact = np.round(optimisation_scenarios(data).impact, 3)
    doc["scenarios"] = {"impact": {key: impact[:, k].tolist() for k, key in enumerate(data.keys)}}
    doc["policy"]["time_limit_s"] = REFERENCE_LIMIT_S
    return doc


def reference_main(path: str) -> None:
    """Read the file, build and solve the reference model; print a JSON line."""
    from benchmarks.reference import build_reference, solve_reference
    from optimiser.data import problem_data
    from optimiser.objectives import objective_value
    from optimiser.problem import load_problem
    from optimiser.scenarios import optimisation_scenarios

    with open(path, "rb") as fh:
        problem = load_problem(fh.read())
    data = problem_data(problem)
    scen = optimisation_scenarios(data)
    prob, x = build_reference(data, scen, "cvar")
    out = solve_reference(prob, x, time_limit=REFERENCE_LIMIT_S, gap=problem.policy.gap)
    value = None
    if out["x"]:
        sel = np.zeros(data.n_options)
        sel[out["x"]] = 1.0
        value = objective_value("cvar", data, scen, sel)
    print(json.dumps({"status": out["status"], "value": value, "gap": out["gap"]}))


def _timed(args: list[str]) -> tuple[float, dict[str, Any]]:
    """Wall seconds of a fresh process and the JSON document it printed last."""
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:]
        return seconds, {"status": f"exit {proc.returncode}: {tail}"}
    text = proc.stdout.strip()
    start = text.find("{")
    return seconds, dict(
        json.loads(text[start:] if text.startswith("{") else text.splitlines()[-1])
    )


def _ours(path: str, exact: Any) -> tuple[float, dict[str, Any]]:
    seconds, result = _timed([sys.executable, "-m", "optimiser", path])
    if result.get("selected") is not None:
        result["value"] = exact(result["selected"])
        result["gap"] = (result.get("solver") or {}).get("gap")
    return seconds, result


def run(n: int, count: int, rounds: int, seed: int = 1) -> None:
    """Write the file, then `rounds` rounds of ours and the reference; print the table."""
    from optimiser.data import problem_data
    from optimiser.objectives import objective_value
    from optimiser.problem import load_problem
    from optimiser.scenarios import optimisation_scenarios

    doc = explicit_document(n, count, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cvar-explicit.json")
        text = json.dumps(doc)
        Path(path).write_text(text, encoding="utf-8")
        data = problem_data(load_problem(text))
        scen = optimisation_scenarios(data)

        def exact(selected: dict[str, str]) -> float:
            x = np.asarray(data.selection_vector(selected), dtype=float)
            return objective_value("cvar", data, scen, x)

        size = len(text.encode()) / 1e6
        print(f"Machine: {machine()}; load average at start {os.getloadavg()[0]:.1f}")
        print(f"n = {n}, S = {count}, {data.n_options} options, file {size:.1f} MB, gap 0.5 %")
        print(
            header(
                "round",
                "ours s",
                "status",
                "gap",
                "value",
                "ref s",
                "ref status",
                "ref value",
                "ratio",
                "load",
            ),
            flush=True,
        )
        for r in range(rounds):
            mine, res = _ours(path, exact)
            theirs, ref = _timed(
                [sys.executable, "-m", "benchmarks.cvar_explicit", "--reference", path]
            )
            print(
                line(
                    r + 1,
                    fmt(mine),
                    res.get("status"),
                    fmt(res.get("gap"), ".2%"),
                    fmt(res.get("value"), ".4f"),
                    fmt(theirs),
                    ref.get("status"),
                    fmt(ref.get("value"), ".4f"),
                    fmt(mine / theirs, ".3f"),
                    f"{os.getloadavg()[0]:.1f}",
                ),
                flush=True,
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--scenarios", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reference", help=argparse.SUPPRESS)
    parser.add_argument("--write", help="only write the problem file to this path")
    args = parser.parse_args(argv)
    if args.reference:
        reference_main(args.reference)
    elif args.write:
        doc = explicit_document(args.n, args.scenarios, args.seed)
        Path(args.write).write_text(json.dumps(doc), encoding="utf-8")
    else:
        run(args.n, args.scenarios, args.rounds, args.seed)


if __name__ == "__main__":
    main()
