"""PERT is stated once (``optimiser.pert``): one three-point class read from the problem file and
the portfolio's data alike, and one mean used by the optimiser's data and the council's pools."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimiser.data import problem_data
from optimiser.pert import (
    ThreePoint,
    beta_parameters,
    most_likely_for_mean,
    pert_mean,
    pert_shape,
    pert_variance,
)
from optimiser.problem import load_problem
from portfolio.domain import model
from portfolio.domain.estimates import pool_three_point

from .opt_factories import candidate, document

three_points = st.lists(
    st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=3, max_size=3
).map(sorted)


def test_the_portfolio_and_the_problem_file_share_one_three_point_class() -> None:
    assert model.ThreePoint is ThreePoint
    from_problem = ThreePoint.model_validate({"low": 1.0, "mode": 2.0, "high": 4.0})
    from_portfolio = ThreePoint.model_validate({"low": 1.0, "most_likely": 2.0, "high": 4.0})
    assert from_problem == from_portfolio
    assert from_portfolio.model_dump() == {"low": 1.0, "most_likely": 2.0, "high": 4.0}
    assert from_portfolio.problem_file() == {"low": 1.0, "mode": 2.0, "high": 4.0}


def test_a_problem_file_is_written_back_with_mode_as_its_format_names_it() -> None:
    doc = document([candidate("a", options=None)])
    doc["candidates"][0]["options"][0]["impact"] = {"low": 1.0, "mode": 2.0, "high": 6.0}
    problem = load_problem(doc)
    written = problem.model_dump(mode="json")["candidates"][0]["options"][0]
    assert written["impact"] == {"low": 1.0, "mode": 2.0, "high": 6.0}
    assert load_problem(problem.model_dump(mode="json")) == problem


@given(three_points)
def test_the_optimisers_expected_impact_is_the_pert_mean(values: list[float]) -> None:
    low, mode, high = values
    doc = document([candidate("a")])
    doc["candidates"][0]["options"][0]["impact"] = {"low": low, "mode": mode, "high": high}
    data = problem_data(load_problem(doc))
    assert data.impact_mean[0] == pert_mean(ThreePoint(low=low, most_likely=mode, high=high))


@given(st.lists(three_points, min_size=1, max_size=5))
def test_a_pool_of_one_estimate_keeps_its_pert_mean(points: list[list[float]]) -> None:
    estimates = [ThreePoint(low=a, most_likely=m, high=b) for a, m, b in points]
    pooled = pool_three_point(estimates[:1], [1.0])
    assert pooled.mean == pytest.approx(estimates[0].pert_mean, rel=1e-12, abs=1e-9)
    assert pooled.sd == pytest.approx(math.sqrt(pert_variance(estimates[0])), rel=1e-9, abs=1e-9)


@given(three_points)
def test_the_scalar_and_the_array_shapes_agree(values: list[float]) -> None:
    tp = ThreePoint(low=values[0], most_likely=values[1], high=values[2])
    alpha, beta = beta_parameters(np.array([tp.low]), np.array([tp.most_likely]), [tp.high])
    assert pert_shape(tp) == (float(alpha[0]), float(beta[0]))


@given(three_points)
def test_the_most_likely_value_for_a_pert_mean_gives_that_mean_back(values: list[float]) -> None:
    tp = ThreePoint(low=values[0], most_likely=values[1], high=values[2])
    m = most_likely_for_mean(tp.pert_mean, tp.low, tp.high)
    assert m == pytest.approx(tp.most_likely, rel=1e-9, abs=1e-6)
