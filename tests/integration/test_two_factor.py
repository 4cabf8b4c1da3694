"""A second factor for local accounts: TOTP with recovery codes, and the deployment setting that
makes it compulsory."""

from __future__ import annotations

import re

import pyotp
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, DEMO_PASSWORD, csrf_of, login

from api.app import create_app
from api.deps import SESSION_COOKIE
from api.settings import Settings


def turn_on(client: TestClient, username: str) -> tuple[str, list[str]]:
    csrf = login(client, username)
    client.post("/account/2fa/setup", data={"csrf_token": csrf})
    page = BeautifulSoup(client.get("/account").text, "html.parser")
    secret = page.select_one("#totp-secret").get_text()
    done = client.post(
        "/account/2fa/confirm",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(client)},
    )
    assert done.status_code == 200
    codes = [
        c.get_text() for c in BeautifulSoup(done.text, "html.parser").select("#recovery-codes code")
    ]
    assert len(codes) == 10
    return secret, codes


def password_step(client: TestClient, username: str):
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login",
        data={
            "username": username,
            "password": DEMO_PASSWORD,
            "login_token": token,
            "next": f"/missions/{DEMO}",
        },
        follow_redirects=False,
    ), token


def test_with_two_factor_on_the_password_alone_does_not_sign_in(client: TestClient):
    secret, _ = turn_on(client, "treasury")
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    response, token = password_step(client, "treasury")
    assert response.status_code == 303 and response.headers["location"].startswith("/login/2fa")
    # the half-signed-in session opens nothing
    assert client.get(f"/missions/{DEMO}", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me").status_code == 401
    wrong = client.post("/login/2fa", data={"code": "000000", "login_token": token, "next": "/"})
    assert wrong.status_code == 401 and "the code is not right" in wrong.text
    before = client.cookies[SESSION_COOKIE]
    right = client.post(
        "/login/2fa",
        data={"code": pyotp.TOTP(secret).now(), "login_token": token, "next": f"/missions/{DEMO}"},
        follow_redirects=False,
    )
    assert right.status_code == 303 and right.headers["location"] == f"/missions/{DEMO}"
    assert client.cookies[SESSION_COOKIE] != before  # rotated again
    assert client.get(f"/missions/{DEMO}").status_code == 200


def test_a_recovery_code_works_once(client: TestClient):
    _, codes = turn_on(client, "council2")
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    for expected in (303, 401):
        client.cookies.clear()
        _, token = password_step(client, "council2")
        response = client.post(
            "/login/2fa", data={"code": codes[0], "login_token": token}, follow_redirects=False
        )
        assert response.status_code == expected


def test_the_deployment_can_require_two_factor_for_everyone(db_url: str):
    app = create_app(Settings(database_url=db_url, secret_key="x" * 40, require_2fa=True))
    with TestClient(app) as client:
        login(client, "council3")
        response = client.get(f"/missions/{DEMO}", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/account?setup=2fa")
        assert (
            "This service requires two-factor authentication"
            in client.get("/account?setup=2fa").text
        )
        turn_on(client, "council3")
        assert client.get(f"/missions/{DEMO}").status_code == 200
    app.state.engine.dispose()
