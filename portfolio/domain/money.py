"""Money as people state it, turned into what the optimiser reads (issue 15).

- **The switching cost in money.** The CEO states what is lost when money awarded last quarter
  is de-committed, as a share of that money (termination, demobilisation, lost learning). The
  optimiser charges `switching_cost` per £m dropped in the objective's own units. One £m is
  worth V / B of the objective, where B is the remaining budget of all envelopes and V the
  objective's scale (1 for P(target); the mission's target for the impact objectives), so
  switching_cost = loss share × V / B. A share of 10 % on a £600m programme charges 0.00017 of
  P(target) per £m dropped: dropping £60m costs 1 point of P(target), which no longer freezes a
  portfolio (0.05 per £m, the old demo's setting, charged 3 points per £m).
- **What a run says about money**: the remaining budgets it planned against, over-programming,
  the money already spent (sunk, not in the problem) and the switching cost in £.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portfolio.domain.model import OptimiserRun


def objective_scale(objective: str, target: float) -> float:
    """V: what the whole objective is worth in its own units."""
    return 1.0 if objective == "p_target" else max(float(target), 1e-9)


def remaining_budget_total(problem: dict[str, Any]) -> float:
    """B: the money of every envelope in a problem file (remaining money in version 2)."""
    return float(sum(sum(e.get("budget", {}).values()) for e in problem.get("envelopes", [])))


def switching_rate(problem: dict[str, Any]) -> float:
    """V / B: the objective's units per £m in this problem."""
    objective = str((problem.get("policy") or {}).get("objective", "p_target"))
    target = float((problem.get("mission") or {}).get("target", 1.0))
    return objective_scale(objective, target) / max(remaining_budget_total(problem), 1e-9)


def switching_cost_of(loss_share: float, problem: dict[str, Any]) -> float:
    """The optimiser's `switching_cost` (objective units per £m) for a loss share (0–1)."""
    return loss_share * switching_rate(problem)


def loss_share_of(problem: dict[str, Any]) -> float:
    """The loss share (0–1) a problem's `switching_cost` states."""
    gamma = float((problem.get("policy") or {}).get("switching_cost", 0.0) or 0.0)
    return gamma / switching_rate(problem)


@dataclass(frozen=True)
class Switching:
    decommitted: float  # £m of last quarter's awards this run drops
    loss_share: float
    lost: float  # £m
    per_m: float  # objective units per £m dropped
    words: str


def switching(run: OptimiserRun) -> Switching | None:
    """The run's switching cost in £ and in the objective's units (None when it has none)."""
    problem = run.problem
    policy = problem.get("policy") or {}
    gamma = float(policy.get("switching_cost", 0.0) or 0.0)
    previous: dict[str, str] = policy.get("previous") or {}
    if gamma <= 0 or not previous:
        return None
    cost = {
        (c["id"], o["id"]): _total(o["cost"])
        for c in problem.get("candidates", [])
        for o in c.get("options", [])
    }
    selected = run.selected
    dropped = 0.0
    for candidate, option in previous.items():
        now = selected.get(candidate)
        before = cost.get((candidate, option), 0.0)
        after = cost.get((candidate, now), 0.0) if now else 0.0
        dropped += max(0.0, before - after)
    share = loss_share_of(problem)
    unit = "P(target)" if policy.get("objective") == "p_target" else "objective"
    words = (
        f"{share * 100:.1f} % of money de-committed is lost; charged {gamma:.3g} of the "
        f"{unit} per £m dropped. This run de-commits £{dropped:,.1f}m of last quarter's awards "
        f"(£{share * dropped:,.1f}m lost)."
    )
    return Switching(dropped, share, share * dropped, gamma, words)


def _total(cost: Any) -> float:
    if isinstance(cost, dict):
        return float(sum(cost.values()))
    return float(cost)


@dataclass(frozen=True)
class RunMoney:
    remaining: float  # £m of remaining budgets the run planned against
    over_programming: float
    planned_cap: float
    spent: float  # £m spent to date (the ledger), sunk
    switching: Switching | None


def run_money(run: OptimiserRun, spent_to_date: float) -> RunMoney:
    problem = run.problem
    over = float((problem.get("policy") or {}).get("over_programming", 0.0) or 0.0)
    remaining = remaining_budget_total(problem)
    return RunMoney(remaining, over, remaining * (1 + over), spent_to_date, switching(run))
