"""The quarterly cycle: closing, its tasks, the history's seals, the report and finance."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import (
    CLI_ACTOR,
    DbOption,
    _fail,
    _uow,
    app,
)
from api.settings import Settings
from portfolio.domain.errors import InvalidInput, PortfolioError
from portfolio.domain.model import Role
from portfolio.services import history
from portfolio.services.history import PublishedSeal, seals_in

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
    from portfolio.adapters.csv.writer import to_csv
    from portfolio.services import allocation_report as reports

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
