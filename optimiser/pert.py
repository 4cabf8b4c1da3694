"""PERT: the three-point estimate and the Beta distribution it stands for, stated once.

A three-point estimate (low a, most likely m, high b; a ≤ m ≤ b) is read as the PERT-Beta on
[a, b] with λ = 4 (``PERT_LAMBDA``)::

    α = 1 + λ (m − a) / (b − a)        β = 1 + λ (b − m) / (b − a)
    mean      μ  = (a + 4m + b) / 6                 (kept inside [a, b] against rounding)
    variance  σ² = (b − a)² αβ / ((α + β)² (α + β + 1))  = (μ − a)(b − μ) / 7 when λ = 4
    a draw    a + (b − a) · Beta(α, β)

A degenerate estimate (a = b) is the point a: α = β = 1 (a draw is then a), σ² = 0. The most
likely value that gives a wanted mean μ back is m = (6μ − a − b) / 4, kept inside [a, b]
(``most_likely_for_mean``: pools of estimates are summarised so).

``ThreePoint`` is the one three-point class: the portfolio's stored data and API call the middle
value ``most_likely``, the problem file ``mode`` (``optimiser.problem.Option`` writes it so); it
reads either.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

import numpy as np
import numpy.typing as npt
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

FloatArray = npt.NDArray[np.float64]

PERT_LAMBDA = 4.0
"""The weight of the most likely value in the PERT-Beta (4: the classic PERT)."""

MAX_QUANTITY = 1e12
"""The largest magnitude of a quantity a person types (impacts, targets, seed values): far
beyond any real mission, small enough that sums and products stay finite."""

ORDER_RULE = "low, most likely and high must be in that order (each at least the one before)"

_Value = Annotated[float, Field(ge=0, le=MAX_QUANTITY)]


class ThreePoint(BaseModel):
    """A three-point estimate: low ≤ most likely ≤ high, each 0 to ``MAX_QUANTITY``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    low: _Value
    most_likely: _Value = Field(validation_alias=AliasChoices("most_likely", "mode"))
    high: _Value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low <= self.most_likely <= self.high:
            raise ValueError(ORDER_RULE)
        return self

    @property
    def pert_mean(self) -> float:
        """μ of the PERT-Beta (``pert_mean``)."""
        return pert_mean(self)

    @property
    def pert_variance(self) -> float:
        """σ² of the PERT-Beta (``pert_variance``)."""
        return pert_variance(self)

    def problem_file(self) -> dict[str, float]:
        """As the problem file writes it: ``{"low", "mode", "high"}``."""
        return {"low": self.low, "mode": self.most_likely, "high": self.high}


def _shape(a: Any, m: Any, b: Any, width: Any) -> tuple[Any, Any]:
    """α = 1 + λ (m − a) / (b − a), β = 1 + λ (b − m) / (b − a): the one formula, on floats or
    on arrays (``width`` is b − a, or a stand-in where it is 0)."""
    return 1.0 + PERT_LAMBDA * (m - a) / width, 1.0 + PERT_LAMBDA * (b - m) / width


def beta_parameters(
    low: npt.ArrayLike, most_likely: npt.ArrayLike, high: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """(α, β) of the PERT-Beta of each estimate (arrays of lows, most likely values and highs);
    α = β = 1 where low = high."""
    a = np.asarray(low, dtype=float)
    m = np.asarray(most_likely, dtype=float)
    b = np.asarray(high, dtype=float)
    width = b - a
    alpha, beta = _shape(a, m, b, np.where(width > 0, width, 1.0))
    return np.where(width > 0, alpha, 1.0), np.where(width > 0, beta, 1.0)


def pert_shape(tp: ThreePoint) -> tuple[float, float]:
    """(α, β) of the PERT-Beta on [low, high]; (1, 1) when low = high. (Plain floats: the
    council's pooling calls it for every score, where numpy's per-call cost would dominate.)"""
    width = tp.high - tp.low
    if width <= 0:
        return 1.0, 1.0
    alpha, beta = _shape(tp.low, tp.most_likely, tp.high, width)
    return float(alpha), float(beta)


def pert_mean(tp: ThreePoint) -> float:
    """μ = (a + 4m + b) / 6, kept inside [a, b] against rounding."""
    mean = (tp.low + PERT_LAMBDA * tp.most_likely + tp.high) / (PERT_LAMBDA + 2)
    return min(max(mean, tp.low), tp.high)


def pert_variance(tp: ThreePoint) -> float:
    """σ² = (b − a)² αβ / ((α + β)² (α + β + 1)), the exact Beta variance on [a, b]; 0 when
    a = b. With λ = 4 it equals (μ − a)(b − μ) / 7."""
    a, b = tp.low, tp.high
    if b <= a:
        return 0.0
    alpha, beta = pert_shape(tp)
    total = alpha + beta
    return (b - a) ** 2 * alpha * beta / (total**2 * (total + 1))


def most_likely_for_mean(mean: float, low: float, high: float) -> float:
    """The most likely value m whose PERT mean on [low, high] is ``mean``: (6μ − a − b) / 4,
    kept inside [low, high]."""
    return min(max(((PERT_LAMBDA + 2) * mean - low - high) / PERT_LAMBDA, low), high)
