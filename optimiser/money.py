"""The money rules of problem format version 2, each defined once (docs/problem-format.md).

- `budget_caps`: the right-hand side of every budget row on *planned* money: cumulative to each
  year with carry_forward (plus `bring_forward` of the next year's budget, but in the last year),
  that year alone without; all of it times (1 + over_programming).
- `overrun`: which scenarios' *realised* spend exceeds the money available, judged on all
  envelopes together and on the real budgets (never scaled by over-programming), and by how much.
- `max_overruns`: how many scenarios `max_overrun_probability` allows to overrun, ⌊ε·S⌋ with a
  1e-9 slack.

Every caller (the MILP, the rule checker, the branch and bound, the local search, the metrics and
the diagnosis) goes through these functions.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]  # as in optimiser.data, which builds on this module
BoolArray = npt.NDArray[np.bool_]

TOL = 1e-9  # £m: a realised spend above the money available by more than this overruns


def budget_caps(
    budget: FloatArray, *, carry: bool, bring_forward: float, scale: float = 1.0
) -> FloatArray:
    """Rows x Y caps from rows x Y budgets: with `carry`, cap[r, y] = scale · (Σ_{y' ≤ y}
    budget[r, y'] + bring_forward · budget[r, y + 1]) (no bring_forward in the last year);
    without, scale · budget[r, y]."""
    if not carry:
        return np.asarray(scale * budget, dtype=float)
    caps = np.cumsum(budget, axis=1)
    caps[:, :-1] += bring_forward * budget[:, 1:]
    return np.asarray(scale * caps, dtype=float)


def available(budget: FloatArray, *, carry: bool, bring_forward: float) -> FloatArray:
    """Y: the real money available to each year on all envelopes together (the overrun test)."""
    total = budget.sum(axis=0, keepdims=True)
    money: FloatArray = budget_caps(total, carry=carry, bring_forward=bring_forward)[0]
    return money


def measured(spend: FloatArray, carry: bool) -> FloatArray:
    """Spend as the overrun test measures it: cumulative over years (last axis) with
    carry_forward, year by year without."""
    return np.asarray(np.cumsum(spend, axis=-1) if carry else spend, dtype=float)


def overrun(spend: FloatArray, money: FloatArray, carry: bool) -> tuple[BoolArray, FloatArray]:
    """For realised portfolio spend (S x Y) against `available` money (Y): whether each scenario
    overruns and its largest excess over the years, max(0, ·) in £m."""
    excess = measured(spend, carry) - money[None, :]
    largest = np.asarray(np.maximum(excess.max(axis=1, initial=-math.inf), 0.0), dtype=float)
    return np.asarray((excess > TOL).any(axis=1), dtype=bool), largest


def max_overruns(probability: float, scenarios: int) -> int:
    """How many of `scenarios` may overrun under `max_overrun_probability`."""
    return math.floor(probability * scenarios + 1e-9)
