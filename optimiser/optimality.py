"""How close to the best a result is proven to be, in words a Mission CEO or a Treasury analyst
reads: the one rule behind the run page, the allocation report, the comparison of runs, the JSON
API, the CLI's report and `solve`.

A result's `solver.bound` is a proven upper bound on the objective over every portfolio that
meets every rule (same units as `objective`: the objective less the switching charge), and
`solver.gap` is (bound − objective) / |objective|. A run is *proven best* when its status is
`optimal` (the bound is within the policy's `gap` of the objective); a `feasible` run was stopped
before that (its time limit, or a stop asked for), and the bound then says how much better the
best possible portfolio could be, or nothing when the solver found no bound.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from optimiser.result import Result

MEASURES = {
    "p_target": "a P(target) on the optimisation scenarios",
    "expected": "an expected impact",
    "capped": "an expected impact counted up to the target",
    "cvar": "a CVaR objective (expected impact less the weighted average shortfall in the worst "
    "cases)",
}


class Optimality(BaseModel):
    """What the result proves about the portfolio against the best possible one."""

    proven: bool = Field(description="proven best, within the policy's gap")
    objective: str = Field(description="the objective: expected, capped, p_target or cvar")
    value: float = Field(description="the portfolio's objective value")
    bound: float | None = Field(
        description="no portfolio that meets every rule scores more than this; None if unknown"
    )
    gap: float | None = Field(description="(bound − value) / |value|; None without a bound")
    words: str = Field(description="the same, in a sentence")
    summary: str = Field(description="the same in a few words, for a table cell")


def optimality(result: Result, objective: str, policy_gap: float, unit: str) -> Optimality | None:
    """The proof `result` carries about its portfolio; None when it found no portfolio."""
    if result.status not in ("optimal", "feasible") or result.objective is None:
        return None
    value, bound, gap = result.objective, result.solver.bound, result.solver.gap
    if bound is not None:
        bound = max(bound, value)  # a bound below the value found is the value itself
        if gap is None:
            gap = (bound - value) / max(abs(value), 1e-12)
    proven = result.status == "optimal"
    measure = MEASURES.get(objective, "an objective value")

    def score(v: float) -> str:
        return f"{100 * v:.1f} %" if objective == "p_target" else f"{v:,.2f} {unit}".rstrip()

    if proven:
        if bound is None:
            words = f"Proven best: this portfolio has {measure} of {score(value)}."
        elif score(bound) == score(value):
            words = (
                f"Proven best: no portfolio that meets every rule has {measure} above this "
                f"one's {score(value)}."
            )
        else:
            words = (
                f"Proven best: no portfolio that meets every rule has {measure} above "
                f"{score(bound)}; this one has {score(value)}."
            )
        if policy_gap > 0:
            words += f" The policy accepts a portfolio within {100 * policy_gap:g} % of the best."
        summary = "Proven best"
    elif bound is None or gap is None:
        words = (
            f"Not proven best: the solver stopped before it could bound the best possible "
            f"portfolio. This one has {measure} of {score(value)}."
        )
        summary = "Not proven best; no bound found"
    else:
        better = f"{100 * gap:.1f} %"
        if objective == "p_target":
            better = f"{100 * (bound - value):.1f} points ({better})"
        words = (
            f"Not proven best: the solver stopped (at its time limit, or when asked to) before "
            f"it could prove this portfolio the best. No portfolio that meets every rule has "
            f"{measure} above {score(bound)}; this one has {score(value)}, so the best possible "
            f"is at most {better} better."
        )
        summary = f"Not proven best; the best possible is at most {better} better"
    return Optimality(
        proven=proven,
        objective=objective,
        value=value,
        bound=bound,
        gap=gap,
        words=words,
        summary=summary,
    )
