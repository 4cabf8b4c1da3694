"""The full check of a mission's history as a background job (issue 20), on SQLite and
PostgreSQL: the page shows the last finished check and never runs one itself, a check is asked
for with a button (or POST /api/v1/.../audit/checks) and run by the server's job runner, a check
under way is shown and followed, a failure is kept with its reason, and a check a stopped server
left unfinished is failed at the next start-up."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support import DEMO, login

from api.app import create_app
from api.settings import Settings
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import HistoryCheck
from portfolio.services import history, history_checks

PAGE = f"/missions/{DEMO}/audit/verify"
CHECKS = f"/api/v1/missions/{DEMO}/audit/checks"


def queue(client: TestClient, actor: str) -> HistoryCheck:
    """A check asked for by ``actor`` that no job runner was told about: it stays queued."""
    with SqlUnitOfWork(client.app.state.sessionmaker) as uow:
        check, started = history_checks.request(uow, actor, DEMO)
        uow.commit()
    assert started and check.id is not None
    return check


def stored(client: TestClient, check_id: int) -> HistoryCheck:
    with SqlUnitOfWork(client.app.state.sessionmaker) as uow:
        return uow.history_checks.get(check_id)


def test_a_check_under_way_is_shown_and_followed_until_it_finishes(client: TestClient) -> None:
    csrf = login(client, "ceo")
    check = queue(client, "treasury")
    assert check.id is not None
    waiting = client.get(PAGE)
    assert waiting.status_code == 200
    assert "asked for by treasury" in waiting.text and "is waiting to start" in waiting.text
    assert '<meta http-equiv="refresh" content="3">' in waiting.text
    assert "has not been checked yet" not in waiting.text
    assert f'action="/missions/{DEMO}/audit/checks"' not in waiting.text
    again = client.post(f"/missions/{DEMO}/audit/checks", data={"csrf_token": csrf})
    assert again.status_code == 200 and "already under way" in again.text
    with SqlUnitOfWork(client.app.state.sessionmaker) as uow:
        assert uow.history_checks.latest(DEMO) == stored(client, check.id)
    factory = client.app.state.sessionmaker
    assert history_checks.execute(lambda: SqlUnitOfWork(factory), check.id) == "done"
    done = client.get(PAGE)
    assert '<meta http-equiv="refresh"' not in done.text
    assert "The history is intact" in done.text and "asked for by treasury" in done.text
    assert f'action="/missions/{DEMO}/audit/checks"' in done.text


def test_asking_for_a_check_is_recorded_in_the_audit_trail(client: TestClient) -> None:
    csrf = login(client, "ceo")
    client.post(f"/missions/{DEMO}/audit/checks", data={"csrf_token": csrf})
    trail = client.get(f"/api/v1/missions/{DEMO}/audit").json()
    asked = [e for e in trail if e["entity"] == "history_check"]
    assert [(e["actor"], e["action"]) for e in asked] == [("ceo", "requested")]


def test_the_api_starts_a_check_and_answers_the_latest(client: TestClient) -> None:
    csrf = login(client, "ceo")
    headers = {"X-CSRF-Token": csrf}
    with SqlUnitOfWork(client.app.state.sessionmaker) as uow:
        name = uow.missions.get(DEMO).name
    none = client.get(f"{CHECKS}/latest")
    assert none.status_code == 404
    assert f"no check of the history of {name} has been asked for yet" in none.json()["detail"]
    started = client.post(CHECKS, headers=headers)
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["requested_by"] == "ceo" and body["status"] in ("queued", "running", "done")
    assert client.app.state.jobs.wait_history_check(body["id"], timeout=120) == "done"
    latest = client.get(f"{CHECKS}/latest").json()
    assert latest["id"] == body["id"] and latest["status"] == "done"
    assert latest["report"]["intact"] is True and latest["report"]["mission"] == DEMO
    assert latest["finished_at"].endswith("+00:00") and latest["error"] is None

    pending = queue(client, "treasury")
    answered = client.post(CHECKS, headers=headers)
    assert answered.status_code == 202
    assert (answered.json()["id"], answered.json()["status"]) == (pending.id, "queued")
    assert answered.json()["report"] is None
    assert client.get(f"{CHECKS}/latest").json()["id"] == pending.id
    assert client.get(f"{CHECKS}/latest", params={"finished": True}).json()["id"] == body["id"]


def test_a_council_member_can_neither_start_nor_read_a_check(client: TestClient) -> None:
    csrf = login(client, "council1")
    assert client.post(CHECKS, headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.get(f"{CHECKS}/latest").status_code == 403
    page = client.post(f"/missions/{DEMO}/audit/checks", data={"csrf_token": csrf})
    assert page.status_code == 403


def test_a_check_that_fails_is_kept_with_its_reason(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> history.HistoryReport:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(history, "check", broken)
    csrf = login(client, "ceo")
    started = client.post(CHECKS, headers={"X-CSRF-Token": csrf}).json()
    assert client.app.state.jobs.wait_history_check(started["id"], timeout=60) == "failed"
    page = client.get(PAGE)
    assert "The check could not finish" in page.text
    assert "the check could not finish: the disk is full" in page.text
    latest = client.get(f"{CHECKS}/latest").json()
    assert latest["status"] == "failed" and latest["report"] is None
    assert latest["error"] == "the check could not finish: the disk is full"


def test_a_check_a_stopped_server_left_unfinished_is_failed_at_start_up(
    client: TestClient, settings: Settings
) -> None:
    check = queue(client, "ceo")
    assert check.id is not None
    other = create_app(settings, shared=True)  # one of several processes: leaves it alone
    other.state.engine.dispose()
    assert stored(client, check.id).status == "queued"
    restarted = create_app(settings)
    restarted.state.engine.dispose()
    failed = stored(client, check.id)
    assert failed.status == "failed" and failed.error == history_checks.INTERRUPTED
    login(client, "ceo")
    page = client.get(PAGE)
    assert "The check could not finish" in page.text
    assert "the server stopped before the check finished" in page.text
