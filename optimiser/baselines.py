"""Baselines the optimiser is compared with: a business-case ranking and the expected knapsack."""

from __future__ import annotations

import numpy as np

from optimiser.data import problem_data
from optimiser.feasibility import SelectionChecker
from optimiser.objectives import expected_values
from optimiser.problem import Problem
from optimiser.scenarios import optimisation_scenarios
from optimiser.solve import solve


def greedy_by_ratio(problem: Problem) -> dict[str, str]:
    """Rank options by p·E[impact] / cost and add each while budgets and hard caps allow.

    This is how a conventional business-case ranking picks: locked and committed options first,
    then the best ratio, at most one option per candidate, skipping what the budgets, exclusions,
    DAL cap and share caps forbid (share caps against the whole budget, as a ranking adds
    awards one at a time). Minimum rules (spend, platforms, shares) are not pursued.
    """
    data = problem_data(problem)
    scenarios = optimisation_scenarios(data)
    checker = SelectionChecker(data, scenarios)
    value = expected_values(data, scenarios)
    ratio = np.where(data.total_cost > 0, value / np.maximum(data.total_cost, 1e-12), np.inf)
    x = np.zeros(data.n_options)
    for group in checker.must:
        if x[group].sum() < 0.5:
            best = max(group, key=lambda k: (ratio[k], -k))
            trial = x.copy()
            trial[best] = 1.0
            if not checker.violations(trial, with_minimums=False, partial=True):
                x = trial
    for k in sorted(range(data.n_options), key=lambda k: (-ratio[k], k)):
        if value[k] <= 0 or x[data.options_of(int(data.candidate_of[k]))].sum() > 0.5:
            continue
        trial = x.copy()
        trial[k] = 1.0
        if not checker.violations(trial, with_minimums=False, partial=True):
            x = trial
    return data.selection_dict(x)


def expected_knapsack(
    problem: Problem, *, solver: str = "highs", time_limit: float | None = None
) -> dict[str, str]:
    """The deterministic portfolio: maximise Σ p·E[impact]·x under every rule."""
    policy = problem.policy.model_copy(update={"objective": "expected"})
    result = solve(
        problem.model_copy(update={"policy": policy}), solver=solver, time_limit=time_limit
    )
    return result.selected
