"""`solve PROBLEM.json`: the result document on stdout, words and progress on stderr.

Exit codes: 0 a portfolio was found, 1 infeasible (the diagnosis in words on stderr), 2 a malformed
or unreadable problem file, 3 a solver error. Ctrl-C stops the search and prints the best portfolio
found so far, marked `feasible`.
"""

from __future__ import annotations

import json
import signal
import threading
from types import FrameType
from typing import Any, TextIO

from optimiser.errors import ProblemError
from optimiser.problem import load_problem
from optimiser.result import Progress
from optimiser.solve import solve

EXIT_OK, EXIT_INFEASIBLE, EXIT_MALFORMED, EXIT_ERROR = 0, 1, 2, 3


def run_solve(
    path: str, solver: str, time_limit: float | None, stdout: TextIO, stderr: TextIO
) -> int:
    """Solve the problem file at `path` and print the result; return the exit code."""
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
    stop = threading.Event()

    def progress(p: Progress) -> None:
        print(p, file=stderr, flush=True)

    with _stop_on_interrupt(stop, stderr):
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
    if result.status == "infeasible":
        print("infeasible: no portfolio satisfies every rule.", file=stderr)
        for item in result.diagnosis:
            print(f"  - [{item['rule']}] {item['label']}", file=stderr)
        return EXIT_INFEASIBLE
    if result.status == "error":
        print(f"error: {result.message}", file=stderr)
        return EXIT_ERROR
    if stop.is_set():
        print("stopped: the best portfolio found so far is shown (status feasible).", file=stderr)
    return EXIT_OK


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
