"""``mission-portfolio serve --workers N``: several server processes on PostgreSQL, sharing the
run queue and signing alike, none failing the analyses of another at start-up; refused on SQLite,
with the reason."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import procs
import pytest
from sqlalchemy import Engine, select
from support import DEMO
from typer.testing import CliRunner

from api.app import COLLECTOR_THRESHOLDS, create_app
from api.cli import app as cli
from api.settings import WORKER_SETTINGS, Settings
from portfolio.adapters.database import make_engine
from portfolio.adapters.orm import RunRow
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import RunAnalysis
from portfolio.services import missions as services

SECRET = "x" * 40


def test_serve_refuses_several_workers_on_sqlite_and_says_why(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--workers", "2", "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 2
    assert "--workers 2 needs PostgreSQL" in result.output
    assert "SQLite is a single-writer embedded database" in result.output
    assert not (tmp_path / "a.db").exists()  # refused before anything was done


def test_the_workers_get_the_settings_serve_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a generated secret key (so every process signs alike), without it counting as
    configured (the history is sealed only with a configured key)."""
    for given in (Settings(), Settings(secret_key=SECRET, require_2fa=True)):
        monkeypatch.setenv(WORKER_SETTINGS, given.for_workers())
        passed = Settings.from_workers()
        assert passed == given
        assert passed.model_fields_set == given.model_fields_set
        assert passed.history_key() == given.history_key()


def test_serve_takes_what_lives_as_long_as_the_server_out_of_the_collectors_walks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full garbage collection walks every tracked object; the server's own (modules, routes,
    templates, mappers) are frozen once built, and the collector runs less often, so at a large
    mission a page no longer waits 120 ms for it every ten views (``api.app.settle_heap``)."""
    import gc

    import uvicorn

    served: list[tuple[int, tuple[int, int, int]]] = []
    monkeypatch.setattr(
        uvicorn, "run", lambda *a, **k: served.append((gc.get_freeze_count(), gc.get_threshold()))
    )
    thresholds = gc.get_threshold()
    try:
        result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "a.db")])
        assert result.exit_code == 0, result.output
        ((frozen, collecting),) = served  # as uvicorn starts serving
        assert frozen > 10_000
        assert collecting == COLLECTOR_THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_a_process_of_several_leaves_unfinished_analyses_to_the_live_ones(db_url: str) -> None:
    """Analyses have no owner: a process of ``serve --workers N`` starting up (uvicorn restarting
    one, say) must not fail the analysis another live process is computing; a lone server, and
    ``serve`` before it starts the processes, fail what a stopped server left."""
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        run = next(r for r in uow.runs.all(DEMO) if r.status == "optimal")
        uow.analyses.put(
            RunAnalysis(run=run.id or 0, kind="core", requested_by="ceo", created_at=uow.now())
        )
        uow.commit()

    def status() -> str:
        with SqlUnitOfWork(engine) as uow:
            found = uow.analyses.get(run.id or 0, "core")
        assert found is not None
        return found.status

    settings = Settings(database_url=db_url, secret_key=SECRET)
    for shared, expected in ((True, "queued"), (False, "failed")):
        app = create_app(settings, shared=shared)
        app.state.jobs.shutdown()
        app.state.engine.dispose()
        assert status() == expected, shared
    engine.dispose()


def _workers_of(pid: int) -> list[int]:
    """The uvicorn worker processes (spawned children) of process ``pid``."""
    return [c for c in procs.children(pid) if "spawn_main" in procs.cmdline(c)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_workers_on_postgresql_serve_and_solve_from_the_shared_queue(db_url: str) -> None:
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        token = services.new_api_token(uow, "ceo", "ceo", "workers test")
        uow.commit()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = ["serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import app; app()", *serve],
        env={**os.environ, "DATABASE_URL": db_url, "MP_SECRET_KEY": SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 60
        while len(_workers_of(server.pid)) < 2 or not _answers(f"{base}/login"):
            assert server.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.2)
        workers = _workers_of(server.pid)
        started = [_start_run(base, auth) for _ in range(3)]
        deadline = time.monotonic() + 240
        while (rows := _runs(engine, started)) and any(
            status in ("queued", "running") for status, _ in rows
        ):
            assert time.monotonic() < deadline, rows
            time.sleep(0.5)
        assert [status for status, _ in rows] == ["optimal"] * 3
        owner_pids = {int(owner.split(":")[1]) for _, owner in rows}
        assert owner_pids <= set(workers)  # solved by the workers, each run by one
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        engine.dispose()


def _answers(url: str) -> bool:
    try:
        return bool(urllib.request.urlopen(url, timeout=2).status == 200)
    except OSError:
        return False


def _start_run(base: str, auth: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/missions/{DEMO}/runs",
        data=b'{"scenarios": 100}',
        headers={**auth, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 202
        return int(json.load(response)["id"])


def _runs(engine: Engine, ids: list[int]) -> list[tuple[str, str]]:
    with SqlUnitOfWork(engine) as uow:
        rows = uow.session.execute(
            select(RunRow.status, RunRow.owner).where(RunRow.id.in_(ids)).order_by(RunRow.id)
        ).all()
    return [(status, owner or "") for status, owner in rows]
