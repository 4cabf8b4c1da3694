"""In sample against out of sample: when the optimiser's own scenarios flatter a portfolio, and
which run of the quarter to trust instead.

A run's in-sample metrics are measured on the scenarios the optimiser chose its portfolio on: it
picked the options that happened to succeed in them, so in sample flatters. The out-of-sample
metrics, on fresh scenarios it never saw, are the honest ones. In sample and out of sample
disagree when their difference is beyond Monte-Carlo error, by ``montecarlo.compare_metric``'s
rule: |in − out| > 1.96 · sqrt(se_in² + se_out²).

Maximising P(target) counts only whether each optimisation scenario clears the target, so on few
scenarios it fits their luck more than the CVaR objective, which weighs the whole shortfall. When
a P(target)-maximising run scores a lower P(target) out of sample than a CVaR run of the same
quarter on the same budgets, the run page names the CVaR run and says whether the difference is
beyond Monte-Carlo error (``objective_checks``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portfolio.domain import display, montecarlo
from portfolio.domain.model import OptimiserRun
from portfolio.domain.run_policy import RunSettings

P_TARGET, CVAR = "p_target", "cvar"
GAP_METRICS = ("p_target", "p_any_success", "p_overrun")
"""The shares compared in and out of sample, in the order the run page shows them."""

MIN_SUGGESTED_SCENARIOS = 2000
"""More optimisation scenarios: at least this many, and at least four times as many as now."""


def max_scenarios() -> int:
    """The most optimisation scenarios a run may ask for (the run settings' limit)."""
    for rule in RunSettings.model_fields["scenarios"].metadata:
        le = getattr(rule, "le", None)
        if isinstance(le, int):
            return le
    return 20_000


def suggested_scenarios(n: int) -> int | None:
    """How many optimisation scenarios to try instead of ``n``: four times as many, at least
    ``MIN_SUGGESTED_SCENARIOS``, at most what a run allows; None when ``n`` is already that."""
    cap = max_scenarios()
    if n >= cap:
        return None
    return min(cap, max(MIN_SUGGESTED_SCENARIOS, 4 * n))


@dataclass(frozen=True)
class SampleGap:
    """One share of a run, in sample and out of sample, and whether they disagree."""

    metric: str
    label: str
    in_sample: montecarlo.Interval
    out_of_sample: montecarlo.Interval
    difference: montecarlo.Difference
    """In sample minus out of sample, with the Monte-Carlo margin of that difference."""

    @property
    def beyond_error(self) -> bool:
        """The two disagree by more than Monte-Carlo error explains."""
        return self.difference.significant

    @property
    def flatters(self) -> bool:
        """In sample is the higher (for P(overrun): the lower, the flattering side)."""
        higher = self.difference.delta > 0
        return not higher if self.metric == "p_overrun" else higher

    @property
    def points(self) -> float:
        """The size of the gap, in percentage points."""
        return abs(self.difference.delta) * 100

    @property
    def margin_points(self) -> float:
        return self.difference.margin * 100


def sample_gaps(run: OptimiserRun) -> list[SampleGap]:
    """Every share the run states both in and out of sample with their scenario counts, compared
    (beyond Monte-Carlo error or not)."""
    ins, oos = run.in_sample, run.out_of_sample
    gaps = []
    for name in GAP_METRICS:
        a, b = montecarlo.interval(ins, name), montecarlo.interval(oos, name)
        d = montecarlo.compare_metric(ins, oos, name)
        if a is None or b is None or d is None:
            continue
        gaps.append(SampleGap(name, display.METRIC_NAMES.get(name, name), a, b, d))
    return gaps


@dataclass(frozen=True)
class ObjectiveCheck:
    """A P(target)-maximising run that scores a lower P(target) out of sample than a CVaR run of
    the same quarter."""

    p_target_run: OptimiserRun
    cvar_run: OptimiserRun
    difference: montecarlo.Difference
    """The CVaR run's out-of-sample P(target) minus the P(target) run's (> 0)."""

    @property
    def beyond_error(self) -> bool:
        return self.difference.significant

    @property
    def points(self) -> float:
        return self.difference.delta * 100

    @property
    def margin_points(self) -> float:
        return self.difference.margin * 100

    @property
    def optimisation_scenarios(self) -> int | None:
        """How many scenarios the P(target) run was optimised on (None when not stated)."""
        ins = self.p_target_run.in_sample
        return ins.scenarios if ins is not None and ins.scenarios > 0 else None

    @property
    def suggested_scenarios(self) -> int | None:
        n = self.optimisation_scenarios
        return None if n is None else suggested_scenarios(n)


def _comparable(run: OptimiserRun, other: OptimiserRun) -> bool:
    """Another run of the same quarter that found a portfolio on the same budgets."""
    return (
        other.id != run.id
        and other.quarter == run.quarter
        and other.found_portfolio
        and abs(other.budget_scale - run.budget_scale) <= 1e-12
    )


def _check(p_run: OptimiserRun, c_run: OptimiserRun) -> ObjectiveCheck | None:
    d = montecarlo.compare_metric(c_run.out_of_sample, p_run.out_of_sample, "p_target")
    if d is None or d.delta <= 0:
        return None
    return ObjectiveCheck(p_run, c_run, d)


def objective_checks(run: OptimiserRun, runs: Iterable[OptimiserRun]) -> list[ObjectiveCheck]:
    """For a run that maximises P(target): the CVaR run of its quarter (same budgets) with the
    highest out-of-sample P(target), when that is higher than this run's. For a CVaR run: each
    P(target)-maximising run of its quarter that it beats out of sample. Otherwise none."""
    if not run.found_portfolio or run.objective not in (P_TARGET, CVAR):
        return []
    others = [r for r in runs if _comparable(run, r)]
    if run.objective == P_TARGET:
        checks = [c for r in others if r.objective == CVAR and (c := _check(run, r)) is not None]
        best = max(checks, key=lambda c: c.difference.delta, default=None)
        return [] if best is None else [best]
    return [c for r in others if r.objective == P_TARGET and (c := _check(r, run)) is not None]


__all__ = [
    "GAP_METRICS",
    "ObjectiveCheck",
    "SampleGap",
    "objective_checks",
    "sample_gaps",
    "suggested_scenarios",
]
