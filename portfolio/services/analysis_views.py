"""What the pages and the report say of a finished analysis of a run: a summary in a sentence or
two, the value of information as a table with its margins, and a priced rule in people's words."""

from __future__ import annotations

import math
from typing import Any

from portfolio.domain import display


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def summary(kind: str, result: dict[str, Any] | None) -> str:
    """A finished analysis in one or two sentences for the run page and the report; the tables
    and charts beside it hold the detail. Empty when there is nothing to say."""
    if not result:
        return ""
    if kind in ("frontier", "risk_frontier"):
        points = [p for p in result.get("points", []) if p.get("p_target") is not None]
        if not points:
            return "No setting of the sweep found a portfolio."
        first, last = points[0], points[-1]
        chosen = result.get("chosen")

        def at(p: dict[str, Any]) -> str:
            x = float(p["x"])
            return f"{x * 100:g} % of the budget" if kind == "frontier" else f"λ = {x:g}"

        text = (
            f"P(target) is {_pct(first['p_target'])} at {at(first)} and "
            f"{_pct(last['p_target'])} at {at(last)}."
        )
        if chosen and chosen.get("p_target") is not None:
            text += f" This portfolio ({at(chosen)}): {_pct(chosen['p_target'])}."
        return text
    if kind == "core":
        rows = result.get("candidates", [])
        core = [r["name"] for r in rows if r.get("classification") == "core"]
        exterior = [r for r in rows if r.get("classification") == "exterior"]
        drawn = (
            "the council's scores and the scenarios drawn again"
            if result.get("method") == "council"
            else "the estimates and the scenarios drawn again"
            if result.get("method") == "beta" and result.get("scenario_seeds")
            else "resampled estimates"
        )
        text = (
            f"Over {result.get('solved', 0)} re-solves with {drawn}, {len(core)} of "
            f"{len(rows)} candidates are funded almost always (core), {len(exterior)} almost "
            f"never, and {len(rows) - len(core) - len(exterior)} depend on the estimates "
            "(borderline: funded in between, or too close to call)."
        )
        if core:
            shown = ", ".join(core[:5]) + (f" and {len(core) - 5} more" if len(core) > 5 else "")
            text += f" Core: {shown}."
        return text
    if kind == "price":
        rows = [r for r in result.get("rows", []) if r.get("delta_objective") is not None]
        if not rows:
            return "No rule of this policy could be priced."
        worst = max(rows, key=lambda r: float(r["delta_objective"]))
        free = sum(1 for r in rows if abs(float(r["delta_objective"])) < 1e-6)
        if abs(float(worst["delta_objective"])) < 1e-6:
            return (
                f"None of the {len(rows)} rules priced costs anything: relaxing any one of "
                "them gains nothing."
            )
        change = worst.get("delta_p_target")
        text = f"The costliest rule is “{worst.get('name') or worst['label']}”"
        text += (
            f": relaxing it would change P(target) by {float(change) * 100:+.1f} points."
            if change is not None
            else "."
        )
        if free:
            text += f" {free} of the {len(rows)} rules priced cost nothing."
        return text
    if kind == "voi":
        return voi_summary(result)
    return ""


def price_rule_name(rule: str, key: str, label: str, names: dict[str, str]) -> str:
    """A priced rule in people's words: a lock or an exclusion names its candidate (and option)
    instead of their identifiers; every other rule's label is already in words."""
    if rule not in ("lock", "exclusion"):
        return label
    candidate, _, option = key.partition("/")
    who = names.get(candidate, candidate) + (f" ({option})" if option else "")
    return f"Lock on {who}" if rule == "lock" else f"Exclusion of {who}"


def _evppi_scale(objective: str, unit: str) -> tuple[float, str]:
    """How an EVPPI is written: (factor, unit), P(target) points for P(target), else the
    objective's own unit, the mission's."""
    return (100.0, "P(target) points") if objective == "p_target" else (1.0, unit)


def _plus_minus(value: float, margin: float) -> tuple[str, str]:
    """A value and its margin to the same decimals: three significant digits of the margin
    (two decimals at least), no "-0"."""
    digits = 2 if margin <= 0 else min(6, max(2, 2 - math.floor(math.log10(margin))))
    shown = round(value, digits) + 0.0
    return f"{shown:,.{digits}f}", f"{margin:,.{digits}f}"


def voi_view(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the pages show of a finished value of information: the swept candidates with their
    EVPPI ± its 95 % margin, the change in P(target) ± its margin and the verdict, and the names
    of the others by why they were not swept. None for no result, or one computed by an earlier
    method (no ``method``)."""
    if not result or result.get("method") != "evppi":
        return None
    objective = str(result.get("objective", ""))
    factor, unit = _evppi_scale(objective, str(result.get("unit", "")))
    z = float(result.get("z", 1.96))
    rows = []
    for r in result.get("rows", []):
        if r.get("status") != "swept":
            continue
        gain, margin = _plus_minus(factor * float(r["estimate"]), factor * z * float(r["error"]))
        change, change_margin = _plus_minus(
            100 * float(r["p_target_gain"]), 100 * z * float(r["p_target_error"])
        )
        rows.append(
            {
                "name": r["name"],
                "gain": gain,
                "margin": margin,
                "p_target_change": change,
                "p_target_margin": change_margin,
                "changed": f"{r['changed']} of {r['draws']}",
                "separated": bool(r["separated"]),
                "rank": r.get("rank"),
                "negative": float(r["estimate"]) < 0,
            }
        )
    by_status: dict[str, list[str]] = {}
    for r in result.get("rows", []):
        if r.get("status") != "swept":
            by_status.setdefault(str(r.get("status")), []).append(str(r["name"]))
    name = display.objective_name(objective)
    return {
        "rows": rows,
        "screened": by_status.get("screened", []),
        "certain": by_status.get("certain", []),
        "excluded": by_status.get("excluded", []),
        "draws": result.get("draws"),
        "evaluation_scenarios": result.get("evaluation_scenarios"),
        "objective": objective,
        "objective_words": name[:1].lower() + name[1:],
        "unit": unit,
        "belief": result.get("belief"),
    }


def voi_summary(result: dict[str, Any]) -> str:
    """The value of information in two or three sentences: the candidate most worth learning
    about, or that none is separated from Monte-Carlo noise."""
    view = voi_view(result)
    if view is None:
        return (
            "Computed by an earlier method (the value of knowing each outcome, on the "
            "optimisation scenarios); run it again for the expected value of learning each "
            "probability of success."
        )
    separated = [r for r in view["rows"] if r["separated"]]
    if separated:
        best = separated[0]
        text = (
            f"Learning the true probability of success of {best['name']} before deciding is "
            f"worth the most: {best['gain']} ± {best['margin']} {view['unit']} (95 %) on the "
            f"run's objective. {len(separated)} of {len(result.get('rows', []))} candidates are "
            "separated from Monte-Carlo noise; the others are within noise."
        )
    else:
        text = (
            "No candidate's value of information is separated from Monte-Carlo noise over "
            f"{view['draws']} draws of the council's belief: learning any one probability of "
            "success first would not improve this portfolio by a measurable amount."
        )
    if view["screened"]:
        text += (
            f" {len(view['screened'])} candidates were not swept: this portfolio stayed the "
            "same at both ends of their belief."
        )
    return text
