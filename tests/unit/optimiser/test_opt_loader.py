"""The loader reports every error with its JSON path and the rule broken."""

from __future__ import annotations

import json
from typing import Any

import pytest

from optimiser.errors import ProblemError
from optimiser.problem import load_problem

from .opt_factories import candidate, document, option


def errors_of(doc: dict[str, Any] | str) -> list[tuple[str, str]]:
    with pytest.raises(ProblemError) as info:
        load_problem(doc)
    return info.value.errors


def valid() -> dict[str, Any]:
    opts = [option("explore", {"2026-27": 4}, 0.35, 1.0), option("scale", 20, 0.2, 6.0)]
    return document([candidate("h2", options=opts), candidate("saf", cost=5)])


def test_a_valid_document_round_trips_through_model_dump() -> None:
    p = load_problem(valid())
    assert load_problem(p.model_dump(mode="json")) == p
    assert load_problem(json.dumps(valid())) == p


def test_a_probability_above_one_names_its_path_and_rule() -> None:
    doc = valid()
    doc["candidates"][0]["options"][1]["p_success"] = 1.5
    assert errors_of(doc) == [("candidates[0].options[1].p_success", "must be between 0 and 1")]


def test_every_error_is_reported_not_just_the_first() -> None:
    doc = valid()
    doc["candidates"][0]["options"][0]["cost"] = {"2026-27": -3}
    doc["policy"]["objectiv"] = "cvar"
    doc["envelopes"][0]["budget"]["2026-27"] = -1
    paths = {path for path, _ in errors_of(doc)}
    assert paths == {
        "candidates[0].options[0].cost.2026-27",
        "policy.objectiv",
        "envelopes[0].budget.2026-27",
    }


def test_unknown_references_and_duplicate_ids_are_refused() -> None:
    doc = valid()
    doc["candidates"][1]["id"] = "h2"
    doc["candidates"][0]["eligible_envelopes"] = ["nowhere"]
    doc["policy"]["locks"] = ["ghost"]
    doc["policy"]["exclusions"] = ["h2/unknown"]
    found = dict(errors_of(doc))
    assert found["candidates[1].id"] == "duplicate id 'h2'"
    assert "not an envelope id" in found["candidates[0].eligible_envelopes[0]"]
    assert "not a candidate id" in found["policy.locks[0]"]
    assert "not an option" in found["policy.exclusions[0]"]


def test_a_candidate_both_locked_and_excluded_is_refused() -> None:
    doc = valid()
    doc["policy"]["locks"] = ["saf"]
    doc["policy"]["exclusions"] = ["saf"]
    assert errors_of(doc)[0][0] == "policy.exclusions[0]"


def test_nan_and_infinity_are_refused() -> None:
    assert "finite" in errors_of('{"mission": {"target": NaN}}')[0][1]
    doc = valid()
    doc["mission"]["target"] = float("inf")
    assert errors_of(doc) == [("mission.target", "must be a finite number")]


def test_invalid_json_is_a_problem_error() -> None:
    assert "not valid JSON" in errors_of('{"format": ')[0][1]


def test_explicit_scenarios_need_one_row_per_option_of_equal_length() -> None:
    doc = valid()
    doc["scenarios"] = {
        "impact": {"h2/explore": [1, 2], "h2/scale": [0, 1], "saf/main": [1], "nobody/x": [1, 1]}
    }
    found = dict(errors_of(doc))
    assert "scenarios.impact.nobody/x" in found and "scenarios.impact" in found


def test_policy_defaults_match_the_format() -> None:
    doc = valid()
    del doc["policy"]
    policy = load_problem(doc).policy
    assert (
        policy.objective,
        policy.max_platform_share,
        policy.min_platforms,
        policy.dal,
        policy.cvar_alpha,
        policy.time_limit_s,
    ) == ("p_target", 0.5, 2, 50.0, 0.9, 60)


def test_the_error_message_lists_every_path() -> None:
    doc = valid()
    doc["candidates"][0]["options"][1]["p_success"] = -1
    doc["years"] = []
    with pytest.raises(ProblemError) as info:
        load_problem(doc)
    text = str(info.value)
    assert "candidates[0].options[1].p_success: must be between 0 and 1" in text
    assert "years: must not be empty" in text
