"""HiGHS as the optimiser uses it: the statuses it expects from a run, and an error for any other.

A run of HiGHS ends in one of a few statuses that say something about the model: optimal,
infeasible, or stopped (time limit, interrupt, iteration or solution limit) with or without a
solution. Anything else (``kError`` from ``run()``, a model status such as ``kNotset``,
``kSolveError`` or ``kUnknown``) says that the solver failed, not that the portfolio cannot be
funded: it becomes a `SolverError` carrying HiGHS's own status and message, which the result
reports as ``status: "error"``.

The thread count is never set per instance: HiGHS 1.16 refuses a ``threads`` value that differs
from the one its process-wide scheduler started with, and every later ``run()`` then fails.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import highspy

from optimiser.errors import SolverError

_EXPECTED_NAMES = (
    "kOptimal",
    "kInfeasible",
    "kUnboundedOrInfeasible",
    "kTimeLimit",
    "kIterationLimit",
    "kSolutionLimit",
    "kInterrupt",
    "kHighsInterrupt",
    "kObjectiveBound",
    "kObjectiveTarget",
)
EXPECTED: frozenset[Any] = frozenset(
    getattr(highspy.HighsModelStatus, name)
    for name in _EXPECTED_NAMES
    if hasattr(highspy.HighsModelStatus, name)
)

INFEASIBLE: frozenset[Any] = frozenset(
    {highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible}
)


@cache
def highs_version() -> str:
    """The version of the HiGHS library highspy loads, e.g. ``1.16.0``."""
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


def _name(status: Any) -> str:
    return str(getattr(status, "name", status))


def check_status(h: Any, run_status: Any, what: str) -> Any:
    """The model status of `h` after a run whose ``run()`` returned `run_status` (None where a
    library ran it and kept the return value); raises `SolverError` naming what was being solved
    when HiGHS reports a failure."""
    model_status = h.getModelStatus()
    if run_status != highspy.HighsStatus.kError and model_status in EXPECTED:
        return model_status
    words = h.modelStatusToString(model_status)
    returned = "" if run_status is None else f"run() returned {_name(run_status)}, "
    raise SolverError(
        f"HiGHS {highs_version()} failed while solving {what}: {returned}"
        f"model status {_name(model_status)} ({words})",
        solver="HiGHS",
        status=_name(model_status) if run_status is None else f"{_name(run_status)}",
    )


def run_checked(h: Any, what: str) -> Any:
    """``h.run()``, then its model status as `check_status` judges it."""
    return check_status(h, h.run(), what)
