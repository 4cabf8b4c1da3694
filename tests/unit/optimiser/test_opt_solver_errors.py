"""A solver that fails is reported as a failure, with the solver's own words — never as a fact
about the portfolio ("infeasible", "cannot be funded") — and the result says what software ran."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import highspy
import pytest

from optimiser import cvarcuts, feasibility
from optimiser.cli import run_solve
from optimiser.errors import SolverError
from optimiser.highs import check_status
from optimiser.problem import load_problem
from optimiser.solve import solve

from .opt_factories import candidate, document

ROOT = Path(__file__).resolve().parents[3]


def two_candidates(objective: str = "expected") -> dict[str, Any]:
    return document(
        [candidate("a", cost=10, impact=5), candidate("b", cost=10, impact=3)],
        budget=15,
        objective=objective,
    )


class _BrokenHighs:
    """A HiGHS instance whose every run fails the way HiGHS 1.16 did after a thread conflict:
    ``run()`` returns kError and the model status stays kNotset."""

    def __init__(self, real: Any):
        self._real = real

    def run(self) -> Any:
        return highspy.HighsStatus.kError

    def getModelStatus(self) -> Any:
        return highspy.HighsModelStatus.kNotset

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def broken_split_lp(monkeypatch: pytest.MonkeyPatch) -> None:
    original = feasibility.FlowChecker.__init__

    def init(self: feasibility.FlowChecker, data: Any, **rows: bool) -> None:
        original(self, data, **rows)
        self.highs = _BrokenHighs(self.highs)

    monkeypatch.setattr(feasibility.FlowChecker, "__init__", init)


@pytest.mark.parametrize("objective", ["expected", "p_target", "cvar"])
@pytest.mark.usefixtures("broken_split_lp")
def test_an_lp_solver_error_is_an_error_with_the_solvers_message(objective: str) -> None:
    result = solve(load_problem(json.dumps(two_candidates(objective))))
    assert result.status == "error"
    assert result.message is not None
    assert "HiGHS" in result.message and "kError" in result.message
    assert "Not Set" in result.message and "envelopes and years" in result.message
    assert "cannot be funded" not in result.message and not result.diagnosis
    assert result.solver.status == "kError"
    assert not result.selected


def test_a_solver_error_in_the_cvar_tail_rows_is_an_error_with_the_solvers_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CVaR row generation (`optimiser.cvarcuts`) never reads a failed HiGHS run as an
    answer: it is an error naming what was being solved, with HiGHS's status."""
    original = cvarcuts.load_highs

    def broken(*args: Any, **kwargs: Any) -> Any:
        h, variables = original(*args, **kwargs)
        return _BrokenHighs(h), variables

    monkeypatch.setattr(cvarcuts, "MIN_SCENARIOS", 1)
    monkeypatch.setattr(cvarcuts, "load_highs", broken)
    result = solve(load_problem(json.dumps(two_candidates("cvar"))))
    assert result.status == "error" and result.message is not None
    assert "HiGHS" in result.message and "CVaR tail model" in result.message
    assert "kNotset" in result.message and result.solver.status == "kError"
    assert not result.selected and not result.diagnosis


def test_check_status_accepts_the_statuses_that_describe_the_model() -> None:
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.addVar(0.0, 1.0)
    status = check_status(h, h.run(), "a one-column LP")
    assert status == highspy.HighsModelStatus.kOptimal


def test_check_status_raises_on_a_failed_run_naming_what_was_solved() -> None:
    with pytest.raises(SolverError) as caught:
        check_status(_BrokenHighs(highspy.Highs()), highspy.HighsStatus.kError, "the test LP")  # type: ignore[no-untyped-call]
    assert "the test LP" in str(caught.value) and "kNotset" in str(caught.value)
    assert caught.value.solver == "HiGHS"


def test_a_thread_conflict_of_the_1_16_kind_does_not_break_the_split_lp(tmp_path: Path) -> None:
    """In a fresh process (HiGHS's scheduler is process-wide): MILPs have run first, one with
    the default thread count and one with threads=1; the split LP and a whole solve still work.
    On HiGHS 1.16 an instance that sets a different thread count fails every run."""
    script = textwrap.dedent(
        """
        import json, sys
        import highspy, numpy as np
        from optimiser.feasibility import FlowChecker
        from optimiser.data import problem_data
        from optimiser.problem import load_problem
        from optimiser.solve import solve

        def milp(threads):
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            if threads is not None:
                h.setOptionValue("threads", threads)
            h.addVars(2, np.zeros(2), np.ones(2))
            cols = np.array([0, 1], dtype=np.int32)
            h.changeColsCost(2, cols, np.array([-1.0, -2.0]))
            h.addRow(0, 1.5, 2, cols, np.ones(2))
            h.changeColsIntegrality(2, cols, np.array([highspy.HighsVarType.kInteger] * 2))
            assert h.run() == highspy.HighsStatus.kOk
            return h.getModelStatus() == highspy.HighsModelStatus.kOptimal

        doc = json.loads(sys.argv[1])
        assert milp(None)
        problem = load_problem(json.dumps(doc))
        flows = FlowChecker(problem_data(problem)).flows(np.array([1.0, 0.0]))
        assert flows is not None and abs(flows.sum() - 10.0) < 1e-9, flows
        result = solve(problem)
        print(json.dumps({"status": result.status, "selected": result.selected}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(two_candidates())],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcome == {"status": "optimal", "selected": {"a": "main"}}


def test_every_result_records_the_software_it_ran_on() -> None:
    result = solve(load_problem(json.dumps(two_candidates())))
    env = result.solver.environment
    assert set(env) == {"mission-portfolio", "python", "numpy", "pulp", "highspy", "highs"}
    assert env["highspy"].split(".")[:2] == env["highs"].split(".")[:2]
    assert all(env.values())


def test_mission_portfolio_solve_writes_only_the_result_on_stdout(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(two_candidates("p_target")))
    command = Path(sys.executable).parent / "mission-portfolio"
    proc = subprocess.run(
        [str(command), "solve", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # the whole of stdout is one JSON document
    assert result["format"] == "mission-portfolio/result" and result["selected"] == {"a": "main"}


def test_a_re_solve_compared_with_an_earlier_result_names_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(two_candidates()))
    earlier = solve(load_problem(path.read_text())).model_dump(mode="json")
    earlier["solver"]["environment"]["highspy"] = "1.15.1"
    earlier_path = tmp_path / "result.json"
    earlier_path.write_text(json.dumps(earlier))
    out, err = io.StringIO(), io.StringIO()
    assert run_solve(str(path), "highs", 10.0, out, err, compare=str(earlier_path)) == 0
    words = err.getvalue()
    assert "same allocation as the earlier result (1 candidates funded)" in words
    assert f"the software differs: highspy 1.15.1 → {highspy_version()}" in words
    earlier["selected"] = {"b": "main"}
    earlier["solver"]["environment"] = dict(
        solve(load_problem(path.read_text())).solver.environment
    )
    earlier_path.write_text(json.dumps(earlier))
    err = io.StringIO()
    run_solve(str(path), "highs", 10.0, io.StringIO(), err, compare=str(earlier_path))
    assert (
        "differs from the earlier result for 2 candidates: a (unfunded → main), b (main → unfunded)"
        in err.getvalue()
    )
    assert "same software as the earlier result" in err.getvalue()


def highspy_version() -> str:
    from importlib.metadata import version

    return version("highspy")
