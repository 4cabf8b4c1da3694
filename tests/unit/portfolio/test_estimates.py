"""The council's arithmetic against numbers worked out by hand, and its invariants."""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimiser.pert import pert_mean, pert_shape, pert_variance
from portfolio.domain.estimates import (
    FlagCode,
    aggregate_option,
    brier,
    brier_weights,
    calibration_curve,
    council_flags,
    member_calibration,
    p_sd,
    p_spread,
    pool_probability,
    pool_three_point,
)
from portfolio.domain.model import (
    AggregationMethod,
    Confidence,
    Score,
    ScoreStatus,
    Sector,
    ThreePoint,
)


def tp(low: float, most_likely: float, high: float) -> ThreePoint:
    return ThreePoint(low=low, most_likely=most_likely, high=high)


def score(member: str, p: float, **changes: Any) -> Score:
    data: dict[str, Any] = {
        "member": member,
        "quarter": "2026-27 Q1",
        "candidate": "h2-combustion",
        "option": "demonstrate",
        "status": ScoreStatus.submitted,
        "p_success": p,
        "cost": tp(10, 12, 20),
        "impact": tp(0, 1, 2),
        "trl": 4,
        "confidence": Confidence.medium,
    }
    data.update(changes)
    return Score(**data)


# -- PERT ----------------------------------------------------------------------------------------


def test_pert_variance_is_the_beta_variance_of_the_shape_parameters() -> None:
    # (0, 1, 2): α = β = 3, σ² = 2²·9 / (36·7) = 1/7 = (μ - a)(b - μ)/7 with μ = 1
    assert pert_shape(tp(0, 1, 2)) == (3, 3)
    assert pert_variance(tp(0, 1, 2)) == pytest.approx(1 / 7)
    # (0, 0, 6): α = 1, β = 5, μ = 1, σ² = 36·5 / 252 = 5/7 = (1 - 0)(6 - 1)/7
    assert pert_shape(tp(0, 0, 6)) == (1, 5)
    assert pert_mean(tp(0, 0, 6)) == 1
    assert pert_variance(tp(0, 0, 6)) == pytest.approx(5 / 7)


def test_a_degenerate_three_point_has_no_variance() -> None:
    assert pert_variance(tp(4, 4, 4)) == 0
    assert pert_mean(tp(4, 4, 4)) == 4


@given(
    low=st.floats(0, 1e6),
    a=st.floats(0, 1),
    b=st.floats(0, 1),
    span=st.floats(0, 1e6),
)
def test_pert_variance_equals_the_seventh_of_the_distances_to_the_mean(
    low: float, a: float, b: float, span: float
) -> None:
    t = tp(low, low + min(a, b) * span, low + max(a, b) * span)
    mu = (t.low + 4 * t.most_likely + t.high) / 6
    assert pert_variance(t) == pytest.approx((mu - t.low) * (t.high - mu) / 7, rel=1e-9, abs=1e-9)
    assert t.low <= pert_mean(t) <= t.high


# -- pools ---------------------------------------------------------------------------------------


def test_the_linear_pool_normalises_its_weights() -> None:
    # (2·0.2 + 1·0.8) / 3 = 0.4
    assert pool_probability([0.2, 0.8], [2, 1]) == pytest.approx(0.4)


def test_the_pool_refuses_weights_that_cannot_be_normalised() -> None:
    with pytest.raises(ValueError, match="at least one weight"):
        pool_probability([0.2, 0.8], [0, 0])
    with pytest.raises(ValueError, match="finite number >= 0"):
        pool_probability([0.2, 0.8], [1, -1])
    with pytest.raises(ValueError, match="one each"):
        pool_probability([0.2, 0.8], [1])


def test_the_mixture_has_the_exact_moments_not_an_average_of_the_points() -> None:
    # A = (0, 1, 2): μ = 1, σ² = 1/7.   B = (2, 5, 8): α = β = 3, μ = 5, σ² = 36·9/252 = 9/7.
    # Equal weights: μ = 3;  E[X²] = ½(1/7 + 1) + ½(9/7 + 25) = 96/7;  σ² = 96/7 - 9 = 33/7.
    pooled = pool_three_point([tp(0, 1, 2), tp(2, 5, 8)], [1, 1])
    assert pooled.mean == pytest.approx(3)
    assert pooled.variance == pytest.approx(33 / 7)
    assert pooled.sd == pytest.approx(math.sqrt(33 / 7))
    # The averaged three point (1, 3, 5) would have σ² = 4/7: far narrower than the mixture.
    assert pert_variance(tp(1, 3, 5)) == pytest.approx(4 / 7)
    # Summary: low 0, high 8, m = (6·3 - 0 - 8)/4 = 2.5; its PERT mean (0 + 10 + 8)/6 = 3 = μ.
    assert (pooled.low, pooled.most_likely, pooled.high) == pytest.approx((0, 2.5, 8))
    assert pooled.three_point().pert_mean == pytest.approx(pooled.mean)


def test_the_summary_most_likely_is_clamped_into_the_range() -> None:
    # Both members near 0 but one allows 100: μ = (1/6 + 100/6)/2 ≈ 8.4, m = (50.5 - 100)/4 < 0
    pooled = pool_three_point([tp(0, 0, 1), tp(0, 0, 100)], [1, 1])
    assert pooled.most_likely == 0
    assert pooled.mean == pytest.approx(101 / 12)


three_points = st.tuples(
    st.floats(0, 1000), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1000)
).map(lambda t: tp(t[0], t[0] + min(t[1], t[2]) * t[3], t[0] + max(t[1], t[2]) * t[3]))
members = st.lists(st.tuples(three_points, st.floats(0.01, 0.99), st.floats(0, 10)), min_size=1)


@given(members)
def test_the_pooled_p_lies_between_the_members(rows: list[tuple[ThreePoint, float, float]]) -> None:
    ps, weights = [p for _, p, _ in rows], [w for _, _, w in rows]
    if sum(weights) == 0:
        weights = [1.0] * len(rows)
    assert min(ps) <= pool_probability(ps, weights) <= max(ps)


@given(members)
def test_the_mixture_mean_lies_between_the_members_pert_means(
    rows: list[tuple[ThreePoint, float, float]],
) -> None:
    estimates, weights = [t for t, _, _ in rows], [w for _, _, w in rows]
    if sum(weights) == 0:
        weights = [1.0] * len(rows)
    pooled = pool_three_point(estimates, weights)
    means = [pert_mean(t) for t in estimates]
    assert min(means) <= pooled.mean <= max(means)
    assert pooled.low <= pooled.most_likely <= pooled.high
    assert pooled.sd >= 0


# -- spread and flags ----------------------------------------------------------------------------


def test_spread_is_the_range_and_the_population_standard_deviation() -> None:
    assert p_spread([0.2, 0.5, 0.8]) == pytest.approx(0.6)
    # mean 0.5, squared deviations 0.09, 0, 0.09 -> σ² = 0.06
    assert p_sd([0.2, 0.5, 0.8]) == pytest.approx(math.sqrt(0.06))
    assert p_spread([0.4]) == 0
    assert p_sd([0.4]) == 0


@given(st.lists(st.floats(min_value=0.01, max_value=0.99), min_size=1, max_size=30))
def test_the_standard_deviation_agrees_with_the_exact_one(ps: list[float]) -> None:
    assert p_sd(ps) == pytest.approx(statistics.pstdev(ps), rel=1e-12, abs=1e-15)


SECTORS = {"ann": Sector.business, "bob": Sector.academia, "cat": Sector.business}


def test_a_spread_above_a_quarter_is_flagged_as_disagreement() -> None:
    scores = {m: score(m, p) for m, p in [("ann", 0.3), ("bob", 0.6), ("cat", 0.5)]}
    assert [f.code for f in council_flags(scores, SECTORS)] == [FlagCode.large_disagreement]
    scores["bob"] = score("bob", 0.55)  # a spread of 0.25, up to rounding, is not above it
    assert council_flags(scores, SECTORS) == []


def test_scores_from_one_sector_only_are_flagged() -> None:
    scores = {m: score(m, 0.5) for m in ("ann", "cat")}
    codes = [f.code for f in council_flags(scores, SECTORS, min_scorers=2)]
    assert codes == [FlagCode.single_sector]


def test_fewer_than_three_scorers_are_flagged_counting_only_submitted_competent_scores() -> None:
    scores = {
        "ann": score("ann", 0.5),
        "bob": score("bob", 0.5),
        "cat": score("cat", 0.5, status=ScoreStatus.draft),
    }
    flags = council_flags(scores, SECTORS)
    assert [f.code for f in flags] == [FlagCode.few_scorers]
    assert flags[0].message == "2 scorers, fewer than 3"


def test_a_scorer_without_a_known_sector_is_an_error() -> None:
    with pytest.raises(ValueError, match="no sector known for member dan"):
        council_flags({"dan": score("dan", 0.5)}, SECTORS)


# -- forecasting record --------------------------------------------------------------------------

ANN = [(0.9, True), (0.8, True), (0.3, False), (0.6, False), (0.7, True)]


def test_the_brier_score_is_the_mean_squared_error() -> None:
    # (0.01 + 0.04 + 0.09 + 0.36 + 0.09) / 5 = 0.118
    assert brier(ANN) == pytest.approx(0.118)
    assert brier([(0.5, True), (0.5, False)]) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        brier([])


# Issue 18: performance weights engage from the first resolved forecast, shrunk towards equal by
# the length of each record (k = 5); more cases of the rule are in test_weight_shrinkage.py.
def test_weights_are_equal_while_nobody_or_only_one_member_has_a_record() -> None:
    assert brier_weights({"ann": [], "bob": [], "cat": []}) == pytest.approx(
        {"ann": 1 / 3, "bob": 1 / 3, "cat": 1 / 3}
    )
    # a lone record is compared with nobody: relative skill 1, equal weights
    assert brier_weights({"ann": ANN, "bob": [], "cat": []}) == pytest.approx(
        {"ann": 1 / 3, "bob": 1 / 3, "cat": 1 / 3}
    )


def test_brier_weights_reward_relative_skill_shrunk_by_record_length_with_a_floor() -> None:
    records = {"ann": ANN, "bob": [(0.5, True), (0.5, False)] * 2 + [(0.5, True)], "cat": ANN[:2]}
    # skill = 1 - Brier/0.25: ann 1 - 0.118/0.25 = 0.528, bob 0, cat 1 - 0.025/0.25 = 0.9
    # mean skill 0.476, relative r = (1.10924, 0, 1.89076); λ = n/(n+5) = (1/2, 1/2, 2/7)
    # raw = λr + 1 - λ = (1.05462, 0.5, 1.25450), sum 2.80912
    # w = 0.1/3 + 0.9·raw/sum = (0.37122, 0.19352, 0.43526)
    weights = brier_weights(records)
    skill_mean = (0.528 + 0.9) / 3
    raw = [0.5 * 0.528 / skill_mean + 0.5, 0.5, 2 / 7 * 0.9 / skill_mean + 5 / 7]
    expected = [0.1 / 3 + 0.9 * r / sum(raw) for r in raw]
    assert list(weights.values()) == pytest.approx(expected)
    assert list(weights.values()) == pytest.approx([0.37122, 0.19352, 0.43526], abs=1e-5)


def test_weights_are_equal_when_every_rated_member_has_no_skill() -> None:
    coin = [(0.5, True)] * 5
    assert brier_weights({"ann": coin, "bob": coin}) == {"ann": 0.5, "bob": 0.5}


forecasts = st.lists(st.tuples(st.floats(0, 1), st.booleans()), max_size=12)


@given(
    st.dictionaries(st.text("abc", min_size=1, max_size=3), forecasts, min_size=1, max_size=6),
    st.floats(0, 1),
)
def test_brier_weights_sum_to_one_and_respect_the_floor(
    records: dict[str, list[tuple[float, bool]]], floor: float
) -> None:
    weights = brier_weights(records, k=3, floor=floor)
    assert math.fsum(weights.values()) == pytest.approx(1)
    assert min(weights.values()) >= floor / len(records) - 1e-12


def test_the_calibration_curve_bins_forecasts_by_fifths() -> None:
    curve = calibration_curve([(0.1, False), (0.15, True), (0.2, True), (0.95, True), (1.0, True)])
    assert [b.count for b in curve] == [2, 1, 0, 0, 2]
    assert [b.lower for b in curve] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8])
    assert [b.upper for b in curve] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert curve[0].mean_forecast == pytest.approx(0.125)
    assert curve[0].observed_frequency == 0.5
    assert curve[2].mean_forecast is None
    assert curve[4].observed_frequency == 1


def test_a_members_calibration_page_has_the_record_brier_and_curve() -> None:
    page = member_calibration(ANN)
    assert page.n_resolved == 5
    assert page.brier == pytest.approx(0.118)
    assert member_calibration([]).brier is None


# -- aggregate of one option ---------------------------------------------------------------------


def test_the_aggregate_pools_scores_and_traces_each_contribution() -> None:
    scores = [
        score("ann", 0.3, cost=tp(0, 1, 2)),
        score("bob", 0.6, cost=tp(2, 5, 8), trl=6),
        score("cat", 0.9, not_competent=True, p_success=None),
    ]
    agg = aggregate_option(scores, {"ann": 3, "bob": 1}, "brier", sectors=SECTORS)
    # weights 3:1 -> 0.75, 0.25; p = 0.75·0.3 + 0.25·0.6 = 0.375
    assert agg.p == pytest.approx(0.375)
    assert (agg.p_min, agg.p_max, agg.p_spread) == pytest.approx((0.3, 0.6, 0.3))
    assert agg.p_sd == pytest.approx(0.15)
    # cost mean 0.75·1 + 0.25·5 = 2
    assert agg.cost.mean == pytest.approx(2)
    assert agg.trl_median == 5
    assert agg.n_scorers == 2
    assert agg.sectors == [Sector.business, Sector.academia]
    assert [c.member for c in agg.contributions] == ["ann", "bob"]
    assert [c.weight for c in agg.contributions] == pytest.approx([0.75, 0.25])
    assert [c.p for c in agg.contributions] == [0.3, 0.6]
    assert [c.cost_mean for c in agg.contributions] == pytest.approx([1.0, 5.0])
    assert {f.code for f in agg.flags} == {FlagCode.large_disagreement, FlagCode.few_scorers}
    assert agg.note == ""


def test_the_equal_method_ignores_the_weights() -> None:
    scores = [score("ann", 0.3), score("bob", 0.6)]
    agg = aggregate_option(scores, {"ann": 3}, AggregationMethod.equal, sectors=SECTORS)
    assert agg.p == pytest.approx(0.45)


def test_all_zero_weights_fall_back_to_equal_weights_and_say_so() -> None:
    scores = [score("ann", 0.3), score("bob", 0.6)]
    agg = aggregate_option(scores, {"ann": 0.0, "dan": 1.0}, "classical", sectors=SECTORS)
    assert agg.p == pytest.approx(0.45)
    assert "equal weights used instead" in agg.note


def test_an_option_without_a_usable_score_cannot_be_aggregated() -> None:
    with pytest.raises(ValueError, match="no submitted, competent score"):
        aggregate_option(
            [score("ann", 0.3, status=ScoreStatus.draft)], {}, "equal", sectors=SECTORS
        )


def test_scores_of_different_options_are_not_pooled() -> None:
    scores = [score("ann", 0.3), score("bob", 0.6, option="scale-up")]
    with pytest.raises(ValueError, match="same quarter, candidate and option"):
        aggregate_option(scores, {}, "equal", sectors=SECTORS)
