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

A share's own 95 % interval is the Wilson score interval (``optimiser.montecarlo.
wilson_interval``, stated there): always inside [0, 1] and never of zero width, so "no scenario
overran" on 20,000 scenarios still reads 0.00–0.02 %, where p ± 1.96 · se(p) would claim 0–0 %.
Away from 0 and 1 it is p ± 1.96 · se(p) to within a hundredth of a point at the demo's 20,000
scenarios. Every page, chart, letter and the JSON API show this one interval (``share_interval``,
written by ``interval_text``). When two shares are compared, each one's error is read off that
same interval, se = (high − low) / (2 · 1.96) (``interval_error``): the textbook se(p) to a
fraction of a percent away from 0 and 1, and not zero at 0 or 1, where sqrt(p (1 − p) / n) = 0
would call real any difference from "all 300 of 300 scenarios".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optimiser.montecarlo import Z_95, share_error, wilson_interval
from optimiser.result import Metrics, MetricsPair

SHARE_METRICS = frozenset({"p_target", "p_overrun", "p_any_success"})
"""Metrics that are shares of scenarios (their error follows from p and n alone)."""

MetricsBlock = Metrics | Mapping[str, Any] | None
"""A metrics block: a run's typed ``Metrics`` (``OptimiserRun.out_of_sample``, ``in_sample``),
the same numbers as a mapping (an analysis's stored metrics), or None (no block: no value)."""


def block_values(metrics: MetricsBlock) -> Mapping[str, Any]:
    """The numbers a metrics block states, by metric name (empty for None): a typed block's
    fields as the result stated them, not the defaults of fields an older result lacks (a
    result without P(any success) has no interval for it, rather than one around 0)."""
    if isinstance(metrics, Metrics):
        return metrics.model_dump(exclude_unset=True)
    return metrics if isinstance(metrics, Mapping) else {}


def mean_error(std: float, n: int) -> float:
    """The standard error of a mean over ``n`` scenarios with sample standard deviation
    ``std``: std / sqrt(n)."""
    if n <= 0:
        raise ValueError("a mean needs at least one scenario")
    return abs(std) / math.sqrt(n)


def standard_error(block: MetricsBlock, name: str) -> float | None:
    """The standard error of metric ``name`` in a result's metrics block (``out_of_sample``),
    or None when the block does not allow one (no value, no scenario count, a mean without its
    ``<name>_std``)."""
    metrics = block_values(block)
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


def compare_metric(a: MetricsBlock, b: MetricsBlock, name: str) -> Difference | None:
    """Metric ``name`` of two metrics blocks (two runs', or one run's in and out of sample),
    compared; None when either value or its error is unknown. A share's error is read off its
    95 % interval (``interval_error``)."""
    if name in SHARE_METRICS:
        ia, ib = interval(a, name), interval(b, name)
        if ia is None or ib is None:
            return None
        return difference(ia.value, interval_error(ia), ib.value, interval_error(ib))
    se_a, se_b = standard_error(a, name), standard_error(b, name)
    if se_a is None or se_b is None:
        return None
    return difference(float(block_values(a)[name]), se_a, float(block_values(b)[name]), se_b)


@dataclass(frozen=True)
class Interval:
    """A share of ``scenarios`` scenarios and its 95 % Monte-Carlo interval (Wilson)."""

    value: float
    low: float
    high: float
    scenarios: int


def share_interval(p: float, n: int) -> Interval:
    """A share ``p`` of ``n`` scenarios with its 95 % Wilson score interval."""
    low, high = wilson_interval(p, n)
    return Interval(min(1.0, max(0.0, p)), low, high, n)


def interval_error(iv: Interval) -> float:
    """A share's standard error read off its 95 % interval: (high − low) / (2 · 1.96)."""
    return (iv.high - iv.low) / (2 * Z_95)


def interval(block: MetricsBlock, name: str) -> Interval | None:
    """The 95 % interval of share ``name`` in a metrics block (``in_sample`` or
    ``out_of_sample``, which state n as ``scenarios``); None for a metric that is not a share,
    or without a value or a scenario count."""
    metrics = block_values(block)
    value, n = metrics.get(name), metrics.get("scenarios")
    if name not in SHARE_METRICS or value is None or not isinstance(n, int) or n <= 0:
        return None
    return share_interval(float(value), n)


def intervals(block: MetricsBlock) -> dict[str, Interval]:
    """Every share of a metrics block with its 95 % interval, by metric name."""
    metrics = block_values(block)
    found = {name: interval(metrics, name) for name in sorted(SHARE_METRICS)}
    return {name: iv for name, iv in found.items() if iv is not None}


def result_intervals(
    metrics: MetricsPair | Mapping[str, Any] | None,
) -> dict[str, dict[str, Interval]]:
    """The 95 % intervals of a result's ``metrics`` (``in_sample`` and ``out_of_sample``
    blocks): block -> metric -> interval, only the blocks and shares that allow one."""
    if isinstance(metrics, MetricsPair):  # the blocks' fields as stated (``block_values``)
        metrics = metrics.model_dump(exclude_unset=True)
    pair = metrics or {}
    out: dict[str, dict[str, Interval]] = {}
    for block in ("in_sample", "out_of_sample"):
        found = pair.get(block)
        if isinstance(found, Mapping) and (shares := intervals(found)):
            out[block] = shares
    return out


def _percent_digits(iv: Interval, digits: int) -> int:
    """``digits``, or more until the interval's ends differ when written (up to 3 more)."""
    for d in range(digits, digits + 4):
        if f"{iv.low * 100:.{d}f}" != f"{iv.high * 100:.{d}f}" or iv.high <= iv.low:
            return d
    return digits + 3


def interval_words(iv: Interval, digits: int = 1, percent: str = " %") -> tuple[str, str]:
    """The share and its interval, written: ("50.9 %", "95 % interval 50.2–51.6 %"). With
    ``digits`` decimals, more where the interval would otherwise read as one number (0.00–0.02 %);
    ``percent`` is how a percentage is marked ("%" for the update letter's "51%")."""
    d = _percent_digits(iv, digits)
    return (
        f"{iv.value * 100:.{d}f}{percent}",
        f"95{percent} interval {iv.low * 100:.{d}f}–{iv.high * 100:.{d}f}{percent}",
    )


def interval_text(iv: Interval, digits: int = 1, percent: str = " %") -> str:
    """The share and its interval in one phrase: "50.9 % (95 % interval 50.2–51.6 %)"."""
    value, bounds = interval_words(iv, digits, percent)
    return f"{value} ({bounds})"


__all__ = [
    "SHARE_METRICS",
    "Z_95",
    "Difference",
    "Interval",
    "MetricsBlock",
    "block_values",
    "compare_metric",
    "difference",
    "interval",
    "interval_error",
    "interval_text",
    "interval_words",
    "intervals",
    "mean_error",
    "result_intervals",
    "share_error",
    "share_interval",
    "standard_error",
]
