"""Hand-made and random problem documents for the optimiser tests."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import pulp

from optimiser.problem import Problem, load_problem

YEARS = ["2026-27", "2027-28"]


def candidate(
    cid: str,
    *,
    platform: str = "p1",
    cost: float | dict[str, float] = 10.0,
    p: float = 0.5,
    impact: float = 5.0,
    eligible: list[str] | None = None,
    options: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One candidate with a single `main` option unless `options` are given."""
    opts = options or [
        {
            "id": "main",
            "cost": cost,
            "p_success": p,
            "impact": {"low": impact, "mode": impact, "high": impact},
        }
    ]
    return {
        "id": cid,
        "platform": platform,
        "eligible_envelopes": eligible or ["sbc"],
        "options": opts,
        **extra,
    }


def option(oid: str, cost: float | dict[str, float], p: float, impact: float) -> dict[str, Any]:
    return {
        "id": oid,
        "cost": cost,
        "p_success": p,
        "impact": {"low": impact, "mode": impact, "high": impact},
    }


def document(
    candidates: list[dict[str, Any]],
    *,
    budget: float = 100.0,
    envelopes: list[dict[str, Any]] | None = None,
    target: float = 5.0,
    scenarios: dict[str, Any] | None = None,
    **policy: Any,
) -> dict[str, Any]:
    """A problem document with permissive defaults (no hedging rules) unless overridden."""
    base_policy: dict[str, Any] = {
        "objective": "expected",
        "max_platform_share": 1.0,
        "min_platforms": 0,
        "dal": None,
        "time_limit_s": 30,
    }
    base_policy.update(policy)
    return {
        "format": "mission-portfolio/problem",
        "version": 1,
        "mission": {"name": "test", "target": target, "unit": "u"},
        "years": list(YEARS),
        "envelopes": envelopes
        or [{"id": "sbc", "name": "SBC", "budget": {YEARS[0]: budget, YEARS[1]: 0}}],
        "candidates": candidates,
        "policy": base_policy,
        "scenarios": scenarios or {"count": 200, "seed": 1},
        "evaluation": {"count": 500, "seed": 2},
    }


def problem(candidates: list[dict[str, Any]], **kw: Any) -> Problem:
    return load_problem(document(candidates, **kw))


def random_document(seed: int, objective: str) -> dict[str, Any]:
    """A small random instance, explicit scenarios, every rule family switched on at random."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 13))
    n_multi = int(min(n, rng.integers(0, 4), max(0, 8 - n)))
    platforms = ["h2", "saf", "bat"][: int(rng.integers(1, 4))]
    envs = [
        {"id": "sbc", "name": "SBC", "budget": {y: float(rng.integers(5, 40)) for y in YEARS}},
        {"id": "ukri", "name": "UKRI", "budget": {y: float(rng.integers(0, 15)) for y in YEARS}},
    ]
    if rng.random() < 0.3:
        envs[1]["min_spend"] = float(rng.integers(1, 20))
    s_count = int(rng.integers(3, 16))
    cands = []
    impact: dict[str, list[float]] = {}
    for i in range(n):
        n_opt = 2 if i < n_multi else 1
        opts = []
        for j in range(n_opt):
            c0, c1 = (float(v) for v in rng.integers(0, 12, size=2))
            if rng.random() < 0.15:
                c0, c1 = 0.0, 0.0
            cost: float | dict[str, float] = (
                c0 + c1 if rng.random() < 0.2 else {YEARS[0]: c0, YEARS[1]: c1}
            )
            opts.append(
                option(f"o{j}", cost, float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.5, 5)))
            )
            succ = rng.random(s_count) < rng.uniform(0.2, 0.8)
            impact[f"c{i}/o{j}"] = [
                float(round(v, 3)) for v in np.where(succ, rng.uniform(0.5, 6, s_count), 0.0)
            ]
        elig = [["sbc"], ["ukri"], ["sbc", "ukri"]][int(rng.integers(0, 3))]
        cands.append(
            candidate(
                f"c{i}",
                platform=str(rng.choice(platforms)),
                eligible=elig,
                options=opts,
                tier=str(rng.choice(["conventional", "moonshot"])),
                organisation=str(rng.choice(["A", "B", "C", "D"])),
                organisation_type=str(rng.choice(["incumbent", "rising_star"])),
                ncr=bool(rng.random() < 0.2),
                treasury_approved=bool(rng.random() < 0.3),
            )
        )
    policy: dict[str, Any] = {
        "objective": objective,
        "carry_forward": bool(rng.random() < 0.5),
        "max_platform_share": float(rng.choice([1.0, 1.0, 0.6, 0.8])),
        "min_platforms": int(rng.choice([0, 0, 1, 2])),
        "min_moonshot_share": float(rng.choice([0.0, 0.0, 0.2])),
        "min_rising_star_share": float(rng.choice([0.0, 0.0, 0.2])),
        "max_organisation_share": float(rng.choice([1.0, 1.0, 0.7])),
        "dal": float(rng.choice([5.0, 10.0, 15.0])) if rng.random() < 0.5 else None,
        "dal_mode": str(rng.choice(["flag", "cap"])),
        "min_p_any_success": float(rng.choice([0.3, 0.6])) if rng.random() < 0.3 else None,
        "cvar_alpha": float(rng.choice([0.0, 0.5, 0.8])),
        "cvar_lambda": float(rng.choice([0.0, 1.0, 2.0])),
        "time_limit_s": 30,
    }
    ids = [c["id"] for c in cands]
    picks = rng.permutation(ids)
    if rng.random() < 0.3:
        policy["locks"] = [str(picks[0])]
    if rng.random() < 0.3 and n > 1:
        policy["exclusions"] = [str(picks[1])]
    if rng.random() < 0.2 and n > 2:
        policy["commitments"] = [f"{picks[2]}/o0"]
    if rng.random() < 0.3:
        policy["previous"] = {str(picks[-1]): "o0"}
        policy["switching_cost"] = float(rng.choice([0.01, 0.1]))
    target = float(rng.uniform(1, 10))
    doc = document(cands, envelopes=envs, target=target, scenarios={"impact": impact}, **policy)
    return copy.deepcopy(doc)


def random_document_v2(seed: int, objective: str) -> dict[str, Any]:
    """A version 1 random instance turned into version 2 with every money rule on at random:
    bring_forward, over-programming, an overrun limit, realised spend rows (overruns, under-
    spends, and failures that stop spending)."""
    doc = random_document(seed, objective)
    rng = np.random.default_rng(seed + 7_919)
    doc["version"] = 2
    pol = doc["policy"]
    if pol["carry_forward"] and rng.random() < 0.7:
        pol["bring_forward"] = float(rng.choice([0.1, 0.3, 1.0]))
    if rng.random() < 0.7:
        pol["over_programming"] = float(rng.choice([0.1, 0.25, 0.5]))
    if rng.random() < 0.8:
        pol["max_overrun_probability"] = float(rng.choice([0.0, 0.1, 0.25, 0.5]))
    impact = doc["scenarios"]["impact"]
    count = len(next(iter(impact.values())))
    spend: dict[str, list[list[float]]] = {}
    for cand in doc["candidates"]:
        for opt in cand["options"]:
            if rng.random() < 0.3:
                continue  # spends exactly its plan
            cost = opt["cost"] if isinstance(opt["cost"], dict) else {YEARS[0]: opt["cost"]}
            plan = np.array([float(cost.get(y, 0.0)) for y in YEARS])
            key = f"{cand['id']}/{opt['id']}"
            rows = []
            for s in range(count):
                row = plan * float(rng.choice([0.8, 1.0, 1.0, 1.3, 1.7]))
                if impact[key][s] == 0 and rng.random() < 0.5:
                    row[1:] = 0.0  # failed in the first year: stopped spending
                rows.append([float(round(v, 3)) for v in row])
            spend[key] = rows
    if spend:
        doc["scenarios"]["spend"] = spend
    return doc


# ---------------------------------------------------------------------------------------------
# An exhaustive enumerator written independently of the optimiser, straight from the format.


def _cvar(losses: np.ndarray, alpha: float) -> float:
    """min over eta of eta + mean((L - eta)+)/(1 - alpha), evaluated at every breakpoint."""
    candidates = np.concatenate([losses, [0.0]])
    values = [eta + np.maximum(losses - eta, 0).mean() / (1 - alpha) for eta in candidates]
    return float(min(values))


Award = tuple[dict[str, Any], dict[str, Any]]


def _cap(budget: list[float], y: int, carry: bool, ahead: float, scale: float) -> float:
    """Version 2's right-hand side for year y, written from the format's words."""
    if not carry:
        return scale * budget[y]
    money = sum(budget[: y + 1])
    if y < len(budget) - 1:
        money += ahead * budget[y + 1]
    return scale * money


def _flows_feasible(doc: dict[str, Any], chosen: list[Award]) -> bool:
    """Can the chosen awards be split between eligible envelopes within budgets? (a pulp LP)"""
    years, envs = doc["years"], doc["envelopes"]
    carry = doc["policy"].get("carry_forward", True)
    ahead = doc["policy"].get("bring_forward", 0.0)
    scale = 1.0 + doc["policy"].get("over_programming", 0.0)
    lp = pulp.LpProblem("split", pulp.LpMinimize)
    f: dict[tuple[int, str, int], pulp.LpVariable] = {}
    for a, (cand, opt) in enumerate(chosen):
        cost = opt["cost"] if isinstance(opt["cost"], dict) else {years[0]: opt["cost"]}
        for y, year in enumerate(years):
            amount = float(cost.get(year, 0.0))
            if amount <= 0:
                continue
            vars_ = [
                pulp.LpVariable(f"f{a}_{e}_{y}", lowBound=0) for e in cand["eligible_envelopes"]
            ]
            for e_id, v in zip(cand["eligible_envelopes"], vars_, strict=True):
                f[(a, e_id, y)] = v
            if not vars_:
                return False
            lp += pulp.lpSum(vars_) == amount
    for env in envs:
        for y in range(len(years)):
            span = range(y + 1) if carry else [y]
            used = pulp.lpSum(v for (a, e, y2), v in f.items() if e == env["id"] and y2 in span)
            budget = [float(env["budget"].get(year, 0.0)) for year in years]
            lp += used <= _cap(budget, y, carry, ahead, scale)
        if env.get("min_spend"):
            lp += pulp.lpSum(v for (a, e, y2), v in f.items() if e == env["id"]) >= env["min_spend"]
    lp += pulp.lpSum(f.values())
    lp.solve(pulp.HiGHS(msg=False))
    return pulp.LpStatus[lp.status] == "Optimal"


def overruns(doc: dict[str, Any], chosen: list[Award]) -> tuple[int, float]:
    """(scenarios that overrun, mean largest excess) of the chosen awards, from the format."""
    years, pol = doc["years"], doc["policy"]
    carry = pol.get("carry_forward", True)
    ahead = pol.get("bring_forward", 0.0)
    count = len(next(iter(doc["scenarios"]["impact"].values())))
    rows = doc["scenarios"].get("spend") or {}
    total_budget = [
        sum(float(e["budget"].get(year, 0.0)) for e in doc["envelopes"]) for year in years
    ]
    realised = np.zeros((count, len(years)))
    for cand, opt in chosen:
        key = f"{cand['id']}/{opt['id']}"
        if key in rows:
            realised += np.array(rows[key], dtype=float)
        else:
            cost = opt["cost"] if isinstance(opt["cost"], dict) else {years[0]: opt["cost"]}
            realised += np.array([float(cost.get(year, 0.0)) for year in years])[None, :]
    over, excess = 0, 0.0
    for s in range(count):
        largest = -np.inf
        for y in range(len(years)):
            spent = realised[s, : y + 1].sum() if carry else realised[s, y]
            largest = max(largest, spent - _cap(total_budget, y, carry, ahead, 1.0))
        over += int(largest > 1e-9)
        excess += max(0.0, largest)
    return over, excess / count


def enumerate_best(doc: dict[str, Any]) -> float | None:
    """The best objective over every selection that obeys every rule (None: infeasible)."""
    pol = doc["policy"]
    cands = doc["candidates"]
    target = doc["mission"]["target"]
    impact = doc["scenarios"]["impact"]
    years = doc["years"]

    def total(opt: dict[str, Any]) -> float:
        c = opt["cost"]
        return float(sum(c.values())) if isinstance(c, dict) else float(c)

    def refs(ref: str) -> set[tuple[str, str]]:
        cid, _, oid = ref.partition("/")
        cand = next(c for c in cands if c["id"] == cid)
        return {(cid, o["id"]) for o in cand["options"] if not oid or o["id"] == oid}

    scored = []
    for combo in itertools.product(*[[None, *c["options"]] for c in cands]):
        chosen = [(c, o) for c, o in zip(cands, combo, strict=True) if o is not None]
        picked = {(c["id"], o["id"]) for c, o in chosen}
        spend = {c["id"]: total(o) for c, o in chosen}
        tot = sum(spend.values())
        tol = 1e-7 * (1 + tot)
        ok = True
        for c, o in chosen:
            has_cost = total(o) > 0 or (isinstance(o["cost"], dict) and any(o["cost"].values()))
            if has_cost and not c["eligible_envelopes"]:
                ok = False
            if (
                pol.get("dal") is not None
                and pol.get("dal_mode") == "cap"
                and total(o) > pol["dal"]
                and not c.get("treasury_approved")
            ):
                ok = False
        for ref in pol.get("locks", []) + pol.get("commitments", []):
            ok &= bool(refs(ref) & picked)
        for ref in pol.get("exclusions", []):
            ok &= not (refs(ref) & picked)

        def share(key: str, chosen: list[Any] = chosen) -> dict[str, float]:
            out: dict[str, float] = {}
            for c, o in chosen:
                out[c.get(key, "")] = out.get(c.get(key, ""), 0.0) + total(o)
            return out

        by_plat = share("platform")
        if pol.get("max_platform_share", 0.5) < 1:
            ok &= all(v <= pol["max_platform_share"] * tot + tol for v in by_plat.values())
        if pol.get("max_organisation_share", 1.0) < 1:
            by_org: dict[str, float] = {}
            for c, o in chosen:
                name = c.get("organisation") or c["id"]
                by_org[name] = by_org.get(name, 0.0) + total(o)
            ok &= all(v <= pol["max_organisation_share"] * tot + tol for v in by_org.values())
        ok &= len({c["platform"] for c, _ in chosen}) >= pol.get("min_platforms", 2)
        moon = sum(total(o) for c, o in chosen if c.get("tier") == "moonshot")
        ok &= moon >= pol.get("min_moonshot_share", 0.0) * tot - tol
        rising = sum(total(o) for c, o in chosen if c.get("organisation_type") == "rising_star")
        ok &= rising >= pol.get("min_rising_star_share", 0.0) * tot - tol
        rows = (
            np.array([impact[f"{c['id']}/{o['id']}"] for c, o in chosen]).reshape(len(chosen), -1)
            if chosen
            else np.zeros((0, len(next(iter(impact.values())))))
        )
        s_count = rows.shape[1]
        q = pol.get("min_p_any_success")
        if q:
            ok &= (rows > 0).any(axis=0).sum() >= q * s_count - 1e-9
        eps = pol.get("max_overrun_probability")
        if eps is not None and ok:
            ok &= overruns(doc, chosen)[0] <= math.floor(eps * s_count + 1e-9)
        if not ok:
            continue
        per_s = rows.sum(axis=0)
        kind = pol["objective"]
        if kind == "expected":
            value = float(per_s.mean())
        elif kind == "capped":
            value = float(np.minimum(target, per_s).mean())
        elif kind == "p_target":
            value = float((per_s >= target - 1e-9).mean())
        else:
            loss = np.maximum(0.0, target - per_s)
            value = float(per_s.mean() - pol["cvar_lambda"] * _cvar(loss, pol["cvar_alpha"]))
        dropped = 0.0
        for cid, oid in pol.get("previous", {}).items():
            cand = next(c for c in cands if c["id"] == cid)
            prev = total(next(o for o in cand["options"] if o["id"] == oid))
            dropped += max(0.0, prev - spend.get(cid, 0.0))
        value -= pol.get("switching_cost", 0.0) * dropped
        scored.append((value, chosen))
    del years
    scored.sort(key=lambda t: -t[0])
    for value, chosen in scored:
        if _flows_feasible(doc, chosen):
            return value
    return None
