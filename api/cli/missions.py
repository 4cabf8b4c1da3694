"""Missions in and out (the exchange document), and problem files for the optimiser."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from api.cli.common import (
    CLI_ACTOR,
    DbOption,
    _fail,
    _uow,
    app,
)
from api.settings import Settings
from portfolio.adapters.exchange import MissionDocument
from portfolio.domain.errors import PortfolioError, validation_errors
from portfolio.domain.run_policy import DEFAULT_SCENARIOS
from portfolio.services import missions as services


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
                scenarios=scenarios.get("count", DEFAULT_SCENARIOS),
                seed=scenarios.get("seed", 42),
            )
    except ValidationError as exc:
        raise _fail("; ".join(f"{f}: {r}" for f, r in validation_errors(exc)), 2) from exc
    except PortfolioError as exc:
        raise _fail(str(exc)) from exc
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
