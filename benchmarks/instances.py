"""Generated problem documents for the benchmark (deterministic for a seed).

`generate(n, scenarios, seed, objective)` gives n candidates with one to three nested options
(explore / demonstrate / scale), three financial years, an SBC and a UKRI envelope, and, unless
`rules="budgets"`, every constraint family switched on: platform and organisation shares, minimum
platforms, moonshot and rising-star shares, DAL cap, UKRI minimum spend, a lock, an exclusion, a
commitment, switching cost against a previous allocation and a P(any success) floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

YEARS = ["2026-27", "2027-28", "2028-29"]
STAGES = [("explore", 1.0, 0.55, 1.0), ("demonstrate", 4.0, 0.4, 3.0), ("scale", 12.0, 0.25, 8.0)]


def generate(
    n: int,
    scenarios: int,
    seed: int,
    objective: str,
    *,
    platforms: int | None = None,
    correlation: float = 0.5,
    rules: str = "all",
    budget_share: float = 0.3,
    target_share: float = 0.7,
) -> dict[str, Any]:
    """A problem document; `rules` is "all" (every family) or "budgets" (budgets only).

    The budget is `budget_share` of the cost of funding every candidate's largest option, and
    the target `2 × budget_share × target_share` of their total expected impact."""
    rng = np.random.default_rng(seed)
    n_platforms = platforms or max(3, min(12, n // 8))
    names = [f"platform-{j}" for j in range(n_platforms)]
    candidates = [_candidate(rng, i, n, names) for i in range(n)]
    full_cost = 0.0
    full_value = 0.0
    for cand in candidates:
        last = cand["options"][-1]
        full_cost += sum(last["cost"].values())
        full_value += (
            last["p_success"]
            * (last["impact"]["low"] + 4 * last["impact"]["mode"] + last["impact"]["high"])
            / 6
        )
    budget = full_cost * budget_share
    envelopes = _envelopes(budget)
    policy: dict[str, Any] = {
        "objective": objective,
        "carry_forward": True,
        "correlation": correlation,
        "max_platform_share": 1.0,
        "min_platforms": 0,
        "dal": None,
        "gap": 0.005,
        "time_limit_s": 60,
    }
    if rules == "all":
        envelopes[1]["min_spend"] = round(budget * 0.05, 3)
        policy.update(_every_rule(candidates))
    return {
        "format": "mission-portfolio/problem",
        "version": 1,
        "mission": {
            "name": f"benchmark n={n}",
            "target": round(full_value * budget_share * target_share * 2, 3),
            "unit": "units",
        },
        "years": YEARS,
        "envelopes": envelopes,
        "candidates": candidates,
        "policy": policy,
        "scenarios": {"count": scenarios, "seed": seed + 1000},
        "evaluation": {"count": 20000, "seed": seed + 2000},
    }


def _candidate(rng: np.random.Generator, i: int, n: int, platforms: list[str]) -> dict[str, Any]:
    """Candidate i of n: its last one to three of the STAGES as nested options, then a platform,
    tier, organisation, eligibility and flags drawn at random."""
    scale_cost = float(rng.uniform(2.0, 6.0))
    quality = float(rng.uniform(0.5, 1.5))
    n_opt = int(rng.integers(1, 4))
    opts = [_option(rng, stage, scale_cost, quality) for stage in STAGES[3 - n_opt :]]
    return {
        "id": f"cand-{i:04d}",
        "name": f"Candidate {i}",
        "platform": platforms[int(rng.integers(0, len(platforms)))],
        "tier": "moonshot" if rng.random() < 0.3 else "conventional",
        "organisation": f"org-{int(rng.integers(0, max(2, n // 3)))}",
        "organisation_type": "rising_star" if rng.random() < 0.3 else "incumbent",
        "eligible_envelopes": ["sbc", "ukri"] if rng.random() < 0.5 else ["sbc"],
        "ncr": bool(rng.random() < 0.1),
        "treasury_approved": bool(rng.random() < 0.5),
        "options": opts,
    }


def _option(
    rng: np.random.Generator,
    stage: tuple[str, float, float, float],
    scale_cost: float,
    quality: float,
) -> dict[str, Any]:
    """One option at a stage (id, cost and impact multipliers, typical p): its cost split over
    the years at random, p and impact drawn around the stage's."""
    name, cost_mult, p, impact_mult = stage
    total = round(scale_cost * cost_mult, 2)
    split = rng.dirichlet([2.0, 2.0, 2.0])
    mode = round(impact_mult * quality * float(rng.uniform(0.6, 1.4)), 3)
    return {
        "id": name,
        "cost": {y: round(total * float(s), 3) for y, s in zip(YEARS, split, strict=True)},
        "p_success": round(float(np.clip(p * rng.uniform(0.6, 1.4), 0.03, 0.95)), 3),
        "impact": {"low": round(mode * 0.4, 3), "mode": mode, "high": round(mode * 2.2, 3)},
        "cost_range": {"low": round(total * 0.9, 3), "mode": total, "high": round(total * 1.8, 3)},
    }


def _envelopes(budget: float) -> list[dict[str, Any]]:
    """The SBC (80 %) and UKRI (20 %) envelopes, the budget spread 25 / 35 / 40 % over the years."""
    per_year = [budget * 0.25, budget * 0.35, budget * 0.4]
    return [
        {
            "id": "sbc",
            "name": "Single business case",
            "budget": {y: round(b * 0.8, 3) for y, b in zip(YEARS, per_year, strict=True)},
        },
        {
            "id": "ukri",
            "name": "UKRI envelope",
            "budget": {y: round(b * 0.2, 3) for y, b in zip(YEARS, per_year, strict=True)},
        },
    ]


def _every_rule(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """The policy's other rule families, all switched on: shares, minimum platforms, a DAL cap
    at the 90th percentile of the largest options' costs, a lock, an exclusion, a commitment,
    switching cost against a previous allocation and a P(any success) floor."""
    ids = [c["id"] for c in candidates]
    largest = [sum(c["options"][-1]["cost"].values()) for c in candidates]
    return {
        "max_platform_share": 0.6,
        "min_platforms": 2,
        "min_moonshot_share": 0.1,
        "min_rising_star_share": 0.1,
        "max_organisation_share": 0.4,
        "dal": round(float(np.quantile(largest, 0.9)), 3),
        "dal_mode": "cap",
        "locks": [ids[0]],
        "exclusions": [ids[1]],
        "commitments": [f"{ids[2]}/{candidates[2]['options'][0]['id']}"],
        "previous": {ids[3]: candidates[3]["options"][0]["id"]},
        "switching_cost": 0.0001,
        "min_p_any_success": 0.5,
    }
