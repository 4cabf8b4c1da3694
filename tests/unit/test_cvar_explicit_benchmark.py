"""The CVaR-on-explicit-scenarios benchmark solves what it says: the generated instance with its
own sampled scenarios written out, read back by the product and the reference alike."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import cvar_explicit
from benchmarks.instances import generate
from optimiser.data import problem_data
from optimiser.problem import ExplicitScenarios, load_problem
from optimiser.scenarios import optimisation_scenarios


def test_the_file_holds_the_sampled_scenarios_explicitly() -> None:
    doc = cvar_explicit.explicit_document(6, 40, seed=3)
    problem = load_problem(json.dumps(doc))
    assert isinstance(problem.scenarios, ExplicitScenarios)
    assert problem.policy.objective == "cvar" and problem.policy.min_p_any_success == 0.5
    sampled = problem_data(load_problem(generate(6, 40, seed=3, objective="cvar")))
    data = problem_data(problem)
    explicit = optimisation_scenarios(data).impact
    assert np.allclose(explicit, optimisation_scenarios(sampled).impact, atol=5e-4)


def test_the_reference_reads_the_file_and_prints_its_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(cvar_explicit.explicit_document(12, 30, seed=2)))
    cvar_explicit.reference_main(str(path))
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert answer["status"] == "optimal" and answer["value"] is not None
