"""An infeasible problem returns the conflicting rules and the smallest relaxation, in words."""

from __future__ import annotations

from optimiser.solve import solve

from .opt_factories import candidate, problem

UKRI_60 = {"id": "ukri", "name": "UKRI", "budget": {"2026-27": 30, "2027-28": 30}, "min_spend": 60}
SBC = {"id": "sbc", "name": "SBC", "budget": {"2026-27": 100, "2027-28": 100}}


def test_unreachable_minimum_spend_is_named_with_what_can_be_spent() -> None:
    cands = [
        candidate("a", cost={"2026-27": 15, "2027-28": 15}, eligible=["ukri", "sbc"]),
        candidate("b", cost={"2027-28": 12}, eligible=["ukri"]),
        candidate("c", cost=50),
    ]
    result = solve(problem(cands, envelopes=[SBC, UKRI_60]))
    assert result.status == "infeasible"
    assert result.objective is None and result.selected == {}
    [item] = result.diagnosis
    assert item["rule"] == "min_spend"
    assert item["relaxation"] == 18
    assert item["label"].startswith(
        "UKRI minimum spend 60 cannot be met: eligible candidates can spend at most 42"
    )


def test_a_lock_that_breaks_the_budget_names_both_ways_out() -> None:
    cands = [candidate("big", cost=150), candidate("small", cost=10)]
    result = solve(problem(cands, budget=100, locks=["big"]))
    assert result.status == "infeasible"
    rules = {item["rule"]: item for item in result.diagnosis}
    assert set(rules) == {"budget", "lock"}
    assert rules["budget"]["relaxation"] == 50
    assert rules["budget"]["label"] == (
        "SBC budget in 2026-27 (100) is 50 short: raising it to 150 would make the problem feasible"
    )


def test_too_few_platforms_is_diagnosed_with_the_number_possible() -> None:
    cands = [candidate("a", platform="h2"), candidate("b", platform="h2")]
    result = solve(problem(cands, min_platforms=2))
    assert result.status == "infeasible"
    assert result.diagnosis[0]["rule"] == "min_platforms"
    assert "at most 1 platforms" in result.diagnosis[0]["label"]


def test_infeasible_p_target_problems_are_diagnosed_too() -> None:
    cands = [candidate("a", platform="h2"), candidate("b", platform="h2")]
    result = solve(problem(cands, min_platforms=2, objective="p_target"))
    assert result.status == "infeasible" and result.diagnosis
