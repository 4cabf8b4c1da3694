"""The Expert Council's commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from api.cli.common import (
    DbOption,
    _fail,
    _may,
    _uow,
    app,
)
from api.settings import Settings
from portfolio.domain.classical import classical_model as run_model
from portfolio.domain.classical import parse_alpha
from portfolio.domain.errors import InvalidInput, PortfolioError

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


def run_classical_model_cli(
    path: str, alpha: str, weights: str, stdout: TextIO, stderr: TextIO
) -> int:
    """``mission-portfolio council classical-model FILE.json [--alpha] [--weights]``.

    Prints the result as JSON on ``stdout`` (its ``warnings`` included) and returns 0; each
    warning is also written on ``stderr`` as a ``warning: ...`` line, so that a person running it
    sees it. On a missing, undecodable or invalid
    file or bad option, writes one ``field: rule`` line per error on ``stderr`` and returns 2.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        print(f"{path}: no such file", file=stderr)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: cannot be read ({exc})", file=stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            file=stderr,
        )
        return 2
    try:
        alpha_value = parse_alpha(alpha)
        if weights not in ("global", "equal"):
            raise InvalidInput.single("weights", "must be 'global' or 'equal'")
        result = run_model(data, alpha_value, "global" if weights == "global" else "equal")
    except InvalidInput as exc:
        for field, rule in exc.errors:
            print(f"{field}: {rule}", file=stderr)
        return 2
    json.dump(result, stdout, indent=2)
    stdout.write("\n")
    for warning in result["warnings"]:
        print(f"warning: {warning}", file=stderr)
    return 0
