"""Migrations from an empty database, on SQLite and PostgreSQL: up, down, up, and no drift."""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from typer.testing import CliRunner

from api.cli import app
from portfolio.adapters import database
from portfolio.adapters.orm import Base

TABLES = set(Base.metadata.tables)
HEAD = ScriptDirectory.from_config(database.alembic_config("sqlite://")).get_current_head()
_names = count()


@pytest.fixture
def blank_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it at all (not even alembic's version table)."""
    if backend == "sqlite":
        yield database.sqlite_url(tmp_path / "blank.db")
        return
    server = request.getfixturevalue("postgres_server")
    name = f"blank_{os.getpid()}_{next(_names)}"
    server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.url(name)
    finally:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(blank_url: str) -> Iterator[Engine]:
    engine = database.make_engine(blank_url)
    yield engine
    engine.dispose()


def tables_of(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def revision_of(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def drift(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_the_migrations_form_one_line_of_history() -> None:
    script = ScriptDirectory.from_config(database.alembic_config("sqlite://"))
    assert script.get_heads() == [HEAD]
    assert [r.revision for r in script.walk_revisions()][-1] == "0001"


def test_an_empty_database_starts_with_no_tables(engine: Engine) -> None:
    assert tables_of(engine) == set()
    assert revision_of(engine) is None


def test_upgrading_an_empty_database_creates_every_table(engine: Engine) -> None:
    database.upgrade(engine)
    assert tables_of(engine) == TABLES | {"alembic_version"}
    assert revision_of(engine) == HEAD


def test_every_column_of_the_models_exists_after_upgrading(engine: Engine) -> None:
    database.upgrade(engine)
    inspector = inspect(engine)
    for name, table in Base.metadata.tables.items():
        columns = {c["name"] for c in inspector.get_columns(name)}
        assert columns == set(table.columns.keys()), name


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    database.upgrade(engine)
    assert drift(engine) == []


def test_alembic_check_finds_no_new_operations(engine: Engine, blank_url: str) -> None:
    database.upgrade(engine)
    command.check(database.alembic_config(blank_url))


def test_downgrading_to_base_removes_every_table(engine: Engine) -> None:
    database.upgrade(engine)
    database.downgrade(engine, "base")
    assert tables_of(engine) & TABLES == set()
    assert revision_of(engine) is None


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_downgrading_on_postgresql_removes_the_append_only_function(engine: Engine) -> None:
    database.upgrade(engine)
    database.downgrade(engine, "base")
    with engine.connect() as connection:
        functions = connection.execute(
            text("SELECT proname FROM pg_proc WHERE proname = 'audit_entries_append_only'")
        ).all()
    assert functions == []


def test_upgrading_again_after_a_downgrade_works_and_matches_the_models(engine: Engine) -> None:
    database.upgrade(engine)
    database.downgrade(engine, "base")
    database.upgrade(engine)
    assert tables_of(engine) == TABLES | {"alembic_version"}
    assert revision_of(engine) == HEAD
    assert drift(engine) == []


def test_upgrading_an_up_to_date_database_changes_nothing(engine: Engine) -> None:
    database.upgrade(engine)
    database.upgrade(engine)
    assert tables_of(engine) == TABLES | {"alembic_version"}
    assert revision_of(engine) == HEAD


def test_the_append_only_guard_is_back_after_a_downgrade_and_upgrade(engine: Engine) -> None:
    database.upgrade(engine)
    database.downgrade(engine, "base")
    database.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_entries (at, actor, entity, entity_id, action) "
                "VALUES (CURRENT_TIMESTAMP, 'ceo', 'mission', 'm', 'created')"
            )
        )
    with pytest.raises(Exception, match="append-only"), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entries"))


def test_the_cli_db_upgrade_command_migrates_an_empty_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", str(path)])
    assert result.exit_code == 0, result.output
    engine = database.make_engine(database.sqlite_url(path))
    try:
        assert tables_of(engine) == TABLES | {"alembic_version"}
    finally:
        engine.dispose()


def test_a_closed_quarters_pack_moves_to_its_own_table_and_back(engine: Engine) -> None:
    """Revision 0014 moves each quarter's pack out of ``quarters`` unchanged (and 0013 takes it
    back): a database closed before it keeps every pack its history check compares with."""
    database.upgrade(engine, "0013")
    pack = '{"rag": {"computed": "amber"}, "rows": [1, 2, 3]}'
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO missions (slug, name, description, target, unit, deadline, years, "
                "dal, dal_mode, aggregation, kill_threshold, rag_green, rag_amber, version) "
                "VALUES ('m', 'M', '', 1, 'Mt', '2031-03-31', '[\"2026-27\"]', 1, 'flag', "
                "'equal', 0.1, 0.7, 0.4, 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO quarters (mission_id, label, state, scoring, rag_reason, pack) "
                "SELECT id, '2026-27 Q1', 'closed', 'closed', '', :pack FROM missions"
            ),
            {"pack": pack},
        )
    database.upgrade(engine)
    assert "pack" not in {c["name"] for c in inspect(engine).get_columns("quarters")}
    with engine.connect() as connection:
        moved = connection.execute(text("SELECT pack FROM quarter_packs")).scalar_one()
    assert moved == pack or moved == {"rag": {"computed": "amber"}, "rows": [1, 2, 3]}
    database.downgrade(engine, "0013")
    with engine.connect() as connection:
        back = connection.execute(text("SELECT pack FROM quarters")).scalar_one()
    assert back == pack or back == {"rag": {"computed": "amber"}, "rows": [1, 2, 3]}
