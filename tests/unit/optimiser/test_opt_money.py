"""Problem format version 2: remaining money, bring_forward, over-programming, realised spend and
the overrun chance constraint. The optimum equals exhaustive enumeration written from the
format's words, each new rule binds and changes the answer, and version 1 is unchanged."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimiser.data import problem_data
from optimiser.errors import ProblemError
from optimiser.problem import load_problem
from optimiser.scenarios import (
    evaluation_scenarios,
    optimisation_scenarios,
    realised_spend,
    realised_total,
)
from optimiser.solve import solve

from .opt_factories import (
    YEARS,
    candidate,
    document,
    enumerate_best,
    overruns,
    random_document_v2,
)

OBJECTIVES = ["expected", "capped", "p_target", "cvar"]


def _chosen(doc: dict[str, Any], selected: dict[str, str]) -> list[tuple[Any, Any]]:
    out = []
    for cand in doc["candidates"]:
        if cand["id"] in selected:
            out.append((cand, next(o for o in cand["options"] if o["id"] == selected[cand["id"]])))
    return out


@settings(
    max_examples=80, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1), objective=st.sampled_from(OBJECTIVES))
def test_version_2_optimum_equals_exhaustive_enumeration(seed: int, objective: str) -> None:
    doc = random_document_v2(seed, objective)
    best = enumerate_best(doc)
    result = solve(load_problem(doc))
    assert result.version == 2
    if best is None:
        assert result.status == "infeasible"
        assert result.diagnosis
        return
    assert result.status == "optimal", result.message
    assert result.objective is not None
    assert abs(result.objective - best) <= 1e-6
    # the chosen portfolio keeps the overrun limit, and its p_overrun is the format's
    over, excess = overruns(doc, _chosen(doc, result.selected))
    count = len(next(iter(doc["scenarios"]["impact"].values())))
    eps = doc["policy"].get("max_overrun_probability")
    if eps is not None:
        assert over <= math.floor(eps * count + 1e-9)
    metrics = result.metrics.in_sample
    assert metrics is not None
    assert metrics.p_overrun == pytest.approx(over / count, abs=1e-12)
    assert metrics.expected_overspend == pytest.approx(excess, abs=1e-9)
    assert result.metrics.out_of_sample is not None
    assert result.metrics.out_of_sample.p_overrun is not None


def _two_year(**policy: Any) -> dict[str, Any]:
    """Two candidates a (worth more) and b; the SBC has 10 now and 10 next year."""
    cands = [
        candidate("a", cost={YEARS[0]: 12, YEARS[1]: 0}, impact=5, p=0.9),
        candidate("b", cost={YEARS[0]: 8, YEARS[1]: 0}, impact=3, p=0.9),
    ]
    doc = document(
        cands,
        envelopes=[{"id": "sbc", "name": "SBC", "budget": {YEARS[0]: 10, YEARS[1]: 10}}],
        scenarios={"impact": {"a/main": [5.0, 5.0, 5.0, 5.0], "b/main": [3.0, 3.0, 3.0, 3.0]}},
        **policy,
    )
    doc["version"] = 2
    return doc


def _selected(doc: dict[str, Any]) -> dict[str, str]:
    result = solve(load_problem(doc))
    assert result.status in ("optimal", "feasible"), (result.status, result.diagnosis)
    return result.selected


def test_bring_forward_lets_next_years_money_fund_this_year() -> None:
    assert _selected(_two_year()) == {"b": "main"}  # 12 in the first year is over its 10
    assert _selected(_two_year(bring_forward=0.2)) == {"a": "main"}  # 10 + 0.2 x 10 = 12


def test_over_programming_scales_every_budget_row() -> None:
    assert _selected(_two_year(over_programming=0.2)) == {"a": "main"}  # 1.2 x 10 = 12
    # without carry_forward the second year's budget cannot help, over-programming can
    assert _selected(_two_year(carry_forward=False, over_programming=0.1)) == {"b": "main"}
    assert _selected(_two_year(carry_forward=False, over_programming=0.2)) == {"a": "main"}


def test_the_overrun_limit_binds_on_realised_spend_and_changes_the_answer() -> None:
    doc = _two_year(over_programming=0.2)
    # a's realised first-year spend is 12 in every scenario: over the real 10 each time
    doc["scenarios"]["spend"] = {"a/main": [[12, 0]] * 4}
    result = solve(load_problem(doc))
    assert result.selected == {"a": "main"}
    assert result.metrics.in_sample is not None
    assert result.metrics.in_sample.p_overrun == 1.0
    assert result.metrics.in_sample.expected_overspend == pytest.approx(2.0)
    doc["policy"]["max_overrun_probability"] = 0.5
    assert _selected(doc) == {"b": "main"}
    # half the scenarios overrunning is allowed at 0.5 (inclusive), not at 0.49
    doc["scenarios"]["spend"] = {"a/main": [[12, 0], [12, 0], [10, 0], [9, 0]]}
    assert _selected(doc) == {"a": "main"}
    doc["policy"]["max_overrun_probability"] = 0.49
    assert _selected(doc) == {"b": "main"}


def test_overrun_is_judged_on_all_envelopes_together_with_real_budgets() -> None:
    doc = _two_year(over_programming=0.5, max_overrun_probability=0.0)
    doc["envelopes"].append({"id": "ukri", "name": "UKRI", "budget": {YEARS[0]: 3, YEARS[1]: 0}})
    # 12 realised against 10 + 3 of real money: no overrun, so a is allowed
    doc["scenarios"]["spend"] = {"a/main": [[12, 0]] * 4}
    assert _selected(doc) == {"a": "main"}
    doc["scenarios"]["spend"] = {"a/main": [[13.5, 0]] * 4}
    assert _selected(doc) == {"b": "main"}


def test_an_unreachable_overrun_limit_is_diagnosed_with_the_least_achievable_probability() -> None:
    doc = _two_year(over_programming=0.2, max_overrun_probability=0.1, locks=["a"])
    doc["policy"]["locks"] = ["a"]
    doc["scenarios"]["spend"] = {"a/main": [[12, 0], [12, 0], [12, 0], [9, 0]]}
    result = solve(load_problem(doc))
    assert result.status == "infeasible"
    rules = {d["rule"]: d for d in result.diagnosis}
    assert "max_overrun_probability" in rules
    assert "75.0%" in rules["max_overrun_probability"]["label"]


def test_version_1_files_refuse_version_2_fields_and_bring_forward_needs_carry_forward() -> None:
    doc = _two_year(over_programming=0.2)
    doc["version"] = 1
    with pytest.raises(ProblemError) as caught:
        load_problem(doc)
    assert caught.value.path == "policy.over_programming" and "version 2" in caught.value.rule
    doc = _two_year(carry_forward=False, bring_forward=0.1)
    with pytest.raises(ProblemError) as caught:
        load_problem(doc)
    assert caught.value.path == "policy.bring_forward"
    assert "policy.carry_forward" in caught.value.rule
    load_problem(_two_year(carry_forward=False, bring_forward=0.0))  # an explicit 0 is fine


def test_spend_rows_are_checked_against_the_years_and_scenarios() -> None:
    doc = _two_year()
    doc["scenarios"]["spend"] = {"a/main": [[1, 2]] * 3, "zz/main": [[1, 2]] * 4}
    with pytest.raises(ProblemError) as caught:
        load_problem(doc)
    paths = {p for p, _ in caught.value.errors}
    assert paths == {"scenarios.spend.a/main", "scenarios.spend.zz/main"}
    doc["scenarios"]["spend"] = {"a/main": [[1, 2, 3]] * 4}
    with pytest.raises(ProblemError, match=r"scenarios.spend.a/main\[0\]: must give the spend"):
        load_problem(doc)


def test_version_1_answers_are_unchanged_by_the_money_rules() -> None:
    """A version 1 file and the same file as version 2 with every money rule at its default
    give the same result (bar the version and timings)."""
    doc = _two_year()
    doc["version"] = 1
    one = solve(load_problem(doc)).model_dump(mode="json")
    doc["version"] = 2
    two = solve(load_problem(doc)).model_dump(mode="json")
    for r in (one, two):
        r.pop("version")
        r.pop("solver")
    assert one == two


def test_sampled_spend_follows_the_plan_and_stops_when_an_option_fails() -> None:
    planned = np.array([[4.0, 6.0]])
    total = np.array([[20.0], [20.0]])
    success = np.array([[True], [False]])
    stop = np.array([[0.9], [0.3]])
    spend = realised_spend(planned, total, success, stop)
    assert spend[0, 0].tolist() == pytest.approx([8.0, 12.0])  # the plan's 40/60 profile of 20
    assert spend[1, 0].tolist() == pytest.approx([6.0, 0.0])  # failed after 30 % of 20


def test_the_portfolio_spend_the_metrics_read_is_the_sum_of_every_option_spend() -> None:
    """`realised_total` (what the overrun metrics read, year by year on S x m arrays) is
    `realised_spend` summed over the options, exactly; and so is `spend_total` of the
    out-of-sample scenarios, explicit and sampled ones."""
    rng = np.random.default_rng(5)
    planned = rng.uniform(0, 5, (6, 3))
    planned[2] = 0.0  # an option with no remaining plan spends nothing
    total = rng.uniform(1, 20, (400, 6))
    success = rng.random((400, 6)) < 0.5
    stop = rng.random((400, 6))
    whole = realised_spend(planned, total, success, stop).sum(axis=1)
    assert np.array_equal(realised_total(planned, total, success, stop), whole)
    version_1 = random_document_v2(11, "cvar")  # explicit impacts without spend rows
    version_1["version"] = 1
    for policy in ("bring_forward", "over_programming", "max_overrun_probability"):
        version_1["policy"].pop(policy, None)
    version_1["scenarios"].pop("spend", None)
    for doc in (random_document_v2(11, "cvar"), version_1):
        doc["evaluation"] = {"count": 300, "seed": 4}
        data = problem_data(load_problem(doc))
        chosen = np.arange(0, data.n_options, 2)
        for scen in (optimisation_scenarios(data), evaluation_scenarios(data)):
            each = scen.spend_columns(chosen).sum(axis=1)
            assert np.allclose(scen.spend_total(chosen), each, rtol=0, atol=1e-12)


def test_sampled_scenarios_give_overrun_metrics_in_and_out_of_sample() -> None:
    cands = [
        candidate(
            "a",
            options=[
                {
                    "id": "main",
                    "cost": {YEARS[0]: 5, YEARS[1]: 5},
                    "p_success": 0.8,
                    "impact": {"low": 4, "mode": 5, "high": 6},
                    "cost_range": {"low": 9, "mode": 10, "high": 16},
                }
            ],
        )
    ]
    doc = document(
        cands,
        envelopes=[{"id": "sbc", "name": "SBC", "budget": {YEARS[0]: 5, YEARS[1]: 5.5}}],
        scenarios={"count": 2000, "seed": 3},
    )
    doc["version"] = 2
    problem = load_problem(json.dumps(doc))
    data = problem_data(problem)
    spend = optimisation_scenarios(data).spend_columns(np.array([0]))
    assert spend.shape == (2000, 1, 2)
    assert (spend.sum(axis=2) <= 16 + 1e-9).all()
    result = solve(problem)
    for metrics in (result.metrics.in_sample, result.metrics.out_of_sample):
        assert metrics is not None and metrics.p_overrun is not None
        # fails 20 % of the time (stops early), and overruns 10.5 in the other runs often
        assert 0.2 < metrics.p_overrun < 0.8
        assert metrics.expected_overspend is not None and metrics.expected_overspend > 0
    doc["policy"]["max_overrun_probability"] = 0.05
    assert solve(load_problem(json.dumps(doc))).selected == {}
