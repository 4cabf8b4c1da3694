"""What every command of the ``mission-portfolio`` command line shares: the root app, the
options, opening a unit of work, and how a failure is reported."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from api.settings import WORKER_SETTINGS, Settings
from portfolio.adapters import database
from portfolio.adapters.security_log import SecurityEventKind, security_event
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import PortfolioError
from portfolio.domain.model import Role

app = typer.Typer(
    help="Mission Portfolio: run a technological innovation mission as a hedged portfolio.",
    no_args_is_help=True,
    add_completion=False,
)


CLI_ACTOR = "cli"
DEMO_DB = "mission-portfolio-demo.db"

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db", help="SQLite file to use (default: DATABASE_URL, else ./mission-portfolio.db)."
    ),
]
HostOption = Annotated[str, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")]
WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers",
        min=1,
        help="Server processes (default 1). More than one needs PostgreSQL (DATABASE_URL): SQLite "
        "is a single-writer embedded database. The processes share the queue of optimiser runs, "
        "each solving one run at a time, so N processes solve up to N runs at once.",
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _uow(settings: Settings) -> Iterator[SqlUnitOfWork]:
    """A unit of work on the migrated database; the engine is closed afterwards."""
    engine = database.make_engine(settings.database_url)
    try:
        database.upgrade(engine)
        with SqlUnitOfWork(engine, settings.history_key()) as uow:
            yield uow
    finally:
        engine.dispose()


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Serve with uvicorn: the app itself in this process, or ``workers`` processes that each
    build it (``api.app:create_worker_app``) from the settings passed in the environment, once
    this process has migrated the database (N processes must not migrate it at once) and failed
    what a stopped server left unfinished (``api.jobs.recover``: a process starting later, say
    one uvicorn restarts, must not fail the analyses of the live ones)."""
    import uvicorn

    from api.app import create_app, settle_heap
    from api.jobs import recover
    from portfolio.adapters.unit_of_work import session_factory

    if workers == 1:
        app = create_app(settings)
        settle_heap()
        uvicorn.run(app, host=host, port=port, log_level="info")
        return
    engine = database.make_engine(settings.database_url)
    try:
        database.upgrade(engine)
        recover(session_factory(engine, settings.history_key()))  # before any process serves
    finally:
        engine.dispose()
    os.environ[WORKER_SETTINGS] = settings.for_workers()
    uvicorn.run(
        "api.app:create_worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
    )


def _cli_event(
    uow: SqlUnitOfWork, event: SecurityEventKind, username: str, command: str, detail: str
) -> None:
    uow.security.add(
        security_event(
            uow.now(),
            event,
            username=username,
            address=None,
            method="CLI",
            path=f"users {command}",
            detail=detail,
        )
    )


def _rows_failed(exc: PortfolioError) -> typer.Exit:
    """Each problem of a file on its own line, by row and column."""
    from portfolio.domain.errors import InvalidInput

    if not isinstance(exc, InvalidInput):
        return _fail(str(exc))
    for field, rule in exc.errors:
        typer.echo(f"error: {field}: {rule}", err=True)
    return typer.Exit(2)


def _may(uow: SqlUnitOfWork, mission: str, actor: str, perm: str, who: str) -> set[Role]:
    """``actor``'s roles on ``mission``; refused unless the permission table gives them ``perm``."""
    from api.permissions import Perm, allowed

    if not uow.missions.exists(mission):
        raise _fail(f"there is no mission {mission}", 2)
    user = uow.users.get(actor)
    roles = uow.missions.roles_of(mission, actor)
    if not allowed(Perm(perm), roles, user.is_admin):
        raise _fail(f"{actor} may not do this on {mission}: only {who} may", 2)
    return roles


def _field_errors(exc: PortfolioError) -> typer.Exit:
    """Each problem on its own line, naming the option (``--reason``) it came from."""
    from portfolio.domain.errors import InvalidInput

    if not isinstance(exc, InvalidInput):
        return _fail(str(exc))
    for field, rule in exc.errors:
        typer.echo(f"error: --{field.replace('_', '-')}: {rule}", err=True)
    return typer.Exit(2)
