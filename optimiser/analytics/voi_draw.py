"""One draw of the value-of-information sweep (``optimiser.analytics.voi``, module docstring,
steps 2 and 3), as a worker runs it: re-solve the problem with the candidate at the draw, then,
when the decision changed, score the informed and the prior decision on the draw's own fresh
evaluation scenarios (common random numbers)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from optimiser.analytics.parallel import without_evaluation
from optimiser.data import FloatArray, ProblemData, problem_data
from optimiser.objectives import raw_value, switching_penalty
from optimiser.problem import Problem
from optimiser.scenarios import EvaluationScenarios
from optimiser.solve import solve


@dataclass(frozen=True)
class DrawTask:
    """One draw of one candidate (picklable, sent to a worker): `problem` is the run's problem
    with the candidate at the draw, `prior` the decision without the information."""

    candidate: str
    problem: Problem
    prior: dict[str, str]
    evaluation_count: int
    evaluation_seed: int
    solver: str = "highs"
    time_limit: float | None = None


class DrawOutcome(BaseModel):
    """What a worker sends back of one draw: the informed decision, and when it differs from
    the prior one both values (objective and P(target)) on the draw's evaluation scenarios; the
    gains are exactly 0 when it does not (neither is then scored)."""

    status: str
    selected: dict[str, str]
    changed: bool
    gain: float
    p_target_gain: float
    value: float | None = None
    prior_value: float | None = None
    seconds: float


def run_draw_task(task: DrawTask) -> DrawOutcome:
    """Re-solve the draw, then score the informed and the prior decision on the draw's own fresh
    evaluation scenarios (common random numbers; runs in a worker)."""
    began = time.perf_counter()
    result = solve(without_evaluation(task.problem), solver=task.solver, time_limit=task.time_limit)
    solved = result.status in ("optimal", "feasible")
    informed = dict(result.selected) if solved else dict(task.prior)
    if informed == task.prior:
        return DrawOutcome(
            status=result.status,
            selected=informed,
            changed=False,
            gain=0.0,
            p_target_gain=0.0,
            seconds=time.perf_counter() - began,
        )
    data = problem_data(task.problem)
    scen = EvaluationScenarios(data, task.evaluation_count, task.evaluation_seed)
    prior_value, prior_p = score(data, scen, data.selection_vector(task.prior))
    value, p_target = score(data, scen, data.selection_vector(informed))
    return DrawOutcome(
        status=result.status,
        selected=informed,
        changed=True,
        gain=value - prior_value,
        p_target_gain=p_target - prior_p,
        value=value,
        prior_value=prior_value,
        seconds=time.perf_counter() - began,
    )


def score(data: ProblemData, scen: EvaluationScenarios, x: FloatArray) -> tuple[float, float]:
    """(the objective of `data`'s policy less the switching charge, P(target)) of portfolio x on
    `scen`, drawing the chosen options' columns only."""
    chosen = np.flatnonzero(x > 0.5)
    _, impacts, _ = scen.columns(chosen)
    impact = impacts.sum(axis=1)
    kind = data.problem.policy.objective
    value = raw_value(kind, data, scen, x, impacts=impact) - switching_penalty(data, x)
    return value, raw_value("p_target", data, scen, x, impacts=impact)
