"""When the demo cannot be built, `mission-portfolio demo` says which run failed, its status and
the solver's own message (not only "found no portfolio", with the cause left in the database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from optimiser.result import Result, SolverInfo
from portfolio.services import runs

SOLVER_WORDS = (
    "HiGHS 1.16.0 failed while solving the split of money between envelopes and years: "
    "run() returned kError, model status kNotset (Not Set)"
)


def _failing_solve(*_: Any, **__: Any) -> Result:
    return Result(
        status="error",
        solver=SolverInfo(name="HiGHS", version="1.16.0", seconds=0.1, status="kError"),
        message=SOLVER_WORDS,
    )


def test_a_failed_demo_run_explains_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "solve", _failing_solve)
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(
        app, ["demo", "--no-serve", "--db", str(db), "--password", "demo-Pass-4821-kq"]
    )
    assert result.exit_code != 0
    said = " ".join(result.output.split())
    assert "optimiser run 1 (Quarterly rebalance," in said
    assert "ended with status error" in said
    assert SOLVER_WORDS in said
    assert "Demo mission loaded" not in said
