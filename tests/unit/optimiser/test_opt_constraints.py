"""Constraint families checked without a solver: set varValues, assert `.valid()`."""

from __future__ import annotations

from optimiser.data import problem_data
from optimiser.model import Model, build_model
from optimiser.problem import Problem
from optimiser.scenarios import optimisation_scenarios

from .opt_factories import candidate, problem


def model_of(p: Problem) -> Model:
    data = problem_data(p)
    return build_model(data, optimisation_scenarios(data))


def allocate(m: Model, funded: set[str]) -> None:
    """Fund the named options, drawing each year's cost from the group's first envelope."""
    d = m.data
    for k, key in enumerate(d.keys):
        m.x[k].varValue = 1.0 if key in funded else 0.0
    for v in m.f.values():
        v.varValue = 0.0
    group_of = m.aux["group_of"]
    for (g, e, y), v in sorted(m.f.items()):
        if not any((g, e2, y) in m.f for e2 in range(e)):
            v.varValue = sum(
                float(d.cost[k, y])
                for k, key in enumerate(d.keys)
                if key in funded and group_of[k] == g
            )
    if "total_spend" in m.aux:
        m.aux["total_spend"].varValue = sum(
            float(d.total_cost[k]) for k, key in enumerate(d.keys) if key in funded
        )
    for v in m.prob.variables():
        if v.varValue is None:
            v.varValue = 0.0


def family_valid(m: Model, family: str) -> bool:
    names = [n for n, info in m.registry.items() if info.family == family]
    assert names, f"no {family} constraints were built"
    return all(m.prob.constraints[n].valid(1e-9) for n in names)


def test_budget_constraints_hold_for_an_allocation_within_budget_and_fail_above_it() -> None:
    m = model_of(problem([candidate("a", cost=60), candidate("b", cost=60)], budget=100))
    allocate(m, {"a/main"})
    assert family_valid(m, "budget")
    allocate(m, {"a/main", "b/main"})
    assert not family_valid(m, "budget")


def test_funding_flows_must_cover_the_cost_of_each_funded_option() -> None:
    m = model_of(problem([candidate("a", cost=60)], budget=100))
    allocate(m, {"a/main"})
    assert family_valid(m, "flows")
    next(iter(m.f.values())).varValue = 30.0
    assert not family_valid(m, "flows")


def test_platform_share_constraint_rejects_a_single_platform_portfolio() -> None:
    cands = [candidate("h", platform="h2", cost=10), candidate("s", platform="saf", cost=10)]
    m = model_of(problem(cands, max_platform_share=0.5))
    allocate(m, {"h/main", "s/main"})
    assert family_valid(m, "platform_share")
    allocate(m, {"h/main"})
    assert not family_valid(m, "platform_share")


def test_locks_and_exclusions_are_checked_on_the_selection() -> None:
    cands = [candidate("a"), candidate("b")]
    m = model_of(problem(cands, locks=["a"], exclusions=["b"]))
    allocate(m, {"a/main"})
    assert family_valid(m, "lock") and family_valid(m, "exclusion")
    allocate(m, {"b/main"})
    assert not family_valid(m, "lock") and not family_valid(m, "exclusion")


def test_constraint_names_are_positional_and_labels_are_human() -> None:
    cands = [candidate("h2-combustion", cost=10), candidate("h2_combustion", cost=10)]
    m = model_of(problem(cands))
    assert all("__" in name and name.split("__")[-1].isdigit() for name in m.registry)
    labels = [info.label for info in m.registry.values() if info.family == "budget"]
    assert labels == ["SBC budget in 2026-27 (100)", "SBC budget in 2027-28 (0)"]
