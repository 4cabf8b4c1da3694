"""Jinja2 set-up and the one function routes use to render a page."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

import templates as templates_package
from api.flash import clear_banner, pop_banner
from portfolio import display
from portfolio.model import ROLE_LABELS, Role

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
}


def field_label(name: str) -> str:
    """Words for a dotted field path: ``options.0.p_success`` -> ``Option 1 probability of
    success``."""
    if " " in name:  # already words, e.g. "row 3, column p_success" from a CSV import
        return name[:1].upper() + name[1:]
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
