"""The rules the analyses share, each defined once and reached through two entry points: which
candidates a per-candidate analysis takes (`per_candidate.chosen_candidates`) and its refusal
when the problem has no portfolio (`per_candidate.NO_PORTFOLIO`), through the value of
information (EVPPI) and the value of knowing the outcome; how the core index's resamples are
drawn (`robustness.Resampling`, defaults in `RESAMPLING_DEFAULTS`), through `core_index` and
`resampled_problems`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from optimiser.analytics.foresight import value_of_knowing_the_outcome
from optimiser.analytics.per_candidate import NO_PORTFOLIO, chosen_candidates
from optimiser.analytics.robustness import RESAMPLING_DEFAULTS, core_index, resampled_problems
from optimiser.analytics.voi import evppi
from optimiser.errors import InfeasibleError
from optimiser.problem import Problem

from .opt_factories import candidate, problem

ANALYSES: dict[str, Callable[..., Any]] = {
    "value of information": lambda p, **kw: evppi(p, draws=2, workers=1, **kw),
    "value of knowing the outcome": lambda p, **kw: value_of_knowing_the_outcome(
        p, workers=1, **kw
    ),
}


def two_candidates(**policy: Any) -> Problem:
    cands = [candidate("a", cost=6.0, p=0.5), candidate("b", cost=6.0, p=0.4)]
    return problem(cands, budget=10.0, objective="expected", **policy)


@pytest.mark.parametrize("analysis", ANALYSES)
def test_each_per_candidate_analysis_refuses_the_same_unknown_candidate(analysis: str) -> None:
    p = two_candidates()
    with pytest.raises(ValueError) as direct:
        chosen_candidates(p, ["a", "zz"])
    with pytest.raises(ValueError) as through:
        ANALYSES[analysis](p, candidates=["a", "zz"])
    assert (
        str(through.value) == str(direct.value) == ("candidates: zz not candidates of this problem")
    )
    assert chosen_candidates(p, None) == ["a", "b"]
    assert chosen_candidates(p, ["b"]) == ["b"]


@pytest.mark.parametrize("analysis", ANALYSES)
def test_each_per_candidate_analysis_stops_the_same_way_without_a_portfolio(
    analysis: str,
) -> None:
    p = two_candidates(locks=["a", "b"])  # 12 of locked spend in a budget of 10
    with pytest.raises(InfeasibleError) as raised:
        ANALYSES[analysis](p)
    assert NO_PORTFOLIO in str(raised.value)


def test_core_index_and_resampled_problems_draw_the_same_resamples_by_default() -> None:
    p = two_candidates()
    problems, seeds = resampled_problems(p)
    assert len(problems) == len(seeds) == RESAMPLING_DEFAULTS["resamples"]
    index = core_index(p, resamples=4, scenarios=50, workers=1)
    assert index.seed == RESAMPLING_DEFAULTS["seed"]
    assert index.concentration == RESAMPLING_DEFAULTS["concentration"]
    drawn, drawn_seeds = resampled_problems(p, resamples=4, scenarios=50)
    assert index.scenario_seeds == drawn_seeds
    assert index.scenario_count == 50 == drawn[0].scenarios.count  # type: ignore[union-attr]
