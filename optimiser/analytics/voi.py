"""Value of information as EVPPI: what learning one candidate's true probability of success before
deciding is expected to be worth — "what to investigate next quarter".

The expected value of partial perfect information about candidate i, by preposterior analysis.
Let x0 be the decision taken without the information (the run's portfolio, or `problem` solved as
given) and V_θ(x) the run's objective of portfolio x — what the optimiser maximises, switching
charge included — in the world where candidate i's parameters are θ. Then

    EVPPI_i = E_θ[ V_θ(x*(θ)) − V_θ(x0) ],

θ drawn from the council's belief about candidate i, x*(θ) the decision taken knowing θ.
It is estimated from K draws θ_1..θ_K (K even, default `DEFAULT_DRAWS`), stratified:

1. the belief: candidate i's options' p drawn from the council's belief exactly as the core index
   draws them (``optimiser.analytics.robustness.resampled_problem``: Beta(n·p, n·(1 − p)) with the
   option's concentration n, or the council's members bootstrapped when their scores are given;
   nested tranches keep their order), or, with `values`, one of the council's equally likely
   values per option. Beta draws are paired across the candidate's options by rank (comonotone:
   one uncertainty per candidate, its tranches all likelier or all less likely together, each
   with its own Beta marginal); a bootstrapped panel or a row of `values` is already joint. A
   pool of K·`STRATUM` draws is sorted by the candidate's mean p and cut into K equal strata;
   θ_h is one draw picked at random in stratum h (θ_1 among the lowest, θ_K among the highest).
   Where the policy limits the chance of an overrun the options' realised total cost matters to a
   rule, so θ_h also fixes each of i's options' total at a PERT draw of its `cost_range`;
   elsewhere every rule and the objective use planned cost, and cost is not drawn.
2. x*(θ_h): `problem` with candidate i at θ_h re-solved with every rule unchanged, on the run's own
   optimisation scenarios (same seed, so the two decisions differ only by what was learnt). A
   re-solve that finds no portfolio keeps x0 (the difference is then 0).
3. d_h = V̂_h(x*(θ_h)) − V̂_h(x0), both scored on the same FRESH evaluation scenarios of the world
   θ_h (common random numbers: the problem's evaluation count, a seed of their own per draw, never
   the optimisation scenarios), so d_h is 0 whenever the decision does not change.

The estimate is the mean of the d_h; its Monte-Carlo standard error comes from the per-draw
differences by collapsed strata (`stratified_mean`: adjacent strata paired,
se² = Σ_g (d_2g−1 − d_2g)² / K², plus s²/(K·STRATUM) for the finite pool), which covers both the
spread of the belief and the evaluation noise, and is conservative. Stratifying matters: the
decision typically changes only in one tail of the belief, and one draw per stratum puts exactly
K/n of the draws in each n-th of it. EVPPI ≥ 0 in expectation; a negative estimate is reported
as 0 (`evppi`) while `estimate` and `error` keep the raw figures. A candidate's EVPPI is
**separated from noise** when estimate − 1.96·se > 0; only those are ranked, the others are
"within noise". The change in out-of-sample P(target) is reported beside it (with its error, by
the same rule: when the run's objective is not P(target) it may fall).

Which candidates are swept (the cost of the analysis is K re-solves per swept candidate):
- **certain**: every option's p is 0 or 1 or known exactly (a degenerate belief): nothing to learn,
  EVPPI = 0 with no re-solve;
- **excluded**: excluded by the policy (never funded, so its p changes no value): 0, no re-solve;
- **screened** (`screen`, on by default): θ_1 and θ_K, from the lowest and the highest stratum,
  are re-solved first; when the decision is the same at both, learning p anywhere between is taken
  not to change it, and EVPPI is reported as 0 from those 2 re-solves (a screen for the
  candidates whose decision could change; not applied when a draw also moves impact or cost);
- **swept**: every other candidate gets all K draws (the 2 of the screen among them).

Explicit scenarios carry no probability to learn (the scenarios are the belief): they are refused.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from optimiser.analytics.parallel import Progress, map_solves, without_evaluation
from optimiser.analytics.per_candidate import chosen_candidates, no_portfolio
from optimiser.analytics.robustness import (
    DEFAULT_CONCENTRATION,
    MemberScore,
    Spread,
    _members,
    _spreads,
    resampled_problem,
)
from optimiser.analytics.voi_draw import DrawOutcome, DrawTask, run_draw_task
from optimiser.data import FloatArray, problem_data
from optimiser.errors import ProblemError
from optimiser.montecarlo import Z_95
from optimiser.pert import ThreePoint
from optimiser.problem import Candidate, ExplicitScenarios, Problem
from optimiser.scenarios import _pert_one
from optimiser.solve import solve

DEFAULT_DRAWS = 48
"""K: draws of the belief per swept candidate, one per stratum (module docstring)."""
STRATUM = 8
"""Draws of the belief in each stratum's pool (module docstring)."""

Status = Literal["swept", "screened", "certain", "excluded"]


class EvppiRow(BaseModel):
    """EVPPI of one candidate in the run's objective (P(target) as a share for `p_target`)."""

    candidate: str
    name: str = ""
    status: Status
    rank: int | None = None
    """1 for the most valuable of the candidates separated from noise; None for the others."""
    evppi: float
    """max(0, estimate): what the page shows."""
    estimate: float
    """The mean of the per-draw differences, negative or not."""
    error: float
    """Its Monte-Carlo standard error, from the per-draw differences (`stratified_mean`)."""
    lower: float
    upper: float
    separated: bool
    """Whether estimate − 1.96·error > 0: worth learning beyond Monte-Carlo doubt."""
    draws: int
    """Draws re-solved (K when swept, 2 when screened, 0 otherwise)."""
    changed: int
    """Draws in which knowing θ changed the decision."""
    p_target_gain: float
    p_target_error: float
    p: dict[str, float] = Field(default_factory=dict)
    """Each option's p in the problem."""
    p_drawn: dict[str, tuple[float, float]] = Field(default_factory=dict)
    """Each option's lowest and highest p over the draws re-solved."""


class Evppi(BaseModel):
    """EVPPI of the candidates of a problem (module docstring)."""

    objective: str
    draws: int
    evaluation_scenarios: int
    seed: int
    concentration: float
    z: float = Z_95
    prior: dict[str, str]
    solves: int
    seconds: float
    rows: list[EvppiRow] = Field(default_factory=list)


def evppi(
    problem: Problem,
    *,
    candidates: list[str] | None = None,
    selected: dict[str, str] | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    concentration: float = DEFAULT_CONCENTRATION,
    spread: Mapping[str, Spread | Mapping[str, float]] | None = None,
    member_scores: dict[str, list[MemberScore | dict[str, Any]]] | None = None,
    values: Mapping[str, list[float]] | None = None,
    screen: bool = True,
    evaluation_count: int | None = None,
    solver: str = "highs",
    time_limit: float | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    on_progress: Progress | None = None,
) -> Evppi:
    """EVPPI per candidate (module docstring), the separated ones ranked first.

    `selected`: the decision without information, x0 ({candidate: option}); default: `problem`
    solved as given. `candidates`: ids to evaluate (default: all). The belief: `spread` and
    `member_scores` keyed by option (``candidate/option``) as for the core index, else
    Beta(n·p, n·(1 − p)) with n = `concentration`; `values` gives an option's equally likely
    values of p instead (a candidate's options drawn together, by position). `evaluation_count`:
    fresh scenarios per draw (default: the problem's `evaluation` count). `time_limit`: per
    re-solve.
    """
    began = time.perf_counter()
    _check_problem(problem, draws)
    chosen = chosen_candidates(problem, candidates)
    spreads = _spreads(
        problem, {k: v if isinstance(v, Spread) else dict(v) for k, v in (spread or {}).items()}
    )
    members = _members(problem, member_scores or {})
    discrete = _values(problem, dict(values or {}))
    count = problem.evaluation.count if evaluation_count is None else evaluation_count
    if count < 1:
        raise ValueError(f"evaluation_count: must be at least 1, got {count}")
    prior, solves = _prior(problem, selected, solver, time_limit)
    ids = [c.id for c in problem.candidates]
    plans = {
        cid: _plan(problem, ids.index(cid), draws, seed, concentration, spreads, members, discrete)
        for cid in chosen
    }
    tasks = {
        cid: [
            DrawTask(cid, variant, prior, count, s, solver, time_limit)
            for variant, s in zip(plan.variants, plan.evaluation_seeds, strict=True)
        ]
        for cid, plan in plans.items()
    }
    swept = [cid for cid in chosen if plans[cid].status == "swept"]
    outcomes = _solve_draws(swept, plans, tasks, draws, screen, workers, scheduler, on_progress)
    rows = [_row(problem, cid, plans[cid], outcomes, draws) for cid in chosen]
    return Evppi(
        objective=problem.policy.objective,
        draws=draws,
        evaluation_scenarios=count,
        seed=seed,
        concentration=concentration,
        prior=prior,
        solves=solves + len(outcomes),
        seconds=time.perf_counter() - began,
        rows=_ranked(rows, chosen),
    )


def _check_problem(problem: Problem, draws: int) -> None:
    """Refuse an odd or too small K, and explicit scenarios (no probability to learn)."""
    if draws < 2 or draws % 2:
        raise ValueError(f"draws: must be an even number, at least 2, got {draws}")
    if isinstance(problem.scenarios, ExplicitScenarios):
        raise ProblemError(
            "scenarios",
            "explicit scenarios carry no probability of success to learn: EVPPI needs sampled "
            "scenarios",
        )


def _prior(
    problem: Problem, selected: dict[str, str] | None, solver: str, time_limit: float | None
) -> tuple[dict[str, str], int]:
    """x0, the decision without the information (`selected`, checked, or `problem` solved as
    given), and the number of solves that took."""
    if selected is not None:
        problem_data(problem).selection_vector(selected)  # refuses unknown ids
        return dict(selected), 0
    head = solve(without_evaluation(problem), solver=solver, time_limit=time_limit)
    if head.status not in ("optimal", "feasible"):
        raise no_portfolio()
    return dict(head.selected), 1


def _solve_draws(
    swept: list[str],
    plans: dict[str, _Plan],
    tasks: dict[str, list[DrawTask]],
    draws: int,
    screen: bool,
    workers: int | None,
    scheduler: Any,
    on_progress: Progress | None,
) -> dict[tuple[str, int], DrawOutcome]:
    """The swept candidates' draws in two phases: first the screen's two extremes of each
    screenable candidate (all K draws of the others); then all K draws of every candidate whose
    decision changed at an extreme (module docstring, "screened")."""
    first: list[tuple[str, int]] = []  # (candidate, draw) of the first phase
    for cid in swept:
        first.extend(
            (cid, j)
            for j in (plans[cid].extremes if screen and plans[cid].screenable else range(draws))
        )
    outcomes: dict[tuple[str, int], DrawOutcome] = {}
    done_first = _run(first, tasks, outcomes, workers, scheduler, on_progress, 0, None)
    second = [
        (cid, j)
        for cid in swept
        if any(outcomes[(cid, e)].changed for e in plans[cid].extremes)
        for j in range(draws)
        if (cid, j) not in outcomes
    ]
    _run(second, tasks, outcomes, workers, scheduler, on_progress, done_first, len(first))
    return outcomes


def _ranked(rows: list[EvppiRow], chosen: list[str]) -> list[EvppiRow]:
    """The rows separated from noise first, ranked 1, 2, … by estimate, then the others by
    estimate (unranked); equal estimates in the order of `chosen`."""

    def order(r: EvppiRow) -> tuple[float, int]:
        return (-r.estimate, chosen.index(r.candidate))

    ranked = sorted((r for r in rows if r.separated), key=order)
    for rank, row in enumerate(ranked, start=1):
        row.rank = rank
    return [*ranked, *sorted((r for r in rows if not r.separated), key=order)]


@dataclass
class _Plan:
    """A candidate's draws: the problems to solve, their evaluation seeds, how it is treated."""

    status: Status
    variants: list[Problem]
    evaluation_seeds: list[int]
    extremes: tuple[int, int]
    screenable: bool
    p: dict[str, float]
    p_of_draw: list[dict[str, float]]


def _plan(
    problem: Problem,
    i: int,
    draws: int,
    seed: int,
    concentration: float,
    spreads: dict[str, float],
    members: dict[str, list[MemberScore]],
    discrete: dict[str, list[float]],
) -> _Plan:
    cand = problem.candidates[i]
    p = {o.id: o.p_success for o in cand.options}
    keys = [f"{cand.id}/{o.id}" for o in cand.options]
    if cand.id in problem.policy.exclusions:
        return _Plan("excluded", [], [], (0, 0), False, p, [])
    if not _uncertain(cand, keys, concentration, spreads, discrete):
        return _Plan("certain", [], [], (0, 0), False, p, [])
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_word(cand.id),)))
    mini = problem.model_copy(update={"candidates": [cand]})
    mine_spreads = {k: v for k, v in spreads.items() if k in keys}
    mine_members = {k: v for k, v in members.items() if k in keys}
    costs = problem.policy.max_overrun_probability is not None
    pool: list[Candidate] = []
    for _ in range(draws * STRATUM):
        if keys[0] in discrete:
            pick = int(rng.integers(0, len(discrete[keys[0]])))
            one = cand.model_copy(deep=True)
            for opt, key in zip(one.options, keys, strict=True):
                opt.p_success = discrete[key][pick]
        else:
            one = resampled_problem(
                mini, rng, concentration, mine_spreads, mine_members
            ).candidates[0]
        pool.append(one)
    if keys[0] not in discrete and not mine_members:
        pool = _comonotone(pool)
    # strata: the pool in order of mean p, cut into `draws` runs of STRATUM; one draw from each
    order = sorted(range(len(pool)), key=lambda j: (_mean_p(pool[j]), j))
    picks = rng.integers(0, STRATUM, size=draws)
    drawn = [pool[order[h * STRATUM + int(picks[h])]] for h in range(draws)]
    if costs:
        for one in drawn:
            for opt in one.options:
                if opt.cost_range is not None and opt.cost_range.high > opt.cost_range.low:
                    total = float(_pert_one(rng, opt.cost_range, 1)[0])
                    opt.cost_range = ThreePoint(low=total, most_likely=total, high=total)
    variants = [
        problem.model_copy(
            update={"candidates": [*problem.candidates[:i], one, *problem.candidates[i + 1 :]]}
        )
        for one in drawn
    ]
    base = np.random.SeedSequence(
        problem.evaluation.seed, spawn_key=(_word("evppi"), _word(cand.id))
    )
    seeds = [int(s) for s in base.generate_state(draws, dtype=np.uint32) & 0x7FFFFFFF]
    extremes = (0, draws - 1)
    same_else = all(
        o.impact == c.impact and o.cost_range == c.cost_range
        for one in drawn
        for o, c in zip(one.options, cand.options, strict=True)
    )
    return _Plan(
        "swept",
        variants,
        seeds,
        extremes,
        same_else and _mean_p(drawn[0]) < _mean_p(drawn[-1]),
        p,
        [{o.id: o.p_success for o in one.options} for one in drawn],
    )


def _uncertain(
    cand: Candidate,
    keys: list[str],
    concentration: float,
    spreads: dict[str, float],
    discrete: dict[str, list[float]],
) -> bool:
    """Whether some option of the candidate has a p still to learn."""
    for opt, key in zip(cand.options, keys, strict=True):
        if key in discrete:
            if len(set(discrete[key])) > 1:
                return True
        elif 0.0 < opt.p_success < 1.0 and math.isfinite(spreads.get(key, concentration)):
            return True
    return False


def _run(
    items: list[tuple[str, int]],
    tasks: dict[str, list[DrawTask]],
    outcomes: dict[tuple[str, int], DrawOutcome],
    workers: int | None,
    scheduler: Any,
    on_progress: Progress | None,
    done: int,
    first: int | None,
) -> int:
    """Solve the given draws into `outcomes`; progress counts on from `done` (the second phase's
    total adds the first's). Returns the number solved."""
    report = None
    if on_progress is not None:
        progress = on_progress

        def report(d: int, n: int) -> None:
            if d > 0 or first is None:
                progress(done + d, done + n)

    results = map_solves(
        run_draw_task,
        [tasks[cid][j] for cid, j in items],
        workers=workers,
        scheduler=scheduler,
        on_progress=report,
    )
    outcomes.update(zip(items, results, strict=True))
    return len(items)


def _row(
    problem: Problem,
    cid: str,
    plan: _Plan,
    outcomes: dict[tuple[str, int], DrawOutcome],
    draws: int,
) -> EvppiRow:
    cand = next(c for c in problem.candidates if c.id == cid)
    solved = [(j, o) for (c, j), o in sorted(outcomes.items()) if c == cid]
    status: Status = plan.status
    if status == "swept" and len(solved) < draws:
        status = "screened"
    p_drawn = (
        {
            o.id: (
                min(plan.p_of_draw[j][o.id] for j, _ in solved),
                max(plan.p_of_draw[j][o.id] for j, _ in solved),
            )
            for o in cand.options
        }
        if solved
        else {}
    )
    common: dict[str, Any] = {
        "candidate": cid,
        "name": cand.name,
        "status": status,
        "draws": len(solved),
        "changed": sum(o.changed for _, o in solved),
        "p": plan.p,
        "p_drawn": p_drawn,
    }
    if status != "swept":
        return EvppiRow(
            **common,
            evppi=0.0,
            estimate=0.0,
            error=0.0,
            lower=0.0,
            upper=0.0,
            separated=False,
            p_target_gain=0.0,
            p_target_error=0.0,
        )
    d = np.array([o.gain for _, o in solved])
    g = np.array([o.p_target_gain for _, o in solved])
    estimate, error = stratified_mean(d, draws * STRATUM)
    gain, gain_error = stratified_mean(g, draws * STRATUM)
    lower, upper = estimate - Z_95 * error, estimate + Z_95 * error
    return EvppiRow(
        **common,
        evppi=max(0.0, estimate),
        estimate=estimate,
        error=error,
        lower=lower,
        upper=upper,
        separated=lower > 0.0,
        p_target_gain=gain,
        p_target_error=gain_error,
    )


def stratified_mean(d: FloatArray, pool: int) -> tuple[float, float]:
    """The mean of one draw per stratum (equal strata, in order) and its standard error by
    collapsed strata: se² = Σ_g (d_2g−1 − d_2g)² / K² over adjacent pairs, plus s² / `pool` for
    the belief being represented by a pool of that many draws (s² the sample variance of d)."""
    k = len(d)
    mean = float(d.mean())
    pairs = d[: k - k % 2].reshape(-1, 2)
    within = float(((pairs[:, 0] - pairs[:, 1]) ** 2).sum()) / k**2
    spread = float(d.var(ddof=1)) / pool if k > 1 else 0.0
    return mean, math.sqrt(within + spread)


def _values(problem: Problem, values: dict[str, list[float]]) -> dict[str, list[float]]:
    """`values` checked: known options, p in [0, 1], and one length per candidate."""
    keys = set(problem.option_keys())
    out: dict[str, list[float]] = {}
    for key, raw in values.items():
        if key not in keys:
            raise ProblemError(f"values.{key}", "is not a candidate/option of this problem")
        if not raw or any(not 0.0 <= float(v) <= 1.0 for v in raw):
            raise ProblemError(f"values.{key}", "must be one or more probabilities in [0, 1]")
        out[key] = [float(v) for v in raw]
    for cand in problem.candidates:
        lengths = {
            len(out[f"{cand.id}/{o.id}"]) for o in cand.options if f"{cand.id}/{o.id}" in out
        }
        if len(lengths) > 1:
            raise ProblemError(f"values.{cand.id}", "its options need the same number of values")
        if lengths and len([o for o in cand.options if f"{cand.id}/{o.id}" in out]) < len(
            cand.options
        ):
            raise ProblemError(f"values.{cand.id}", "give values for every option or none")
    return out


def _comonotone(pool: list[Candidate]) -> list[Candidate]:
    """The pool with each option's draws of p sorted and paired by rank: one uncertainty per
    candidate, its options' p (each with its own marginal) all high or all low together. Nested
    tranches stay nested: an option below another in every draw is below it at every rank."""
    columns = [
        sorted(one.options[j].p_success for one in pool) for j in range(len(pool[0].options))
    ]
    out = []
    for r, one in enumerate(pool):
        copy = one.model_copy(deep=True)
        for j, opt in enumerate(copy.options):
            opt.p_success = columns[j][r]
        out.append(copy)
    return out


def _mean_p(cand: Candidate) -> float:
    return float(np.mean([o.p_success for o in cand.options]))


def _word(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def known_exactly(keys: Iterable[str]) -> dict[str, Spread]:
    """A degenerate belief (sd 0: p known exactly) for each option key, as `spread` takes it."""
    return {key: Spread(sd=0.0) for key in keys}
