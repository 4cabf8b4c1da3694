"""How close to the best a result is proven to be (`optimiser.optimality`): the sentence the run
page, the report, the JSON API and `solve` give a Mission CEO or a Treasury analyst."""

from __future__ import annotations

from optimiser.optimality import optimality
from optimiser.problem import load_problem
from optimiser.result import Result, SolverInfo
from optimiser.solve import solve

from .opt_factories import candidate, document


def result(status: str, objective: float | None, bound: float | None, gap: float | None) -> Result:
    solver = SolverInfo(name="HiGHS", version="1", seconds=60.0, gap=gap, bound=bound)
    return Result(status=status, objective=objective, solver=solver)  # type: ignore[arg-type]


def test_a_stopped_p_target_run_says_how_much_better_the_best_could_be() -> None:
    proof = optimality(result("feasible", 0.7001, 0.8460, 0.20840), "p_target", 0.005, "units")
    assert proof is not None and not proof.proven
    assert proof.bound == 0.8460 and proof.gap == 0.20840
    assert proof.words.startswith("Not proven best")
    # in the measure's own terms: probabilities as percentages, the gap also in points
    assert "has a P(target) on the optimisation scenarios above 84.6 %" in proof.words
    assert "this one has 70.0 %" in proof.words
    assert "at most 14.6 points (20.8 %) better" in proof.words
    assert (
        proof.summary == "Not proven best; the best possible is at most 14.6 points (20.8 %) better"
    )


def test_a_stopped_run_without_a_bound_says_it_cannot_say() -> None:
    proof = optimality(result("feasible", 63.05, None, None), "expected", 0.005, "tCO2e")
    assert proof is not None and not proof.proven and proof.bound is None
    assert proof.words.startswith("Not proven best")
    assert "This one has an expected impact of 63.05 tCO2e." in proof.words
    assert proof.summary == "Not proven best; no bound found"


def test_a_proven_run_gives_its_bound_and_the_policy_tolerance() -> None:
    proof = optimality(result("optimal", 70.1, 70.3, 0.00285), "expected", 0.005, "GW")
    assert proof is not None and proof.proven
    assert proof.words.startswith("Proven best: no portfolio that meets every rule")
    assert "above 70.30 GW; this one has 70.10 GW" in proof.words
    assert "within 0.5 % of the best" in proof.words
    assert proof.summary == "Proven best"


def test_the_gap_is_computed_when_the_solver_gave_only_a_bound_and_never_negative() -> None:
    proof = optimality(result("feasible", 50.0, 60.0, None), "cvar", 0.0, "")
    assert proof is not None and proof.gap == 0.2
    low = optimality(result("feasible", 50.0, 49.0, None), "capped", 0.0, "")
    assert low is not None and low.bound == 50.0 and low.gap == 0.0


def test_a_proven_run_at_its_bound_says_so_once_and_no_tolerance_when_none() -> None:
    proof = optimality(result("optimal", 1.7912, 1.7913, 0.00006), "cvar", 0.0, "MtCO2e/yr")
    assert proof is not None and proof.proven
    assert proof.words.endswith("above this one's 1.79 MtCO2e/yr.")
    assert "tolerance" not in proof.words and "within" not in proof.words


def test_no_portfolio_no_proof() -> None:
    for status in ("infeasible", "error"):
        assert optimality(result(status, None, None, None), "expected", 0.0, "") is None


def test_a_real_solve_is_proven_and_its_bound_is_at_least_its_value() -> None:
    doc = document(
        [candidate("a", cost=10, impact=5), candidate("b", cost=10, impact=3)], budget=15
    )
    problem = load_problem(doc)
    solved = solve(problem)
    proof = optimality(solved, problem.policy.objective, problem.policy.gap, problem.mission.unit)
    assert proof is not None and proof.proven and proof.value == solved.objective
    assert proof.bound is None or proof.bound >= proof.value
