"""Engines and migrations: SQLite file by default, PostgreSQL via DATABASE_URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_DB_PATH = "mission-portfolio.db"


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite connections get foreign keys, WAL and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    return create_engine(url, pool_pre_ping=True, **kwargs)


#: why the database refused a write, by SQLite message fragment or PostgreSQL SQLSTATE
READ_ONLY = "the database is read-only"
FULL = "the database or its disk is full"
BUSY = "the database is busy"
DISK = "the database cannot write to its disk"
_SQLITE_PROBLEMS = (
    ("readonly", READ_ONLY),
    ("read-only", READ_ONLY),
    ("full", FULL),
    ("disk i/o error", DISK),
    ("database is locked", BUSY),
)
_POSTGRESQL_PROBLEMS = {
    "25006": READ_ONLY,  # read_only_sql_transaction
    "53100": FULL,  # disk_full
    "53200": FULL,  # out_of_memory
    "53300": BUSY,  # too_many_connections
    "55P03": BUSY,  # lock_not_available
    "57P03": BUSY,  # cannot_connect_now
}


def storage_problem(exc: BaseException) -> str | None:
    """Why the database could not store a change, in words for a person (read-only, full,
    busy), when ``exc`` is that kind of error; None for any other error."""
    if not isinstance(exc, DBAPIError):
        return None
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _POSTGRESQL_PROBLEMS:
        return _POSTGRESQL_PROBLEMS[sqlstate]
    if isinstance(exc, OperationalError):
        message = str(exc.orig).lower()
        for fragment, problem in _SQLITE_PROBLEMS:
            if fragment in message:
                return problem
    return None


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision``."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)
