"""Users, roles, API tokens and the security log."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError

from api.cli.common import (
    CLI_ACTOR,
    DbOption,
    _cli_event,
    _fail,
    _rows_failed,
    _uow,
    app,
)
from api.settings import Settings
from portfolio.adapters.security_log import SecurityEventKind
from portfolio.domain.errors import PortfolioError, validation_errors
from portfolio.domain.model import CouncilMember, Role, Sector, User
from portfolio.services import missions as services

users_app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")


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
