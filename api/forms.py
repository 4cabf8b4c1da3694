"""HTML forms <-> domain models. Field names are dotted paths (``options.0.impact.low``) so a
validation error's location names the exact input, and the form is re-shown with the values typed.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from portfolio.domain import display, run_policy
from portfolio.domain.errors import InvalidInput, validation_errors
from portfolio.domain.model import Candidate, EvidenceKind, Mission, Score
from portfolio.domain.run_policy import RunPolicy, RunSettings

Errors = list[tuple[str, str]]
MAX_OPTIONS = 5
THREE = ("low", "most_likely", "high")


def form_version(values: dict[str, Any]) -> int:
    """The version of the data an edit form was opened on (its hidden ``version`` field). Every
    edit form must send it back: without it a change made meanwhile by someone else (or in
    another window) could be overwritten unseen, so a form without it is refused."""
    raw = str(values.get("version", "")).strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise InvalidInput.single(
            "form",
            "this form is incomplete or out of date (it does not say which version of the data "
            "it was opened on): reload the page and make your change again",
        )
    return int(raw)


def values_of(form: FormData) -> dict[str, Any]:
    """Form values to re-show: single fields as strings, repeated fields (checkboxes) as lists."""
    out: dict[str, Any] = {}
    for key in form:
        items = [str(v) for v in form.getlist(key)]
        out[key] = items if len(items) > 1 or key in MULTI_FIELDS else items[0]
    return out


MULTI_FIELDS = {"eligible_envelopes"}


def _text(values: dict[str, Any], name: str) -> str:
    value = values.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def parse_number(
    values: dict[str, Any],
    name: str,
    errors: Errors,
    *,
    required: bool = True,
    integer: bool = False,
) -> float | int | None:
    """The one reading of a number typed in a form (thousands separators and a £ sign are
    allowed): the number, or None with the field's error appended. NaN and infinities are
    refused here; each model's own rules then hold the value to its range."""
    raw = _text(values, name).replace(",", "").replace("£", "")
    if raw == "":
        if required:
            errors.append((name, "enter a number"))
        return None
    try:
        number = int(raw) if integer else float(raw)
    except ValueError:
        errors.append((name, "must be a whole number" if integer else "must be a number"))
        return None
    if isinstance(number, float) and not math.isfinite(number):
        errors.append((name, "must be a finite number"))
        return None
    return number


def _three(values: dict[str, Any], prefix: str, errors: Errors, required: bool) -> Any:
    raw = {k: _text(values, f"{prefix}.{k}") for k in THREE}
    if not required and not any(raw.values()):
        return None
    return {k: parse_number(values, f"{prefix}.{k}", errors) for k in THREE}


def _option_rows(values: dict[str, Any]) -> list[int]:
    rows = []
    for i in range(MAX_OPTIONS):
        prefix = f"options.{i}."
        if any(_text(values, k) for k in values if k.startswith(prefix)):
            rows.append(i)
    return rows


def candidate_from_form(
    values: dict[str, Any],
    years: list[str],
    *,
    fixed_id: str | None = None,
    keep: Candidate | None = None,
) -> tuple[Candidate | None, Errors]:
    """Build a Candidate from the form; ``keep`` supplies the fields the form never changes
    (``treasury_approved``: only Treasury's decision on a request sets it)."""
    errors: Errors = []
    rows = _option_rows(values)
    options: list[dict[str, Any]] = []
    for i in rows:
        p = f"options.{i}"
        cost_profile = {}
        for year in years:
            amount = parse_number(values, f"{p}.cost_profile.{year}", errors, required=False)
            if amount is not None:
                cost_profile[year] = amount
        options.append(
            {
                "id": _text(values, f"{p}.id"),
                "name": _text(values, f"{p}.name"),
                "p_success": parse_number(values, f"{p}.p_success", errors),
                "cost_profile": cost_profile,
                "cost_range": _three(values, f"{p}.cost_range", errors, required=False),
                "impact": _three(values, f"{p}.impact", errors, required=True),
            }
        )
    if not rows:
        errors.append(("options.0.id", "give at least one funding option"))
    eligible = values.get("eligible_envelopes", [])
    data: dict[str, Any] = {
        "id": fixed_id or _text(values, "id"),
        "name": _text(values, "name"),
        "description": _text(values, "description"),
        "organisation": _text(values, "organisation"),
        "organisation_type": _text(values, "organisation_type"),
        "platform": _text(values, "platform"),
        "tier": _text(values, "tier"),
        "trl": parse_number(values, "trl", errors, integer=True),
        "eligible_envelopes": eligible if isinstance(eligible, list) else [eligible],
        "ncr": bool(values.get("ncr")),
        "commercially_sensitive": bool(values.get("commercially_sensitive")),
        "treasury_approved": keep.treasury_approved if keep else False,
        "registered_by": keep.registered_by if keep else None,
        "options": options,
    }
    try:
        candidate = Candidate.model_validate(data)
    except ValidationError as exc:
        found = []
        for field, rule in validation_errors(exc):
            parts = field.split(".")
            if len(parts) > 1 and parts[0] == "options" and parts[1].isdigit():
                parts[1] = str(rows[int(parts[1])])  # back to the row the user typed in
            found.append((".".join(parts), rule))
        return None, _together(errors, found)
    return (None, errors) if errors else (candidate, [])


def _together(typed: Errors, rules: Errors) -> Errors:
    """Every problem at once: what could not be read as typed, then the model's rules broken
    by the other fields (a field already in error is not named twice)."""
    named = {field for field, _ in typed}
    return typed + [(field, rule) for field, rule in rules if field not in named]


def candidate_values(candidate: Candidate) -> dict[str, Any]:
    """The form values that show an existing candidate."""
    values: dict[str, Any] = {
        "id": candidate.id,
        "name": candidate.name,
        "description": candidate.description,
        "organisation": candidate.organisation,
        "organisation_type": candidate.organisation_type.value,
        "platform": candidate.platform,
        "tier": candidate.tier.value,
        "trl": str(candidate.trl),
        "eligible_envelopes": list(candidate.eligible_envelopes),
        "ncr": "on" if candidate.ncr else "",
        "commercially_sensitive": "on" if candidate.commercially_sensitive else "",
    }
    for i, o in enumerate(candidate.options):
        p = f"options.{i}"
        values[f"{p}.id"], values[f"{p}.name"] = o.id, o.name
        values[f"{p}.p_success"] = _fmt(o.p_success)
        for year, amount in o.cost_profile.items():
            values[f"{p}.cost_profile.{year}"] = _fmt(amount)
        for k in THREE:
            values[f"{p}.impact.{k}"] = _fmt(getattr(o.impact, k))
            if o.cost_range is not None:
                values[f"{p}.cost_range.{k}"] = _fmt(getattr(o.cost_range, k))
    return values


def _fmt(value: float) -> str:
    return repr(value).removesuffix(".0") if value == value else ""


def mission_from_form(
    values: dict[str, Any], current: Mission | None
) -> tuple[Mission | None, Errors]:
    """Build the edited mission: target, deadline, years, DAL and envelopes (budget per year)."""
    errors: Errors = []
    years = [y.strip() for y in _text(values, "years").replace(",", " ").split() if y.strip()]
    deadline_raw = _text(values, "deadline")
    deadline: dt.date | None = None
    try:
        deadline = dt.date.fromisoformat(deadline_raw)
    except ValueError:
        errors.append(("deadline", "must be a date such as 2030-03-31"))
    envelopes = []
    for i in range((len(current.envelopes) if current else 1) + 1):
        p = f"envelopes.{i}"
        if not any(_text(values, k) for k in values if k.startswith(p + ".")):
            continue
        budget = {}
        for year in years:
            amount = parse_number(values, f"{p}.budget.{year}", errors, required=False)
            budget[year] = amount if amount is not None else 0.0
        envelopes.append(
            {
                "id": _text(values, f"{p}.id"),
                "name": _text(values, f"{p}.name"),
                "budget": budget,
                "min_spend": parse_number(values, f"{p}.min_spend", errors, required=False),
            }
        )
    data = {
        "slug": current.slug if current else _text(values, "slug"),
        "name": _text(values, "name"),
        "description": _text(values, "description"),
        "target": parse_number(values, "target", errors),
        "unit": _text(values, "unit"),
        "deadline": deadline,
        "years": years,
        "dal": parse_number(values, "dal", errors),
        "dal_mode": _text(values, "dal_mode") or "flag",
        "envelopes": envelopes,
    }
    if current is not None:  # what this form does not show stays as it is
        data.update(
            {
                k: getattr(current, k)
                for k in ("aggregation", "kill_threshold", "rag_green", "rag_amber", "policy")
            }
        )
    try:
        mission = Mission.model_validate(data)
    except ValidationError as exc:
        return None, _together(errors, validation_errors(exc))
    return (None, errors) if errors else (mission, [])


def mission_values(mission: Mission) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": mission.name,
        "description": mission.description,
        "target": _fmt(mission.target),
        "unit": mission.unit,
        "deadline": mission.deadline.isoformat(),
        "years": " ".join(mission.years),
        "dal": _fmt(mission.dal),
        "dal_mode": mission.dal_mode,
    }
    for i, env in enumerate(mission.envelopes):
        p = f"envelopes.{i}"
        values[f"{p}.id"], values[f"{p}.name"] = env.id, env.name
        values[f"{p}.min_spend"] = _fmt(env.min_spend) if env.min_spend is not None else ""
        for year, amount in env.budget.items():
            values[f"{p}.budget.{year}"] = _fmt(amount)
    return values


OBJECTIVES = [
    ("p_target", "Maximise the probability of reaching the target"),
    ("cvar", "Maximise expected impact, penalising the shortfall in bad cases (CVaR)"),
    ("capped", "Maximise expected impact counted up to the target"),
    ("expected", "Maximise expected impact (the deterministic business-case ranking)"),
]
PERCENT_FIELDS = {
    "max_platform_share": "Largest share of spend on one platform",
    "min_moonshot_share": "Smallest share of spend on moonshots",
    "min_rising_star_share": "Smallest share of spend on rising stars",
    "max_organisation_share": "Largest share of spend on one organisation",
}
RUN_DEFAULTS: dict[str, str] = {
    "objective": "p_target",
    "max_platform_share": "50",
    "min_platforms": "2",
    "min_moonshot_share": "0",
    "min_rising_star_share": "0",
    "max_organisation_share": "100",
    "carry_forward": "on",
    "correlation": "0.5",
    "cvar_alpha": "0.9",
    "cvar_lambda": "1",
    "min_p_any_success": "",
    "scenarios": str(run_policy.DEFAULT_SCENARIOS),
    "seed": "42",
    "time_limit_s": "60",
    "solver": "highs",
    "note": "",
    "budget_scale": "100",
    "switching_loss": "0",
    "over_programming": "0",
    "max_overrun_probability": "20",
    "bring_forward": "0",
}
#: the money fields of the run form, typed as percentages from 0 to 100 (empty: 0, and for the
#: overrun limit, no limit)
MONEY_PERCENTS = ("over_programming", "max_overrun_probability", "bring_forward", "switching_loss")
#: every field of the run form typed as a percentage: a rule the policy built from them breaks
#: is said in per cent, ``validation_errors(exc, percent_fields=RUN_PERCENT_FIELDS)``
RUN_PERCENT_FIELDS = frozenset(
    {*PERCENT_FIELDS, *MONEY_PERCENTS, "min_p_any_success", "budget_scale"}
)


def run_values(
    policy: dict[str, Any] | None,
    scenarios: dict[str, Any] | None,
    overrides: dict[str, str] | None = None,
    switching_loss: float | None = None,
) -> dict[str, Any]:
    """Form values for a run, from the mission's stored policy or an earlier run's (or the
    defaults); `switching_loss` is the share of de-committed money lost (0–1)."""
    values: dict[str, Any] = dict(RUN_DEFAULTS)
    for candidate, reason in (overrides or {}).items():
        choice = "lock" if candidate in (policy or {}).get("locks", []) else "exclude"
        values[f"override.{candidate}"], values[f"override_reason.{candidate}"] = choice, reason
    if policy:
        for key in PERCENT_FIELDS:
            if key in policy:
                values[key] = _fmt(round(policy[key] * 100, 6))
        for key in (
            "objective",
            "min_platforms",
            "correlation",
            "cvar_alpha",
            "cvar_lambda",
            "time_limit_s",
        ):
            if key in policy:
                values[key] = str(policy[key]) if key == "objective" else _fmt(policy[key])
        values["carry_forward"] = "on" if policy.get("carry_forward", True) else ""
        p_any = policy.get("min_p_any_success")
        values["min_p_any_success"] = _fmt(round(p_any * 100, 6)) if p_any is not None else ""
        for key in ("over_programming", "bring_forward"):
            values[key] = _fmt(round(float(policy.get(key, 0.0) or 0.0) * 100, 6))
        if "max_overrun_probability" in policy:
            eps = policy["max_overrun_probability"]
            values["max_overrun_probability"] = _fmt(round(eps * 100, 6)) if eps is not None else ""
    if switching_loss is not None:
        values["switching_loss"] = _fmt(round(switching_loss * 100, 6))
    if scenarios and "count" in scenarios:
        values["scenarios"], values["seed"] = str(scenarios["count"]), str(scenarios["seed"])
    return values


def _share(values: dict[str, Any], key: str, errors: Errors, *, required: bool) -> float | None:
    """A field typed as a percentage from 0 to 100, as a share from 0 to 1; None when it is empty
    or wrong (the error is then added to ``errors``)."""
    pct = parse_number(values, key, errors, required=required)
    if pct is not None and not 0 <= pct <= 100:
        errors.append((key, "must be a percentage from 0 to 100"))
        return None
    return None if pct is None else pct / 100


#: the run form's whole-number fields and bounded reals, checked against the bounds of the run's
#: own model so the JSON API refuses exactly the same
_POLICY_BOUNDED = ("min_platforms", "correlation", "cvar_alpha", "cvar_lambda", "time_limit_s")
_SETTINGS_BOUNDED = ("scenarios", "seed")
_WHOLE_NUMBERS = ("min_platforms", "scenarios", "seed")


def _bounded(values: dict[str, Any], errors: Errors) -> dict[str, float]:
    """The run form's bounded numbers (``_POLICY_BOUNDED`` and ``_SETTINGS_BOUNDED``), each
    within its model's bounds; a number outside them is added to ``errors`` and left out."""
    out: dict[str, float] = {}
    for model, keys in ((RunPolicy, _POLICY_BOUNDED), (RunSettings, _SETTINGS_BOUNDED)):
        for key in keys:
            lo, hi = run_policy.limits(model, key)
            number = parse_number(values, key, errors, integer=key in _WHOLE_NUMBERS)
            if number is not None and not lo <= number <= hi:
                errors.append((key, f"must be from {_fmt(lo)} to {_fmt(hi)}"))
            elif number is not None:
                out[key] = number
    return out


def _overrides(
    values: dict[str, Any], errors: Errors
) -> tuple[list[str], list[str], dict[str, str]]:
    """The run form's locks and exclusions (``override.<candidate>``: lock or exclude), and the
    reason given for each (``override_reason.<candidate>``, required)."""
    locks: list[str] = []
    exclusions: list[str] = []
    reasons: dict[str, str] = {}
    for key in sorted(values):
        if not key.startswith("override.") or not _text(values, key):
            continue
        candidate = key.removeprefix("override.")
        choice = _text(values, key)
        reason = _text(values, f"override_reason.{candidate}")
        if choice not in ("lock", "exclude"):
            errors.append((key, "choose lock, exclude or neither"))
            continue
        if not reason:
            errors.append(
                (f"override_reason.{candidate}", f"give the reason to {choice} this candidate")
            )
        (locks if choice == "lock" else exclusions).append(candidate)
        reasons[candidate] = reason[:1000]
    return locks, exclusions, reasons


def run_from_form(values: dict[str, Any]) -> tuple[dict[str, Any] | None, Errors]:
    """The policy and run settings from the optimiser form; shares are typed as percentages."""
    errors: Errors = []
    objective = _text(values, "objective")
    if objective not in {key for key, _ in OBJECTIVES}:
        errors.append(("objective", "choose an objective"))
    policy: dict[str, Any] = {
        "objective": objective,
        "carry_forward": bool(values.get("carry_forward")),
    }
    for key in PERCENT_FIELDS:
        share = _share(values, key, errors, required=True)
        if share is not None:
            policy[key] = share
    policy["min_p_any_success"] = _share(values, "min_p_any_success", errors, required=False)
    bounded = _bounded(values, errors)
    settings = {key: bounded.pop(key) for key in _SETTINGS_BOUNDED if key in bounded}
    policy.update(bounded)
    solver = _text(values, "solver") or "highs"
    if solver not in ("highs", "cbc"):
        errors.append(("solver", "choose HiGHS or CBC"))
    scale = parse_number(values, "budget_scale", errors, required=False)
    if scale is not None and not 10 <= scale <= 300:
        errors.append(("budget_scale", "must be from 10 to 300 per cent"))
    money = {key: _share(values, key, errors, required=False) for key in MONEY_PERCENTS}
    for key in ("over_programming", "bring_forward"):
        policy[key] = money[key] or 0.0
    policy["max_overrun_probability"] = money["max_overrun_probability"]
    if policy["bring_forward"] and not policy["carry_forward"]:
        errors.append(
            ("bring_forward", "must be 0 unless money may move between years (tick the box)")
        )
    policy["locks"], policy["exclusions"], overrides = _overrides(values, errors)
    if errors:
        return None, errors
    return {
        "policy": policy,
        "solver": solver,
        "note": _text(values, "note")[:500],
        "overrides": overrides,
        "budget_scale": (scale or 100.0) / 100,
        "switching_loss": money["switching_loss"] or 0.0,
        **settings,
    }, []


#: the evidence form's choices of what happened, as the form names them
EVIDENCE_KINDS = [(kind.value, display.name_of(kind)) for kind in EvidenceKind]

EVIDENCE_LABELS = {
    "candidate": "Candidate",
    "kind": "What happened",
    "summary": "Summary",
    "date": "Date",
    "diagnosticity": "Diagnosticity (milestones)",
    "trl": "New TRL (TRL change)",
    "cost_actual": "Spent to date, £m (cost actuals)",
    "cost_planned": "Planned to date, £m (cost actuals)",
    "outcome": "Stage-gate outcome",
    "option": "Option the stage gate concerns",
    "quarter": "Quarter",
}
"""The evidence form's fields as the form labels them (the candidate page and the quarter's
evidence page show the same form)."""


def evidence_from_form(
    values: dict[str, Any], candidate_id: str, quarter: str, today: dt.date, errors: Errors
) -> dict[str, Any]:
    """The evidence form's values as the fields of an evidence record about ``candidate_id`` in
    ``quarter`` (dated ``today`` when no date is given); each number that is not one is added to
    ``errors`` (through the one number path)."""
    diagnosticity = parse_number(values, "diagnosticity", errors, required=False)
    return {
        "candidate": candidate_id,
        "quarter": quarter,
        "kind": values.get("kind", ""),
        "date": values.get("date") or today.isoformat(),
        "summary": str(values.get("summary", "")),
        "diagnosticity": 1.0 if diagnosticity is None else diagnosticity,  # empty: the default
        "trl": parse_number(values, "trl", errors, required=False, integer=True),
        "cost_actual": parse_number(values, "cost_actual", errors, required=False),
        "cost_planned": parse_number(values, "cost_planned", errors, required=False),
        "outcome": {"succeeded": True, "failed": False}.get(str(values.get("outcome", ""))),
        "option": str(values.get("option", "")) or None,
    }


def scores_from_form(
    values: dict[str, Any], candidate: Candidate, member: str, quarter: str
) -> tuple[list[Score], Errors]:
    """A member's scores of each option of ``candidate`` from the scoring form (partial values
    are fine for a draft; the service checks completeness on submission)."""
    errors: Errors = []
    scores: list[Score] = []
    for i, option in enumerate(candidate.options):
        p = f"options.{i}"
        data: dict[str, Any] = {
            "member": member,
            "quarter": quarter,
            "candidate": candidate.id,
            "option": option.id,
            "rationale": _text(values, f"{p}.rationale"),
            "p_success": parse_number(values, f"{p}.p_success", errors, required=False),
            "trl": parse_number(values, f"{p}.trl", errors, required=False, integer=True),
            "confidence": _text(values, f"{p}.confidence") or None,
        }
        for part in ("cost", "impact"):
            raw = {k: _text(values, f"{p}.{part}.{k}") for k in THREE}
            if any(raw.values()) and not all(raw.values()):
                errors.append(
                    (f"{p}.{part}.low", "give low, most likely and high, or leave all three empty")
                )
                data[part] = None
            else:
                data[part] = _three(values, f"{p}.{part}", errors, required=False)
        try:
            scores.append(Score.model_validate(data))
        except ValidationError as exc:
            errors.extend((f"{p}.{f}", r) for f, r in validation_errors(exc))
    return scores, errors


def score_values(scores: dict[tuple[str, str], Score], candidate: Candidate) -> dict[str, Any]:
    """Form values showing a member's saved scores of ``candidate``."""
    values: dict[str, Any] = {}
    for i, option in enumerate(candidate.options):
        score = scores.get((candidate.id, option.id))
        if score is None:
            continue
        p = f"options.{i}"
        if score.not_competent:
            values["not_competent"] = "on"
        values[f"{p}.rationale"] = score.rationale
        if score.p_success is not None:
            values[f"{p}.p_success"] = _fmt(score.p_success)
        if score.trl is not None:
            values[f"{p}.trl"] = str(score.trl)
        if score.confidence is not None:
            values[f"{p}.confidence"] = score.confidence.value
        for part in ("cost", "impact"):
            tp = getattr(score, part)
            if tp is not None:
                for k in THREE:
                    values[f"{p}.{part}.{k}"] = _fmt(getattr(tp, k))
    return values
