"""Helpers the tests share (import as ``from support import login``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

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


def add_solved_run(
    db_url: str,
    quarter: str,
    finish: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
    *,
    problem: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    status: str = "optimal",
    **fields: Any,
) -> int:
    """A finished run of the demo's ``quarter`` stored as if solved: a copy of the demo's own run
    of that quarter (the oldest), its problem as ``problem`` rewrites it, ``fields`` over the
    run's, and the result ``finish(result document, problem)`` makes of the demo run's."""
    from portfolio.adapters.database import make_engine
    from portfolio.adapters.unit_of_work import SqlUnitOfWork

    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        template = [r for r in uow.runs.all(DEMO) if r.quarter == quarter][-1]
        solved = template.problem if problem is None else problem(template.problem)
        run_id = uow.runs.add(
            DEMO,
            template.model_copy(
                update={"id": None, "status": "queued", "result": None, "problem": solved, **fields}
            ),
        )
        result = finish(template.result_document() or {}, solved)
        uow.runs.update(run_id, status=status, result=result)
        uow.commit()
    engine.dispose()
    return run_id
