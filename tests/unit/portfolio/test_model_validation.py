"""Validation rules of the domain models: bad values are refused with the field named."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from portfolio.adapters.exchange import MissionDocument
from portfolio.domain.errors import InvalidInput, validation_errors
from portfolio.domain.model import (
    ORDER_RULE,
    Candidate,
    CouncilMember,
    Envelope,
    Evidence,
    FundingOption,
    Mission,
    Quarter,
    Score,
    ThreePoint,
    User,
    check_candidate_fits_mission,
    quarter_of,
)

# -- valid examples, as plain data, that each test breaks in one place ------------------------


def three(low: float = 1.0, most_likely: float = 2.0, high: float = 4.0) -> dict[str, float]:
    return {"low": low, "most_likely": most_likely, "high": high}


def option_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "demonstrate",
        "name": "Demonstrator",
        "cost_profile": {"2026-27": 5.0, "2027-28": 7.5},
        "cost_range": three(10.0, 12.5, 18.0),
        "p_success": 0.4,
        "impact": three(0.1, 0.3, 0.6),
    }
    data.update(changes)
    return data


def candidate_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "h2-combustion",
        "name": "Hydrogen combustion demonstrator",
        "organisation": "Fictional Aero Ltd",
        "organisation_type": "incumbent",
        "platform": "hydrogen",
        "tier": "moonshot",
        "trl": 4,
        "eligible_envelopes": ["sbc"],
        "options": [option_data()],
    }
    data.update(changes)
    return data


def envelope_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "sbc",
        "name": "Single business case",
        "budget": {"2026-27": 80.0, "2027-28": 120.0},
    }
    data.update(changes)
    return data


def mission_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "uk-air-travel",
        "name": "Carbon-neutral UK air travel",
        "target": 9.0,
        "deadline": "2030-03-31",
        "years": ["2026-27", "2027-28"],
        "envelopes": [envelope_data()],
    }
    data.update(changes)
    return data


def score_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "member": "council1",
        "quarter": "2026-27 Q3",
        "candidate": "h2-combustion",
        "option": "demonstrate",
        "status": "submitted",
        "p_success": 0.35,
        "cost": three(10.0, 12.0, 16.0),
        "impact": three(0.1, 0.2, 0.5),
        "trl": 4,
        "confidence": "medium",
    }
    data.update(changes)
    return data


def evidence_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "candidate": "h2-combustion",
        "quarter": "2026-27 Q3",
        "kind": "milestone_met",
        "date": "2026-10-14",
        "summary": "Combustor rig test completed",
    }
    data.update(changes)
    return data


def errors_of(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[str, str]]:
    """The (field path, rule) pairs of validating ``data``; fails if it validates."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return validation_errors(caught.value)


def fields_of(model: type[BaseModel], data: dict[str, Any]) -> list[str]:
    return [field for field, _ in errors_of(model, data)]


def test_the_valid_examples_validate() -> None:
    Mission.model_validate(mission_data())
    Candidate.model_validate(candidate_data())
    Score.model_validate(score_data())
    Evidence.model_validate(evidence_data())


# -- probabilities -----------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.01, 0.5, 0.99])
def test_a_probability_between_one_and_ninety_nine_percent_is_accepted(p: float) -> None:
    assert FundingOption.model_validate(option_data(p_success=p)).p_success == p


@pytest.mark.parametrize("p", [0, 1, 0.001, 0.995, -0.2, 1.5])
def test_a_certain_or_impossible_success_is_refused_naming_p_success(p: float) -> None:
    assert fields_of(FundingOption, option_data(p_success=p)) == ["p_success"]


def test_a_score_probability_outside_the_range_names_p_success() -> None:
    assert fields_of(Score, score_data(p_success=1.0)) == ["p_success"]


# -- three-point estimates --------------------------------------------------------------------


@pytest.mark.parametrize(
    "values", [(1.0, 2.0, 3.0), (2.0, 2.0, 2.0), (0.0, 0.0, 5.0), (1.0, 3.0, 3.0)]
)
def test_an_ordered_three_point_estimate_is_accepted(values: tuple[float, float, float]) -> None:
    ThreePoint.model_validate(three(*values))


@pytest.mark.parametrize("values", [(3.0, 2.0, 4.0), (1.0, 5.0, 4.0), (5.0, 4.0, 3.0)])
def test_an_unordered_three_point_estimate_is_refused(values: tuple[float, float, float]) -> None:
    [(_, rule)] = errors_of(ThreePoint, three(*values))
    assert rule == ORDER_RULE


def test_an_unordered_impact_is_refused_naming_the_option_impact() -> None:
    bad = candidate_data(options=[option_data(impact=three(0.5, 0.3, 0.6))])
    assert errors_of(Candidate, bad) == [("options.0.impact", ORDER_RULE)]


def test_a_negative_three_point_value_is_refused_naming_it() -> None:
    assert fields_of(ThreePoint, three(-1.0, 2.0, 3.0)) == ["low"]


@settings(derandomize=True, database=None)
@given(
    st.lists(
        st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False),
        min_size=3,
        max_size=3,
    )
)
@example([0.1, 0.1, 0.1])  # (0.1 + 0.4 + 0.1) / 6 is 0.09999999999999999 in floating point
def test_the_pert_mean_of_any_valid_estimate_lies_within_low_and_high(values: list[float]) -> None:
    low, most_likely, high = sorted(values)
    estimate = ThreePoint(low=low, most_likely=most_likely, high=high)
    assert estimate.low <= estimate.pert_mean <= estimate.high


# -- technology readiness level ---------------------------------------------------------------


@pytest.mark.parametrize("trl", [1, 5, 9])
def test_a_trl_from_one_to_nine_is_accepted(trl: int) -> None:
    assert Candidate.model_validate(candidate_data(trl=trl)).trl == trl


@pytest.mark.parametrize("trl", [0, 10, -1, True, 4.0, 4.5, "4"])
def test_a_trl_outside_one_to_nine_or_not_an_integer_is_refused_naming_trl(trl: object) -> None:
    assert fields_of(Candidate, candidate_data(trl=trl)) == ["trl"]


def test_a_score_trl_of_ten_names_trl() -> None:
    assert fields_of(Score, score_data(trl=10)) == ["trl"]


# -- financial years and quarters -------------------------------------------------------------


@pytest.mark.parametrize("year", ["2026-27", "2029-30", "2099-00"])
def test_a_financial_year_written_like_2026_27_is_accepted(year: str) -> None:
    Mission.model_validate(mission_data(years=[year], envelopes=[envelope_data(budget={})]))


@pytest.mark.parametrize("year", ["2026-28", "26-27", "2026/27", "2026-2027", "2026-26", ""])
def test_a_malformed_financial_year_is_refused_naming_years(year: str) -> None:
    errors = errors_of(Mission, mission_data(years=[year], envelopes=[envelope_data(budget={})]))
    assert errors == [
        ("years.0", "must be a financial year such as 2026-27 (second year follows the first)")
    ]


def test_a_malformed_year_in_a_cost_profile_names_the_profile() -> None:
    bad = candidate_data(options=[option_data(cost_profile={"2026/27": 1.0})])
    [(field, rule)] = errors_of(Candidate, bad)
    assert field.startswith("options.0.cost_profile")
    assert "2026-27" in rule


@pytest.mark.parametrize("label", ["2026-27 Q1", "2026-27 Q3", "2026-27 Q4", "2030-31 Q2"])
def test_a_quarter_written_like_2026_27_q3_is_accepted(label: str) -> None:
    assert Quarter(label=label).label == label


@pytest.mark.parametrize(
    "label", ["2026-27 Q5", "2026-27 Q0", "2026-28 Q1", "2026-27Q3", "2026-27 q3", "Q3 2026-27"]
)
def test_a_malformed_quarter_is_refused_naming_the_field(label: str) -> None:
    assert fields_of(Quarter, {"label": label}) == ["label"]
    assert fields_of(Score, score_data(quarter=label)) == ["quarter"]


@pytest.mark.parametrize(
    ("day", "label"),
    [
        (dt.date(2026, 4, 1), "2026-27 Q1"),
        (dt.date(2026, 6, 30), "2026-27 Q1"),
        (dt.date(2026, 7, 1), "2026-27 Q2"),
        (dt.date(2026, 12, 31), "2026-27 Q3"),
        (dt.date(2027, 1, 15), "2026-27 Q4"),
        (dt.date(2027, 3, 31), "2026-27 Q4"),
        (dt.date(2099, 4, 1), "2099-00 Q1"),
    ],
)
def test_a_date_falls_in_its_financial_year_quarter(day: dt.date, label: str) -> None:
    assert quarter_of(day) == label


@settings(derandomize=True, database=None)
@given(st.dates(min_value=dt.date(1001, 4, 1), max_value=dt.date(9999, 3, 31)))
def test_quarter_of_any_date_gives_a_label_that_validates(day: dt.date) -> None:
    label = quarter_of(day)
    assert Quarter(label=label).label == label


# -- money -------------------------------------------------------------------------------------


def test_a_negative_budget_is_refused_naming_the_envelope_year() -> None:
    bad = mission_data(envelopes=[envelope_data(budget={"2026-27": -1.0})])
    assert fields_of(Mission, bad) == ["envelopes.0.budget.2026-27"]


def test_a_negative_cost_is_refused_naming_the_option_year() -> None:
    bad = candidate_data(options=[option_data(cost_profile={"2026-27": -0.5})])
    assert fields_of(Candidate, bad) == ["options.0.cost_profile.2026-27"]


def test_a_negative_min_spend_and_dal_are_refused_naming_them() -> None:
    assert fields_of(Envelope, envelope_data(min_spend=-1)) == ["min_spend"]
    assert fields_of(Mission, mission_data(dal=-5)) == ["dal"]


def test_zero_money_is_accepted() -> None:
    Envelope.model_validate(envelope_data(budget={"2026-27": 0.0}, min_spend=0))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_refused_wherever_a_number_is_expected(value: float) -> None:
    assert fields_of(Envelope, envelope_data(budget={"2026-27": value})) == ["budget.2026-27"]
    assert fields_of(FundingOption, option_data(p_success=value)) == ["p_success"]
    assert fields_of(ThreePoint, three(1.0, 2.0, value)) == ["high"]
    assert fields_of(Mission, mission_data(target=value)) == ["target"]


# -- ids and usernames -------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["h2-combustion", "a", "x1", "2030-target", "a" * 64])
def test_a_slug_safe_id_is_accepted(slug: str) -> None:
    assert Candidate.model_validate(candidate_data(id=slug)).id == slug


@pytest.mark.parametrize(
    "slug", ["H2 Combustion", "-x", "x-", "a_b", "a.b", "", "é", "a" * 65, "h2 combustion"]
)
def test_an_id_that_is_not_slug_safe_is_refused_naming_id(slug: str) -> None:
    assert fields_of(Candidate, candidate_data(id=slug)) == ["id"]


def test_a_mission_slug_and_envelope_id_must_be_slug_safe() -> None:
    assert fields_of(Mission, mission_data(slug="UK Air")) == ["slug"]
    bad = mission_data(envelopes=[envelope_data(id="SBC")])
    assert fields_of(Mission, bad) == ["envelopes.0.id"]


@pytest.mark.parametrize("username", ["ceo", "council1", "first.last", "a_b", "x-y", "a" * 40])
def test_a_well_formed_username_is_accepted(username: str) -> None:
    assert User(username=username, display_name="Someone").username == username


@pytest.mark.parametrize("username", ["Bob", "-x", ".x", "a b", "", "a" * 41, "ceo@x"])
def test_a_malformed_username_is_refused_naming_username(username: str) -> None:
    assert fields_of(User, {"username": username, "display_name": "Someone"}) == ["username"]
    assert fields_of(CouncilMember, {"username": username, "sector": "academia"}) == ["username"]


def test_an_unknown_sector_is_refused_naming_sector() -> None:
    assert fields_of(CouncilMember, {"username": "council1", "sector": "military"}) == ["sector"]


# -- mission consistency -----------------------------------------------------------------------


def test_a_year_given_twice_is_refused_naming_years() -> None:
    bad = mission_data(years=["2026-27", "2026-27"], envelopes=[envelope_data(budget={})])
    assert errors_of(Mission, bad) == [("years", "each financial year may appear once")]


def test_years_out_of_order_are_refused_naming_years() -> None:
    bad = mission_data(years=["2027-28", "2026-27"])
    assert errors_of(Mission, bad) == [("years", "must be in order")]


def test_a_mission_without_years_or_envelopes_is_refused() -> None:
    assert fields_of(Mission, mission_data(years=[], envelopes=[envelope_data(budget={})])) == [
        "years"
    ]
    assert fields_of(Mission, mission_data(envelopes=[])) == ["envelopes"]


def test_two_envelopes_with_the_same_id_are_refused_naming_envelopes() -> None:
    bad = mission_data(envelopes=[envelope_data(), envelope_data(name="Another")])
    assert errors_of(Mission, bad) == [("envelopes", "ids must be unique")]


def test_a_budget_for_a_year_outside_the_mission_is_refused_naming_the_year() -> None:
    bad = mission_data(envelopes=[envelope_data(budget={"2026-27": 1.0, "2031-32": 2.0})])
    [(field, rule)] = errors_of(Mission, bad)
    assert field == "envelopes"
    assert "2031-32" in rule and "sbc" in rule


def test_a_non_positive_target_and_an_unknown_dal_mode_are_refused_naming_them() -> None:
    assert fields_of(Mission, mission_data(target=0)) == ["target"]
    assert fields_of(Mission, mission_data(dal_mode="ignore")) == ["dal_mode"]


# -- candidates --------------------------------------------------------------------------------


def test_two_options_with_the_same_id_are_refused_naming_options() -> None:
    bad = candidate_data(options=[option_data(), option_data(name="Again")])
    assert errors_of(Candidate, bad) == [
        ("options", "option ids must be unique within a candidate")
    ]


def test_an_envelope_listed_twice_is_refused_naming_eligible_envelopes() -> None:
    bad = candidate_data(eligible_envelopes=["sbc", "sbc"])
    assert fields_of(Candidate, bad) == ["eligible_envelopes"]


def test_a_candidate_needs_between_one_and_five_options() -> None:
    assert fields_of(Candidate, candidate_data(options=[])) == ["options"]
    six = [option_data(id=f"option-{i}") for i in range(6)]
    assert fields_of(Candidate, candidate_data(options=six)) == ["options"]


def test_an_unknown_field_is_refused_naming_it() -> None:
    assert errors_of(Candidate, candidate_data(colour="green")) == [
        ("colour", "is not a recognised field")
    ]
    bad = candidate_data(options=[option_data(budget=3.0)])
    assert fields_of(Candidate, bad) == ["options.0.budget"]


def test_an_assignment_is_validated_too() -> None:
    candidate = Candidate.model_validate(candidate_data())
    with pytest.raises(ValidationError) as caught:
        candidate.trl = 12
    assert [f for f, _ in validation_errors(caught.value)] == ["trl"]


def test_a_candidate_that_fits_its_mission_has_no_problems() -> None:
    mission = Mission.model_validate(mission_data())
    assert check_candidate_fits_mission(Candidate.model_validate(candidate_data()), mission) == []


def test_a_candidate_naming_an_unknown_envelope_or_year_is_reported_per_field() -> None:
    mission = Mission.model_validate(mission_data())
    candidate = Candidate.model_validate(
        candidate_data(
            eligible_envelopes=["sbc", "ukri"],
            options=[
                option_data(),
                option_data(id="scale", cost_profile={"2026-27": 1.0, "2030-31": 2.0}),
            ],
        )
    )
    assert check_candidate_fits_mission(candidate, mission) == [
        ("eligible_envelopes", "ukri is not an envelope of this mission"),
        ("options.1.cost_profile", "2030-31 is not one of the mission's years"),
    ]


# -- scores ------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["p_success", "cost", "impact", "trl", "confidence"])
def test_a_submitted_score_without_an_estimate_is_refused_naming_it(missing: str) -> None:
    assert errors_of(Score, score_data(**{missing: None})) == [
        (missing, "required to submit a score")
    ]


def test_a_draft_score_may_be_incomplete() -> None:
    Score.model_validate(score_data(status="draft", p_success=None, cost=None, trl=None))


def test_a_not_competent_score_may_be_submitted_without_estimates() -> None:
    Score.model_validate(
        {
            "member": "council1",
            "quarter": "2026-27 Q3",
            "candidate": "h2-combustion",
            "option": "demonstrate",
            "status": "submitted",
            "not_competent": True,
        }
    )


def test_an_unordered_score_cost_names_the_cost() -> None:
    assert fields_of(Score, score_data(cost=three(3.0, 2.0, 1.0))) == ["cost"]


# -- evidence ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "field"),
    [("trl_change", "trl"), ("cost_actuals", "cost_actual"), ("stage_gate", "outcome")],
)
def test_evidence_missing_its_kind_specific_field_is_refused_naming_it(
    kind: str, field: str
) -> None:
    assert fields_of(Evidence, evidence_data(kind=kind)) == [field]


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "milestone_met"},
        {"kind": "milestone_missed", "diagnosticity": 1.5},
        {"kind": "trl_change", "trl": 6},
        {"kind": "cost_actuals", "cost_actual": 12.0, "cost_planned": 9.0},
        {"kind": "stage_gate", "outcome": False},
    ],
)
def test_evidence_with_its_kind_specific_fields_is_accepted(changes: dict[str, Any]) -> None:
    Evidence.model_validate(evidence_data(**changes))


def test_cost_actuals_need_a_planned_cost_above_zero() -> None:
    bad = evidence_data(kind="cost_actuals", cost_actual=3.0, cost_planned=0.0)
    assert fields_of(Evidence, bad) == ["cost_actual"]


@pytest.mark.parametrize("value", [0, -1, 10.5])
def test_a_diagnosticity_outside_zero_to_ten_is_refused(value: float) -> None:
    assert fields_of(Evidence, evidence_data(diagnosticity=value)) == ["diagnosticity"]


def test_an_unknown_evidence_kind_is_refused_naming_kind() -> None:
    assert fields_of(Evidence, evidence_data(kind="rumour")) == ["kind"]


# -- error paths -------------------------------------------------------------------------------


def test_validation_errors_give_dotted_paths_into_nested_lists() -> None:
    bad = candidate_data(
        options=[option_data(), option_data(id="scale", p_success=0, impact=three(-1, 0, 1))]
    )
    assert fields_of(Candidate, bad) == ["options.1.p_success", "options.1.impact.low"]


def test_validation_errors_report_every_problem_found() -> None:
    bad = candidate_data(id="Bad Id", trl=0, options=[option_data(p_success=1)])
    assert fields_of(Candidate, bad) == ["id", "trl", "options.0.p_success"]


def test_a_prefix_is_put_in_front_of_every_path() -> None:
    with pytest.raises(ValidationError) as caught:
        Candidate.model_validate(candidate_data(trl=0))
    assert validation_errors(caught.value, "candidate") == [("candidate.trl", "must be at least 1")]


def test_invalid_input_from_validation_names_each_field_in_its_message() -> None:
    with pytest.raises(ValidationError) as caught:
        Candidate.model_validate(candidate_data(trl=0, options=[option_data(p_success=0)]))
    error = InvalidInput.from_validation(caught.value)
    assert [field for field, _ in error.errors] == ["trl", "options.0.p_success"]
    assert str(error).startswith("trl: ")
    assert error.status == 422


def test_a_document_error_from_a_reference_check_names_its_path() -> None:
    document = {
        "mission": mission_data(),
        "users": [{"username": "ceo", "display_name": "The CEO"}],
        "roles": [{"username": "nobody", "role": "mission_ceo"}],
    }
    assert errors_of(MissionDocument, document) == [("roles.0.username", "nobody is not in users")]


def test_a_nested_model_rule_is_reported_at_its_full_dotted_path() -> None:
    """A rule a nested model checks (Mission's years, a submitted Score's fields) is reported
    under the nested field's full path, as it is when the model is validated on its own."""
    bad_years = mission_data(years=["2026-27", "2026-27"], envelopes=[envelope_data(budget={})])
    assert errors_of(MissionDocument, {"mission": bad_years}) == [
        ("mission.years", "each financial year may appear once")
    ]
    bad_options = candidate_data(options=[option_data(), option_data()])
    document = {"mission": mission_data(), "candidates": [bad_options]}
    assert errors_of(MissionDocument, document) == [
        ("candidates.0.options", "option ids must be unique within a candidate")
    ]
