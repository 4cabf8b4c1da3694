"""Faults: a server killed with SIGKILL leaves no solver process behind; a database that cannot
be written (read-only, full) gives a clear 503 instead of a bare "Internal Server Error", start-up
never fails on the runs a stopped server left (a queued one is solved by the next server, a
running one is failed once its heartbeat is stale), and a run whose result cannot be saved is
marked failed."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import procs
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from support import DEMO, DEMO_PASSWORD, login

from api.app import create_app
from api.settings import Settings
from optimiser.problem import Policy
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.services import missions as services
from portfolio.services import runs
from portfolio.services.runs import INTERRUPTED

SECRET = "x" * 40


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def read_only(url: str) -> str:
    """The same database, opened so that every write is refused."""
    if url.startswith("sqlite:///"):
        return f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true"
    return f"{url}?options=-c%20default_transaction_read_only%3Don"


def queue_run(engine: Engine) -> int:
    with SqlUnitOfWork(engine) as uow:
        run_id = runs.start_run(uow, "ceo", DEMO, Policy(objective="expected"), scenarios=100)
        uow.commit()
    return run_id


def status_of(engine: Engine, run_id: int) -> tuple[str, str | None]:
    with SqlUnitOfWork(engine) as uow:
        run = uow.runs.get(DEMO, run_id)
    return run.status, run.error


# -- the solver process dies with the server -------------------------------------------------------
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_server_killed_with_sigkill_leaves_no_solver_process_behind(db_url: str, engine: Engine):
    with SqlUnitOfWork(engine) as uow:
        token = services.new_api_token(uow, "ceo", "ceo", "kill test")
        uow.commit()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import app; app()", "serve", "--port", str(port)],
        env={**os.environ, "DATABASE_URL": db_url, "MP_SECRET_KEY": SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    left: list[int] = []
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/login", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        request = urllib.request.Request(
            f"{base}/api/v1/missions/{DEMO}/runs",
            data=b'{"scenarios": 100}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        assert urllib.request.urlopen(request, timeout=30).status == 202
        deadline = time.monotonic() + 30
        while not any("spawn_main" in procs.cmdline(p) for p in procs.descendants(server.pid)):
            assert time.monotonic() < deadline, "the server started no solver process"
            time.sleep(0.1)
        helpers = procs.descendants(server.pid)  # the solver and multiprocessing's resource tracker
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        deadline = time.monotonic() + 15
        while (left := [p for p in helpers if procs.alive(p)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert left == [], [procs.cmdline(p) for p in left]
    finally:
        server.kill()
        for pid in left:  # only if the test failed: do not leave them running either
            os.kill(pid, signal.SIGKILL)


# -- a database that cannot be written -------------------------------------------------------------
def test_a_read_only_database_gives_a_clear_page_and_start_up_survives_queued_runs(
    db_url: str, engine: Engine
) -> None:
    with SqlUnitOfWork(engine) as uow:
        token = services.new_api_token(uow, "ceo", "ceo", "read-only test")
        uow.commit()
    queued = queue_run(engine)
    app = create_app(Settings(database_url=read_only(db_url), secret_key=SECRET))  # no crash
    with TestClient(app) as client:
        form = client.get("/login")
        assert form.status_code == 200
        tokens = dict(re.findall(r'name="(login_token|csrf_token)" value="([^"]+)"', form.text))
        signed_in = client.post(
            "/login",
            data={"username": "ceo", "password": DEMO_PASSWORD, "next": "/", **tokens},
            follow_redirects=False,
        )
        assert signed_in.status_code == 503
        assert "the database is read-only" in signed_in.text
        assert "Contact the administrator" in signed_in.text
        assert "Internal Server Error" not in signed_in.text
        api = client.get("/api/v1/missions", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 503
        assert api.json()["detail"].startswith("the database is read-only")
    app.state.engine.dispose()
    assert status_of(engine, queued)[0] == "queued"  # nothing could be written
    writable = create_app(Settings(database_url=db_url, secret_key=SECRET))
    assert status_of(engine, queued) == ("queued", None)  # start-up leaves it in the queue
    with TestClient(writable):  # and the writable server, serving, solves it
        assert writable.state.jobs.wait(queued, timeout=120) == "optimal"
    writable.state.engine.dispose()


def test_a_worker_that_cannot_write_at_all_leaves_its_run_queued_for_the_next_server(
    db_url: str, engine: Engine
) -> None:
    queued = queue_run(engine)
    worker_engine = make_engine(read_only(db_url))
    try:
        status = runs.execute_run(lambda: SqlUnitOfWork(worker_engine), queued)
    finally:
        worker_engine.dispose()
    assert status == "failed"  # reported, not raised
    assert status_of(engine, queued)[0] == "queued"  # the database took no write at all
    app = create_app(Settings(database_url=db_url, secret_key=SECRET))  # the next start-up
    assert status_of(engine, queued) == ("queued", None)
    with TestClient(app):  # serving, it claims the run from the shared queue and solves it
        assert app.state.jobs.wait(queued, timeout=120) == "optimal"
    app.state.engine.dispose()


def test_a_run_whose_server_stopped_while_solving_is_failed_at_the_next_start_up(
    db_url: str, engine: Engine
) -> None:
    """Its owner's heartbeat is stale: the next start-up marks it failed, with the reason."""
    queued = queue_run(engine)
    with SqlUnitOfWork(engine) as uow:
        long_ago = uow.now() - dt.timedelta(seconds=runs.STALE_AFTER_S * 2)
        assert uow.runs.claim("stopped-host:7:dead", long_ago, queued) == queued
        uow.commit()
    app = create_app(Settings(database_url=db_url, secret_key=SECRET))
    assert status_of(engine, queued) == ("failed", INTERRUPTED)
    app.state.jobs.shutdown()
    app.state.engine.dispose()


class DiskFullForResults(SqlUnitOfWork):
    """A unit of work on a disk with no room for a run's result (a small error message fits)."""

    def __enter__(self) -> DiskFullForResults:
        super().__enter__()
        update = self.runs.update

        def refuse_results(run_id: int, **fields: Any) -> None:
            if fields.get("result") is not None:
                raise OperationalError(
                    "UPDATE optimiser_runs",
                    {},
                    sqlite3.OperationalError("database or disk is full"),
                )
            update(run_id, **fields)

        self.runs.update = refuse_results  # type: ignore[method-assign]
        return self


def test_a_run_whose_result_cannot_be_saved_is_marked_failed_with_the_reason(engine: Engine):
    queued = queue_run(engine)
    status = runs.execute_run(lambda: DiskFullForResults(engine), queued)
    assert status == "failed"
    stored, error = status_of(engine, queued)
    assert stored == "failed"
    assert error is not None and "could not be saved" in error and "full" in error
    with SqlUnitOfWork(engine) as uow:
        finished = [
            e
            for e in uow.audit.all(DEMO, entity="optimiser_run", entity_id=str(queued))
            if e.action == "finished"
        ]
    assert [e.after["status"] for e in finished if e.after] == ["failed"]


def test_the_web_form_of_a_logged_in_user_on_a_read_only_database_says_why(
    db_url: str, engine: Engine
):
    """A change made through a form meets the same clear page (here: saving a draft score)."""
    app = create_app(Settings(database_url=db_url, secret_key=SECRET))
    with TestClient(app) as client:
        csrf = login(client, "council6")
        page = client.get(f"/missions/{DEMO}/scoring/lh2-tank").text
        version = page.split('name="version" value="')[1].split('"')[0]
    cookies = dict(client.cookies)
    app.state.engine.dispose()
    frozen = create_app(Settings(database_url=read_only(db_url), secret_key=SECRET))
    with TestClient(frozen, cookies=cookies) as client:
        refused = client.post(
            f"/missions/{DEMO}/scoring/lh2-tank",
            data={
                "options.0.p_success": "0.3",
                "action": "draft",
                "csrf_token": csrf,
                "version": version,
            },
            follow_redirects=False,
        )
        assert refused.status_code == 503
        assert "changes cannot be saved" in refused.text
    frozen.state.engine.dispose()
