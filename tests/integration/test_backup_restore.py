"""Backup and restore: a whole mission exported from one backend and imported into a fresh
database of the other comes back exactly — SQLite → PostgreSQL → SQLite and the reverse — through
the services and through ``mission-portfolio export`` / ``import``; its audit packs still verify."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support import DEMO
from typer.testing import CliRunner

from api.cli import app as cli
from portfolio.adapters import database
from portfolio.adapters.exchange import MissionDocument
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.services import cycle
from portfolio.services import missions as services

if TYPE_CHECKING:
    from conftest import PostgresServer, Templates

pytestmark = pytest.mark.postgres

# Every part of a mission a restore must carry; each must be non-empty in the demo mission.
CARRIED = (
    "users",
    "roles",
    "council",
    "candidates",
    "quarters",
    "scores",
    "evidence",
    "runs",
    "changes",
    "updates",
    "packs",
    "audit",
)
_names = count()


# -- databases ---------------------------------------------------------------------------------


class Databases:
    """Fresh, migrated databases for one test; every one is dropped (or deleted) afterwards."""

    def __init__(self, server: PostgresServer, sqlite: Templates, folder: Path):
        self.server, self.sqlite, self.folder = server, sqlite, folder
        self.postgres: list[str] = []
        self.files: list[str] = []

    def fresh_postgres(self) -> str:
        name = f"restore_{os.getpid()}_{next(_names)}"
        self.server.execute(f'CREATE DATABASE "{name}"')
        self.postgres.append(name)
        url = self.server.url(name)
        engine = database.make_engine(url)
        try:
            database.upgrade(engine)
        finally:
            engine.dispose()
        return url

    def fresh_sqlite(self) -> str:
        url = database.sqlite_url(self.folder / f"restore-{next(_names)}.db")
        engine = database.make_engine(url)
        try:
            database.upgrade(engine)
        finally:
            engine.dispose()
        return url

    def demo_sqlite(self) -> str:
        url = self.sqlite.copy("demo")
        self.files.append(url)
        return url

    def close(self) -> None:
        for name in self.postgres:
            self.server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for url in self.files:
            self.sqlite.drop(url)


@pytest.fixture
def databases(
    postgres_server: PostgresServer, sqlite_templates: Templates, tmp_path: Path
) -> Iterator[Databases]:
    dbs = Databases(postgres_server, sqlite_templates, tmp_path)
    yield dbs
    dbs.close()


@pytest.fixture
def postgres_demo(postgres_templates: Templates) -> Iterator[str]:
    """A PostgreSQL database holding the demo mission."""
    url = postgres_templates.copy("demo")
    yield url
    postgres_templates.drop(url)


# -- helpers -----------------------------------------------------------------------------------


def export(url: str) -> MissionDocument:
    engine = database.make_engine(url)
    try:
        with SqlUnitOfWork(engine) as uow:
            return services.export_mission(uow, DEMO)
    finally:
        engine.dispose()


def restore(url: str, document: MissionDocument) -> None:
    """Import ``document`` as read back from its JSON text, as a restore from a file would."""
    engine = database.make_engine(url)
    try:
        with SqlUnitOfWork(engine) as uow:
            services.import_mission(
                uow, "admin", MissionDocument.model_validate_json(dump(document))
            )
            uow.commit()
    finally:
        engine.dispose()


def verify(url: str) -> list[str]:
    engine = database.make_engine(url)
    try:
        with SqlUnitOfWork(engine) as uow:
            return cycle.verify(uow, DEMO)
    finally:
        engine.dispose()


def dump(document: MissionDocument) -> str:
    return json.dumps(document.model_dump(mode="json"), indent=2, ensure_ascii=False)


def counts(document: MissionDocument | dict[str, Any]) -> dict[str, int]:
    raw = document.model_dump(mode="json") if isinstance(document, MissionDocument) else document
    return {part: len(raw[part]) for part in CARRIED}


def assert_complete(document: MissionDocument) -> None:
    """The demo mission has something in every part, and closed quarters with audit packs."""
    empty = [part for part, n in counts(document).items() if n == 0]
    assert not empty, f"the demo export has nothing in {empty}"
    closed = [q.label for q in document.quarters if q.pack_hash]
    assert closed and sorted(closed) == sorted(document.packs)
    assert any(r.result for r in document.runs), "no run with a result to carry"


def first_difference(a: str, b: str) -> str:
    """Where two exports part, for a readable failure."""
    for n, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), start=1):
        if x != y:
            return f"line {n}:\n  before: {x}\n  after:  {y}"
    return "one export is a prefix of the other"


def assert_identical(before: str, after: str) -> None:
    assert after == before, first_difference(before, after)


# -- through the services ----------------------------------------------------------------------


def test_sqlite_to_postgresql_and_back_gives_the_identical_export(databases: Databases) -> None:
    source = databases.demo_sqlite()
    first = export(source)
    assert_complete(first)
    assert verify(source) == []

    on_postgres = databases.fresh_postgres()
    restore(on_postgres, first)
    second = export(on_postgres)
    assert counts(second) == counts(first)
    assert_identical(dump(first), dump(second))
    assert second == first
    assert verify(on_postgres) == []

    back_on_sqlite = databases.fresh_sqlite()
    restore(back_on_sqlite, second)
    third = export(back_on_sqlite)
    assert counts(third) == counts(first)
    assert_identical(dump(first), dump(third))
    assert verify(back_on_sqlite) == []


def test_postgresql_to_sqlite_and_back_gives_the_identical_export(
    databases: Databases, postgres_demo: str
) -> None:
    first = export(postgres_demo)
    assert_complete(first)
    assert verify(postgres_demo) == []

    on_sqlite = databases.fresh_sqlite()
    restore(on_sqlite, first)
    second = export(on_sqlite)
    assert counts(second) == counts(first)
    assert_identical(dump(first), dump(second))
    assert verify(on_sqlite) == []

    back_on_postgres = databases.fresh_postgres()
    restore(back_on_postgres, second)
    third = export(back_on_postgres)
    assert counts(third) == counts(first)
    assert_identical(dump(first), dump(third))
    assert verify(back_on_postgres) == []


def test_a_restore_keeps_the_audit_trail_entry_for_entry(databases: Databases) -> None:
    source = databases.demo_sqlite()
    first = export(source)
    on_postgres = databases.fresh_postgres()
    restore(on_postgres, first)
    second = export(on_postgres)
    before = [(a.actor, a.entity, a.entity_id, a.action, a.at) for a in first.audit]
    after = [(a.actor, a.entity, a.entity_id, a.action, a.at) for a in second.audit]
    assert after == before
    assert [r.result for r in second.runs] == [r.result for r in first.runs]
    assert second.packs == first.packs


# -- through the command line ------------------------------------------------------------------


def cli_export(runner: CliRunner, *db: str) -> str:
    result = runner.invoke(cli, ["export", DEMO, *db])
    assert result.exit_code == 0, result.output
    return result.stdout


def cli_import(runner: CliRunner, file: Path, *db: str) -> None:
    result = runner.invoke(cli, ["import", str(file), *db])
    assert result.exit_code == 0, result.output
    assert f"Imported mission {DEMO}" in result.stdout


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def test_the_cli_round_trips_sqlite_to_postgresql_and_back(
    databases: Databases, tmp_path: Path
) -> None:
    plain = CliRunner()
    source = sqlite_path(databases.demo_sqlite())
    first = cli_export(plain, "--db", source)
    assert_complete(MissionDocument.model_validate_json(first))
    backup = tmp_path / "backup.json"
    backup.write_text(first, encoding="utf-8")

    on_postgres = CliRunner(env={"DATABASE_URL": databases.fresh_postgres()})
    cli_import(on_postgres, backup)
    second = cli_export(on_postgres)
    assert counts(json.loads(second)) == counts(json.loads(first))
    assert_identical(first, second)
    verified = on_postgres.invoke(cli, ["verify", DEMO])
    assert verified.exit_code == 0, verified.output

    again = tmp_path / "from-postgres.json"
    again.write_text(second, encoding="utf-8")
    target = tmp_path / "restored.db"  # does not exist yet: import creates and migrates it
    cli_import(plain, again, "--db", str(target))
    assert_identical(first, cli_export(plain, "--db", str(target)))
    assert verify(database.sqlite_url(target)) == []


def test_the_cli_round_trips_postgresql_to_sqlite_and_back(
    databases: Databases, postgres_demo: str, tmp_path: Path
) -> None:
    on_postgres = CliRunner(env={"DATABASE_URL": postgres_demo})
    first = cli_export(on_postgres)
    assert_complete(MissionDocument.model_validate_json(first))
    backup = tmp_path / "backup.json"
    backup.write_text(first, encoding="utf-8")

    # --db wins over DATABASE_URL: the restore goes to the SQLite file, not back to PostgreSQL
    target = tmp_path / "restored.db"
    cli_import(on_postgres, backup, "--db", str(target))
    second = cli_export(on_postgres, "--db", str(target))
    assert counts(json.loads(second)) == counts(json.loads(first))
    assert_identical(first, second)
    assert verify(database.sqlite_url(target)) == []

    again = tmp_path / "from-sqlite.json"
    again.write_text(second, encoding="utf-8")
    fresh = CliRunner(env={"DATABASE_URL": databases.fresh_postgres()})
    cli_import(fresh, again)
    assert_identical(first, cli_export(fresh))
    verified = fresh.invoke(cli, ["verify", DEMO])
    assert verified.exit_code == 0, verified.output


def test_importing_a_mission_that_exists_changes_nothing(
    databases: Databases, postgres_demo: str, tmp_path: Path
) -> None:
    on_postgres = CliRunner(env={"DATABASE_URL": postgres_demo})
    before = cli_export(on_postgres)
    backup = tmp_path / "backup.json"
    backup.write_text(before, encoding="utf-8")
    refused = on_postgres.invoke(cli, ["import", str(backup)])
    assert refused.exit_code == 2
    assert "already exists" in refused.output
    assert_identical(before, cli_export(on_postgres))
