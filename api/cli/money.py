"""Money: the spend ledger, contracts and Treasury approvals."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import (
    DbOption,
    _fail,
    _field_errors,
    _may,
    _rows_failed,
    _uow,
    app,
)
from api.params import MAX_ROW_ID
from api.settings import Settings
from portfolio.domain.errors import PortfolioError

spend_app = typer.Typer(help="The spend ledger: money actually spent.", no_args_is_help=True)
app.add_typer(spend_app, name="spend")


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
