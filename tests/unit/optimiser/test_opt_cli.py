"""`solve PROBLEM.json`: exit codes 0 / 1 / 2, the result on stdout, words on stderr."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from optimiser.cli import run_solve

from .opt_factories import candidate, document


def run(
    tmp_path: Path, content: str | dict[str, Any], solver: str = "highs"
) -> tuple[int, str, str]:
    path = tmp_path / "problem.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    out, err = io.StringIO(), io.StringIO()
    code = run_solve(str(path), solver, 10.0, out, err)
    return code, out.getvalue(), err.getvalue()


def feasible() -> dict[str, Any]:
    return document(
        [candidate("a", cost=10, impact=5), candidate("b", cost=10, impact=3)], budget=15
    )


def test_a_solvable_problem_prints_the_result_and_exits_zero(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, feasible())
    assert code == 0
    result = json.loads(out)
    assert result["format"] == "mission-portfolio/result" and result["status"] == "optimal"
    assert result["selected"] == {"a": "main"}
    # and says, in words, that it is proven best (the result document itself is unchanged)
    assert "Proven best" in err and "proven" not in out.lower()


def test_cbc_can_be_chosen_and_gives_the_same_portfolio(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, feasible(), solver="cbc")
    assert code == 0
    result = json.loads(out)
    assert result["selected"] == {"a": "main"} and result["solver"]["name"] == "CBC"


def test_an_infeasible_problem_exits_one_with_the_diagnosis_in_words(tmp_path: Path) -> None:
    doc = feasible()
    doc["policy"]["locks"] = ["a", "b"]
    code, out, err = run(tmp_path, doc)
    assert code == 1
    assert json.loads(out)["status"] == "infeasible"
    assert "infeasible" in err and "SBC budget in 2026-27 (15) is 5 short" in err


def test_a_malformed_problem_exits_two_naming_the_field_and_rule(tmp_path: Path) -> None:
    doc = feasible()
    doc["candidates"][0]["options"][0]["p_success"] = 2
    code, out, err = run(tmp_path, doc)
    assert code == 2 and out == ""
    assert "candidates[0].options[0].p_success: must be between 0 and 1" in err


def test_invalid_json_and_a_missing_file_exit_two(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "{not json")
    assert code == 2 and "not valid JSON" in err
    out, err_io = io.StringIO(), io.StringIO()
    assert run_solve(str(tmp_path / "absent.json"), "highs", None, out, err_io) == 2
    assert "cannot read" in err_io.getvalue()


def test_python_dash_m_optimiser_solves_a_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(feasible()))
    proc = subprocess.run(
        [sys.executable, "-m", "optimiser", str(path), "--solver", "highs", "--time-limit", "10"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["selected"] == {"a": "main"}


def test_ctrl_c_returns_the_best_portfolio_so_far_marked_feasible(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from benchmarks.instances import generate

    doc = generate(n=80, scenarios=1000, seed=5, objective="p_target", platforms=4, correlation=0.6)
    doc["policy"]["time_limit_s"] = 120
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimiser", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 90
    for line in proc.stderr:
        if "local search" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["status"] == "feasible" and result["selected"]
    assert "Not proven best" in err  # how far from the best it may be, in words
