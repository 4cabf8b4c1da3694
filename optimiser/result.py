"""The result document (``mission-portfolio/result`` version 1) and solve progress."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class Progress:
    """A progress report during a solve: elapsed seconds, incumbent, bound and phase."""

    elapsed: float
    incumbent: float | None
    bound: float | None
    phase: str

    def __str__(self) -> str:
        inc = "-" if self.incumbent is None else f"{self.incumbent:.6g}"
        bnd = "-" if self.bound is None else f"{self.bound:.6g}"
        return f"[{self.elapsed:7.1f}s] {self.phase}: incumbent {inc}, bound {bnd}"


class FundingRow(BaseModel):
    candidate: str
    option: str
    envelope: str
    year: str
    amount: float


class Metrics(BaseModel):
    """Quality of a portfolio on one set of scenarios."""

    p_target: float
    expected_impact: float
    cvar_shortfall: float
    capped_impact: float = 0.0
    p_any_success: float = 0.0
    expected_cost: float | None = None
    scenarios: int = 0
    # version 2: the share of scenarios whose realised spend exceeds the money available, and
    # the mean over scenarios of the largest excess over the years (£m)
    p_overrun: float | None = None
    expected_overspend: float | None = None


class MetricsPair(BaseModel):
    in_sample: Metrics | None = None
    out_of_sample: Metrics | None = None


class Spend(BaseModel):
    total: float = 0.0
    by_envelope: dict[str, float] = Field(default_factory=dict)
    by_year: dict[str, float] = Field(default_factory=dict)
    by_platform: dict[str, float] = Field(default_factory=dict)
    by_tier: dict[str, float] = Field(default_factory=dict)
    by_organisation_type: dict[str, float] = Field(default_factory=dict)


class Flag(BaseModel):
    candidate: str
    kind: Literal["above_dal", "ncr"]
    amount: float


class SolverInfo(BaseModel):
    name: str
    version: str
    seconds: float
    gap: float | None = None
    bound: float | None = None
    method: str = ""
    scenarios: int = 0
    build_seconds: float = 0.0
    progress: list[dict[str, Any]] = Field(default_factory=list)
    # the solver's own status when it failed (status "error"), e.g. "kError" or "kSolveError"
    status: str | None = None
    # versions of mission-portfolio, Python, numpy, PuLP, highspy and HiGHS that computed it
    environment: dict[str, str] = Field(default_factory=dict)


class Result(BaseModel):
    format: Literal["mission-portfolio/result"] = "mission-portfolio/result"
    version: Literal[1, 2] = 1
    status: Literal["optimal", "feasible", "infeasible", "error"]
    objective: float | None = None
    selected: dict[str, str] = Field(default_factory=dict)
    funding: list[FundingRow] = Field(default_factory=list)
    metrics: MetricsPair = Field(default_factory=MetricsPair)
    spend: Spend = Field(default_factory=Spend)
    flags: list[Flag] = Field(default_factory=list)
    solver: SolverInfo
    diagnosis: list[dict[str, Any]] = Field(default_factory=list)
    message: str | None = None
