"""Helpers the tests share (import as ``from support import login``)."""

from __future__ import annotations

import re

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
