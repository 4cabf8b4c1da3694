"""Signing in and out, sessions kept server-side, CSRF, API tokens."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from support import DEMO, csrf_of, login

from api.deps import SESSION_COOKIE, token_hash
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork


def _login_token(client: TestClient) -> str:
    match = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
    assert match
    return match.group(1)


def test_the_login_page_is_a_plain_form_that_posts_without_javascript(client: TestClient):
    page = client.get("/login")
    assert page.status_code == 200
    assert '<form method="post" action="/login"' in page.text
    assert 'name="username"' in page.text and 'name="password"' in page.text


def test_signing_in_sets_an_httponly_lax_session_cookie_and_redirects(client: TestClient):
    response = client.post(
        "/login",
        data={
            "username": "ceo",
            "password": "demo-password-1",
            "login_token": _login_token(client),
            "next": f"/missions/{DEMO}",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/missions/{DEMO}"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    assert client.get(f"/missions/{DEMO}").status_code == 200


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client: TestClient):
    wrong_password = client.post(
        "/login",
        data={
            "username": "ceo",
            "password": "not-the-password",
            "login_token": _login_token(client),
        },
    )
    unknown_user = client.post(
        "/login",
        data={
            "username": "nobody",
            "password": "not-the-password",
            "login_token": _login_token(client),
        },
    )
    assert wrong_password.status_code == unknown_user.status_code == 401
    for page in (wrong_password, unknown_user):
        assert "the username or password is not right" in page.text
        assert "govuk-error-summary" in page.text
    assert SESSION_COOKIE not in client.cookies


def test_the_login_form_without_its_token_is_refused(client: TestClient):
    client.get("/login")
    response = client.post(
        "/login", data={"username": "ceo", "password": "demo-password-1", "login_token": "forged"}
    )
    assert response.status_code == 400
    assert SESSION_COOKIE not in client.cookies


def test_an_offsite_next_address_is_ignored(client: TestClient):
    response = client.post(
        "/login",
        data={
            "username": "ceo",
            "password": "demo-password-1",
            "login_token": _login_token(client),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_signing_in_again_rotates_the_session_id(client: TestClient, db_url: str):
    login(client, "ceo")
    first = client.cookies[SESSION_COOKIE]
    login(client, "ceo")
    second = client.cookies[SESSION_COOKIE]
    assert first != second
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        assert uow.sessions.get(token_hash(first)) is None
        assert uow.sessions.get(token_hash(second)) is not None
    engine.dispose()


def test_signing_out_revokes_the_session_on_the_server(client: TestClient, db_url: str):
    csrf = login(client, "ceo")
    cookie = client.cookies[SESSION_COOKIE]
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    # replaying the old cookie gets nothing: the session is gone from the database
    replay = TestClient(client.app, cookies={SESSION_COOKIE: cookie})
    assert replay.get(f"/missions/{DEMO}", follow_redirects=False).status_code == 303
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        assert uow.sessions.get(token_hash(cookie)) is None
    engine.dispose()


def test_an_anonymous_visitor_is_sent_to_the_login_page_and_back(client: TestClient):
    response = client.get(f"/missions/{DEMO}/candidates", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/missions/{DEMO}/candidates"


def test_a_form_posted_without_the_csrf_token_is_refused_and_changes_nothing(
    client: TestClient,
):
    login(client, "ceo")
    before = client.get(f"/api/v1/missions/{DEMO}").json()
    response = client.post(f"/missions/{DEMO}/edit", data={"name": "Hijacked", "target": "1"})
    assert response.status_code == 403
    assert "expired or did not come from this site" in response.text
    assert client.get(f"/api/v1/missions/{DEMO}").json() == before


def test_a_request_from_another_site_is_refused_even_with_the_token(client: TestClient):
    csrf = login(client, "ceo")
    response = client.post(
        f"/missions/{DEMO}/edit",
        data={"csrf_token": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    response = client.post(
        f"/missions/{DEMO}/edit",
        data={"csrf_token": csrf},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403


def test_a_cookie_authenticated_api_change_needs_the_csrf_header(client: TestClient):
    csrf = login(client, "ceo")
    read = client.get(f"/api/v1/missions/{DEMO}")
    mission, etag = read.json(), read.headers["ETag"]
    mission["target"] = 12.5
    refused = client.put(f"/api/v1/missions/{DEMO}", json=mission, headers={"If-Match": etag})
    assert refused.status_code == 403
    accepted = client.put(
        f"/api/v1/missions/{DEMO}", json=mission, headers={"X-CSRF-Token": csrf, "If-Match": etag}
    )
    assert accepted.status_code == 200
    assert accepted.json()["target"] == 12.5


def test_an_api_token_authenticates_without_cookies_and_can_be_revoked(client: TestClient):
    login(client, "council1")
    page = client.post("/account/tokens", data={"name": "notebook", "csrf_token": csrf_of(client)})
    token = re.search(r'<code id="new-token">([^<]+)</code>', page.text)
    assert token
    api = TestClient(client.app)
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    me = api.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.json()["user"]["username"] == "council1"
    assert api.get("/api/v1/me", headers={"Authorization": "Bearer mp_wrong"}).status_code == 401
    token_id = re.search(r"/account/tokens/(\d+)/revoke", client.get("/account").text)
    assert token_id
    client.post(f"/account/tokens/{token_id.group(1)}/revoke", data={"csrf_token": csrf_of(client)})
    assert api.get("/api/v1/me", headers=headers).status_code == 401


def test_pages_carry_security_headers_with_a_fresh_csp_nonce(client: TestClient):
    first, second = client.get("/login"), client.get("/login")
    csp = first.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and f'nonce="{nonce.group(1)}"' in first.text
    assert csp != second.headers["content-security-policy"]
    assert first.headers["x-content-type-options"] == "nosniff"
    assert first.headers["referrer-policy"] == "same-origin"


def test_repeated_failures_back_off_without_saying_which_part_was_wrong(client: TestClient):
    for _ in range(5):
        response = client.post(
            "/login",
            data={
                "username": "ceo",
                "password": "wrong-password-x",
                "login_token": _login_token(client),
            },
        )
        assert response.status_code == 401
    # even the right password is now refused for a while, with the same wording for everyone
    locked = client.post(
        "/login",
        data={
            "username": "ceo",
            "password": "demo-password-1",
            "login_token": _login_token(client),
        },
    )
    assert locked.status_code == 429
    assert "too many failed sign-in attempts" in locked.text
    unknown = client.post(
        "/login",
        data={
            "username": "nobody",
            "password": "whatever-pw-1",
            "login_token": _login_token(client),
        },
    )
    # five failures on one account do not lock the address out for everyone behind it
    assert unknown.status_code == 401
    assert SESSION_COOKIE not in client.cookies


def test_common_and_short_passwords_are_refused(client: TestClient):
    csrf = login(client, "admin")
    for password, rule in (
        ("password123", "most common passwords"),
        ("short", "at least 10 characters"),
        ("aaaaaaaaaaaaaa", "too repetitive"),
    ):
        response = client.post(
            "/admin/users/new",
            data={
                "username": "newbie",
                "display_name": "New",
                "password": password,
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 422 and rule in response.text
