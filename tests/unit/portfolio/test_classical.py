"""Cooke's classical model against the published check and a small example worked by hand."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.cli.council import run_classical_model_cli
from portfolio.domain.classical import (
    calibration_score,
    chi2_cdf_3,
    chi2_sf_3,
    classical_model,
    classical_warnings,
    elicitation_from_seeds,
    intrinsic_range,
    item_information,
    parse_alpha,
    parse_elicitation,
    realization_bin,
    relative_information,
)
from portfolio.domain.errors import InvalidInput
from portfolio.domain.model import SeedAnswer, SeedQuestion

P = (0.05, 0.45, 0.45, 0.05)


def document(items: list[dict[str, Any]], experts: list[str] | None = None) -> dict[str, Any]:
    return {
        "format": "mission-portfolio/elicitation",
        "version": 1,
        "quantiles": [0.05, 0.5, 0.95],
        "experts": experts or ["A", "B"],
        "items": items,
    }


# The worked example. Two experts give the same quantiles on three seed items:
#   A: (10, 50, 90)    B: (0, 20, 100)
# realisations 60, 50 (= A's median) and 5, plus a target item T1.
# For every seed item L = 0 and U = 100 (B's q5 and q95), so with k = 0.1:
#   L* = 0 - 0.1·100 = -10,  U* = 100 + 0.1·100 = 110,  U* - L* = 120.
A_Q = [10, 50, 90]
B_Q = [0, 20, 100]
WORKED = document(
    [
        {"id": "S1", "realization": 60, "scale": "uniform", "assessments": {"A": A_Q, "B": B_Q}},
        {"id": "S2", "realization": 50, "scale": "uniform", "assessments": {"A": A_Q, "B": B_Q}},
        {"id": "S3", "realization": 5, "scale": "uniform", "assessments": {"A": A_Q, "B": B_Q}},
        {"id": "T1", "realization": None, "assessments": {"A": [1, 2, 3], "B": [2, 4, 8]}},
    ]
)
# Bins (a tie goes to the lower bin):
#   A: 60 in (50, 90] -> bin 2; 50 = q50 -> bin 1; 5 <= 10 -> bin 0.   s_A = (1, 1, 1, 0)/3
#   B: 60 in (20, 100] -> bin 2; 50 -> bin 2;      5 in (0, 20] -> bin 1. s_B = (0, 1, 2, 0)/3
# N = 3, so the statistic is 2·3·I(s, p) = 6·I.
I_S_A = (1 / 3) * (math.log((1 / 3) / 0.05) + 2 * math.log((1 / 3) / 0.45))  # 0.4323036
I_S_B = (1 / 3) * math.log((1 / 3) / 0.45) + (2 / 3) * math.log((2 / 3) / 0.45)  # 0.1619935
C_A = 0.4585737299  # 1 - F(6 · 0.4323036; 3)
C_B = 0.8080360827  # 1 - F(6 · 0.1619935; 3)
# Information (the same on each seed item, so the mean is that value):
#   A: points -10, 10, 50, 90, 110 -> widths 20, 40, 40, 20; width/120 = 1/6, 1/3, 1/3, 1/6
#      I_A = 2·0.05 ln(0.05·6) + 2·0.45 ln(0.45·3) = 0.1 ln 0.3 + 0.9 ln 1.35
#   B: points -10, 0, 20, 100, 110 -> widths 10, 20, 80, 10; width/120 = 1/12, 1/6, 2/3, 1/12
#      I_B = 0.1 ln 0.6 + 0.45 ln 2.7 + 0.45 ln 0.675
INFO_A = 0.1 * math.log(0.3) + 0.9 * math.log(1.35)  # 0.1496969
INFO_B = 0.1 * math.log(0.6) + 0.45 * math.log(2.7) + 0.45 * math.log(0.675)  # 0.2190116


def test_the_published_check_gives_its_information_statistic_and_calibration() -> None:
    s = (0.1, 0.2, 0.5, 0.2)
    information = relative_information(s)
    assert information == pytest.approx(0.2370678, abs=1e-6)
    assert 2 * 10 * information == pytest.approx(4.741356, abs=1e-6)
    assert calibration_score([1, 2, 5, 2], n_min=10) == pytest.approx(0.191746, abs=1e-6)
    assert 1 - chi2_cdf_3(4.741356) == pytest.approx(0.191746, abs=1e-6)


def test_chi_square_with_three_degrees_of_freedom_matches_known_values() -> None:
    # the 95th percentile of chi2(3) is 7.814728, the median 2.365974
    assert chi2_cdf_3(7.814728) == pytest.approx(0.95, abs=1e-7)
    assert chi2_cdf_3(2.365974) == pytest.approx(0.5, abs=1e-7)
    assert chi2_cdf_3(0) == 0
    assert chi2_sf_3(0) == 1
    assert chi2_sf_3(200.0) == pytest.approx(math.sqrt(400 / math.pi) * math.exp(-100), rel=1e-6)


def test_a_realisation_equal_to_a_quantile_falls_in_the_lower_bin() -> None:
    q = (10.0, 50.0, 90.0)
    assert [realization_bin(q, r) for r in (9, 10, 11, 50, 51, 90, 91)] == [0, 0, 1, 1, 2, 2, 3]


def test_the_intrinsic_range_adds_ten_percent_overshoot_each_side() -> None:
    assert intrinsic_range([0, 20, 100, 60]) == pytest.approx((-10, 110))


def test_information_of_an_item_follows_the_worked_example() -> None:
    assert item_information((10, 50, 90), -10, 110) == pytest.approx(INFO_A, abs=1e-12)
    assert item_information((0, 20, 100), -10, 110) == pytest.approx(INFO_B, abs=1e-12)
    assert INFO_A == pytest.approx(0.1496969, abs=1e-7)
    assert INFO_B == pytest.approx(0.2190116, abs=1e-7)


def test_experts_are_scored_as_worked_out_by_hand() -> None:
    assert I_S_A == pytest.approx(0.4323036, abs=1e-7)
    assert I_S_B == pytest.approx(0.1619935, abs=1e-7)
    result = classical_model(WORKED, alpha=0.0)
    a, b = result["experts"]["A"], result["experts"]["B"]
    assert a["calibration"] == pytest.approx(C_A, abs=1e-9)
    assert b["calibration"] == pytest.approx(C_B, abs=1e-9)
    assert a["information"] == pytest.approx(INFO_A, abs=1e-12)
    assert b["information"] == pytest.approx(INFO_B, abs=1e-12)
    # global weights with alpha = 0: proportional to C · Info
    w_a = C_A * INFO_A / (C_A * INFO_A + C_B * INFO_B)  # 0.2794890
    assert a["weight"] == pytest.approx(w_a, abs=1e-9)
    assert b["weight"] == pytest.approx(1 - w_a, abs=1e-9)


def test_the_global_decision_makers_median_inverts_the_weighted_mixture_by_hand() -> None:
    result = classical_model(WORKED, alpha=0.0)
    w_a = result["experts"]["A"]["weight"]
    w_b = 1 - w_a
    # Between 20 and 50 both CDFs are linear:
    #   F_A(x) = 0.05 + 0.45 (x - 10)/40,  F_B(x) = 0.5 + 0.45 (x - 20)/80
    # F(20) = w_A·0.1625 + w_B·0.5 < 0.5 < F(50) = w_A·0.5 + w_B·0.66875
    f20 = w_a * 0.1625 + w_b * 0.5
    slope = w_a * 0.45 / 40 + w_b * 0.45 / 80
    q50 = 20 + (0.5 - f20) / slope  # 33.10628
    assert result["decision_maker"]["quantiles"]["S1"][1] == pytest.approx(q50, abs=1e-9)
    assert q50 == pytest.approx(33.10628, abs=1e-5)


def test_the_equal_weight_decision_maker_matches_the_hand_computation() -> None:
    result = classical_model(WORKED, weights="equal")
    assert result["alpha"] is None
    assert {e: r["weight"] for e, r in result["experts"].items()} == {"A": 0.5, "B": 0.5}
    dm = result["decision_maker"]
    # F = (F_A + F_B)/2.
    # q5:  F(0) = (0.025 + 0.05)/2 = 0.0375, slope on (0, 10) = (0.05/20 + 0.45/20)/2 = 0.0125
    #      q5 = 0 + (0.05 - 0.0375)/0.0125 = 1
    # q50: F(20) = (0.1625 + 0.5)/2 = 0.33125, slope on (20, 50) = (0.45/40 + 0.45/80)/2
    #      = 0.0084375, q50 = 20 + 0.16875/0.0084375 = 40
    # q95: F(90) = (0.95 + 0.89375)/2 = 0.921875, slope on (90, 100) = (0.05/20 + 0.45/80)/2
    #      = 0.0040625, q95 = 90 + 0.028125/0.0040625 = 90 + 90/13
    for item in ("S1", "S2", "S3"):
        assert dm["quantiles"][item] == pytest.approx([1, 40, 90 + 90 / 13], abs=1e-9)
    # Realisations 60, 50, 5 fall in bins 2, 2, 1: the same s as B, so the same calibration.
    assert dm["calibration"] == pytest.approx(C_B, abs=1e-9)
    # Points -10, 1, 40, 96.923, 110 -> widths 11, 39, 56.923, 13.077 on a range of 120
    x = (-10, 1, 40, 90 + 90 / 13, 110)
    info = sum(p * math.log(p * 120 / (x[j + 1] - x[j])) for j, p in enumerate(P))
    assert dm["information"] == pytest.approx(info, abs=1e-12)
    assert info == pytest.approx(0.0534563, abs=1e-7)


def test_optimising_alpha_keeps_the_decision_maker_with_the_best_combined_score() -> None:
    result = classical_model(WORKED)
    # alpha = C_A keeps both experts: C(DM)·I(DM) = 0.808·0.0795 = 0.064;
    # alpha = C_B keeps B alone: the DM is B, 0.808·0.219 = 0.177, which wins.
    assert result["alpha"] == pytest.approx(C_B, abs=1e-9)
    assert result["experts"]["A"]["weight"] == 0
    assert result["experts"]["B"]["weight"] == 1
    assert result["decision_maker"]["quantiles"]["S2"] == pytest.approx(B_Q)
    assert result["decision_maker"]["calibration"] == pytest.approx(C_B, abs=1e-9)
    assert result["decision_maker"]["information"] == pytest.approx(INFO_B, abs=1e-12)


def test_target_items_get_quantiles_but_do_not_score_experts() -> None:
    without_target = document(WORKED["items"][:3])
    with_target = classical_model(WORKED, alpha=0.0)
    assert classical_model(without_target, alpha=0.0)["experts"] == with_target["experts"]
    assert set(with_target["decision_maker"]["quantiles"]) == {"S1", "S2", "S3", "T1"}


def test_the_output_has_exactly_the_shape_of_the_issue() -> None:
    result = classical_model(WORKED)
    # issue 4's shape, with the seed count and the warnings issue 18 added
    assert set(result) == {"alpha", "experts", "decision_maker", "seed_items", "warnings"}
    assert result["seed_items"] == 3
    assert all(isinstance(w, str) for w in result["warnings"])
    assert all(
        set(e) == {"calibration", "information", "weight"} for e in result["experts"].values()
    )
    assert set(result["decision_maker"]) == {"calibration", "information", "quantiles"}
    assert math.fsum(e["weight"] for e in result["experts"].values()) == pytest.approx(1)
    json.dumps(result, allow_nan=False)


def test_n_is_the_fewest_seed_items_any_expert_answered() -> None:
    items = [dict(item, assessments=dict(item["assessments"])) for item in WORKED["items"]]
    items[0]["assessments"]["C"] = [40, 55, 70]
    items[1]["assessments"]["C"] = [40, 55, 70]
    result = classical_model(document(items, ["A", "B", "C"]), alpha=0.0)
    # A still has s = (1, 1, 1, 0)/3 but the statistic now uses N = 2 (C answered two seeds).
    # (Adding C's answers does not change any range: they lie inside [0, 100].)
    assert result["experts"]["A"]["calibration"] == pytest.approx(chi2_sf_3(2 * 2 * I_S_A))
    assert result["experts"]["A"]["information"] == pytest.approx(INFO_A, abs=1e-12)


def test_a_fixed_alpha_above_every_calibration_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        classical_model(WORKED, alpha=0.9)
    assert exc.value.errors[0][0] == "alpha"


def test_a_log_scale_item_is_scored_on_the_logarithm_of_its_values() -> None:
    logged = document(
        [
            dict(item, scale="log", realization=math.exp(item["realization"] / 10))
            if item["realization"] is not None
            else dict(item, scale="log")
            for item in WORKED["items"][:3]
        ]
    )
    for item in logged["items"]:
        item["assessments"] = {
            e: [math.exp(v / 10) for v in q] for e, q in item["assessments"].items()
        }
    scaled = document(
        [
            dict(
                item,
                realization=item["realization"] / 10,
                assessments={e: [v / 10 for v in q] for e, q in item["assessments"].items()},
            )
            for item in WORKED["items"][:3]
        ]
    )
    on_log = classical_model(logged, alpha=0.0)
    on_uniform = classical_model(scaled, alpha=0.0)
    for expert in ("A", "B"):
        assert on_log["experts"][expert] == pytest.approx(on_uniform["experts"][expert])
    q_log = on_log["decision_maker"]["quantiles"]["S1"]
    q_uniform = on_uniform["decision_maker"]["quantiles"]["S1"]
    assert [math.log(v) for v in q_log] == pytest.approx(q_uniform)


# -- the file ------------------------------------------------------------------------------------


def errors_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as exc:
        parse_elicitation(data)
    return exc.value.errors


def test_the_issues_example_file_is_accepted() -> None:
    example = document(
        [
            {
                "id": "S1",
                "realization": 25,
                "scale": "uniform",
                "assessments": {"A": [10, 22, 40], "B": [14, 16, 18]},
            },
            {
                "id": "T1",
                "realization": None,
                "scale": "uniform",
                "assessments": {"A": [2, 4, 8], "B": [3, 3.5, 4]},
            },
        ]
    )
    assert parse_elicitation(example).experts == ["A", "B"]


def test_quantiles_that_do_not_increase_are_refused_with_their_path() -> None:
    data = document(
        [{"id": "S1", "realization": 1, "assessments": {"A": [1, 3, 2], "B": [1, 2, 3]}}]
    )
    (error,) = errors_of(data)
    assert error[0] == "items.0.assessments.A"
    assert "increase" in error[1]


def test_quantiles_other_than_5_50_95_are_refused() -> None:
    data = dict(WORKED, quantiles=[0.1, 0.5, 0.9])
    assert errors_of(data) == [("quantiles", "must be exactly [0.05, 0.5, 0.95]")]


def test_an_expert_who_answers_no_seed_item_is_refused() -> None:
    data = document(
        [
            {"id": "S1", "realization": 1, "assessments": {"A": [0, 1, 2]}},
            {"id": "T1", "realization": None, "assessments": {"A": [0, 1, 2], "B": [0, 1, 2]}},
        ]
    )
    (error,) = errors_of(data)
    assert error[0] == "experts.1"
    assert "'B' answers no seed item" in error[1]


def test_an_assessment_by_an_unlisted_expert_is_refused() -> None:
    data = document(
        [{"id": "S1", "realization": 1, "assessments": {"A": [0, 1, 2], "Z": [0, 1, 2]}}], ["A"]
    )
    assert errors_of(data) == [("items.0.assessments", "names expert 'Z', who is not in experts")]


def test_a_log_scale_item_with_a_value_at_or_below_zero_is_refused() -> None:
    data = document(
        [{"id": "S1", "realization": 0, "scale": "log", "assessments": {"A": [-1, 1, 2]}}], ["A"]
    )
    assert [field for field, _ in errors_of(data)] == ["items.0.assessments", "items.0.realization"]


def test_a_file_of_another_format_is_refused() -> None:
    assert [f for f, _ in errors_of(dict(WORKED, format="other", version=2))] == [
        "format",
        "version",
    ]


def test_alpha_is_optimise_or_a_number_in_the_unit_interval() -> None:
    assert parse_alpha("optimise") == "optimise"
    assert parse_alpha("0.05") == 0.05
    for bad in ("best", "1.5", "-0.1", "nan"):
        with pytest.raises(InvalidInput):
            parse_alpha(bad)


def test_the_missions_seed_questions_make_an_elicitation_document() -> None:
    questions = [
        SeedQuestion(id="s1", question="Electrolyser cost in 2025?", realization=60),
        SeedQuestion(id="t1", question="Electrolyser cost in 2030?"),
        SeedQuestion(id="s2", question="Unanswered?", realization=3),
    ]
    answers = [
        SeedAnswer(question="s1", member="ann", q5=10, q50=50, q95=90),
        SeedAnswer(question="t1", member="ann", q5=1, q50=2, q95=3),
        SeedAnswer(question="t1", member="bob", q5=1, q50=2, q95=3),  # no seed answered
    ]
    data = elicitation_from_seeds(questions, answers)
    assert data["experts"] == ["ann"]
    assert [item["id"] for item in data["items"]] == ["s1", "t1"]
    assert data["items"][1]["assessments"] == {"ann": [1, 2, 3]}
    assert parse_elicitation(data).items[0].realization == 60


# -- the CLI -------------------------------------------------------------------------------------


def run_cli(path: Path, alpha: str = "optimise", weights: str = "global") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_classical_model_cli(str(path), alpha, weights, out, err)
    return code, out.getvalue(), err.getvalue()


def test_the_cli_prints_the_result_as_json(tmp_path: Path) -> None:
    path = tmp_path / "elicitation.json"
    path.write_text(json.dumps(WORKED))
    code, out, err = run_cli(path, "0", "global")
    assert json.loads(out) == classical_model(WORKED, alpha=0.0)  # floats survive JSON exactly
    # 3 seed items (< 8): the CLI exits 0 and repeats each warning of the JSON on stderr
    warnings = json.loads(out)["warnings"]
    assert code == 0 and warnings
    assert err.splitlines() == [f"warning: {w}" for w in warnings]


def test_the_cli_names_the_field_and_rule_of_a_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "elicitation.json"
    path.write_text(json.dumps(dict(WORKED, quantiles=[0.1, 0.5, 0.9])))
    code, out, err = run_cli(path)
    assert (code, out) == (2, "")
    assert err == "quantiles: must be exactly [0.05, 0.5, 0.95]\n"


def test_the_cli_refuses_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "elicitation.json"
    path.write_text("{not json")
    code, _, err = run_cli(path)
    assert code == 2
    assert "not valid JSON at line 1" in err


def test_the_cli_refuses_bad_options(tmp_path: Path) -> None:
    path = tmp_path / "elicitation.json"
    path.write_text(json.dumps(WORKED))
    assert run_cli(path, alpha="sometimes")[0] == 2
    assert run_cli(path, weights="item")[2].startswith("weights:")
    assert run_cli(tmp_path / "missing.json")[0] == 2


# -- invariants ----------------------------------------------------------------------------------


@given(
    counts=st.lists(st.integers(0, 30), min_size=4, max_size=4).filter(lambda c: sum(c) > 0),
    n_min=st.integers(1, 40),
)
def test_calibration_is_between_zero_and_one(counts: list[int], n_min: int) -> None:
    assert 0 <= calibration_score(counts, n_min) <= 1


@st.composite
def assessments(draw: st.DrawFn) -> list[float]:
    q5 = draw(st.floats(-1000, 1000))
    gaps = draw(st.lists(st.floats(0.01, 500), min_size=2, max_size=2))
    return [q5, q5 + gaps[0], q5 + gaps[0] + gaps[1]]


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    n_experts = draw(st.integers(1, 4))
    experts = [f"E{i}" for i in range(n_experts)]
    n_items = draw(st.integers(1, 5))
    items = []
    for i in range(n_items):
        seed = i == 0 or draw(st.booleans())
        items.append(
            {
                "id": f"I{i}",
                "realization": draw(st.floats(-1200, 2200)) if seed else None,
                "assessments": {e: draw(assessments()) for e in experts},
            }
        )
    return document(items, experts)


@settings(max_examples=60, deadline=None)
@given(data=documents(), weights=st.sampled_from(["global", "equal"]))
def test_decision_maker_quantiles_increase_and_weights_sum_to_one(
    data: dict[str, Any], weights: str
) -> None:
    result = classical_model(data, weights="global" if weights == "global" else "equal")
    assert math.fsum(e["weight"] for e in result["experts"].values()) == pytest.approx(1)
    for e in result["experts"].values():
        assert 0 <= e["calibration"] <= 1
        assert e["information"] >= 0
    assert 0 <= result["decision_maker"]["calibration"] <= 1
    for q in result["decision_maker"]["quantiles"].values():
        assert q is not None
        assert q[0] < q[1] < q[2]


# -- warnings (issue 18) -------------------------------------------------------------------------


def test_one_member_with_all_the_weight_on_three_seeds_is_warned_about_twice() -> None:
    result = classical_model(WORKED)  # B takes all of the weight, on 3 seed items
    assert result["experts"]["B"]["weight"] == 1.0
    assert result["warnings"] == [
        "B takes 100 % of the weight (more than 80 %): the decision maker rests on one member. "
        "Check their answers, or pool with equal weights.",
        "Only 3 seed questions have a known answer (at least 8 are needed): calibration scores "
        "on so few questions cannot tell members apart reliably, so treat the weights as "
        "provisional.",
    ]
    equal = classical_model(WORKED, weights="equal")
    assert len(equal["warnings"]) == 1 and equal["warnings"][0].startswith("Only 3 seed")


def test_warnings_start_above_80_percent_and_below_8_seed_items() -> None:
    assert classical_warnings({"A": 0.8, "B": 0.2}, 8) == []
    (dominant,) = classical_warnings({"A": 0.81, "B": 0.19}, 8, {"A": "Ann Smith"})
    assert dominant.startswith("Ann Smith takes 81 % of the weight")
    (few,) = classical_warnings({"A": 0.5, "B": 0.5}, 7)
    assert few.startswith("Only 7 seed questions")
    assert classical_warnings({"A": 0.5, "B": 0.5}, 1)[0].startswith("Only 1 seed question has")


def test_eight_seed_items_with_shared_weight_give_no_warning() -> None:
    items = [
        {"id": f"S{i}", "realization": 50, "assessments": {"A": [10, 45, 90], "B": [5, 55, 95]}}
        for i in range(8)
    ]
    result = classical_model(document(items), weights="equal")
    assert result["seed_items"] == 8 and result["warnings"] == []
