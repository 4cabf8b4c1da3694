"""Idle and absolute session timeouts, upload size limits, hostile form values."""

from __future__ import annotations

import datetime as dt

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import text
from support import DEMO, login

from api.deps import SESSION_COOKIE, token_hash
from portfolio.adapters.database import make_engine


def _age_session(db_url: str, cookie: str, **columns: dt.datetime) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for column, value in columns.items():
            conn.execute(
                text(f"UPDATE sessions SET {column} = :v WHERE id = :id"),
                {"v": value, "id": token_hash(cookie)},
            )
    engine.dispose()


def test_an_idle_session_ends(client: TestClient, db_url: str):
    login(client, "ceo")
    assert client.get(f"/missions/{DEMO}").status_code == 200
    _age_session(db_url, client.cookies[SESSION_COOKIE], last_seen_at=dt.datetime(2000, 1, 1))
    assert client.get(f"/missions/{DEMO}", follow_redirects=False).status_code == 303


def test_a_session_ends_at_its_absolute_limit_however_active(client: TestClient, db_url: str):
    login(client, "ceo")
    _age_session(db_url, client.cookies[SESSION_COOKIE], expires_at=dt.datetime(2000, 1, 1))
    response = client.get("/api/v1/me")
    assert response.status_code == 401


def test_an_upload_over_the_size_limit_is_refused_and_nothing_is_written(client: TestClient):
    csrf = login(client, "council1")
    before = len(client.get(f"/api/v1/missions/{DEMO}/candidates").json())
    limit = client.app.state.settings.max_upload_bytes
    response = client.post(
        f"/missions/{DEMO}/import/candidates",
        data={"csrf_token": csrf},
        files={"file": ("big.csv", b"x" * (limit + 10), "text/csv")},
    )
    assert response.status_code == 413  # refused by the request-size limit, before reading
    assert "larger than the limit of" in response.text
    assert len(client.get(f"/api/v1/missions/{DEMO}/candidates").json()) == before


def test_script_in_form_values_is_shown_as_text_never_run(client: TestClient):
    csrf = login(client, "council1")
    hostile = '<script>alert("x")</script> Ωμέγα ✈'
    client.post(
        f"/missions/{DEMO}/candidates/ev-trainer/challenges",
        data={"text": hostile, "csrf_token": csrf},
    )
    page = client.get(f"/missions/{DEMO}/candidates/ev-trainer").text
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Ωμέγα ✈" in page
    body = BeautifulSoup(page, "html.parser")
    assert not [s for s in body.select("script") if "alert" in s.get_text()]


def test_out_of_range_and_unicode_form_values_name_the_field(client: TestClient):
    csrf = login(client, "ceo")
    response = client.post(
        f"/missions/{DEMO}/edit",
        data={
            "csrf_token": csrf,
            "name": "Ω" * 500,
            "target": "1e999",
            "unit": "t",
            "deadline": "2030-02-30",
            "years": "2026-27",
            "dal": "-5",
            "envelopes.0.id": "SBC!",
            "envelopes.0.name": "x",
        },
    )
    assert response.status_code == 422
    summary = BeautifulSoup(response.text, "html.parser").select_one(".govuk-error-summary")
    text_ = summary.get_text(" ")
    assert "Target impact: must be a finite number" in text_
    assert "Deadline: must be a date" in text_
