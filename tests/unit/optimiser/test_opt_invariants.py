"""Invariants of every solved allocation, over random instances."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from optimiser.problem import load_problem
from optimiser.solve import solve

from .opt_factories import random_document


@settings(max_examples=40, derandomize=True, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    objective=st.sampled_from(["expected", "capped", "p_target", "cvar"]),
)
def test_no_solved_allocation_breaks_a_budget_or_an_eligibility_rule(
    seed: int, objective: str
) -> None:
    doc = random_document(seed, objective)
    result = solve(load_problem(doc))
    if result.status == "infeasible":
        return
    years = doc["years"]
    cands = {c["id"]: c for c in doc["candidates"]}
    used: dict[tuple[str, str], float] = defaultdict(float)
    per_award: dict[tuple[str, str], float] = defaultdict(float)
    for row in result.funding:
        assert row.envelope in cands[row.candidate]["eligible_envelopes"]
        assert result.selected[row.candidate] == row.option
        assert row.amount > 0
        used[(row.envelope, row.year)] += row.amount
        per_award[(row.candidate, row.year)] += row.amount
    for env in doc["envelopes"]:
        spent = [used[(env["id"], y)] for y in years]
        budget = [env["budget"].get(y, 0.0) for y in years]
        if doc["policy"]["carry_forward"]:
            for y in range(len(years)):
                assert sum(spent[: y + 1]) <= sum(budget[: y + 1]) + 1e-6
        else:
            assert all(s <= b + 1e-6 for s, b in zip(spent, budget, strict=True))
        if env.get("min_spend"):
            assert sum(spent) >= env["min_spend"] - 1e-6
    for cand_id, opt_id in result.selected.items():
        opt = next(o for o in cands[cand_id]["options"] if o["id"] == opt_id)
        cost = opt["cost"] if isinstance(opt["cost"], dict) else {years[0]: opt["cost"]}
        for y in years:
            assert abs(per_award[(cand_id, y)] - cost.get(y, 0.0)) <= 1e-6
