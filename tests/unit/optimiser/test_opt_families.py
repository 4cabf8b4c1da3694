"""Each constraint family binds in a small case and changes the answer."""

from __future__ import annotations

from typing import Any

import pytest

from optimiser.solve import solve

from .opt_factories import candidate, option, problem

UKRI = {"id": "ukri", "name": "UKRI", "budget": {"2026-27": 15, "2027-28": 0}}


def sbc(amount: float, second_year: float = 0.0) -> dict[str, Any]:
    return {"id": "sbc", "name": "SBC", "budget": {"2026-27": amount, "2027-28": second_year}}


def chosen(cands: list[dict[str, Any]], **kw: Any) -> dict[str, str]:
    result = solve(problem(cands, **kw))
    assert result.status == "optimal", result.diagnosis
    return result.selected


def test_budget_limits_spend_to_the_envelope() -> None:
    cands = [candidate("a", cost=60, impact=5), candidate("b", cost=60, impact=4)]
    assert chosen(cands, budget=200) == {"a": "main", "b": "main"}
    assert chosen(cands, budget=100) == {"a": "main"}


def test_carry_forward_lets_unspent_money_move_to_later_years() -> None:
    cands = [candidate("a", cost={"2026-27": 0, "2027-28": 80}, impact=5)]
    envs = [sbc(50, 40)]
    assert chosen(cands, envelopes=envs, carry_forward=True) == {"a": "main"}
    assert chosen(cands, envelopes=envs, carry_forward=False) == {}


def test_an_award_may_be_split_between_eligible_envelopes() -> None:
    cands = [candidate("a", cost=30, impact=5, eligible=["sbc", "ukri"])]
    result = solve(problem(cands, envelopes=[sbc(20), UKRI]))
    assert result.selected == {"a": "main"}
    by_env = {row.envelope: row.amount for row in result.funding}
    assert by_env == pytest.approx({"sbc": 20.0, "ukri": 10.0}, abs=5) and sum(
        by_env.values()
    ) == pytest.approx(30)
    assert result.spend.by_envelope["sbc"] <= 20 + 1e-9


def test_a_candidate_draws_only_on_its_eligible_envelopes() -> None:
    cands = [candidate("a", cost=30, impact=5, eligible=["ukri"])]
    assert chosen(cands, envelopes=[sbc(100), UKRI]) == {}


def test_minimum_spend_forces_money_through_the_envelope() -> None:
    cands = [
        candidate("a", cost=10, impact=5),
        candidate("b", cost=10, impact=0.0, eligible=["ukri"]),
    ]
    assert chosen(cands, envelopes=[sbc(10), UKRI]) == {"a": "main"}
    result = solve(problem(cands, envelopes=[sbc(10), {**UKRI, "min_spend": 10}]))
    assert result.selected == {"a": "main", "b": "main"}
    assert result.spend.by_envelope["ukri"] == pytest.approx(10)


def test_dal_cap_forbids_big_awards_unless_treasury_approved() -> None:
    big = candidate("big", cost=60, impact=9)
    small = candidate("small", cost=10, impact=1)
    assert chosen([big, small], dal=50, dal_mode="flag") == {"big": "main", "small": "main"}
    assert chosen([big, small], dal=50, dal_mode="cap") == {"small": "main"}
    approved = candidate("big", cost=60, impact=9, treasury_approved=True)
    assert chosen([approved, small], dal=50, dal_mode="cap") == {"big": "main", "small": "main"}


def test_awards_above_the_dal_and_ncr_awards_are_flagged() -> None:
    cands = [candidate("big", cost=60, impact=9), candidate("odd", cost=5, impact=1, ncr=True)]
    result = solve(problem(cands, dal=50, dal_mode="flag"))
    kinds = {(f.candidate, f.kind, f.amount) for f in result.flags}
    assert kinds == {("big", "above_dal", 60.0), ("odd", "ncr", 5.0)}


def test_max_platform_share_forces_spend_across_platforms() -> None:
    cands = [
        candidate("h1", platform="h2", cost=40, impact=5),
        candidate("h2", platform="h2", cost=40, impact=5),
        candidate("s1", platform="saf", cost=40, impact=2),
    ]
    assert chosen(cands, budget=80) == {"h1": "main", "h2": "main"}
    picked = chosen(cands, budget=80, max_platform_share=0.5)
    assert "s1" in picked and len(picked) == 2


def test_min_platforms_requires_distinct_platforms_funded() -> None:
    cands = [
        candidate("h1", platform="h2", cost=10, impact=5),
        candidate("h2", platform="h2", cost=10, impact=5),
        candidate("s1", platform="saf", cost=10, impact=1),
    ]
    assert chosen(cands, budget=20) == {"h1": "main", "h2": "main"}
    assert "s1" in chosen(cands, budget=20, min_platforms=2)


def test_min_moonshot_share_funds_moonshots() -> None:
    cands = [
        candidate("safe", cost=10, impact=5),
        candidate("wild", cost=10, impact=1, tier="moonshot"),
    ]
    assert chosen(cands, budget=10) == {"safe": "main"}
    assert chosen(cands, budget=10, min_moonshot_share=0.3) == {"wild": "main"}


def test_min_rising_star_share_funds_rising_stars() -> None:
    cands = [
        candidate("old", cost=10, impact=5),
        candidate("new", cost=10, impact=1, organisation_type="rising_star"),
    ]
    assert chosen(cands, budget=10) == {"old": "main"}
    assert chosen(cands, budget=10, min_rising_star_share=0.5) == {"new": "main"}


def test_max_organisation_share_spreads_money_between_organisations() -> None:
    cands = [
        candidate("a1", cost=10, impact=5, organisation="Acme"),
        candidate("a2", cost=10, impact=5, organisation="Acme"),
        candidate("b1", cost=10, impact=1, organisation="Beta"),
    ]
    assert chosen(cands, budget=20) == {"a1": "main", "a2": "main"}
    assert "b1" in chosen(cands, budget=20, max_organisation_share=0.5)


def test_one_option_per_candidate_at_most() -> None:
    opts = [option("small", 10, 0.5, 2), option("large", 30, 0.5, 5)]
    assert chosen([candidate("a", options=opts)], budget=100) == {"a": "large"}


def test_locks_force_funding_of_a_candidate_or_an_option() -> None:
    cands = [candidate("a", cost=10, impact=5), candidate("b", cost=10, impact=1)]
    assert chosen(cands, budget=10) == {"a": "main"}
    assert chosen(cands, budget=10, locks=["b"]) == {"b": "main"}
    opts = [option("small", 5, 0.5, 2), option("large", 10, 0.5, 5)]
    assert chosen([candidate("c", options=opts)], budget=10, locks=["c/small"]) == {"c": "small"}


def test_exclusions_forbid_a_candidate_or_an_option() -> None:
    opts = [option("small", 5, 0.5, 2), option("large", 10, 0.5, 5)]
    cands = [candidate("c", options=opts), candidate("d", cost=5, impact=1)]
    assert chosen(cands, budget=20) == {"c": "large", "d": "main"}
    assert chosen(cands, budget=20, exclusions=["c/large"]) == {"c": "small", "d": "main"}
    assert chosen(cands, budget=20, exclusions=["c"]) == {"d": "main"}


def test_commitments_keep_contracted_tranches_funded() -> None:
    opts = [option("explore", 5, 0.5, 2), option("scale", 10, 0.5, 5)]
    cands = [candidate("c", options=opts), candidate("d", cost=10, impact=4)]
    assert chosen(cands, budget=15) == {"c": "explore", "d": "main"}
    assert chosen(cands, budget=15, commitments=["c/scale"]) == {"c": "scale"}


def test_switching_cost_keeps_last_quarters_allocation() -> None:
    cands = [candidate("old", cost=10, impact=4.0), candidate("new", cost=10, impact=4.5)]
    assert chosen(cands, budget=10, previous={"old": "main"}) == {"new": "main"}
    result = solve(problem(cands, budget=10, previous={"old": "main"}, switching_cost=0.1))
    assert result.selected == {"old": "main"}


def test_min_p_any_success_hedges_against_everything_failing() -> None:
    impact = {"a/main": [6, 6, 0, 0], "b/main": [5, 5, 0, 0], "c/main": [0, 0, 3, 3]}
    cands = [candidate("a", cost=10), candidate("b", cost=10), candidate("c", cost=10)]
    kw: dict[str, Any] = {"budget": 20, "scenarios": {"impact": impact}}
    assert chosen(cands, **kw) == {"a": "main", "b": "main"}
    assert "c" in chosen(cands, min_p_any_success=0.9, **kw)
