"""`solve PROBLEM.json`: the result document on stdout, words and progress on stderr.

Exit codes: 0 a portfolio was found, 1 infeasible (the diagnosis in words on stderr), 2 a malformed
or unreadable problem file, 3 a solver error. Ctrl-C stops the search and prints the best portfolio
found so far, marked `feasible`.

Standard output carries the result document and nothing else: while the solver runs, whatever a
C library writes on file descriptor 1 (HiGHS 1.16 prints its banner there when it starts, whatever
its options say) is sent to standard error.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TextIO

from optimiser.errors import ProblemError
from optimiser.optimality import optimality
from optimiser.problem import MAX_TIME_LIMIT_S, load_problem
from optimiser.result import Progress, Result
from optimiser.software import differences
from optimiser.solve import solve

EXIT_OK, EXIT_INFEASIBLE, EXIT_MALFORMED, EXIT_ERROR = 0, 1, 2, 3


def run_solve(
    path: str,
    solver: str,
    time_limit: float | None,
    stdout: TextIO,
    stderr: TextIO,
    compare: str | None = None,
) -> int:
    """Solve the problem file at `path` and print the result; return the exit code. With
    `compare`, the path of an earlier result of the same file (an audit pack's result.json),
    say on stderr whether this solve gave the same allocation on the same software."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=stderr)
        return EXIT_MALFORMED
    try:
        problem = load_problem(raw)
    except ProblemError as exc:
        print(f"error: {path}: {exc}", file=stderr)
        return EXIT_MALFORMED
    if solver not in ("highs", "cbc"):
        print(f"error: unknown solver {solver!r} (use highs or cbc)", file=stderr)
        return EXIT_MALFORMED
    if time_limit is not None and not (
        math.isfinite(time_limit) and 0 < time_limit <= MAX_TIME_LIMIT_S
    ):
        print(
            f"error: --time-limit must be above 0 and at most {MAX_TIME_LIMIT_S:,.0f} seconds",
            file=stderr,
        )
        return EXIT_MALFORMED
    earlier: dict[str, Any] | None = None
    if compare is not None:
        try:
            with open(compare, "rb") as fh:
                earlier = json.loads(fh.read())
        except (OSError, ValueError) as exc:
            print(f"error: cannot read the result to compare, {compare}: {exc}", file=stderr)
            return EXIT_MALFORMED
        if not isinstance(earlier, dict) or earlier.get("format") != "mission-portfolio/result":
            print(f"error: {compare} is not a mission-portfolio/result document", file=stderr)
            return EXIT_MALFORMED
    stop = threading.Event()

    def progress(p: Progress) -> None:
        print(p, file=stderr, flush=True)

    with _stop_on_interrupt(stop, stderr), native_stdout_to_stderr():
        result = solve(
            problem,
            solver=solver,
            time_limit=time_limit,
            on_progress=progress,
            should_stop=stop.is_set,
        )
    if stop.is_set() and result.status == "optimal":
        result.status = "feasible"
    json.dump(result.model_dump(mode="json"), stdout, indent=2)
    stdout.write("\n")
    if earlier is not None:
        for line in comparison(earlier, result):
            print(line, file=stderr)
    if result.status == "infeasible":
        print("infeasible: no portfolio satisfies every rule.", file=stderr)
        for item in result.diagnosis:
            print(f"  - [{item['rule']}] {item['label']}", file=stderr)
        return EXIT_INFEASIBLE
    if result.status == "error":
        print(f"error: {result.message}", file=stderr)
        return EXIT_ERROR
    proof = optimality(result, problem.policy.objective, problem.policy.gap, problem.mission.unit)
    if proof is not None:
        print(proof.words, file=stderr)
    if stop.is_set():
        print("stopped: the best portfolio found so far is shown (status feasible).", file=stderr)
    return EXIT_OK


def comparison(earlier: dict[str, Any], result: Result) -> list[str]:
    """In words: does `result` fund what `earlier` funded, on the same software?"""
    lines = []
    before = earlier.get("selected") or {}
    if before == result.selected:
        lines.append(f"same allocation as the earlier result ({len(before)} candidates funded)")
    else:
        moved = sorted(
            c for c in set(before) | set(result.selected) if before.get(c) != result.selected.get(c)
        )
        lines.append(
            f"the allocation differs from the earlier result for {len(moved)} candidates: "
            + ", ".join(
                f"{c} ({before.get(c, 'unfunded')} → {result.selected.get(c, 'unfunded')})"
                for c in moved
            )
        )
    recorded = (earlier.get("solver") or {}).get("environment")
    changed = differences(recorded, result.solver.environment)
    if changed:
        lines.append("the software differs: " + "; ".join(changed))
    else:
        lines.append("same software as the earlier result")
    return lines


@contextmanager
def native_stdout_to_stderr() -> Iterator[None]:
    """Within the block, file descriptor 1 is a copy of 2: what native code prints (a solver's
    banner) goes to standard error, and standard output keeps only what is written after."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no file descriptor 1 (e.g. a closed stdout): nothing to guard
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        _flush_c_streams()
        os.dup2(saved, 1)
        os.close(saved)


def _flush_c_streams() -> None:
    """fflush(NULL): C's stdio buffers, written while descriptor 1 still points at stderr."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # pragma: no cover - no C library to ask
        pass


class _stop_on_interrupt:
    """First Ctrl-C sets `stop` (the search winds down); a second one raises as usual."""

    def __init__(self, stop: threading.Event, stderr: TextIO):
        self.stop = stop
        self.stderr = stderr
        self.previous: Any = None

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()
        print(
            "interrupt: stopping, keeping the best portfolio so far (Ctrl-C again to abort)",
            file=self.stderr,
            flush=True,
        )

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
