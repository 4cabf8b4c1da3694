"""Monte-Carlo error: how far a run's out-of-sample numbers could move on other scenarios, and
whether two runs' numbers really differ.

A run's out-of-sample metrics are averages over n scenarios drawn afresh (the problem file's
``evaluation`` block; the result states n as ``scenarios``). A share p (P(target), P(overrun))
has the standard error

    se(p) = sqrt(p (1 − p) / n)

and a mean with sample standard deviation s has se = s / sqrt(n); a mean gets one only when the
metrics carry s as ``<name>_std`` (the optimiser's result format does not yet, so expected impact
has no stated error). Two runs' values a and b differ beyond Monte-Carlo error only if

    |a − b| > 1.96 · sqrt(se_a² + se_b²)

(two-sided, 95 %); otherwise the difference is within Monte-Carlo error, ± that margin. Runs
evaluated on the same seed share their scenarios, so for them the test is cautious: it calls
"within the error" some differences that are real.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Z_95 = 1.96
"""The two-sided 95 % point of the normal distribution."""

SHARE_METRICS = frozenset({"p_target", "p_overrun", "p_any_success"})
"""Metrics that are shares of scenarios (their error follows from p and n alone)."""


def share_error(p: float, n: int) -> float:
    """The standard error of a share ``p`` of ``n`` scenarios: sqrt(p (1 − p) / n)."""
    if n <= 0:
        raise ValueError("a share needs at least one scenario")
    p = min(1.0, max(0.0, p))
    return math.sqrt(p * (1.0 - p) / n)


def mean_error(std: float, n: int) -> float:
    """The standard error of a mean over ``n`` scenarios with sample standard deviation
    ``std``: std / sqrt(n)."""
    if n <= 0:
        raise ValueError("a mean needs at least one scenario")
    return abs(std) / math.sqrt(n)


def standard_error(metrics: Mapping[str, Any], name: str) -> float | None:
    """The standard error of metric ``name`` in a result's metrics block (``out_of_sample``),
    or None when the block does not allow one (no value, no scenario count, a mean without its
    ``<name>_std``)."""
    value, n = metrics.get(name), metrics.get("scenarios")
    if value is None or not isinstance(n, int) or n <= 0:
        return None
    if name in SHARE_METRICS:
        return share_error(float(value), n)
    std = metrics.get(f"{name}_std")
    return None if std is None else mean_error(float(std), n)


@dataclass(frozen=True)
class Difference:
    """Two runs' values of one metric and the Monte-Carlo margin of their difference."""

    a: float
    b: float
    margin: float
    """1.96 · sqrt(se_a² + se_b²): a difference no larger than this may be noise."""

    @property
    def delta(self) -> float:
        return self.a - self.b

    @property
    def significant(self) -> bool:
        """Whether the difference is beyond Monte-Carlo error."""
        return abs(self.delta) > self.margin


def difference(a: float, se_a: float, b: float, se_b: float) -> Difference:
    """Values ``a`` and ``b`` with standard errors ``se_a`` and ``se_b``, compared."""
    return Difference(a, b, Z_95 * math.sqrt(se_a**2 + se_b**2))


def compare_metric(a: Mapping[str, Any], b: Mapping[str, Any], name: str) -> Difference | None:
    """Metric ``name`` of two runs' metrics blocks, compared; None when either value or its
    error is unknown."""
    se_a, se_b = standard_error(a, name), standard_error(b, name)
    if se_a is None or se_b is None:
        return None
    return difference(float(a[name]), se_a, float(b[name]), se_b)


__all__ = [
    "SHARE_METRICS",
    "Z_95",
    "Difference",
    "compare_metric",
    "difference",
    "mean_error",
    "share_error",
    "standard_error",
]
