"""Optimiser runs: one solve of a mission's problem file kept with its typed result, the funded
allocation of a run, and the analyses of a run computed in the background."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, field_serializer

from optimiser.optimality import Optimality, optimality
from optimiser.result import FundingRow, Metrics, Result
from portfolio.domain.model.common import (
    FinancialYear,
    Money,
    QuarterLabel,
    Slug,
    Strict,
    Text,
    Username,
)

ANALYTICS_KINDS = ("baseline", "frontier", "risk_frontier", "core", "voi", "price")


class RunAnalysis(Strict):
    """A cached analysis of a run, computed in the background."""

    run: int
    kind: str = Field(pattern="^(" + "|".join(ANALYTICS_KINDS) + ")$")
    status: str = Field("queued", pattern="^(queued|running|done|failed)$")
    progress: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    requested_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None = None


class Allocation(Strict):
    """The funded option of a candidate in an optimiser run."""

    candidate: Slug
    option: Slug
    amounts: dict[str, dict[FinancialYear, Money]] = Field(
        default_factory=dict, description="envelope -> year -> £ million"
    )


RUN_ACTIVE = ("queued", "running")
RUN_STATUSES = ("queued", "running", "optimal", "feasible", "infeasible", "error", "failed")


def p_target_of(result: Result | None) -> float | None:
    """P(target) out of sample of a run's ``result`` (``OptimiserRun.p_target``, for a caller
    that read the result alone): None without an out-of-sample result."""
    oos = result.metrics.out_of_sample if result else None
    return oos.p_target if oos else None


class RunRecord(Strict):
    """One solve of a mission's problem file as a list of runs shows it: everything kept of it
    but the problem file (hundreds of kilobytes at the size of a large programme), which
    ``OptimiserRun`` adds."""

    id: int | None = None
    mission: Slug
    quarter: QuarterLabel
    objective: str
    solver: str = "highs"
    status: str = Field("queued", pattern="^(" + "|".join(RUN_STATUSES) + ")$")
    started_by: Username | str
    note: Text = ""
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    result: Result | None = Field(
        None, description="what the solve produced (mission-portfolio/result), once finished"
    )
    progress: dict[str, Any] | None = None
    error: str | None = None
    budget_scale: float = Field(
        1.0,
        ge=0.1,
        le=3.0,
        allow_inf_nan=False,
        description="what-if: the envelopes were scaled by this; only 1.0 can be approved",
    )
    overrides: dict[str, str] = Field(
        default_factory=dict, description="the CEO's locks and exclusions -> the reason for each"
    )

    @property
    def active(self) -> bool:
        return self.status in RUN_ACTIVE

    @property
    def found_portfolio(self) -> bool:
        return self.status in ("optimal", "feasible")

    @property
    def what_if(self) -> bool:
        """Made on scaled budgets: a question, never an allocation."""
        return abs(self.budget_scale - 1.0) > 1e-12

    # -- the result, typed: every page, route, export and letter reads a run's numbers here --
    def result_document(self) -> dict[str, Any] | None:
        """The result document as the solve wrote it and storage keeps it: exactly the fields
        stored (``exclude_unset``), so a result of an older version, without the fields added
        since, reads back key for key. The result file, the exchange format and the sealed audit
        packs hold this form; a pack sealed over it still matches its live rows."""
        if self.result is None:
            return None
        document = self.result.model_dump(mode="json", exclude_unset=True)
        return {"format": self.result.format, "version": self.result.version, **document}

    @field_serializer("result")
    def _stored_result(self, result: Result | None) -> dict[str, Any] | None:
        return self.result_document()

    @property
    def out_of_sample(self) -> Metrics | None:
        """The run's metrics on fresh scenarios the optimiser never saw (the problem file's
        ``evaluation``): the honest numbers every page, letter and the API state; None before
        a result has them."""
        return self.result.metrics.out_of_sample if self.result else None

    @property
    def in_sample(self) -> Metrics | None:
        """The run's metrics on the scenarios it was optimised on (they flatter it)."""
        return self.result.metrics.in_sample if self.result else None

    @property
    def p_target(self) -> float | None:
        """P(target) out of sample: the share of fresh scenarios whose impact reaches the
        mission's target; None without an out-of-sample result."""
        return p_target_of(self.result)

    @property
    def funding(self) -> list[FundingRow]:
        """The run's funding rows: candidate, option, envelope, year and £m (none without a
        result)."""
        return self.result.funding if self.result else []

    @property
    def selected(self) -> dict[str, str]:
        """The option the run funds of each candidate it funds (none without a result)."""
        return self.result.selected if self.result else {}


class OptimiserRun(RunRecord):
    """One solve of a mission's problem file, kept with the exact problem and result."""

    problem: dict[str, Any]

    @property
    def optimality(self) -> Optimality | None:
        """How close to the best its portfolio is proven to be, with the policy's gap and the
        mission's unit from the problem it solved (`optimiser.optimality`); None without a
        portfolio."""
        if self.result is None:
            return None
        policy, mission = self.problem.get("policy", {}), self.problem.get("mission", {})
        return optimality(
            self.result, self.objective, float(policy.get("gap", 0.0)), str(mission.get("unit", ""))
        )
