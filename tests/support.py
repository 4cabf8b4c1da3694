"""Helpers the tests share (import as ``from support import login``)."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

DEMO_PASSWORD = "demo-password-1"
DEMO = "uk-air-travel"


def login(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> str:
    """Sign ``client`` in through the login form; returns the session's CSRF token."""
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token, "the login page has no login token"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "login_token": token.group(1),
            "next": "/",
            "csrf_token": csrf.group(1) if csrf else "",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, f"login as {username} failed: {response.status_code}"
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    page = client.get("/account")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "no CSRF token on the account page"
    return match.group(1)


def app_routes(app: object) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every API route of ``app``, through included routers."""
    try:  # FastAPI ≥ 0.16x keeps included routers as nodes; this walks them
        from fastapi.routing import iter_route_contexts

        found = [(c.path, c.original_route) for c in iter_route_contexts(app.routes)]  # type: ignore[attr-defined]
    except ImportError:  # older FastAPI flattens routes at include time
        found = [(getattr(r, "path", ""), r) for r in app.routes]  # type: ignore[attr-defined]
    return [
        (method, path, route)
        for path, route in found
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]
