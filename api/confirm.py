"""Confirmation before anything irreversible (publishing, closing a quarter or a scoring round,
ending a contract): the first submit of the form shows a page that says what will happen, in
GOV.UK warning-text style, with a second button; only that button's submit (``confirm=yes``,
with the form's own fields carried along) does it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from starlette.responses import HTMLResponse

from api.templating import render


def confirmed(values: Mapping[str, Any]) -> bool:
    """Whether this submit is the second one, from the confirmation page."""
    return str(values.get("confirm", "")) == "yes"


def confirm_page(
    request: Request,
    *,
    title: str,
    warning: str,
    action: str,
    button: str,
    cancel: str,
    consequences: Sequence[str] = (),
    fields: Mapping[str, Any] | None = None,
    danger: bool = True,
    context: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    """The confirmation page. ``fields`` are the first submit's values to send again (the CSRF
    token and ``confirm`` are added); ``context`` carries ``mission`` and ``ctx`` for the
    navigation."""
    carried = {
        k: "" if v is None else str(v)
        for k, v in (fields or {}).items()
        if k not in ("csrf_token", "confirm")
    }
    return render(
        request,
        "confirm.html",
        {
            **(context or {}),
            "confirm": {
                "title": title,
                "warning": warning,
                "action": action,
                "button": button,
                "cancel": cancel,
                "consequences": list(consequences),
                "fields": carried,
                "danger": danger,
            },
        },
    )
