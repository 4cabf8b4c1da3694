"""The Monte-Carlo error of a share: the one rule, in the lowest layer so every layer can use it.

A share p of n independent draws (scenarios, or the re-solves of an analysis) has the binomial
standard error

    se(p) = sqrt(p (1 − p) / n)

and its 95 % interval is the Wilson score interval (``wilson_interval``), which stays inside
[0, 1] and never has zero width. ``portfolio.domain.montecarlo`` builds its comparisons of runs on
these
functions; the analyses (``optimiser.analytics.robustness``) state their shares with them.
"""

from __future__ import annotations

import math

Z_95 = 1.96
"""The two-sided 95 % point of the normal distribution."""


def share_error(p: float, n: int) -> float:
    """The standard error of a share ``p`` of ``n`` draws: sqrt(p (1 − p) / n)."""
    if n <= 0:
        raise ValueError("a share needs at least one scenario")
    p = min(1.0, max(0.0, p))
    return math.sqrt(p * (1.0 - p) / n)


def wilson_interval(p: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a share ``p`` of ``n`` draws, with z = 1.96 for 95 %:

        centre = (p + z²/(2n)) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p (1 − p) / n + z²/(4n²))

    the true shares q with |p − q| ≤ z · sqrt(q (1 − q) / n). Always inside [0, 1] and never of
    zero width (all 100 of 100 draws reads 0.963–1, where p ± 1.96 · se would claim 1–1)."""
    if n <= 0:
        raise ValueError("a share needs at least one scenario")
    p = min(1.0, max(0.0, p))
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / n + z2n / (4 * n))
    # the exact bounds at p = 0 and p = 1 (rounding would leave them a hair off)
    low = 0.0 if p <= 0.0 else max(0.0, centre - half)
    high = 1.0 if p >= 1.0 else min(1.0, centre + half)
    return low, high


__all__ = ["Z_95", "share_error", "wilson_interval"]
