"""What a person may set for an optimiser run in the product (the optimiser form and the JSON
API): the problem format's `Policy` held to the form's narrower limits, and the run's own
settings. One model, so every path refuses the same values with the same words.
"""

from __future__ import annotations

from typing import Literal, cast

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, Field

from optimiser.problem import Policy
from portfolio.domain.model import MAX_MONEY


class RunPolicy(Policy):
    """The optimiser policy of a run started in the product (see `optimiser.problem.Policy`)."""

    min_platforms: int = Field(default=2, ge=0, le=50)
    correlation: float = Field(default=0.5, ge=0, le=0.99)
    cvar_alpha: float = Field(default=0.9, ge=0, le=0.999)
    cvar_lambda: float = Field(default=1.0, ge=0, le=100)
    time_limit_s: float = Field(default=60, ge=1, le=3600)
    dal: float | None = Field(
        default=50.0, ge=0, le=MAX_MONEY, description="ignored: the mission's own limit is used"
    )
    switching_cost: float = Field(
        default=0.0,
        ge=0,
        le=1e6,
        description="per £m de-committed, in the objective's units (switching_loss sets it)",
    )


DEFAULT_SCENARIOS = 2000
"""Scenarios a run draws unless the CEO chooses another number."""


class RunSettings(BaseModel):
    """Start an optimiser run on the mission's current data."""

    policy: RunPolicy = Field(default_factory=RunPolicy)
    scenarios: int = Field(DEFAULT_SCENARIOS, ge=100, le=20_000)
    seed: int = Field(42, ge=0, le=2**31 - 1)
    solver: Literal["highs", "cbc"] = "highs"
    note: str = Field("", max_length=500)
    overrides: dict[str, str] = Field(
        default_factory=dict, description="each lock and exclusion -> the reason for it"
    )
    budget_scale: float = Field(
        1.0, ge=0.1, le=3.0, allow_inf_nan=False, description="what-if: envelopes × this"
    )
    switching_loss: float | None = Field(
        None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="the switching cost in money: the share of de-committed money that is lost; "
        "when given it sets policy.switching_cost in the objective's units",
    )


def limits(model: type[BaseModel], field: str) -> tuple[float, float]:
    """The lowest and highest value of ``field`` of ``model``, from its constraints."""
    low, high = float("-inf"), float("inf")
    for rule in model.model_fields[field].metadata:
        if isinstance(rule, Ge | Gt):
            low = float(cast(float, rule.ge if isinstance(rule, Ge) else rule.gt))
        elif isinstance(rule, Le | Lt):
            high = float(cast(float, rule.le if isinstance(rule, Le) else rule.lt))
    return low, high
