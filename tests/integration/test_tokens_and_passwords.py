"""API tokens and passwords (issue 16, finding 11): a token dies with a password change and when
its user is disabled (and stays dead when the user is re-enabled); every token expires; every
signed-in user can change their own password, which ends their other sessions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import text
from support import DEMO_PASSWORD, csrf_of, login
from typer.testing import CliRunner

from api.cli import app as cli
from api.deps import SESSION_COOKIE
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork

NEW_PASSWORD = "a-brand-new-passphrase-31"


def new_token(client: TestClient, name: str = "notebook", days: str | None = None) -> str:
    data = {"name": name, "csrf_token": csrf_of(client)}
    if days is not None:
        data["expires_in_days"] = days
    page = client.post("/account/tokens", data=data)
    match = re.search(r'<code id="new-token">([^<]+)</code>', page.text)
    assert match, page.text
    return match.group(1)


def works(app: Any, token: str) -> bool:
    response = TestClient(app).get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 401)
    return response.status_code == 200


def admin_update(client: TestClient, username: str, **fields: str) -> int:
    data = {"display_name": username.title(), "csrf_token": csrf_of(client), **fields}
    return client.post(f"/admin/users/{username}", data=data, follow_redirects=False).status_code


def test_a_password_set_by_the_administrator_revokes_the_users_tokens(app: Any, client):
    login(client, "council1")
    token = new_token(client, "laptop-script")
    assert works(app, token)
    admin = TestClient(app)
    login(admin, "admin")
    assert admin_update(admin, "council1", active="on", password=NEW_PASSWORD) == 303
    assert not works(app, token)
    login(client, "council1", NEW_PASSWORD)
    assert "laptop-script" not in client.get("/account").text  # deleted, not hidden


def test_a_disabled_user_s_tokens_do_not_come_back_when_re_enabled(app: Any, client):
    login(client, "council2")
    token = new_token(client)
    admin = TestClient(app)
    login(admin, "admin")
    assert admin_update(admin, "council2") == 303  # "active" unticked: disabled
    assert not works(app, token)
    assert admin_update(admin, "council2", active="on") == 303
    assert not works(app, token)
    engine = make_engine(str(app.state.settings.database_url))
    with SqlUnitOfWork(engine) as uow:
        assert uow.users.tokens("council2") == []
        revoked = [e for e in uow.audit.all(None) if e.entity == "api_token"]
        assert revoked[0].action == "revoked" and revoked[0].after == {"reason": "user disabled"}
    engine.dispose()


def test_tokens_expire_after_the_days_chosen_and_the_list_shows_when(
    app: Any, client: TestClient, db_url: str
):
    login(client, "council3")
    default = new_token(client, "default")
    short = new_token(client, "short", days="7")
    rows = BeautifulSoup(client.get("/account").text, "html.parser").select("table tbody tr")
    today = dt.datetime.now(dt.UTC)
    expiries = {r.select("td")[0].get_text(): r.select("td")[3].get_text() for r in rows}
    assert expiries["default"].startswith((today + dt.timedelta(days=90)).strftime("%d %b %Y"))
    assert expiries["short"].startswith((today + dt.timedelta(days=7)).strftime("%d %b %Y"))
    assert works(app, short) and works(app, default)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE api_tokens SET expires_at = :t WHERE name = 'short'"),
            {"t": dt.datetime(2020, 1, 1)},
        )
    engine.dispose()
    assert not works(app, short) and works(app, default)
    assert "Expired" in client.get("/account").text


def test_a_token_lifetime_outside_the_rule_is_refused_naming_the_field(client: TestClient):
    login(client, "council4")
    for days in ("0", "366", "abc", "1e3", "-5", "99999999999999999999"):
        response = client.post(
            "/account/tokens",
            data={"name": "x", "expires_in_days": days, "csrf_token": csrf_of(client)},
        )
        assert response.status_code == 422, days
        summary = BeautifulSoup(response.text, "html.parser").select_one(".govuk-error-summary")
        assert "Expires after: must be a whole number of days from 1 to 365" in summary.get_text()
    assert "<table" not in client.get("/account").text  # no token was made


def test_the_api_lists_tokens_and_creates_them_only_for_a_signed_in_session(
    app: Any, client: TestClient
):
    csrf = login(client, "council5")
    created = client.post(
        "/api/v1/me/tokens",
        json={"name": "script", "expires_in_days": 30},
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status_code == 201
    body = created.json()
    expires = dt.datetime.fromisoformat(body["details"]["expires_at"])
    assert abs(expires - dt.datetime.now(dt.UTC) - dt.timedelta(days=30)) < dt.timedelta(minutes=5)
    bearer = {"Authorization": f"Bearer {body['token']}"}
    api = TestClient(app)
    listed = api.get("/api/v1/me/tokens", headers=bearer).json()
    assert [t["name"] for t in listed] == ["script"] and "token" not in listed[0]
    # a token cannot mint tokens (which would make expiry meaningless)
    refused = api.post("/api/v1/me/tokens", json={"name": "more"}, headers=bearer)
    assert refused.status_code == 403
    invalid = client.post(
        "/api/v1/me/tokens",
        json={"name": "x", "expires_in_days": 1000},
        headers={"X-CSRF-Token": csrf},
    )
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["field"] == "expires_in_days"


def test_users_change_their_own_password_and_their_other_sessions_end(
    app: Any, client: TestClient, db_url: str
):
    login(client, "council6")
    token = new_token(client)
    other = TestClient(app)
    login(other, "council6")
    assert client.get("/account/password").status_code == 200

    def change(current: str, new: str, confirm: str) -> Any:
        return client.post(
            "/account/password",
            data={
                "current_password": current,
                "new_password": new,
                "confirm_password": confirm,
                "csrf_token": csrf_of(client),
            },
            follow_redirects=False,
        )

    for (current, new, confirm), message in (
        (("wrong-password-1", NEW_PASSWORD, NEW_PASSWORD), "Current password: is not right"),
        ((DEMO_PASSWORD, "password123", "password123"), "New password: is one of the most common"),
        ((DEMO_PASSWORD, "short", "short"), "New password: must be at least 10 characters"),
        ((DEMO_PASSWORD, NEW_PASSWORD, "something-else-1"), "New password again: does not match"),
        ((DEMO_PASSWORD, DEMO_PASSWORD, DEMO_PASSWORD), "must be different from the current"),
        (("", "", ""), "Current password: enter it"),
    ):
        refused = change(current, new, confirm)
        assert refused.status_code == 422
        summary = BeautifulSoup(refused.text, "html.parser").select_one(".govuk-error-summary")
        assert message in summary.get_text(" "), summary.get_text(" ")
    assert works(app, token)  # nothing changed yet

    done = change(DEMO_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    banner = BeautifulSoup(client.get("/account").text, "html.parser").select_one("#success-banner")
    assert banner is not None and "Your password has been changed" in banner.get_text()
    assert client.get("/api/v1/me").status_code == 200  # this session goes on
    assert other.get("/api/v1/me").status_code == 401  # the other one ended
    assert not works(app, token)
    fresh = TestClient(app)
    login(fresh, "council6", NEW_PASSWORD)
    assert SESSION_COOKIE in fresh.cookies
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        actions = [(e.actor, e.action) for e in uow.audit.all(None) if e.entity_id == "council6"]
        assert ("council6", "password changed") in actions
        events = [e.event.value for e in uow.security.recent(username="council6")]
        assert "password_changed" in events and events.count("password_change_failed") == 1
    engine.dispose()


def test_guessing_the_current_password_on_the_change_page_is_throttled(client: TestClient):
    login(client, "council7")
    statuses = []
    for _ in range(6):
        response = client.post(
            "/account/password",
            data={
                "current_password": "a-guess-at-it-1",
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
                "csrf_token": csrf_of(client),
            },
        )
        statuses.append(response.status_code)
    assert statuses == [422] * 5 + [429]
    assert "too many wrong passwords" in response.text


def test_the_command_line_sets_passwords_and_manages_expiring_tokens(
    app: Any, client: TestClient, db_url: str
):
    runner = CliRunner()
    env = {"DATABASE_URL": db_url}
    made = runner.invoke(cli, ["users", "token", "treasury", "ci", "--days", "10"], env=env)
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("mp_") and "expires" in made.stderr
    listed = runner.invoke(cli, ["users", "tokens", "treasury"], env=env)
    expected = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).strftime("%Y-%m-%d")
    assert listed.exit_code == 0 and f"expires {expected}" in listed.stdout
    bad = runner.invoke(cli, ["users", "token", "treasury", "ci", "--days", "0"], env=env)
    assert bad.exit_code == 2 and "expires_in_days" in bad.stderr
    assert works(app, token)
    weak = runner.invoke(
        cli, ["users", "set-password", "treasury", "--password", "password123"], env=env
    )
    assert weak.exit_code == 2 and "most common passwords" in weak.stderr
    assert works(app, token)
    changed = runner.invoke(
        cli,
        ["users", "set-password", "treasury"],
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
        env=env,
    )
    assert changed.exit_code == 0, changed.output
    assert "1 API token(s) were revoked" in changed.stdout
    assert not works(app, token)
    login(client, "treasury", NEW_PASSWORD)
