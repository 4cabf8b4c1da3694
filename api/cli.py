"""The ``mission-portfolio`` command line."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.orm import sessionmaker

from api.settings import Settings
from portfolio import database, demo_loader, services
from portfolio.demo import DEMO_SLUG
from portfolio.errors import PortfolioError, validation_errors
from portfolio.exchange import MissionDocument
from portfolio.model import CouncilMember, Role, Sector, User
from portfolio.unit_of_work import SqlUnitOfWork

app = typer.Typer(
    help="Mission Portfolio: run a technological innovation mission as a hedged portfolio.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
users_app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")

CLI_ACTOR = "cli"
DEMO_DB = "mission-portfolio-demo.db"

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db", help="SQLite file to use (default: DATABASE_URL, else ./mission-portfolio.db)."
    ),
]
HostOption = Annotated[str, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[int, typer.Option("--port", help="Port to listen on.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _uow(settings: Settings) -> Iterator[SqlUnitOfWork]:
    """A unit of work on the migrated database; the engine is closed afterwards."""
    engine = database.make_engine(settings.database_url)
    try:
        database.upgrade(engine)
        with SqlUnitOfWork(engine) as uow:
            yield uow
    finally:
        engine.dispose()


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@app.command()
def serve(host: HostOption = "127.0.0.1", port: PortOption = 8000, db: DbOption = None) -> None:
    """Serve the web application and the JSON API (the database is migrated first)."""
    settings = Settings.from_env(db)
    typer.echo(f"Serving Mission Portfolio on http://{host}:{port}")
    _serve(settings, host, port)


DEMO_USERS: list[tuple[str, str]] = [
    ("ceo", "Mission CEO"),
    *[(f"council{i}", "Expert Council member") for i in range(1, 8)],
    ("treasury", "Treasury reviewer"),
    ("admin", "Administrator"),
]


def load_demo(settings: Settings, password: str) -> None:
    """Create the demo users (all with ``password``), import the demo mission and replay its
    past quarters through the cycle."""
    engine = database.make_engine(settings.database_url)
    try:
        database.upgrade(engine)
        factory = sessionmaker(engine, expire_on_commit=False)
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
    if slugs - {DEMO_SLUG}:
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
) -> None:
    """Create a fresh database with the demo mission and its users, print the logins, serve."""
    password = password or secrets.token_urlsafe(9)
    _prepare_demo_file(db)
    settings = Settings.from_env(db)
    try:
        load_demo(settings, password)
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"Demo mission loaded into {db} (figures are illustrative).")
    typer.echo(f"Open http://{host}:{port}/login and sign in as one of:")
    for username, role in DEMO_USERS:
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


@users_app.command("create")
def users_create(
    username: str,
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    password: Annotated[
        str, typer.Option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    ],
    admin: Annotated[bool, typer.Option("--admin", help="Make an administrator.")] = False,
    db: DbOption = None,
) -> None:
    """Create a user."""
    try:
        user = User(username=username, display_name=name, is_admin=admin)
        with _uow(Settings.from_env(db)) as uow:
            services.create_user(uow, CLI_ACTOR, user, password)
            uow.commit()
    except ValidationError as exc:
        raise _fail("; ".join(f"{f}: {r}" for f, r in validation_errors(exc)), 2) from exc
    except PortfolioError as exc:
        raise _fail(str(exc), 2) from exc
    typer.echo(f"Created user {username}.")


@users_app.command("grant")
def users_grant(
    username: str,
    mission: str,
    role: Annotated[Role, typer.Argument(help="mission_ceo, council_member or treasury_reviewer")],
    sector: Annotated[Sector | None, typer.Option(help="Sector of a council member.")] = None,
    db: DbOption = None,
) -> None:
    """Give a user a role on a mission."""
    if role is Role.council_member and sector is None:
        raise _fail("a council member needs --sector", 2)
    try:
        with _uow(Settings.from_env(db)) as uow:
            services.assign_role(uow, CLI_ACTOR, mission, username, role)
            if sector is not None and role is Role.council_member:
                services.set_council_member(
                    uow, CLI_ACTOR, mission, CouncilMember(username=username, sector=sector)
                )
            uow.commit()
    except PortfolioError as exc:
        raise _fail(str(exc), 2) from exc
    typer.echo(f"{username} is now {role.value} on {mission}.")


@users_app.command("token")
def users_token(username: str, name: str, db: DbOption = None) -> None:
    """Create an API token for a user and print it (it is shown only once)."""
    try:
        with _uow(Settings.from_env(db)) as uow:
            token = services.new_api_token(uow, CLI_ACTOR, username, name)
            uow.commit()
    except PortfolioError as exc:
        raise _fail(str(exc), 2) from exc
    typer.echo(token)


@app.command("export")
def export(mission: str, db: DbOption = None) -> None:
    """Write a whole mission as JSON on stdout (``export MISSION > mission.json``)."""
    try:
        with _uow(Settings.from_env(db)) as uow:
            document = services.export_mission(uow, mission)
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    sys.stdout.write(json.dumps(document.model_dump(mode="json"), indent=2, ensure_ascii=False))
    sys.stdout.write("\n")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A mission document written by export.")],
    db: DbOption = None,
) -> None:
    """Load a whole mission from a JSON file, all or nothing."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
        document = MissionDocument.model_validate(raw)
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}", 2) from exc
    except json.JSONDecodeError as exc:
        raise _fail(f"{file} is not JSON: {exc.msg} at line {exc.lineno}", 2) from exc
    except ValidationError as exc:
        raise _fail("; ".join(f"{f}: {r}" for f, r in validation_errors(exc)[:20]), 2) from exc
    try:
        with _uow(Settings.from_env(db)) as uow:
            services.import_mission(uow, CLI_ACTOR, document)
            uow.commit()
    except PortfolioError as exc:
        raise _fail(str(exc), 2) from exc
    typer.echo(f"Imported mission {document.mission.slug} ({len(document.candidates)} candidates).")


def main() -> None:  # pragma: no cover
    app()


@app.command()
def solve(
    problem: Annotated[Path, typer.Argument(help="A problem file (mission-portfolio/problem).")],
    solver: Annotated[str, typer.Option("--solver", help="highs (default) or cbc.")] = "highs",
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Seconds (default: the file's policy).")
    ] = None,
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="An earlier result of this file (e.g. an audit pack's result.json): say whether "
            "this solve funds the same allocation on the same software.",
        ),
    ] = None,
) -> None:
    """Solve a problem file and print the result document. Exit 0 when a portfolio was found,
    1 when the rules cannot all be met (with the diagnosis), 2 for a malformed file, 3 when the
    solver failed (with its own message)."""
    from optimiser.cli import run_solve

    if solver not in ("highs", "cbc"):
        raise _fail("--solver must be highs or cbc", 2)
    raise typer.Exit(
        run_solve(
            str(problem),
            solver,
            time_limit,
            sys.stdout,
            sys.stderr,
            compare=None if compare is None else str(compare),
        )
    )


@app.command("export-problem")
def export_problem(
    mission: str,
    objective: Annotated[
        str | None,
        typer.Option(
            help="expected, capped, p_target or cvar (default: the "
            "policy of the mission's latest run, else p_target)."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Write the problem file the mission's current data gives, to reproduce a solve outside
    the web: ``export-problem MISSION > problem.json``."""
    from optimiser.problem import Policy
    from portfolio.runs import export_problem as build

    try:
        with _uow(Settings.from_env(db)) as uow:
            runs = uow.runs.all(mission) if uow.missions.exists(mission) else []
            policy = Policy.model_validate(runs[0].problem["policy"]) if runs else Policy()
            scenarios = runs[0].problem.get("scenarios", {}) if runs else {}
            if objective is not None:
                policy = Policy.model_validate({**policy.model_dump(), "objective": objective})
            document = build(
                uow,
                mission,
                policy,
                scenarios=scenarios.get("count", 2000),
                seed=scenarios.get("seed", 42),
            )
    except ValidationError as exc:
        raise _fail("; ".join(f"{f}: {r}" for f, r in validation_errors(exc)), 2) from exc
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


council_app = typer.Typer(help="Expert Council analyses.", no_args_is_help=True)
app.add_typer(council_app, name="council")


@council_app.command("classical-model")
def classical_model(
    file: Annotated[
        Path, typer.Argument(help="An elicitation file (mission-portfolio/elicitation).")
    ],
    alpha: Annotated[str, typer.Option("--alpha", help="optimise, or a cut-off in [0, 1).")] = (
        "optimise"
    ),
    weights: Annotated[str, typer.Option("--weights", help="global or equal.")] = "global",
) -> None:
    """Cooke's classical model on a file of seed and target items: prints each expert's
    calibration, information and weight, and the decision maker's quantiles, as JSON."""
    from portfolio.classical import run_classical_model_cli

    raise typer.Exit(run_classical_model_cli(str(file), alpha, weights, sys.stdout, sys.stderr))


quarter_app = typer.Typer(help="The quarterly cycle.", no_args_is_help=True)
app.add_typer(quarter_app, name="quarter")


@quarter_app.command("close")
def quarter_close(
    mission: str,
    actor: Annotated[str, typer.Option("--as", help="The Mission CEO closing it.")],
    db: DbOption = None,
) -> None:
    """Close the mission's current quarter into its audit pack and open the next one (it needs
    an approved allocation and a published update)."""
    from portfolio import cycle

    try:
        with _uow(Settings.from_env(db)) as uow:
            if Role.mission_ceo not in uow.missions.roles_of(mission, actor):
                raise _fail(f"{actor} is not the Mission CEO of {mission}", 2)
            quarter = cycle.close_quarter(uow, actor, mission)
            uow.commit()
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"Closed {quarter.label}; audit pack {quarter.pack_hash}.")


@app.command()
def verify(mission: str, db: DbOption = None) -> None:
    """Check the hash chain of the mission's audit packs: exit 0 if history is intact, 1 with
    the problems otherwise."""
    from portfolio import cycle

    try:
        with _uow(Settings.from_env(db)) as uow:
            problems = cycle.verify(uow, mission)
            closed = [q.label for q in uow.missions.quarters(mission) if q.pack_hash]
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    if problems:
        for problem in problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1)
    typer.echo(
        f"The audit packs of {mission} are intact ({len(closed)} closed quarters: "
        f"{', '.join(closed) or 'none'})."
    )


@app.command()
def report(
    mission: str,
    quarter: Annotated[
        str | None,
        typer.Option(
            "--quarter",
            help="For example 2026-27-Q2 (default: the latest "
            "quarter with an approved allocation).",
        ),
    ] = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="json (the whole report), csv (funding rows) or "
            "xlsx (the workbook; needs --output).",
        ),
    ] = "json",
    output: Annotated[Path | None, typer.Option("--output", help="Write to this file.")] = None,
    db: DbOption = None,
) -> None:
    """Treasury's allocation report of a quarter, for use outside the web."""
    from portfolio import report as reports
    from portfolio.csvio import to_csv

    if output_format not in ("json", "csv", "xlsx"):
        raise _fail("--format must be json, csv or xlsx", 2)
    if output_format == "xlsx" and output is None:
        raise _fail("--format xlsx needs --output FILE.xlsx", 2)
    try:
        with _uow(Settings.from_env(db)) as uow:
            label = (
                quarter.replace("-Q", " Q")
                if quarter
                else next(
                    (
                        q.label
                        for q in reversed(uow.missions.quarters(mission))
                        if q.approved_run is not None
                    ),
                    None,
                )
            )
            if label is None:
                raise _fail(f"{mission} has no approved allocation yet", 1)
            rep = reports.allocation_report(uow, mission, label, CLI_ACTOR)
            uow.commit()
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    if output_format == "xlsx":
        assert output is not None
        output.write_bytes(reports.workbook(rep))
        typer.echo(f"Wrote {output}.")
        return
    text = (
        rep.model_dump_json(indent=2)
        if output_format == "json"
        else to_csv(
            [line.model_dump() for line in rep.funding], list(reports.FundingLine.model_fields)
        )
    )
    if output is not None:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {output}.")
    else:
        sys.stdout.write(text + ("\n" if not text.endswith("\n") else ""))
