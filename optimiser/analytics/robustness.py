"""Robustness core index: how often each candidate is funded when the council's scores move.

K resamples of the problem are solved with every rule of the policy unchanged; a candidate's core
index is the share of the solved resamples that fund it (any option): core (≥ 0.9), borderline,
exterior (≤ 0.1). A locked or committed candidate is funded in every solved resample (index 1) and
an excluded one in none (index 0), by construction.

How a resample moves the estimates (sampled scenarios):
- options with `member_scores`: the council's members are bootstrapped (drawn with replacement,
  as many as there are) and pooled as the council does — a weighted linear pool of p, and a
  mixture of the PERT impacts summarised as a three-point (low = min, high = max, mode so that
  the PERT mean is the pooled mean);
- options with a `spread`: p ~ Beta with mean p and the given `concentration` n
  (Beta(n·p, n·(1 − p))) or standard deviation `sd` (n = p(1 − p)/sd² − 1);
- every other option: p ~ Beta(n0·p, n0·(1 − p)) with the default concentration `n0`.
p of exactly 0 or 1 is certain and stays. Within a candidate the resampled p are reassigned in the
order of the original ones, so a bigger (riskier) tranche never becomes likelier than a smaller
one and the scenarios stay nested. The optimisation seed is kept (common random numbers), so the
resamples differ only by the estimates.

Explicit scenarios carry no p to resample: their scenario rows are bootstrapped instead.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from optimiser.analytics.parallel import (
    Progress,
    SolveSummary,
    SolveTask,
    map_solves,
    run_summary_task,
    without_evaluation,
)
from optimiser.errors import ProblemError
from optimiser.problem import ExplicitScenarios, Problem, ThreePoint

CORE = 0.9
EXTERIOR = 0.1
DEFAULT_CONCENTRATION = 10.0


class Spread(BaseModel):
    """Uncertainty of one option's p: a Beta concentration n, or a standard deviation."""

    concentration: float | None = Field(default=None, gt=0)
    sd: float | None = Field(default=None, gt=0)


class MemberScore(BaseModel):
    """One council member's estimate of an option (p, optionally impact) and their weight."""

    p_success: float = Field(ge=0, le=1)
    impact: ThreePoint | None = None
    weight: float = Field(default=1.0, ge=0)


class CoreRow(BaseModel):
    """Core index of one candidate."""

    candidate: str
    name: str = ""
    share: float
    classification: Literal["core", "borderline", "exterior"]
    option_shares: dict[str, float] = Field(default_factory=dict)
    locked: bool = False
    excluded: bool = False


class CoreIndex(BaseModel):
    """Core index of every candidate over `solved` of `resamples` re-solves."""

    resamples: int
    solved: int
    seed: int
    method: Literal["beta", "bootstrap"]
    concentration: float
    core_threshold: float = CORE
    exterior_threshold: float = EXTERIOR
    rows: list[CoreRow] = Field(default_factory=list)


def core_index(
    problem: Problem,
    *,
    resamples: int = 20,
    seed: int = 0,
    concentration: float = DEFAULT_CONCENTRATION,
    spread: dict[str, Spread | dict[str, float]] | None = None,
    member_scores: dict[str, list[MemberScore | dict[str, Any]]] | None = None,
    solver: str = "highs",
    time_limit: float | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    on_progress: Progress | None = None,
) -> CoreIndex:
    """Re-solve `problem` under `resamples` resampled estimates; the share funding each candidate.

    `spread` and `member_scores` are keyed by option (``candidate/option``). Out-of-sample
    evaluation is skipped in the re-solves (only the selections are used).
    """
    if resamples < 1:
        raise ValueError(f"resamples: must be at least 1, got {resamples}")
    spreads = _spreads(problem, spread or {})
    members = _members(problem, member_scores or {})
    rng = np.random.default_rng(seed)
    explicit = isinstance(problem.scenarios, ExplicitScenarios)
    variants = [
        (
            _bootstrap(problem, rng)
            if explicit
            else resampled_problem(problem, rng, concentration, spreads, members)
        )
        for _ in range(resamples)
    ]
    tasks = [SolveTask(without_evaluation(v), solver, time_limit) for v in variants]
    summaries = map_solves(
        run_summary_task, tasks, workers=workers, scheduler=scheduler, on_progress=on_progress
    )
    return CoreIndex(
        resamples=resamples,
        solved=sum(s.solved for s in summaries),
        seed=seed,
        method="bootstrap" if explicit else "beta",
        concentration=concentration,
        rows=core_rows(problem, summaries),
    )


def classify(share: float) -> Literal["core", "borderline", "exterior"]:
    """core (≥ 0.9), exterior (≤ 0.1), borderline in between."""
    if share >= CORE - 1e-12:
        return "core"
    if share <= EXTERIOR + 1e-12:
        return "exterior"
    return "borderline"


def core_rows(problem: Problem, summaries: list[SolveSummary]) -> list[CoreRow]:
    """Per candidate, the share of solved summaries funding it (0 for all when none solved)."""
    solved = [s for s in summaries if s.solved]
    policy = problem.policy
    must = {r.split("/")[0] for r in (*policy.locks, *policy.commitments)}
    excluded = {r for r in policy.exclusions if "/" not in r}
    rows = []
    for cand in problem.candidates:
        n = len(solved)
        funded = sum(cand.id in s.selected for s in solved)
        share = funded / n if n else 0.0
        option_shares = {
            o.id: (sum(s.selected.get(cand.id) == o.id for s in solved) / n if n else 0.0)
            for o in cand.options
        }
        rows.append(
            CoreRow(
                candidate=cand.id,
                name=cand.name,
                share=share,
                classification=classify(share),
                option_shares=option_shares,
                locked=cand.id in must,
                excluded=cand.id in excluded,
            )
        )
    return rows


def resampled_problem(
    problem: Problem,
    rng: np.random.Generator,
    concentration: float,
    spreads: dict[str, float],
    members: dict[str, list[MemberScore]],
) -> Problem:
    """A copy of `problem` with every option's p (and pooled impact) redrawn (module docstring)."""
    copy = problem.model_copy(deep=True)
    for cand in copy.candidates:
        drawn = []
        for opt in cand.options:
            key = f"{cand.id}/{opt.id}"
            if key in members:
                p, impact = _pool(members[key], rng)
                if impact is not None:
                    opt.impact = impact
            else:
                p = _beta(rng, opt.p_success, spreads.get(key, concentration))
            drawn.append(p)
        order = sorted(range(len(cand.options)), key=lambda j: (cand.options[j].p_success, j))
        for j, p in zip(order, sorted(drawn), strict=True):
            cand.options[j].p_success = float(min(1.0, max(0.0, p)))
    return copy


def _beta(rng: np.random.Generator, p: float, n: float) -> float:
    if p <= 0.0 or p >= 1.0:
        return p
    return float(rng.beta(n * p, n * (1.0 - p)))


def _pool(scores: list[MemberScore], rng: np.random.Generator) -> tuple[float, ThreePoint | None]:
    picks = [scores[int(j)] for j in rng.integers(0, len(scores), size=len(scores))]
    weights = np.array([m.weight for m in picks], dtype=float)
    if weights.sum() <= 0:
        weights = np.ones(len(picks))
    weights = weights / weights.sum()
    p = float(weights @ np.array([m.p_success for m in picks]))
    rated = [(w, m.impact) for w, m in zip(weights, picks, strict=True) if m.impact is not None]
    if not rated:
        return p, None
    total = sum(w for w, _ in rated)
    mean = sum(w * t.pert_mean for w, t in rated) / total
    low = min(t.low for _, t in rated)
    high = max(t.high for _, t in rated)
    mode = min(max((6 * mean - low - high) / 4, low), high)
    return p, ThreePoint(low=low, mode=mode, high=high)


def _bootstrap(problem: Problem, rng: np.random.Generator) -> Problem:
    spec = problem.scenarios
    assert isinstance(spec, ExplicitScenarios)
    count = len(next(iter(spec.impact.values()), []))
    rows = rng.integers(0, count, size=count)
    impact = {key: [values[int(s)] for s in rows] for key, values in spec.impact.items()}
    return problem.model_copy(update={"scenarios": ExplicitScenarios(impact=impact)})


def _spreads(problem: Problem, spread: dict[str, Spread | dict[str, float]]) -> dict[str, float]:
    """Each option's Beta concentration from its `Spread`."""
    p_of = {f"{c.id}/{o.id}": o.p_success for c in problem.candidates for o in c.options}
    out = {}
    for key, raw in spread.items():
        path = f"spread.{key}"
        if key not in p_of:
            raise ProblemError(path, "is not a candidate/option of this problem")
        s = raw if isinstance(raw, Spread) else Spread.model_validate(raw)
        if s.concentration is not None:
            out[key] = s.concentration
        elif s.sd is not None:
            p = p_of[key]
            variance = p * (1.0 - p)
            if s.sd**2 >= variance and 0.0 < p < 1.0:
                raise ProblemError(
                    f"{path}.sd",
                    f"must be less than sqrt(p(1 - p)) = {np.sqrt(variance):.4g} for p = {p:g}",
                )
            out[key] = variance / s.sd**2 - 1.0 if s.sd**2 < variance else 1.0
        else:
            raise ProblemError(path, "needs a concentration or an sd")
    return out


def _members(
    problem: Problem, scores: dict[str, list[MemberScore | dict[str, Any]]]
) -> dict[str, list[MemberScore]]:
    keys = set(problem.option_keys())
    out = {}
    for key, raw in scores.items():
        if key not in keys:
            raise ProblemError(f"member_scores.{key}", "is not a candidate/option of this problem")
        if not raw:
            raise ProblemError(f"member_scores.{key}", "must not be empty")
        out[key] = [m if isinstance(m, MemberScore) else MemberScore.model_validate(m) for m in raw]
    return out
