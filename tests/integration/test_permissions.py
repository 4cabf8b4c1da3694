"""Every route of the app, for every kind of caller, is allowed or refused as its declared
permission says. Routes are enumerated from the router, so a new route cannot be forgotten."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from support import DEMO, login

from api.deps import GlobalAccess, MissionAccess
from api.permissions import Perm, allowed
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import (
    CouncilMember,
    Envelope,
    Mission,
    Role,
    Sector,
    User,
)
from portfolio.services import missions as services

OTHER = "other-mission"
PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    # the second step of signing in: it needs the half-signed-in session of the first step
    ("GET", "/login/2fa"),
    ("POST", "/login/2fa"),
    # published quarterly updates and their open data are public by design
    ("GET", "/public"),
    ("GET", "/missions/{slug}/updates"),
    ("GET", "/missions/{slug}/updates/{quarter}"),
    ("GET", "/missions/{slug}/updates/{quarter}/allocation.csv"),
    ("GET", "/missions/{slug}/updates/{quarter}/allocation.json"),
    ("GET", "/api/v1/public"),
    ("GET", "/api/v1/missions/{slug}/updates"),
    ("GET", "/api/v1/missions/{slug}/updates/{quarter}"),
}
# signed-in users may use these whatever their roles: they only show the caller's own things
ANY_USER = {
    ("GET", "/"),
    ("GET", "/account"),
    ("POST", "/account/tokens"),
    ("POST", "/account/tokens/{token_id}/revoke"),
    ("POST", "/account/2fa/setup"),
    ("POST", "/account/2fa/confirm"),
    ("POST", "/account/2fa/disable"),
    ("GET", "/account/password"),
    ("POST", "/account/password"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/me/tokens"),
    ("POST", "/api/v1/me/tokens"),
    ("GET", "/api/v1/missions"),
}
PRINCIPALS = {
    "anonymous": None,
    "ceo": "ceo",
    "council": "council1",
    "treasury": "treasury",
    "admin": "admin",
    "other_ceo": "o-ceo",
    "other_council": "o-council",
    "other_treasury": "o-treasury",
}
SAMPLE = {
    "slug": DEMO,
    "candidate_id": "northsea-hefa",
    "username": "council2",
    "token_id": "999999",
    "run_id": "1",
    "quarter": "2026-27-Q2",
    "label": "2026-27 Q3",
    "question_id": "saf-share-2030",
    "challenge_id": "1",
    "comment_id": "1",
    "kind": "frontier",
    "name": "platform",
    "contract_id": "1",
    "approval_id": "1",
}


def declared_permission(route: APIRoute) -> Perm | None:
    """The permission a route declares through MissionAccess / GlobalAccess, if any."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        call = dependant.call
        if isinstance(call, MissionAccess | GlobalAccess):
            return call.perm
        pending.extend(dependant.dependencies)
    return None


def app_routes(app: object) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every API route, through included routers."""
    try:  # FastAPI ≥ 0.16x keeps included routers as nodes; this walks them
        from fastapi.routing import iter_route_contexts

        found = [(c.path, c.original_route) for c in iter_route_contexts(app.routes)]
    except ImportError:  # older FastAPI flattens routes at include time
        found = [(getattr(r, "path", ""), r) for r in app.routes]
    routes = []
    for path, route in found:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                routes.append((method, path, route))
    assert len(routes) > 50, "the route enumeration found too few routes"
    return routes


def add_other_mission(db_url: str) -> None:
    """A second mission whose people hold the same roles there, and none on the demo mission."""
    from portfolio.adapters.database import make_engine

    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        services.create_mission(
            uow,
            "test",
            Mission(
                slug=OTHER,
                name="Other mission",
                target=1.0,
                deadline="2031-03-31",
                years=["2026-27"],
                envelopes=[Envelope(id="sbc", name="SBC", budget={"2026-27": 1})],
            ),
        )
        for username, role in (
            ("o-ceo", Role.mission_ceo),
            ("o-council", Role.council_member),
            ("o-treasury", Role.treasury_reviewer),
        ):
            services.create_user(
                uow, "test", User(username=username, display_name=username), "demo-password-1"
            )
            services.assign_role(uow, "test", OTHER, username, role)
        services.set_council_member(
            uow, "test", OTHER, CouncilMember(username="o-council", sector=Sector.academia)
        )
        uow.commit()
    engine.dispose()


def test_every_route_declares_a_permission_or_is_listed_as_public_or_personal(app):
    undeclared = [
        (m, p)
        for m, p, r in app_routes(app)
        if declared_permission(r) is None
        and (m, p) not in PUBLIC | ANY_USER
        and not p.startswith("/openapi")
    ]
    assert undeclared == []


def _expected(principal: str, method: str, path: str, route: APIRoute) -> bool:
    if (method, path) in PUBLIC:
        return True
    username = PRINCIPALS[principal]
    if username is None:
        return False
    if (method, path) in ANY_USER:
        return True
    perm = declared_permission(route)
    assert perm is not None
    roles = {
        "ceo": {Role.mission_ceo},
        "council": {Role.council_member},
        "treasury": {Role.treasury_reviewer},
    }.get(principal, set())
    return allowed(perm, roles, principal == "admin")


@pytest.mark.parametrize("principal", list(PRINCIPALS))
def test_every_route_allows_and_refuses_each_kind_of_caller_as_declared(
    principal: str, app, client: TestClient, db_url: str
):
    add_other_mission(db_url)
    username = PRINCIPALS[principal]
    csrf = login(client, username) if username else ""
    demo_names = ["Humber waste-oil HEFA refinery", "Carbon-neutral UK air travel"]
    failures = []
    for method, path, route in app_routes(app):
        if path.startswith("/openapi") or (method, path) == ("POST", "/logout"):
            continue
        url = re.sub(r"{(\w+)}", lambda m: SAMPLE[m.group(1)], path)
        response = client.request(
            method,
            url,
            headers={"X-CSRF-Token": csrf} if csrf else {},
            follow_redirects=False,
        )
        expected = _expected(principal, method, path, route)
        status = response.status_code
        if expected:
            if status in (401, 403):
                failures.append(f"{method} {path}: expected allowed, got {status}")
            continue
        if username is None:
            wanted = 401 if path.startswith("/api/") else 303
            if status != wanted or (
                status == 303 and not response.headers["location"].startswith("/login")
            ):
                failures.append(f"{method} {path}: anonymous expected {wanted}, got {status}")
        elif status != 403:
            failures.append(f"{method} {path}: expected 403, got {status}")
        if any(name in response.text for name in demo_names):
            failures.append(f"{method} {path}: a refusal leaked mission data")
    assert failures == []


def test_a_user_of_another_mission_does_not_see_the_demo_in_the_mission_list(
    client: TestClient, db_url: str
):
    add_other_mission(db_url)
    login(client, "o-ceo")
    missions = client.get("/api/v1/missions").json()
    assert [m["slug"] for m in missions] == [OTHER]
    assert DEMO not in client.get("/").text


def test_the_api_answers_401_to_an_anonymous_caller(client: TestClient):
    response = client.get("/api/v1/missions")
    assert response.status_code == 401
    assert response.json()["detail"]
