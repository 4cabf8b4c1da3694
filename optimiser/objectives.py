"""The four objectives of problem-format.md: as MILP objectives and as exact numpy evaluations.

With impact[s] = Σ_k a[s,k]·x[k] over S scenarios and target T:
- expected  = Σ_k v[k]·x[k], v = p·PERT mean (sampled) or mean_s a[s,k] (explicit scenarios);
- capped    = mean_s min(T, impact[s]);
- p_target  = share of s with impact[s] ≥ T;
- cvar      = mean_s impact[s] − λ·CVaR_α(max(0, T − impact[s]))  (Rockafellar–Uryasev).
Every objective is charged the switching cost γ·(money dropped from `previous`;
`optimiser.families.switching`, whose rows put it in `Model.penalty`), and a tiny cost
term −ε·Σ (c[k] + k·1e-3/K)·x[k] breaks ties so the same input always gives the same answer.
Identical scenario rows are merged with a weight, which changes nothing but the model size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pulp

from optimiser.data import FloatArray, ProblemData
from optimiser.families import SwitchingCost
from optimiser.lpmodel import Model, linear
from optimiser.scenarios import Scenarios

TOL = 1e-9
TIE_BREAK_TOTAL = 1e-7


def expected_values(data: ProblemData, scenarios: Scenarios) -> FloatArray:
    """v[k] of the `expected` objective."""
    if scenarios.source == "explicit":
        return np.asarray(scenarios.impact.mean(axis=0), dtype=float)
    return np.asarray(data.p * data.impact_mean, dtype=float)


def cvar_of(losses: FloatArray, alpha: float) -> float:
    """CVaR_α of equally likely losses: min_η η + E[(L − η)+]/(1 − α), the mean of the worst 1−α."""
    s = len(losses)
    tail = (1.0 - alpha) * s
    ordered = np.sort(losses)[::-1]
    whole = int(np.floor(tail + 1e-12))
    total = float(ordered[:whole].sum())
    if whole < s:
        total += (tail - whole) * float(ordered[whole])
    return total / tail


def switching_penalty(data: ProblemData, x: FloatArray) -> float:
    """The switching charge of portfolio x (`optimiser.families.switching`)."""
    return SwitchingCost(data).value(x)


def raw_value(
    kind: str,
    data: ProblemData,
    scenarios: Scenarios,
    x: FloatArray,
    impacts: FloatArray | None = None,
) -> float:
    """The objective `kind` of portfolio x, without the switching charge."""
    target = data.target
    policy = data.problem.policy
    if kind == "expected":
        return float(expected_values(data, scenarios) @ x)
    impact = scenarios.impact @ x if impacts is None else impacts
    if kind == "capped":
        return float(np.minimum(target, impact).mean())
    if kind == "p_target":
        return float((impact >= target - TOL).mean())
    if kind == "cvar":
        shortfall = np.maximum(0.0, target - impact)
        return float(impact.mean() - policy.cvar_lambda * cvar_of(shortfall, policy.cvar_alpha))
    raise ValueError(f"unknown objective {kind!r}")


def objective_value(kind: str, data: ProblemData, scenarios: Scenarios, x: FloatArray) -> float:
    """What the optimiser maximises: the objective minus the switching charge."""
    return raw_value(kind, data, scenarios, x) - switching_penalty(data, x)


def tie_break_weights(data: ProblemData) -> FloatArray:
    """ε·(c[k] + 1e-3·(k+1)/K): prefers the cheaper, then the earlier-listed portfolio."""
    k = data.n_options
    base = data.total_cost + 1e-3 * (np.arange(k) + 1) / max(k, 1)
    return np.asarray(base * TIE_BREAK_TOTAL / (float(base.sum()) + 1.0), dtype=float)


def merged_rows(matrix: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Distinct scenario rows and their multiplicities (skipped for very large matrices)."""
    if matrix.size <= 20_000_000:
        rows, counts = np.unique(matrix, axis=0, return_counts=True)
        return rows, counts.astype(float)
    return matrix, np.ones(matrix.shape[0])


def set_objective(m: Model, scenarios: Scenarios, kind: str) -> None:
    """Add the objective's variables and rows and set `m.prob`'s objective (maximised)."""
    data = m.data
    if kind == "expected":
        main = linear(m.xs, expected_values(data, scenarios))
    elif kind == "capped":
        main = _capped(m, scenarios)
    elif kind == "p_target":
        main = _p_target(m, scenarios)
    elif kind == "cvar":
        main = _cvar(m, scenarios)
    else:
        raise ValueError(f"unknown objective {kind!r}")
    m.prob.setObjective(main - m.penalty - linear(m.xs, tie_break_weights(data)))


def _scenario_row(m: Model, row: FloatArray) -> pulp.LpAffineExpression:
    nz = np.flatnonzero(row)
    xs = m.x
    return pulp.LpAffineExpression([(xs[j], float(row[j])) for j in nz])


def _capped(m: Model, scenarios: Scenarios) -> pulp.LpAffineExpression:
    """max Σ_j n_j·y_j / S with y_j ≤ T, y_j ≤ Σ_k a[j,k]x[k]."""
    target = m.data.target
    rows, counts = merged_rows(scenarios.impact)
    y = m.prob.add_variable_dicts("y", range(len(rows)), lowBound=0, upBound=target)
    for j, row in enumerate(rows):
        expr = _scenario_row(m, np.minimum(row, target))  # exact with y ≤ T; tighter LP
        expr.addterm(y[j], -1.0)
        m.add(
            expr,
            ">=",
            0,
            family="capped_row",
            key=(j,),
            label="capped impact of a scenario",
            unit="impact",
        )
    return linear([y[j] for j in range(len(rows))], counts / scenarios.count)


def _p_target(m: Model, scenarios: Scenarios) -> pulp.LpAffineExpression:
    """Textbook: max Σ_j n_j·z_j / S with Σ_k a[j,k]x[k] ≥ T·z_j, z binary (a ≥ 0: no big-M)."""
    target = m.data.target
    rows, counts = merged_rows(scenarios.impact)
    if target <= TOL:
        return pulp.LpAffineExpression(constant=1.0)
    reach = _best_reachable(m.data, rows)
    live = np.flatnonzero(reach >= target - TOL)
    z = m.prob.add_variable_dicts("z", range(len(live)), cat=pulp.LpBinary)
    m.aux["z"] = (live, z)
    for j, r in enumerate(live):
        # a[s,k] -> min(a[s,k], T) is valid (z ≤ 1) and tightens the LP relaxation
        expr = _scenario_row(m, np.minimum(rows[r], target))
        expr.addterm(z[j], -target)
        m.add(
            expr,
            ">=",
            -TOL,
            family="p_target_row",
            key=(int(r),),
            label="a scenario reaches the target",
            unit="impact",
        )
    return linear([z[j] for j in range(len(live))], counts[live] / scenarios.count)


def _best_reachable(data: ProblemData, rows: FloatArray) -> FloatArray:
    """Per row, the largest impact any one-option-per-candidate portfolio could have."""
    best = np.zeros(rows.shape[0])
    for i in range(data.n_candidates):
        best += rows[:, data.options_of(i)].max(axis=1)
    return best


def _cvar(m: Model, scenarios: Scenarios) -> pulp.LpAffineExpression:
    """max Σ_k ā[k]x[k] − λ(η + Σ_j n_j·u_j / ((1−α)S)), u_j ≥ T − Σ_k a[j,k]x[k] − η, u, η ≥ 0.

    η ≥ 0 loses nothing: the shortfall is non-negative, so its α-quantile (the best η) is too.
    """
    policy = m.data.problem.policy
    target = m.data.target
    mean = linear(m.xs, scenarios.impact.mean(axis=0))
    lam = policy.cvar_lambda
    if lam <= 0:
        return mean
    rows, counts = merged_rows(scenarios.impact)
    eta = pulp.LpVariable("eta", lowBound=0)
    u = m.prob.add_variable_dicts("u_s", range(len(rows)), lowBound=0)
    for j, row in enumerate(rows):
        # a -> min(a, T) changes no shortfall (η ≥ 0) and tightens the LP relaxation
        expr = _scenario_row(m, np.minimum(row, target))
        expr.addterm(u[j], 1.0)
        expr.addterm(eta, 1.0)
        m.add(
            expr,
            ">=",
            target,
            family="cvar_row",
            key=(j,),
            label="shortfall of a scenario",
            unit="impact",
        )
    scale = 1.0 / ((1.0 - policy.cvar_alpha) * scenarios.count)
    tail: Any = linear([u[j] for j in range(len(rows))], counts * scale)
    tail.addterm(eta, 1.0)
    return mean - lam * tail
