"""Serving the application, the demo, and database maintenance."""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from api.cli.common import (
    DEMO_DB,
    DbOption,
    HostOption,
    PortOption,
    WorkersOption,
    _fail,
    _serve,
    app,
)
from api.settings import Settings
from portfolio.adapters import database
from portfolio.adapters.unit_of_work import SqlUnitOfWork, session_factory
from portfolio.demo import loader as demo_loader
from portfolio.demo.large import LARGE_SLUG, LargeSize, load_large
from portfolio.demo.mission import DEMO_SLUG
from portfolio.domain.errors import PortfolioError

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    db: DbOption = None,
    workers: WorkersOption = 1,
) -> None:
    """Serve the web application and the JSON API (the database is migrated first)."""
    settings = Settings.from_env(db)
    if workers > 1 and make_url(settings.database_url).get_backend_name() == "sqlite":
        raise _fail(
            f"--workers {workers} needs PostgreSQL: SQLite is a single-writer embedded database, "
            "so several server processes would queue behind its one write lock (and fail with "
            "'database is locked' under load). Set DATABASE_URL to a PostgreSQL database, or "
            "serve with --workers 1.",
            2,
        )
    processes = f" ({workers} processes)" if workers > 1 else ""
    typer.echo(f"Serving Mission Portfolio on http://{host}:{port}{processes}")
    _serve(settings, host, port, workers)


class DemoSize(StrEnum):
    """Which demo mission ``demo`` loads."""

    demo = "demo"  # the authored 23-candidate demo
    large = "large"  # a generated mission ten times its size (portfolio.demo.large)


DEMO_USERS: list[tuple[str, str]] = [
    ("ceo", "Mission CEO"),
    *[(f"council{i}", "Expert Council member") for i in range(1, 8)],
    ("treasury", "Treasury reviewer"),
    ("admin", "Administrator"),
]
LARGE_USERS: list[tuple[str, str]] = [
    ("ceo", "Mission CEO"),
    (f"council1 … council{LargeSize().members}", "Expert Council members"),
    ("treasury", "Treasury reviewer"),
    ("admin", "Administrator"),
]


def load_demo(settings: Settings, password: str, size: DemoSize = DemoSize.demo) -> None:
    """Create the demo users (all with ``password``), import the demo mission (or, with
    ``size`` large, generate the large one) and replay its past quarters through the cycle."""
    engine = database.make_engine(settings.database_url)
    try:
        database.upgrade(engine)
        factory = session_factory(engine, settings.history_key())
        if size is DemoSize.large:
            load_large(lambda: SqlUnitOfWork(factory), password)
        else:
            demo_loader.load_demo(lambda: SqlUnitOfWork(factory), password)
    finally:
        engine.dispose()


def _prepare_demo_file(path: Path) -> None:
    """Remove an earlier demo database at ``path``; refuse to touch any other database."""
    if not path.exists():
        return
    settings = Settings.from_env(path)
    engine = database.make_engine(settings.database_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            slugs = {m.slug for m in uow.missions.all()}
    except Exception:  # not a database of ours: leave it alone
        slugs = {"?"}
    finally:
        engine.dispose()
    if slugs - {DEMO_SLUG, LARGE_SLUG}:
        raise _fail(
            f"{path} holds other missions ({', '.join(sorted(slugs))}); "
            "choose another --db for the demo"
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@app.command()
def demo(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    db: Annotated[Path, typer.Option("--db", help="SQLite file for the demo (re-created).")] = (
        Path(DEMO_DB)
    ),
    password: Annotated[
        str | None,
        typer.Option(
            "--password", help="Password for every demo user (default: a generated one, printed)."
        ),
    ] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load the demo and stop.")] = False,
    size: Annotated[
        DemoSize,
        typer.Option(
            "--size",
            help="demo: the 23-candidate demo; large: a generated mission ten times its size "
            "(300 candidates on 15 platforms, 15 council members, 12 quarters; loads in minutes).",
        ),
    ] = DemoSize.demo,
) -> None:
    """Create a fresh database with the demo mission and its users, print the logins, serve."""
    password = password or secrets.token_urlsafe(9)
    _prepare_demo_file(db)
    settings = Settings.from_env(db)
    try:
        load_demo(settings, password, size)
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"Demo mission loaded into {db} (figures are illustrative).")
    typer.echo(f"Open http://{host}:{port}/login and sign in as one of:")
    for username, role in LARGE_USERS if size is DemoSize.large else DEMO_USERS:
        typer.echo(f"  {username:<10} {role:<24} password: {password}")
    if not no_serve:
        _serve(settings, host, port)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Migrate the database to the newest schema."""
    engine = database.make_engine(Settings.from_env(db).database_url)
    try:
        database.upgrade(engine)
    finally:
        engine.dispose()
    typer.echo("Database is at the newest schema.")
