"""Every HTML page has a JSON twin under /api/v1 that answers with the same data and the same
permission: each page is walked as every kind of caller (anonymous, a user of each role on the
demo mission, the administrator) beside its twin, and both must be allowed or both refused.
Every twin is in the OpenAPI schema, and every HTML GET route is in the table below or named as
a form or a download, so a new page without a twin fails here. (The one page whose data a
caller may see only in part, a candidate's scores before a member has submitted theirs, has a
walk of its own at the end.) Runs on SQLite and PostgreSQL,
with one copy of the demo per backend."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from support import DEMO, app_routes, login

from portfolio.domain.model import Role
from portfolio.services import council_round

#: the samples each path parameter takes (the demo mission's)
SAMPLE = {
    "slug": DEMO,
    "candidate_id": "northsea-hefa",
    "username": "council2",
    "run_id": "1",
    "label": "2026-27 Q3",  # the open quarter
    "quarter": "2026-27-Q2",  # closed, and its update published
}
#: the quarter whose audit pack is walked (closed, so it has one)
CLOSED = "2026-27 Q2"

#: HTML page -> its JSON twins (a page may need more than one resource)
TWINS: dict[str, list[str]] = {
    "/": ["/api/v1/missions"],
    "/account": ["/api/v1/me", "/api/v1/me/tokens"],
    "/public": ["/api/v1/public"],
    "/missions/{slug}": ["/api/v1/missions/{slug}"],
    "/missions/{slug}/audit": ["/api/v1/missions/{slug}/audit"],
    "/missions/{slug}/audit/verify": ["/api/v1/missions/{slug}/audit/verify"],
    "/missions/{slug}/candidates": ["/api/v1/missions/{slug}/candidates"],
    "/missions/{slug}/candidates/{candidate_id}": [
        "/api/v1/missions/{slug}/candidates/{candidate_id}",
        "/api/v1/missions/{slug}/candidates/{candidate_id}/overview",
    ],
    "/missions/{slug}/scoring": ["/api/v1/missions/{slug}/scoring"],
    "/missions/{slug}/scoring/{candidate_id}": ["/api/v1/missions/{slug}/scoring/{candidate_id}"],
    "/missions/{slug}/council": ["/api/v1/missions/{slug}/council"],
    "/missions/{slug}/council/members/{username}": [
        "/api/v1/missions/{slug}/council/members/{username}"
    ],
    "/missions/{slug}/council/seeds": ["/api/v1/missions/{slug}/council/seeds"],
    "/missions/{slug}/quarter": ["/api/v1/missions/{slug}/quarter"],
    "/missions/{slug}/quarters/{label}": [
        "/api/v1/missions/{slug}/quarters/{label}",
        "/api/v1/missions/{slug}/quarters/{label}/tasks",
    ],
    "/missions/{slug}/quarters/{label}/evidence": [
        "/api/v1/missions/{slug}/quarters/{label}/evidence"
    ],
    "/missions/{slug}/quarters/{label}/audit-pack.zip": [
        "/api/v1/missions/{slug}/quarters/{label}/audit-pack.zip"
    ],
    "/missions/{slug}/updates": ["/api/v1/missions/{slug}/updates"],
    "/missions/{slug}/updates/{quarter}": ["/api/v1/missions/{slug}/updates/{quarter}"],
    "/missions/{slug}/report": ["/api/v1/missions/{slug}/report"],
    "/missions/{slug}/runs": ["/api/v1/missions/{slug}/runs"],
    "/missions/{slug}/runs/compare": ["/api/v1/missions/{slug}/runs/compare"],
    "/missions/{slug}/runs/{run_id}": [
        "/api/v1/missions/{slug}/runs/{run_id}",
        "/api/v1/missions/{slug}/runs/{run_id}/analyses",
    ],
    "/missions/{slug}/approvals": ["/api/v1/missions/{slug}/approvals"],
    "/missions/{slug}/spend": ["/api/v1/missions/{slug}/spend"],
    "/missions/{slug}/finance": ["/api/v1/missions/{slug}/finance"],
    "/admin/users": ["/api/v1/users"],
    "/admin/users/{username}": ["/api/v1/users/{username}"],
    "/admin/security-log": ["/api/v1/security-log"],
}
#: query strings a path needs (the same on the page and its twin)
QUERIES = {
    "/missions/{slug}/runs/compare": "run=1&run=2",
    "/api/v1/missions/{slug}/runs/compare": "run=1&run=2",
}
#: pages that are only a form to change something: their data comes from the twins above
FORMS = {
    "/login",
    "/login/2fa",
    "/account/password",
    "/admin/users/new",
    "/admin/missions/new",
    "/missions/{slug}/edit",
    "/missions/{slug}/candidates/new",
    "/missions/{slug}/candidates/{candidate_id}/edit",
    "/missions/{slug}/import",
    "/missions/{slug}/spend/import",
    "/missions/{slug}/runs/{run_id}/approve",  # the approval's confirmation form
    "/missions/{slug}/trajectory",  # the planned trajectory's form (its data: /api/v1 twin)
}
#: files a page links to (charts, spreadsheets, templates, problem and result files)
DOWNLOADS = {
    "/missions/{slug}/updates/{quarter}/allocation.csv",
    "/missions/{slug}/updates/{quarter}/allocation.json",
    "/missions/{slug}/import/candidates-template.csv",
    "/missions/{slug}/import/scores-template.csv",
    "/missions/{slug}/report/charts/{name}.svg",
    "/missions/{slug}/runs/{run_id}/charts/{name}.svg",
    "/missions/{slug}/report/allocation.csv",
    "/missions/{slug}/report/allocation.xlsx",
    "/missions/{slug}/runs/compare/chart.svg",
    "/missions/{slug}/runs/{run_id}/problem.json",
    "/missions/{slug}/runs/{run_id}/result.json",
    "/missions/{slug}/spend/template.csv",
    "/missions/{slug}/finance.csv",
    "/missions/{slug}/finance.xlsx",
}
#: who walks the pages: anonymous, a demo user of each role, and the administrator
ROLE_USERS = {
    Role.mission_ceo: "ceo",
    Role.council_member: "council1",
    Role.treasury_reviewer: "treasury",
}
CALLERS: dict[str, str | None] = {
    "anonymous": None,
    **{role.value: username for role, username in ROLE_USERS.items()},
    "administrator": "admin",
}


def url(template: str) -> str:
    sample = {**SAMPLE, "label": CLOSED} if template.endswith("audit-pack.zip") else SAMPLE
    path = re.sub(r"{(\w+)}", lambda m: sample[m.group(1)], template)
    return f"{path}?{QUERIES[template]}" if template in QUERIES else path


def page_outcome(response: Any) -> str:
    """allowed, refused, or the status when it is neither (a page that failed)."""
    status = response.status_code
    if status in (401, 403):
        return "refused"
    if 300 <= status < 400:
        return "refused" if response.headers["location"].startswith("/login") else "allowed"
    return "allowed" if status < 300 else f"status {status}"


def api_outcome(response: Any) -> str:
    status = response.status_code
    if status in (401, 403):
        return "refused"
    return "allowed" if 200 <= status < 300 else f"status {status}: {response.text[:200]}"


def html_get_routes(app: object) -> set[str]:
    return {
        path
        for method, path, _ in app_routes(app)
        if method == "GET" and not path.startswith(("/api/", "/openapi", "/docs", "/redoc"))
    }


def test_every_html_page_has_a_twin_or_is_a_form_or_a_download(app: object) -> None:
    pages = html_get_routes(app)
    assert pages - TWINS.keys() - FORMS - DOWNLOADS == set(), "pages without a JSON twin"
    assert (TWINS.keys() | FORMS | DOWNLOADS) - pages == set(), "listed but no such page"
    assert not TWINS.keys() & (FORMS | DOWNLOADS)


def test_every_twin_is_in_the_openapi_schema_with_a_description(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for twin in {t for twins in TWINS.values() for t in twins}:
        assert twin in paths, f"{twin} is not in the OpenAPI schema"
        assert paths[twin]["get"].get("description"), f"{twin} does not say what it returns"


def test_every_schema_in_the_api_has_a_plain_name(client: TestClient) -> None:
    """Two models of one name make FastAPI qualify both with their module path
    (``api__routes__json__…``), which is what a generated client would show its users."""
    names = client.get("/openapi.json").json()["components"]["schemas"]
    assert [n for n in names if "__" in n] == []


def test_the_walk_covers_every_role() -> None:
    assert set(ROLE_USERS) == set(Role)


def test_each_page_and_its_twin_allow_and_refuse_the_same_callers(app: object) -> None:
    failures = []
    allowed_somewhere: set[str] = set()
    for caller, username in CALLERS.items():
        with TestClient(app, base_url="http://testserver") as client:  # type: ignore[arg-type]
            if username is not None:
                login(client, username)
            for page, twins in TWINS.items():
                seen = page_outcome(client.get(url(page), follow_redirects=False))
                if seen == "allowed":
                    allowed_somewhere.add(page)
                for twin in twins:
                    answer = api_outcome(client.get(url(twin)))
                    if answer != seen:
                        failures.append(f"{caller}: {page} is {seen}, {twin} is {answer}")
    assert failures == []
    assert allowed_somewhere == set(TWINS), "every page is seen by someone"


def test_the_public_twins_name_no_one_and_the_report_twin_writes_utc(client: TestClient) -> None:
    update = client.get(url("/api/v1/missions/{slug}/updates/{quarter}"))
    assert update.status_code == 200, update.text[:300]
    body = update.text
    assert not re.search(r'"council\d"|"ceo"|"treasury"', body), "a public twin named a person"
    assert update.json()["letter"]["quarter"] == CLOSED
    login(client, "treasury")
    report = client.get(url("/api/v1/missions/{slug}/report")).json()
    assert report["report"]["run"]["created_at"].endswith("+00:00")
    page = client.get(url("/missions/{slug}/report"))
    assert report["label"] in page.text


def test_a_members_scoring_page_and_its_twins_hide_the_same_scores_before_they_submit(
    client: TestClient,
) -> None:
    """The walk's sample candidate is one council1 has scored; council6 has scored nothing in
    the open round. For a candidate a member has not scored, the page is theirs (their own
    form, others' scores hidden under the blind notice) and so are its twins: ``…/mine``
    answers with their own scores, and ``…/scoring/{candidate}`` refuses with the blind rule's
    reason, not "no role"."""
    login(client, "council6")
    status = client.get(url("/api/v1/missions/{slug}/scoring")).json()["my_status"]
    unscored = sorted(c for c, s in status.items() if s in ("not started", "draft"))
    assert SAMPLE["candidate_id"] in unscored
    for candidate in unscored:
        base = f"/missions/{DEMO}/scoring/{candidate}"
        page = client.get(base)
        assert page.status_code == 200
        assert 'id="blind-notice"' in page.text
        mine = client.get(f"/api/v1{base}/mine")
        assert mine.status_code == 200 and mine.json()["status"] == status[candidate]
        others = client.get(f"/api/v1{base}")
        assert others.status_code == 403
        assert others.json()["detail"] == council_round.BLIND
