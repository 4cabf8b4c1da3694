"""What the per-candidate analyses share (the value of information, ``optimiser.analytics.voi``,
and the value of knowing the outcome, ``optimiser.analytics.foresight``): which candidates are
analysed, and the refusal when the problem as given has no portfolio to compare against."""

from __future__ import annotations

from optimiser.errors import InfeasibleError
from optimiser.problem import Problem

NO_PORTFOLIO = "no portfolio meets every rule (solve the problem for the diagnosis)"
"""Why a per-candidate analysis stops when the problem as given cannot be solved."""


def chosen_candidates(problem: Problem, candidates: list[str] | None) -> list[str]:
    """The candidate ids to analyse: `candidates` as given (in their order), or, when None,
    every candidate of `problem` in its order. An id that is not a candidate of `problem` is
    refused with a ValueError naming it."""
    ids = [c.id for c in problem.candidates]
    chosen = ids if candidates is None else list(candidates)
    unknown = [c for c in chosen if c not in ids]
    if unknown:
        raise ValueError(f"candidates: {', '.join(unknown)} not candidates of this problem")
    return chosen


def no_portfolio() -> InfeasibleError:
    """The error a per-candidate analysis raises when the problem as given has no portfolio."""
    return InfeasibleError([NO_PORTFOLIO], [])
