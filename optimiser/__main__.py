"""`python -m optimiser PROBLEM.json [--solver highs|cbc] [--time-limit S] [--compare RESULT]`."""

from __future__ import annotations

import argparse
import sys

from optimiser.cli import run_solve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m optimiser", description="Solve a mission-portfolio problem file."
    )
    parser.add_argument("problem", help="path of the problem JSON document")
    parser.add_argument("--solver", choices=["highs", "cbc"], default="highs")
    parser.add_argument(
        "--time-limit", type=float, default=None, help="seconds (default: policy.time_limit_s)"
    )
    parser.add_argument(
        "--compare",
        default=None,
        help="an earlier result of this file: say whether the allocation and software match",
    )
    args = parser.parse_args(argv)
    return run_solve(
        args.problem, args.solver, args.time_limit, sys.stdout, sys.stderr, compare=args.compare
    )


if __name__ == "__main__":
    sys.exit(main())
