"""Delivery confidence (RAG): the one definition of the rating and of the CEO's override.

The rating follows the approved allocation's out-of-sample P(target) against the mission's own
thresholds (``Mission.rag_green`` and ``Mission.rag_amber``; ``GREEN_THRESHOLD`` and
``AMBER_THRESHOLD`` are their defaults)::

    Green  when P(target) ≥ green
    Amber  when amber ≤ P(target) < green
    Red    when P(target) < amber             (0 ≤ amber < green ≤ 1)

The Mission CEO may override the computed rating, with a justification that is published. An
override equal to the computed rating is *no override*: ``apply_override`` returns it as not
overridden, and the quarter stores it as no override (no override rating, no reason). So a
stored override always differs from the rating computed when it was stored, and approving
another allocation re-applies the stored override to the new computed rating
(``portfolio.services.cycle``).

``RAG_WORDING`` quotes the Infrastructure and Projects Authority definitions exactly as section
4.3.1 of the Reform paper gives them (it gives only Green, Amber and Red — no Amber/Red or
Amber/Green). Pure: no I/O.
"""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AMBER_THRESHOLD",
    "GREEN_THRESHOLD",
    "RAG_LABELS",
    "RAG_SOURCE",
    "RAG_WORDING",
    "Rag",
    "RagRating",
    "apply_override",
    "check_thresholds",
    "rag_from_p",
    "rate_delivery",
]


class Rag(StrEnum):
    """A delivery-confidence rating."""

    green = "green"
    amber = "amber"
    red = "red"


GREEN_THRESHOLD = 0.7
"""P(target) at or above which a mission's rating is Green unless it sets its own."""
AMBER_THRESHOLD = 0.4
"""P(target) at or above which a mission's rating is Amber unless it sets its own."""

RAG_LABELS = {Rag.green: "Green", Rag.amber: "Amber", Rag.red: "Red"}

RAG_SOURCE = (
    "Infrastructure and Projects Authority, Assurance Review Toolkit (2021), as quoted in "
    "section 4.3.1 of the Reform paper"
)

RAG_WORDING: dict[Rag, str] = {
    Rag.green: (
        "Successful delivery of the mission appears “highly likely” and “there are no major "
        "outstanding issues that at this stage appear to threaten delivery”."
    ),
    Rag.amber: (
        "Successful delivery of the mission appears “feasible” but “significant issues already "
        "exist requiring management attention”. These issues “appear resolvable at this stage "
        "if addressed promptly”."
    ),
    Rag.red: (
        "Successful delivery of the mission “appears to be unachievable. There are major issues "
        "which, at this stage, do not appear to be manageable or resolvable. The "
        "programme/project may need re-baselining and/or its overall viability re-assessed”."
    ),
}


def check_thresholds(green: float, amber: float) -> None:
    """Refuse thresholds that are not probabilities, or a Green threshold not above Amber's."""
    for name, value in (("green", green), ("amber", amber)):
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"{name}: a RAG threshold must be between 0 and 1, got {value}")
    if not green > amber:
        raise ValueError(
            f"green: the Green threshold ({green}) must be above the Amber threshold ({amber})"
        )


def rag_from_p(
    p_target: float, green: float = GREEN_THRESHOLD, amber: float = AMBER_THRESHOLD
) -> Rag:
    """The computed rating: Green when P(target) ≥ green, Amber when ≥ amber, else Red."""
    check_thresholds(green, amber)
    if not (math.isfinite(p_target) and 0.0 <= p_target <= 1.0):
        raise ValueError(f"p_target: must be a probability between 0 and 1, got {p_target}")
    if p_target >= green:
        return Rag.green
    if p_target >= amber:
        return Rag.amber
    return Rag.red


class RagRating(BaseModel):
    """The rating computed from P(target), and the one published (the CEO's, when overridden).

    ``override`` is what the quarter stores as the CEO's override: None unless ``overridden``;
    ``reason`` is the published justification, empty unless ``overridden``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    computed: Rag
    rag: Rag
    overridden: bool
    reason: str = ""

    @property
    def override(self) -> Rag | None:
        return self.rag if self.overridden else None


def apply_override(computed: Rag, override: Rag | None, reason: str = "") -> RagRating:
    """The published rating: ``override`` with its ``reason`` when it differs from the
    ``computed`` rating, else the computed rating, not overridden and with no reason (an
    override equal to the computed rating is no override). An override that differs needs a
    justification: ``ValueError`` naming ``rag_reason`` without one."""
    reason = reason.strip()
    if override is None or Rag(override) is computed:
        return RagRating(computed=computed, rag=computed, overridden=False)
    if not reason:
        raise ValueError("rag_reason: overriding the computed rating needs a justification")
    return RagRating(computed=computed, rag=Rag(override), overridden=True, reason=reason)


def rate_delivery(
    p_target: float,
    *,
    green: float = GREEN_THRESHOLD,
    amber: float = AMBER_THRESHOLD,
    override: Rag | None = None,
    reason: str = "",
) -> RagRating:
    """``rag_from_p`` then ``apply_override``: the rating of P(target) and the CEO's override."""
    return apply_override(rag_from_p(p_target, green, amber), override, reason)
