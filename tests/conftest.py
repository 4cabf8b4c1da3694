"""Shared fixtures: fresh databases on SQLite and on a real PostgreSQL server the suite starts.

Each backend gets two template databases per test session (migrated; migrated + demo mission), and
every test gets its own copy, so tests are independent and fast.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from support import DEMO_PASSWORD

from api.app import create_app
from api.cli import load_demo
from api.settings import Settings
from portfolio.adapters import database

# Property tests assert behaviour, not speed (speed lives in benchmarks/): no per-example
# deadline, which failed on a loaded machine (a 200 ms default met at 293 ms under two workers).
hypothesis_settings.register_profile("mission-portfolio", deadline=None)
hypothesis_settings.load_profile("mission-portfolio")

SECRET = "test-secret-key-that-is-long-enough-0123456789"
_copies = count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str = "app"

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def execute(self, sql: str) -> None:
        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: run the README's test command (make test), which "
            "installs Debian's postgresql"
        )
    return Path(found[-1]).parent


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on a loopback port, in a temporary directory, for this run."""
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="mp-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        shutil.chown(root, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "app",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield PostgresServer("127.0.0.1", port)
    finally:
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Templates:
    """Template databases of one backend, from which each test gets a copy."""

    backend: str
    empty: str
    demo: str
    server: PostgresServer | None = None
    folder: Path | None = None

    def copy(self, which: str) -> str:
        n = next(_copies)
        source = self.empty if which == "empty" else self.demo
        if self.backend == "sqlite":
            assert self.folder is not None
            target = self.folder / f"copy-{os.getpid()}-{n}.db"
            shutil.copyfile(source, target)
            return database.sqlite_url(target)
        assert self.server is not None
        name = f"t_{os.getpid()}_{n}"
        self.server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        return self.server.url(name)

    def drop(self, url: str) -> None:
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(url.removeprefix("sqlite:///") + suffix)
        else:
            assert self.server is not None
            name = url.rsplit("/", 1)[1]
            self.server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _prepare(url: str, with_demo: bool) -> None:
    engine = database.make_engine(url)
    database.upgrade(engine)
    engine.dispose()
    if with_demo:
        load_demo(Settings(database_url=url, secret_key=SECRET), DEMO_PASSWORD)


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    folder = tmp_path_factory.mktemp("sqlite")
    empty, demo = folder / "empty.db", folder / "demo.db"
    for path, with_demo in ((empty, False), (demo, True)):
        _prepare(database.sqlite_url(path), with_demo)
        engine = database.make_engine(database.sqlite_url(path))
        with engine.connect() as conn:  # fold the WAL into the file so a plain copy is whole
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
    return Templates("sqlite", str(empty), str(demo), folder=folder)


@pytest.fixture(scope="session")
def postgres_templates(postgres_server: PostgresServer) -> Templates:
    for name, with_demo in (("tpl_empty", False), ("tpl_demo", True)):
        postgres_server.execute(f'CREATE DATABASE "{name}"')
        _prepare(postgres_server.url(name), with_demo)
    return Templates("postgresql", "tpl_empty", "tpl_demo", server=postgres_server)


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _templates(request: pytest.FixtureRequest, backend: str) -> Templates:
    name = "sqlite_templates" if backend == "sqlite" else "postgres_templates"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, backend: str) -> Iterator[str]:
    """A migrated, empty database of the test's backend."""
    templates = _templates(request, backend)
    url = templates.copy("empty")
    yield url
    templates.drop(url)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, backend: str) -> Iterator[str]:
    """A migrated database holding the demo mission, its users (password DEMO_PASSWORD)."""
    templates = _templates(request, backend)
    url = templates.copy("demo")
    yield url
    templates.drop(url)


@pytest.fixture(autouse=True)
def _no_automatic_analyses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs queue no analyses in tests (the product's default is on: MP_AUTO_ANALYSES): a test
    of them builds its app with ``Settings(..., auto_analyses=True)``."""
    monkeypatch.setenv("MP_AUTO_ANALYSES", "0")


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, secret_key=SECRET)


@pytest.fixture
def app(settings: Settings) -> Iterator[object]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: object) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:  # type: ignore[arg-type]
        yield c


@pytest.fixture
def inline_client(db_url: str) -> Iterator[TestClient]:
    """A client whose optimiser runs execute inside the request, so tests need not wait."""
    application = create_app(Settings(database_url=db_url, secret_key=SECRET, run_jobs_inline=True))
    with TestClient(application, base_url="http://testserver") as c:
        yield c
    application.state.engine.dispose()


@pytest.fixture
def wait_until() -> object:
    def _wait(predicate: object, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return
            time.sleep(0.05)
        raise AssertionError("condition not met in time")

    return _wait
