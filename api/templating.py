"""Jinja2 set-up and the one function routes use to render a page."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

import templates as templates_package
from api.flash import clear_banner, pop_banner
from portfolio.domain import display, montecarlo
from portfolio.domain.model import ROLE_LABELS, Role

TEMPLATE_DIR = Path(templates_package.__file__).parent
STATIC_DIR = TEMPLATE_DIR / "static"

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


def _money(value: float | None) -> str:
    if value is None:
        return "–"
    return f"£{value:,.1f}m"


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    value = round(value, digits) + 0.0  # no "-0" for a tiny negative
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:,.0f}"


def _datetime(value: dt.datetime | None) -> str:
    return value.strftime("%d %b %Y %H:%M UTC") if value else ""


def _label(value: Any) -> str:
    text = str(getattr(value, "value", value))
    return text.replace("_", " ").replace("-", " ").capitalize()


def _role(value: Role | str) -> str:
    return ROLE_LABELS.get(Role(value), str(value))


def _json_pretty(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)


FIELD_WORDS = {
    "p_success": "probability of success",
    "cost_profile": "spend",
    "cost_range": "total cost",
    "most_likely": "most likely",
    "trl": "TRL",
    "dal": "Delegated Authority Limit",
    "dal_mode": "awards above the limit",
    "min_spend": "minimum spend",
    "id": "identifier",
    "eligible_envelopes": "may be funded from",
    "organisation_type": "organisation type",
    "display_name": "full name",
    "over_programming": "over-programming (% above the budgets)",
    "max_overrun_probability": "highest chance of overrunning the money available (%)",
    "bring_forward": "next year's budget that may be brought forward (%)",
    "switching_loss": "money lost when an award is de-committed (%)",
    "budget_scale": "envelopes at (% of their budgets)",
    # the rest as the forms label them (a form whose words differ passes field_labels)
    "max_platform_share": "largest share of spend on one platform (%)",
    "min_moonshot_share": "smallest share of spend on moonshots (%)",
    "min_rising_star_share": "smallest share of spend on rising stars (%)",
    "max_organisation_share": "largest share of spend on one organisation (%)",
    "min_p_any_success": "chance at least one funded option succeeds, at least (%)",
    "min_platforms": "fewest platforms funded",
    "correlation": "correlation within a platform",
    "cvar_alpha": "CVaR level α",
    "cvar_lambda": "CVaR weight λ",
    "time_limit_s": "time limit (seconds)",
    "carry_forward": "money may move between years",
    "slug": "identifier",
    "target": "target impact",
    "years": "financial years funded",
    "rag": "override the rating",
    "rag_reason": "justification (published)",
    "body": "update letter",
    "kind": "what happened",
    "diagnosticity": "diagnosticity (milestones)",
    "cost_actual": "spent to date, £m (cost actuals)",
    "cost_planned": "planned to date, £m (cost actuals)",
    "outcome": "stage-gate outcome",
    "platform": "platform (technology family)",
    "method": "how scores are pooled",
    "realization": "true value, if known",
    "current_password": "current password",
    "new_password": "new password",
    "confirm_password": "new password again",
    "expires_in_days": "expires after",
    "seal": "seal from a published update",
    "is_admin": "administrator",
}

#: fields named by a candidate's identifier (``override_reason.<candidate>``), as the forms
#: label them around the candidate's name
CANDIDATE_FIELDS = {
    "override": "override for {}",
    "override_reason": "reason for the override of {}",
    "reason": "reason for the change to {}",
    "contracted": "contracted: {}",
}


def field_label(name: str, names: Mapping[str, str] | None = None) -> str:
    """Words for a dotted field path: ``options.0.p_success`` -> ``Option 1 probability of
    success``; with ``names`` (candidate id -> name), ``override_reason.atj-teesside`` ->
    ``Reason for the override of Teesside alcohol-to-jet plant``."""
    if " " in name:  # already words, e.g. "row 3, column p_success" from a CSV import
        return name[:1].upper() + name[1:]
    head, _, candidate = name.partition(".")
    if head in CANDIDATE_FIELDS and candidate and "." not in candidate:
        text = CANDIDATE_FIELDS[head].format((names or {}).get(candidate, candidate))
        return text[:1].upper() + text[1:]
    words: list[str] = []
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.isdigit() and i > 0 and parts[i - 1] in ("options", "envelopes"):
            words[-1] = f"{parts[i - 1][:-1]} {int(part) + 1}"
        elif i > 0 and parts[i - 1] == "cost_profile":
            words[-1] = f"spend in {part}"
        elif i > 0 and parts[i - 1] == "budget":
            words[-1] = f"budget in {part}"
        else:
            words.append(FIELD_WORDS.get(part, part.replace("_", " ")))
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def error_labels(
    errors: Iterable[tuple[str, str]],
    names: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``field_labels`` for a form's error summary: the form's own ``labels`` first, then every
    other field in error in words, a candidate named by ``names`` (candidate id -> name).
    Routes call it as ``field_labels=error_labels(errors, names, FORM_LABELS)``."""
    out = dict(labels or {})
    for field, _ in errors:
        out.setdefault(field, field_label(field, names))
    return out


def _letter(text: str) -> Markup:
    """The update letter (``# ``/``## `` headings, ``- `` bullets, blank-line paragraphs) as
    HTML; every piece of text is escaped."""
    html: list[str] = []
    items: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            html.append(f'<p class="govuk-body">{escape(" ".join(paragraph))}</p>')
            paragraph.clear()
        if items:
            html.append(
                '<ul class="govuk-list govuk-list--bullet">'
                + "".join(f"<li>{escape(i)}</li>" for i in items)
                + "</ul>"
            )
            items.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("## "):
            flush()
            html.append(f'<h2 class="govuk-heading-m">{escape(stripped[3:])}</h2>')
        elif stripped.startswith("# "):
            flush()
            html.append(f'<h2 class="govuk-heading-l">{escape(stripped[2:])}</h2>')
        elif stripped.startswith("- "):
            if paragraph:
                flush()
            items.append(stripped[2:])
        else:
            if items:
                flush()
            paragraph.append(stripped)
    flush()
    return Markup("\n".join(html))


def _share(
    metrics: montecarlo.MetricsBlock | montecarlo.Interval, name: str = "", digits: int = 1
) -> Markup:
    """Share ``name`` of a result's metrics block (``out_of_sample``, ``in_sample``), or an
    interval itself, with its 95 % Monte-Carlo interval (``portfolio.domain.montecarlo``):
    "50.9 % (95 % interval 50.2–51.6 %)"; only the share where the block states no scenario
    count, "–" where it has no value."""
    if isinstance(metrics, montecarlo.Interval):
        iv: montecarlo.Interval | None = metrics
    else:
        block = montecarlo.block_values(metrics)
        value = block.get(name)
        if value is None:
            return Markup("–")
        iv = montecarlo.interval(block, name)
        if iv is None:
            return Markup(f"{float(value) * 100:.{digits}f} %")
    assert iv is not None
    shown, bounds = montecarlo.interval_words(iv, digits)
    return Markup(
        f'{escape(shown)} <span class="app-interval" data-low="{iv.low:.6f}" '
        f'data-high="{iv.high:.6f}" data-scenarios="{iv.scenarios}">({escape(bounds)})</span>'
    )


def field_id(name: str) -> str:
    """HTML id for a form field name (``options.0.p_success`` -> ``options-0-p_success``)."""
    return "f-" + "".join(c if c.isalnum() or c in "_" else "-" for c in name)


templates.env.filters.update(
    money=_money,
    number=_number,
    datetime=_datetime,
    label=_label,
    role=_role,
    pretty=_json_pretty,
    field_id=field_id,
    field_label=field_label,
    letter=_letter,
    display=display.name_of,
    objective=display.objective_name,
    platform=display.platform_name,
    share=_share,
)
templates.env.globals.update(policy_rows=display.policy_rows, envelope_name=display.envelope_name)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    auth = getattr(request.state, "auth", None)
    ctx: dict[str, Any] = {
        "current_user": auth.user if auth else None,
        "csrf_token": auth.csrf_token if auth else None,
        "csp_nonce": getattr(request.state, "csp_nonce", ""),
        "errors": [],
        "values": {},
    }
    ctx.update(context or {})
    error_map: dict[str, str] = {}
    for field, rule in ctx["errors"]:
        error_map.setdefault(field, rule)
    ctx["error_map"] = error_map
    # a success banner waiting from the redirect that led here (api.flash): shown once, on a
    # successful page (a form shown again with errors keeps it for the page after)
    banner = pop_banner(request) if status_code < 400 else None
    ctx.setdefault("banner", banner)
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    if banner:
        clear_banner(response)
    return response
