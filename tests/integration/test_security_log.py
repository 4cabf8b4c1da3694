"""The security log (issue 16, finding 7; OWASP ASVS 5.0 V16): failed, throttled and successful
sign-ins, 403s, CSRF refusals and API token use leave a trace that holds no secret, which the
administrator reads on a page, through the API and on the command line; and it is append-only."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import text
from support import DEMO, DEMO_PASSWORD, csrf_of, login
from typer.testing import CliRunner

from api.cli import app as cli
from portfolio.adapters.database import make_engine

WRONG = "a-wrong-password-7"


def _attempt(client: TestClient, username: str, password: str) -> int:
    token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
    assert token
    return client.post(
        "/login",
        data={"username": username, "password": password, "login_token": token.group(1)},
        follow_redirects=False,
    ).status_code


def _all_rows(db_url: str) -> list[dict[str, Any]]:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(text("SELECT * FROM security_events ORDER BY id"))
        ]
    engine.dispose()
    return rows


def test_security_events_are_recorded_without_secrets_and_shown_to_the_administrator(
    app: Any, client: TestClient, db_url: str
):
    long_name = "Someone-Typed-A-Very-Long-Username-" + "x" * 80
    attacker = TestClient(app, client=("203.0.113.66", 40000))
    assert _attempt(attacker, long_name, WRONG) == 401
    for _ in range(5):
        assert _attempt(attacker, "council1", WRONG) == 401
    assert _attempt(attacker, "council1", DEMO_PASSWORD) == 429  # throttled

    # a refusal (403), a cross-site form (CSRF), API token use and a bad token
    csrf = login(client, "council1")
    assert client.get("/admin/users").status_code == 403
    assert client.post(f"/missions/{DEMO}/edit", data={"name": "x"}).status_code == 403
    page = client.post("/account/tokens", data={"name": "laptop", "csrf_token": csrf})
    token = re.search(r'<code id="new-token">([^<]+)</code>', page.text)
    assert token
    api = TestClient(app)
    for _ in range(3):  # logged once an hour, not on every call
        me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token.group(1)}"})
        assert me.status_code == 200
    bad = api.get("/api/v1/me", headers={"Authorization": "Bearer mp_forged-token-value"})
    assert bad.status_code == 401

    rows = _all_rows(db_url)
    kinds = [r["event"] for r in rows]
    assert kinds.count("sign_in_failed") == 6
    assert kinds.count("sign_in_throttled") == 1
    assert kinds.count("sign_in_delayed") == 1
    assert kinds.count("signed_in") == 1
    assert kinds.count("forbidden") == 1
    assert kinds.count("csrf_refused") == 1
    assert kinds.count("token_used") == 1
    assert kinds.count("token_refused") == 1
    failed = [r for r in rows if r["event"] == "sign_in_failed"]
    assert failed[0]["username"] == long_name.lower()[:40]
    assert failed[0]["address"] == "203.0.113.66"
    assert (failed[0]["method"], failed[0]["path"]) == ("POST", "/login")
    forbidden = next(r for r in rows if r["event"] == "forbidden")
    assert (forbidden["username"], forbidden["path"]) == ("council1", "/admin/users")
    everything = json.dumps(rows, default=str)
    for secret in (WRONG, DEMO_PASSWORD, token.group(1), "mp_forged-token-value", csrf):
        assert secret not in everything

    # the administrator reads it on a page, through the API and on the command line
    admin = TestClient(app)
    login(admin, "admin")
    listing = admin.get("/admin/security-log", params={"event": "sign_in_failed"})
    assert listing.status_code == 200
    table = BeautifulSoup(listing.text, "html.parser").select("#security-log tbody tr")
    assert len(table) == 6 and "203.0.113.66" in table[0].get_text()
    api_rows = admin.get("/api/v1/security-log", params={"username": "council1"}).json()
    assert {"sign_in_failed", "sign_in_throttled", "forbidden", "token_used"} <= {
        r["event"] for r in api_rows
    }
    assert api_rows[0]["at"].endswith("+00:00")
    out = CliRunner().invoke(
        cli,
        ["users", "security-log", "--event", "csrf_refused", "--format", "json"],
        env={"DATABASE_URL": db_url},
    )
    assert out.exit_code == 0, out.output
    assert [e["path"] for e in json.loads(out.stdout)] == [f"/missions/{DEMO}/edit"]


def test_only_the_administrator_may_read_the_security_log(client: TestClient):
    login(client, "ceo")
    assert client.get("/admin/security-log").status_code == 403
    assert client.get("/api/v1/security-log").status_code == 403
    anonymous = TestClient(client.app)
    assert anonymous.get("/api/v1/security-log").status_code == 401


def test_a_flood_of_refused_attempts_from_one_address_is_logged_once_a_minute(
    app: Any, db_url: str
):
    attacker = TestClient(app, client=("203.0.113.70", 40000))
    for _ in range(5):
        assert _attempt(attacker, "treasury", WRONG) == 401
    for _ in range(10):
        assert _attempt(attacker, "treasury", WRONG) == 429
    kinds = [r["event"] for r in _all_rows(db_url)]
    assert kinds.count("sign_in_throttled") == 1


def test_the_security_log_is_append_only(client: TestClient, db_url: str):
    _attempt(client, "ceo", WRONG)
    engine = make_engine(db_url)
    for statement in (
        "UPDATE security_events SET username = 'someone-else'",
        "DELETE FROM security_events",
    ):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()
    assert len(_all_rows(db_url)) == 1


def test_an_administrator_setting_a_password_or_disabling_a_user_is_logged(
    client: TestClient, db_url: str
):
    csrf = login(client, "admin")
    client.post(
        "/admin/users/council7",
        data={
            "display_name": "Council 7",
            "active": "on",
            "password": "a-fresh-passphrase-42",
            "csrf_token": csrf,
        },
    )
    client.post("/admin/users/council7", data={"display_name": "Council 7", "csrf_token": csrf})
    rows = [r for r in _all_rows(db_url) if r["username"] == "council7"]
    assert [r["event"] for r in rows] == ["password_changed", "tokens_revoked"]
    assert "by admin" in rows[0]["detail"] and "a-fresh-passphrase-42" not in str(rows)
    assert csrf_of(client)  # the administrator's own session goes on
