"""Jinja2 set-up and the one function routes use to render a page."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

import templates as templates_package
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
)


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
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
