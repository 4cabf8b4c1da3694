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

from api.params import MAX_ROW_ID
from api.settings import Settings
from portfolio.adapters import database
from portfolio.adapters.exchange import MissionDocument
from portfolio.adapters.security_log import SecurityEventKind, security_event
from portfolio.adapters.unit_of_work import SqlUnitOfWork, session_factory
from portfolio.demo import loader as demo_loader
from portfolio.demo.mission import DEMO_SLUG
from portfolio.domain.errors import InvalidInput, PortfolioError, validation_errors
from portfolio.domain.model import CouncilMember, Role, Sector, User
from portfolio.services import history
from portfolio.services import missions as services
from portfolio.services.history import PublishedSeal, seals_in

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
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")]


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
        factory = session_factory(engine, settings.history_key())
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


@users_app.command("token")
def users_token(
    username: str,
    name: str,
    days: Annotated[
        int,
        typer.Option(
            "--days",
            help=f"Days until it expires (1-{services.TOKEN_MAX_DAYS}).",
        ),
    ] = services.TOKEN_DAYS,
    db: DbOption = None,
) -> None:
    """Create an API token for a user and print it (it is shown only once)."""
    try:
        with _uow(Settings.from_env(db)) as uow:
            token = services.new_api_token(uow, CLI_ACTOR, username, name, days)
            uow.commit()
            expires = uow.users.tokens(username)[-1]["expires_at"]
    except PortfolioError as exc:
        raise _rows_failed(exc) from exc
    typer.echo(f"Token {name} for {username} expires {expires:%Y-%m-%d %H:%M} UTC.", err=True)
    typer.echo(token)


@users_app.command("tokens")
def users_tokens(username: str, db: DbOption = None) -> None:
    """List a user's API tokens with when each expires (the tokens themselves are not stored)."""
    try:
        with _uow(Settings.from_env(db)) as uow:
            uow.users.get(username)
            tokens, now = uow.users.tokens(username), uow.now()
    except PortfolioError as exc:
        raise _fail(str(exc), 2) from exc
    if not tokens:
        typer.echo(f"{username} has no API tokens.")
    for t in tokens:
        used = f"{t['last_used_at']:%Y-%m-%d %H:%M}" if t["last_used_at"] else "never"
        state = "expired" if t["expires_at"] <= now else "expires"
        typer.echo(
            f"{t['id']:>5}  {t['name']:<30}  created {t['created_at']:%Y-%m-%d %H:%M}  "
            f"last used {used}  {state} {t['expires_at']:%Y-%m-%d %H:%M} UTC"
        )


@users_app.command("revoke-token")
def users_revoke_token(username: str, token_id: int, db: DbOption = None) -> None:
    """Revoke (delete) one of a user's API tokens, by the number ``users tokens`` shows."""
    try:
        with _uow(Settings.from_env(db)) as uow:
            services.revoke_api_token(uow, CLI_ACTOR, username, token_id)
            uow.commit()
    except PortfolioError as exc:
        raise _fail(str(exc), 2) from exc
    typer.echo(f"Revoked token {token_id} of {username}.")


@users_app.command("set-password")
def users_set_password(
    username: str,
    password: Annotated[
        str,
        typer.Option(
            "--password",
            prompt="New password",
            hide_input=True,
            confirmation_prompt=True,
            help="The new password (asked for, hidden, when left out).",
        ),
    ],
    db: DbOption = None,
) -> None:
    """Set a user's password (by the rules for new passwords): every session of the user ends
    and every API token is revoked."""
    try:
        with _uow(Settings.from_env(db)) as uow:
            uow.users.get(username)
            revoked = services.set_password(uow, CLI_ACTOR, username, password)
            _cli_event(
                uow,
                SecurityEventKind.password_changed,
                username,
                "set-password",
                f"by the command line; sessions ended, {revoked} API token(s) revoked",
            )
            uow.commit()
    except PortfolioError as exc:
        raise _rows_failed(exc) from exc
    typer.echo(
        f"Password of {username} changed; their sessions ended and {revoked} API token(s) "
        "were revoked."
    )


@users_app.command("security-log")
def users_security_log(
    event: Annotated[
        SecurityEventKind | None, typer.Option("--event", help="Only this kind of event.")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this username.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    output_format: Annotated[
        str, typer.Option("--format", help="text (a table) or json (one list).")
    ] = "text",
    db: DbOption = None,
) -> None:
    """The security log, newest first: sign-ins and their failures and delays, refusals (403,
    CSRF), API token use, password changes."""
    if output_format not in ("text", "json"):
        raise _fail("--format must be text or json", 2)
    with _uow(Settings.from_env(db)) as uow:
        entries = uow.security.recent(event=event, username=user, limit=limit)
    if output_format == "json":
        typer.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=1))
        return
    if not entries:
        typer.echo("No security events recorded.")
    for e in entries:
        typer.echo(
            f"{e.at:%Y-%m-%d %H:%M:%S}  {e.event.value:<24}  {e.username or '-':<20}  "
            f"{e.address or '-':<15}  {e.method} {e.path}  {e.detail}"
        )


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
    from portfolio.services.runs import export_problem as build

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
    from portfolio.domain.classical import run_classical_model_cli

    raise typer.Exit(run_classical_model_cli(str(file), alpha, weights, sys.stdout, sys.stderr))


@council_app.command("no-change")
def council_no_change(
    mission: str,
    candidate: Annotated[str, typer.Argument(help="The candidate's id.")],
    actor: Annotated[str, typer.Option("--as", help="The council member scoring.")],
    db: DbOption = None,
) -> None:
    """Submit a council member's last submitted scores of a candidate (from an earlier round)
    unchanged, as their submission in the open round. Refused when the candidate has a new
    option since: score it on the scoring page."""
    from portfolio.services import council

    names: dict[str, str] = {}
    try:
        with _uow(Settings.from_env(db)) as uow:
            _may(uow, mission, actor, "score", "a council member")
            found = uow.candidates.get(mission, candidate)
            names = {f"options.{i}": o.name for i, o in enumerate(found.options)}
            last = council.submit_last_scores(uow, actor, mission, candidate)
            quarter = council.current_quarter(uow, mission)
            uow.commit()
    except InvalidInput as exc:
        for field, rule in exc.errors:
            typer.echo(f"error: {names.get(field, 'your scores')}: {rule}", err=True)
        raise typer.Exit(2) from exc
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(
        f"No change for {found.name}: {actor}'s {last.quarter} scores are submitted for {quarter}."
    )


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
    from portfolio.services import cycle

    try:
        with _uow(Settings.from_env(db)) as uow:
            if Role.mission_ceo not in uow.missions.roles_of(mission, actor):
                raise _fail(f"{actor} is not the Mission CEO of {mission}", 2)
            quarter = cycle.close_quarter(uow, actor, mission)
            uow.commit()
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(
        f"Closed {quarter.label}; audit pack {quarter.pack_hash}, seal {quarter.pack_seal} "
        "(printed on the public update)."
    )


@quarter_app.command("tasks")
def quarter_tasks(
    mission: str,
    quarter: Annotated[
        str | None,
        typer.Option("--quarter", help="For example 2026-27-Q3 (default: the current quarter)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """The quarter's tasks in order, each with its status and what it needs (the quarter
    home's task list)."""
    from portfolio.domain import display
    from portfolio.services import guide, quarters

    try:
        with _uow(Settings.from_env(db)) as uow:
            if not uow.missions.exists(mission):
                raise _fail(f"there is no mission {mission}", 2)
            label = guide.label_from(quarter) if quarter else quarters.current_quarter(uow, mission)
            tasks = guide.quarter_tasks(uow, mission, label)
            name = uow.missions.get(mission).name
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(
        f"{name}, quarter {tasks.quarter} ({display.name_of(tasks.state).lower()}): "
        f"{tasks.completed} of {len(tasks.tasks)} tasks completed."
    )
    width = max(len(t.title) for t in tasks.tasks)
    for i, task in enumerate(tasks.tasks, 1):
        typer.echo(f"{i:2}. {task.title:<{width}}  {display.name_of(task.status)}")
        if task.reason or task.detail:
            typer.echo(f"    {task.reason or task.detail}")


def _published_seals(heads: list[str], files: list[Path]) -> list[PublishedSeal]:
    """The seals to look for: ``--head [QUARTER=]SEAL`` and those in saved public updates."""
    seals = []
    for given in heads:
        quarter, _, seal = given.rpartition("=")
        seals.append(
            PublishedSeal(quarter=quarter.strip().replace("-Q", " Q") or None, seal=seal.strip())
        )
    for file in files:
        found = seals_in(file.read_text(encoding="utf-8", errors="replace"))
        if not found:
            raise _fail(
                f"{file} holds no history seal: save the update's open data (allocation.json) "
                "or its page",
                2,
            )
        seals.extend(found)
    return seals


@app.command()
def verify(
    mission: str,
    db: DbOption = None,
    head: Annotated[
        list[str] | None,
        typer.Option(
            "--head",
            help="A seal printed on a published update, in full or its first 12 characters, "
            "as SEAL or 'QUARTER=SEAL': the history must still hold it (repeatable).",
        ),
    ] = None,
    against_published: Annotated[
        list[Path] | None,
        typer.Option(
            "--against-published",
            help="A saved public update, its open data (allocation.json) or its page: the "
            "history must still hold the seal it printed (repeatable).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Check the mission's history: its audit trail's hash chain, its audit packs' chain and
    seals (keyed with MP_SECRET_KEY), and the rows of every closed quarter against its pack.
    Exit 0 if it is intact, 1 with what changed otherwise, 2 for a bad seal given."""
    settings = Settings.from_env(db)
    published = _published_seals(head or [], against_published or [])
    try:
        with _uow(settings) as uow:
            report = history.check(uow, mission, published)
    except InvalidInput as exc:
        raise _fail("--head: " + "; ".join(m for _, m in exc.errors), 2) from exc
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    for line in report.confirmed:
        typer.echo(line)
    for note in report.notes:
        typer.echo(f"note: {note}")
    if report.problems:
        for problem in report.problems:
            typer.echo(problem, err=True)
        typer.echo(
            f"The history of {mission} was changed: {len(report.problems)} "
            f"problem{'s' if len(report.problems) != 1 else ''} above.",
            err=True,
        )
        raise typer.Exit(1)
    sealed = [q for q in report.quarters if q.seal]
    last = f", last seal {sealed[-1].seal} ({sealed[-1].quarter})" if sealed else ""
    checked = "intact" if report.keyed else "consistent, but its seals were not checked"
    typer.echo(
        f"The history of {mission} is {checked}: {report.audit_entries} audit entries chained, "
        f"{len(report.quarters)} closed quarters "
        f"({', '.join(q.quarter for q in report.quarters) or 'none'}){last}."
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
    from portfolio.services import allocation_report as reports
    from portfolio.services.csvio import to_csv

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


@app.command("finance")
def finance_command(
    mission: str,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="text (for reading), json (the whole view), csv (one table, see --table) or "
            "xlsx (both tables; needs --output).",
        ),
    ] = "text",
    table: Annotated[
        str,
        typer.Option(
            "--table", help="With --format csv: envelopes (by envelope and year) or history."
        ),
    ] = "envelopes",
    output: Annotated[Path | None, typer.Option("--output", help="Write to this file.")] = None,
    db: DbOption = None,
) -> None:
    """Programme finance: per envelope and year the budget, spent, contracted, forecast and
    headroom (£m), the approved allocation's risk of overrun, and the history by quarter."""
    from portfolio.services import finance

    if output_format not in ("text", "json", "csv", "xlsx"):
        raise _fail("--format must be text, json, csv or xlsx", 2)
    if table not in finance.TABLES:
        raise _fail("--table must be envelopes or history", 2)
    if output_format == "xlsx" and output is None:
        raise _fail("--format xlsx needs --output FILE.xlsx", 2)
    try:
        with _uow(Settings.from_env(db)) as uow:
            if not uow.missions.exists(mission):
                raise _fail(f"there is no mission {mission}", 2)
            view = finance.finance_view(uow, mission)
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    if output_format == "xlsx":
        assert output is not None
        output.write_bytes(finance.workbook(view))
        typer.echo(f"Wrote {output}.")
        return
    if output_format == "json":
        text = view.model_dump_json(indent=2)
    elif output_format == "csv":
        text = finance.csv_text(view, "history" if table == "history" else "envelopes", bom=False)
    else:
        text = finance.as_text(view)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {output}.")
    else:
        sys.stdout.write(text + ("\n" if not text.endswith("\n") else ""))


spend_app = typer.Typer(help="The spend ledger: money actually spent.", no_args_is_help=True)
app.add_typer(spend_app, name="spend")


def _rows_failed(exc: PortfolioError) -> typer.Exit:
    """Each problem of a file on its own line, by row and column."""
    from portfolio.domain.errors import InvalidInput

    if not isinstance(exc, InvalidInput):
        return _fail(str(exc))
    for field, rule in exc.errors:
        typer.echo(f"error: {field}: {rule}", err=True)
    return typer.Exit(2)


@spend_app.command("list")
def spend_list(
    mission: str,
    output_format: Annotated[
        str, typer.Option("--format", help="text (a table and the summary) or json.")
    ] = "text",
    db: DbOption = None,
) -> None:
    """The ledger: every entry, and per envelope and year the budget, spent and left (£m)."""
    from portfolio.services.ledger_view import ledger_view

    if output_format not in ("text", "json"):
        raise _fail("--format must be text or json", 2)
    try:
        with _uow(Settings.from_env(db)) as uow:
            view = ledger_view(uow, mission)
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    if output_format == "json":
        sys.stdout.write(view.model_dump_json(indent=2) + "\n")
        return
    for e in view.entries:
        typer.echo(
            f"{e.year}  {e.amount:>10,.2f}  {e.candidate_name} ({e.option_name}) from "
            f"{e.envelope_name}; {e.kind.value.replace('_', ' ')}, recorded in {e.quarter} "
            f"by {e.recorded_by or '?'}{f' - {e.note}' if e.note else ''}"
        )
    if not view.entries:
        typer.echo("No spend recorded yet.")
    typer.echo(f"Total spent: £{view.total:,.2f}m")
    typer.echo("Envelope and year: budget, spent, left (£m)")
    for row in view.by_envelope_year:
        left = "year over" if row.left is None else f"{row.left:,.2f}"
        typer.echo(
            f"  {row.envelope_name}, {row.year}: {row.budget:,.2f}, {row.spent:,.2f}, {left}"
        )


@spend_app.command("record")
def spend_record(
    mission: str,
    candidate: Annotated[str, typer.Option("--candidate", help="The candidate's id.")],
    option: Annotated[str, typer.Option("--option", help="Its funding option's id.")],
    envelope: Annotated[str, typer.Option("--envelope", help="The envelope's id.")],
    year: Annotated[str, typer.Option("--year", help="The financial year, e.g. 2026-27.")],
    amount: Annotated[str, typer.Option("--amount", help="Actual spend, £ million.")],
    actor: Annotated[str, typer.Option("--as", help="The Mission CEO (or their office).")],
    note: Annotated[str, typer.Option("--note", help="An invoice or finance reference.")] = "",
    db: DbOption = None,
) -> None:
    """Record one entry of actual spend in the current quarter."""
    from portfolio.services import ledger_io
    from portfolio.services.ledger_view import ledger_view

    given = {
        "candidate": candidate,
        "option": option,
        "envelope": envelope,
        "year": year,
        "amount": amount,
        "note": note,
    }
    try:
        with _uow(Settings.from_env(db)) as uow:
            _may(uow, mission, actor, "record_spend", "the Mission CEO")
            (entry,) = ledger_io.record_given(uow, actor, mission, [given], source="cli")
            uow.commit()
            line = next(e for e in ledger_view(uow, mission).entries if e.id == entry.id)
    except PortfolioError as exc:
        raise _field_errors(exc) from exc
    typer.echo(
        f"Spend recorded: £{line.amount:,.2f}m on {line.candidate_name} ({line.option_name}) "
        f"from {line.envelope_name} in {line.year} (entry {line.id})."
    )


@spend_app.command("import")
def spend_import(
    mission: str,
    file: Annotated[Path, typer.Argument(help="A spend CSV (see the Spend page's template).")],
    actor: Annotated[str, typer.Option("--as", help="The Mission CEO (or their office).")],
    db: DbOption = None,
) -> None:
    """Record every row of a spend CSV, all or nothing (each problem by row and column)."""
    from portfolio.services import ledger_io

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}", 2) from exc
    try:
        with _uow(Settings.from_env(db)) as uow:
            _may(uow, mission, actor, "record_spend", "the Mission CEO")
            done = ledger_io.import_csv(uow, actor, mission, data)
            uow.commit()
    except PortfolioError as exc:
        raise _rows_failed(exc) from exc
    typer.echo(done.message)


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


contracts_app = typer.Typer(help="Contracted awards and their lifecycle.", no_args_is_help=True)
app.add_typer(contracts_app, name="contracts")


@contracts_app.command("list")
def contracts_list(
    mission: str,
    all_states: Annotated[
        bool, typer.Option("--all", help="Ended and completed contracts too.")
    ] = False,
    db: DbOption = None,
) -> None:
    """The mission's live contracts (id, candidate, option, since, spent so far)."""
    from portfolio.services.contracts import contract_views

    try:
        with _uow(Settings.from_env(db)) as uow:
            if not uow.missions.exists(mission):
                raise _fail(f"there is no mission {mission}", 2)
            views = contract_views(uow, mission, live_only=not all_states)
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    if not views:
        typer.echo("No live contracts." if not all_states else "No contracts.")
    for v in views:
        c = v.contract
        state = "" if c.state.value == "live" else f" [{c.state.value} in {c.ended_in}]"
        planned = "" if v.planned_total is None else f" of £{v.planned_total:,.1f}m planned"
        gate = f"; stage gate failed: {v.failed_gate}" if v.failed_gate else ""
        typer.echo(
            f"{c.id}  {v.candidate_name} ({v.option_name}) since {c.since}, "
            f"£{v.spent:,.1f}m spent{planned}{state}{gate}"
        )


@contracts_app.command("end")
def contracts_end(
    mission: str,
    contract_id: Annotated[
        int, typer.Argument(metavar="ID", min=1, max=MAX_ROW_ID, help="The contract's id (list).")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why the contract ends.")],
    actor: Annotated[str, typer.Option("--as", help="The Mission CEO ending it.")],
    break_cost: Annotated[
        float | None, typer.Option("--break-cost", help="£ million, recorded as spent.")
    ] = None,
    envelope: Annotated[
        str | None,
        typer.Option("--envelope", help="Envelope of the break cost (default: first eligible)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """End a live contract with a reason (and maybe a break cost, recorded in the ledger)."""
    from portfolio.services.contracts import end_contract

    try:
        with _uow(Settings.from_env(db)) as uow:
            _may(uow, mission, actor, "manage_cycle", "the Mission CEO")
            ended = end_contract(
                uow, actor, mission, contract_id, reason, break_cost, envelope=envelope
            )
            uow.commit()
    except PortfolioError as exc:
        raise _field_errors(exc) from exc
    cost = f" with a break cost of £{ended.break_cost:,.2f}m" if ended.break_cost else ""
    typer.echo(f"Ended contract {contract_id} ({ended.candidate}, {ended.option}){cost}.")


def _field_errors(exc: PortfolioError) -> typer.Exit:
    """Each problem on its own line, naming the option (``--reason``) it came from."""
    from portfolio.domain.errors import InvalidInput

    if not isinstance(exc, InvalidInput):
        return _fail(str(exc))
    for field, rule in exc.errors:
        typer.echo(f"error: --{field.replace('_', '-')}: {rule}", err=True)
    return typer.Exit(2)


approvals_app = typer.Typer(
    help="Treasury approval of awards above the Delegated Authority Limit.", no_args_is_help=True
)
app.add_typer(approvals_app, name="approvals")


@approvals_app.command("list")
def approvals_list(mission: str, db: DbOption = None) -> None:
    """Requests for Treasury approval, oldest first, with their decisions."""
    try:
        with _uow(Settings.from_env(db)) as uow:
            if not uow.missions.exists(mission):
                raise _fail(f"there is no mission {mission}", 2)
            names = {c.id: c.name for c in uow.candidates.all(mission)}
            found = uow.approvals.all(mission)
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    if not found:
        typer.echo("No requests for Treasury approval.")
    for a in found:
        decided = (
            f"; {a.state.value} by {a.decided_by}: {a.decision_reason}" if a.decided_by else ""
        )
        typer.echo(
            f"{a.id}  {names.get(a.candidate, a.candidate)}: {a.state.value}, asked by "
            f"{a.requested_by}: {a.request_reason}{decided}"
        )


@approvals_app.command("request")
def approvals_request(
    mission: str,
    candidate: Annotated[str, typer.Argument(help="The candidate's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why Treasury should approve.")],
    actor: Annotated[str, typer.Option("--as", help="The Mission CEO asking.")],
    db: DbOption = None,
) -> None:
    """The Mission CEO asks Treasury to approve a candidate's awards above the DAL."""
    from portfolio.services.approvals import request_approval

    try:
        with _uow(Settings.from_env(db)) as uow:
            roles = _may(uow, mission, actor, "request_treasury_approval", "the Mission CEO")
            approval_id = request_approval(uow, actor, roles, mission, candidate, reason)
            uow.commit()
    except PortfolioError as exc:
        raise _field_errors(exc) from exc
    typer.echo(f"Asked Treasury to approve {candidate} (request {approval_id}).")


@approvals_app.command("decide")
def approvals_decide(
    mission: str,
    approval_id: Annotated[
        int, typer.Argument(metavar="ID", min=1, max=MAX_ROW_ID, help="The request's id (list).")
    ],
    decision: Annotated[str, typer.Argument(help="approve or refuse")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    actor: Annotated[str, typer.Option("--as", help="The Treasury reviewer deciding.")],
    db: DbOption = None,
) -> None:
    """A Treasury reviewer approves or refuses a request (approving marks the candidate
    Treasury approved)."""
    from portfolio.services.approvals import decide_approval

    if decision not in ("approve", "refuse"):
        raise _fail("DECISION must be approve or refuse", 2)
    try:
        with _uow(Settings.from_env(db)) as uow:
            roles = _may(uow, mission, actor, "decide_treasury_approval", "a Treasury reviewer")
            decided = decide_approval(
                uow,
                actor,
                roles,
                mission,
                approval_id,
                approve=decision == "approve",
                reason=reason,
            )
            uow.commit()
    except PortfolioError as exc:
        raise _field_errors(exc) from exc
    typer.echo(f"Request {approval_id} for {decided.candidate}: {decided.state.value}.")
