"""Robustness core index: how often each candidate is funded when the council's judgement and the
scenarios are both drawn again.

K resamples of the problem (100 by default) are solved with every rule of the policy unchanged; a
candidate's core index is the share of the solved resamples that fund it (any option). Each
resample draws again BOTH uncertainties of the decision:

1. the council's estimates (module section "How a resample moves the estimates"), and
2. the scenarios: every resample of a problem with sampled scenarios gets its own, fresh
   optimisation seed (``CoreIndex.scenario_seeds``, all different, drawn from the analysis
   ``seed``), optionally with fewer scenarios (``scenarios``) to make a re-solve cheaper. Explicit
   scenarios carry no p to resample: their rows are bootstrapped instead (``method`` "bootstrap").

Share, error and class. With n solved resamples of which f fund the candidate, the share is f / n,
its Monte-Carlo standard error the binomial se = sqrt(share (1 − share) / n) and its 95 % interval
[low, high] the Wilson score interval (``optimiser.montecarlo``: the rule the product uses for
every share, never of zero width, so 100 of 100 still reads 0.963–1). A candidate is

- **core** when low ≥ 0.9: funded in at least 90 % of resamples beyond Monte-Carlo doubt;
- **exterior** when high ≤ 0.1: funded in at most 10 % of resamples beyond doubt;
- **borderline** otherwise: its funding depends on the estimates and scenarios, or the resamples
  are too few to tell.

At 100 resamples a candidate is core when funded in at least 96 of them (95 of 100 has
low = 0.888) and exterior when funded in at most 4. A locked or committed candidate is funded in
every solved resample and is core, an excluded one in none and is exterior, by construction
(whatever the number of resamples).

How a resample moves the estimates (sampled scenarios), per option:

- options with ``member_scores`` (the council's submitted scores of the round the estimates come
  from): the council is bootstrapped. When the scores name their ``member``, the panel is drawn
  once per resample — as many draws with replacement as there are distinct members — and every
  option pools the drawn members who scored it, each with their weight times the number of times
  they were drawn, so a member drawn twice counts twice everywhere and an optimistic member moves
  every option they scored together (an option none of the drawn members scored draws from its
  own scorers instead). Scores without a member are drawn per option. The draws are pooled as the
  council pools: a weighted linear pool of p, and a mixture of the PERT impacts summarised as a
  three-point (low = min, high = max, mode so that the PERT mean is the pooled mean), which
  replaces the option's impact. The pooled p is then re-centred on the option's p in the problem
  by a log-odds shift, p' = expit(logit(p_option) + logit(p_drawn) − logit(p_all)), where p_all
  pools every member once: when the problem's p is the council's pool (no evidence since) p' is
  the drawn pool itself; when evidence has moved the option's p since the round, the council's
  spread is kept around the updated p;
- options with a ``spread`` (the pooled spread when the members' scores are not at hand):
  p ~ Beta with mean p and the given ``concentration`` n (Beta(n·p, n·(1 − p))) or standard
  deviation ``sd`` (n = p(1 − p)/sd² − 1; sd = 0 keeps p);
- every other option: p ~ Beta(n0·p, n0·(1 − p)) with the default concentration ``n0``.

p of exactly 0 or 1 is certain and stays. Costs are not resampled (the problem's remaining costs
already carry the spend to date). Within a candidate the resampled p are reassigned in the order
of the original ones, so a bigger (riskier) tranche never becomes likelier than a smaller one and
the scenarios stay nested.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Literal, TypedDict, Unpack

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
from optimiser.montecarlo import Z_95, share_error, wilson_interval
from optimiser.pert import ThreePoint, most_likely_for_mean
from optimiser.problem import ExplicitScenarios, Problem, SampledScenarios

CORE = 0.9
EXTERIOR = 0.1
DEFAULT_CONCENTRATION = 10.0
DEFAULT_RESAMPLES = 100
#: probabilities are kept this far from 0 and 1 in the log-odds re-centring
_EDGE = 1e-9
#: scenario seeds are drawn below this (the problem format's seeds are non-negative integers)
_SEED_BOUND = 2**31 - 1

Source = Literal["members", "spread", "default", "fixed"]


class Spread(BaseModel):
    """Uncertainty of one option's p: a Beta concentration n, or a standard deviation (0: p is
    known exactly)."""

    concentration: float | None = Field(default=None, gt=0)
    sd: float | None = Field(default=None, ge=0)


class MemberScore(BaseModel):
    """One council member's estimate of an option (p, optionally impact) and their weight;
    ``member`` names them, so the whole panel can be bootstrapped at once."""

    p_success: float = Field(ge=0, le=1)
    impact: ThreePoint | None = None
    weight: float = Field(default=1.0, ge=0)
    member: str | None = None


class CoreRow(BaseModel):
    """Core index of one candidate: its share of the solved resamples, the share's standard
    error and 95 % interval [low, high], and its class (module docstring)."""

    candidate: str
    name: str = ""
    share: float
    se: float = 0.0
    low: float = 0.0
    high: float = 1.0
    classification: Literal["core", "borderline", "exterior"]
    option_shares: dict[str, float] = Field(default_factory=dict)
    locked: bool = False
    excluded: bool = False


class CoreIndex(BaseModel):
    """Core index of every candidate over `solved` of `resamples` re-solves.

    ``method``: "council" when some option's members were bootstrapped, "beta" when every p was
    drawn from a Beta, "bootstrap" for explicit scenarios (their rows resampled). ``sources``
    counts the options by how their p was drawn: "members" (the council bootstrapped),
    "spread" (a Beta of the given spread), "default" (the default Beta), "fixed" (p is 0 or 1,
    or its spread is 0: kept as it is). ``scenario_seeds`` are the
    resamples' optimisation seeds, ``scenario_count`` their number of scenarios (sampled only)."""

    resamples: int
    solved: int
    seed: int
    method: Literal["council", "beta", "bootstrap"]
    concentration: float
    core_threshold: float = CORE
    exterior_threshold: float = EXTERIOR
    z: float = Z_95
    scenario_count: int | None = None
    scenario_seeds: list[int] = Field(default_factory=list)
    sources: dict[str, int] = Field(default_factory=dict)
    rows: list[CoreRow] = Field(default_factory=list)


class Resampling(TypedDict, total=False):
    """How the resamples are drawn: the keyword arguments `core_index` and `resampled_problems`
    share (module docstring). `resamples`: how many (default `DEFAULT_RESAMPLES`); `seed`: of the
    draws (default 0); `concentration`: n0 of the default Beta (default `DEFAULT_CONCENTRATION`);
    `spread` and `member_scores`: keyed by option (``candidate/option``), the belief where it is
    known (default none); `scenarios`: the number of optimisation scenarios of each re-solve
    (default: the problem's own)."""

    resamples: int
    seed: int
    concentration: float
    spread: dict[str, Spread | dict[str, float]] | None
    member_scores: dict[str, list[MemberScore | dict[str, Any]]] | None
    scenarios: int | None


RESAMPLING_DEFAULTS: Resampling = {
    "resamples": DEFAULT_RESAMPLES,
    "seed": 0,
    "concentration": DEFAULT_CONCENTRATION,
    "spread": None,
    "member_scores": None,
    "scenarios": None,
}


def core_index(
    problem: Problem,
    *,
    solver: str = "highs",
    time_limit: float | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    on_progress: Progress | None = None,
    **resampling: Unpack[Resampling],
) -> CoreIndex:
    """Re-solve `problem` under `resamples` resamples of the council's estimates and of the
    scenarios; the share funding each candidate, its error and class (module docstring).

    `resampling`: how the resamples are drawn (`Resampling`). Out-of-sample evaluation is
    skipped in the re-solves (only the selections are used).
    """
    how: Resampling = {**RESAMPLING_DEFAULTS, **resampling}
    variants, seeds = resampled_problems(problem, **how)
    tasks = [SolveTask(without_evaluation(v), solver, time_limit) for v in variants]
    summaries = map_solves(
        run_summary_task, tasks, workers=workers, scheduler=scheduler, on_progress=on_progress
    )
    explicit = isinstance(problem.scenarios, ExplicitScenarios)
    concentration = how["concentration"]
    sources = Counter(_sources(problem, concentration, how["spread"], how["member_scores"]))
    counted = dict(sources.most_common())
    sampled = problem.scenarios if isinstance(problem.scenarios, SampledScenarios) else None
    return CoreIndex(
        resamples=how["resamples"],
        solved=sum(s.solved for s in summaries),
        seed=how["seed"],
        method="bootstrap" if explicit else ("council" if counted.get("members") else "beta"),
        concentration=concentration,
        scenario_count=None if sampled is None else (how["scenarios"] or sampled.count),
        scenario_seeds=seeds,
        sources={} if explicit else counted,
        rows=core_rows(problem, summaries),
    )


def resampled_problems(
    problem: Problem, **resampling: Unpack[Resampling]
) -> tuple[list[Problem], list[int]]:
    """The problems `core_index` solves, drawn as `resampling` says, and their optimisation
    seeds (sampled scenarios; empty for explicit ones): the same for the same arguments."""
    how: Resampling = {**RESAMPLING_DEFAULTS, **resampling}
    resamples, scenarios = how["resamples"], how["scenarios"]
    if resamples < 1:
        raise ValueError(f"resamples: must be at least 1, got {resamples}")
    if scenarios is not None and scenarios < 1:
        raise ValueError(f"scenarios: must be at least 1, got {scenarios}")
    spreads = _spreads(problem, how["spread"] or {})
    members = _members(problem, how["member_scores"] or {})
    rng = np.random.default_rng(how["seed"])
    spec = problem.scenarios
    if isinstance(spec, ExplicitScenarios):
        return [_bootstrap(problem, rng) for _ in range(resamples)], []
    seeds = scenario_seeds(rng, resamples)
    count = scenarios or spec.count
    concentration = how["concentration"]
    variants = [
        resampled_problem(problem, rng, concentration, spreads, members).model_copy(
            update={"scenarios": SampledScenarios(count=count, seed=s)}
        )
        for s in seeds
    ]
    return variants, seeds


def scenario_seeds(rng: np.random.Generator, count: int) -> list[int]:
    """`count` different optimisation seeds drawn from `rng`."""
    seeds: list[int] = []
    seen: set[int] = set()
    while len(seeds) < count:
        for s in rng.integers(0, _SEED_BOUND, size=count - len(seeds)):
            if int(s) not in seen:
                seen.add(int(s))
                seeds.append(int(s))
    return seeds


def classify(
    share: float, n: int | None = None, z: float = Z_95
) -> Literal["core", "borderline", "exterior"]:
    """The class of a share of ``n`` resamples: core when its Wilson interval's low end is at
    least 0.9, exterior when its high end is at most 0.1, borderline otherwise. Without ``n``
    the share itself is taken as exact (core ≥ 0.9, exterior ≤ 0.1)."""
    low, high = (share, share) if n is None else wilson_interval(share, n, z)
    if low >= CORE - 1e-12:
        return "core"
    if high <= EXTERIOR + 1e-12:
        return "exterior"
    return "borderline"


def core_rows(problem: Problem, summaries: list[SolveSummary]) -> list[CoreRow]:
    """Per candidate, the share of solved summaries funding it, its standard error, interval and
    class (share 0, interval [0, 1], borderline when none solved: nothing is known)."""
    solved = [s for s in summaries if s.solved]
    n = len(solved)
    policy = problem.policy
    must = {r.split("/")[0] for r in (*policy.locks, *policy.commitments)}
    excluded = {r for r in policy.exclusions if "/" not in r}
    rows = []
    for cand in problem.candidates:
        funded = sum(cand.id in s.selected for s in solved)
        share = funded / n if n else 0.0
        se = share_error(share, n) if n else 0.0
        low, high = wilson_interval(share, n) if n else (0.0, 1.0)
        if cand.id in must:
            cls: Literal["core", "borderline", "exterior"] = "core"
        elif cand.id in excluded:
            cls = "exterior"
        else:
            cls = classify(share, n) if n else "borderline"
        option_shares = {
            o.id: (sum(s.selected.get(cand.id) == o.id for s in solved) / n if n else 0.0)
            for o in cand.options
        }
        rows.append(
            CoreRow(
                candidate=cand.id,
                name=cand.name,
                share=share,
                se=se,
                low=low,
                high=high,
                classification=cls,
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
    """A copy of `problem` with every option's p (and pooled impact) redrawn (module docstring);
    the scenarios are left as they are."""
    copy = problem.model_copy(deep=True)
    panel = _draw_panel(members, rng)
    for cand in copy.candidates:
        drawn = []
        for opt in cand.options:
            key = f"{cand.id}/{opt.id}"
            if key in members and 0.0 < opt.p_success < 1.0:
                p, impact = _council_draw(members[key], panel, rng, opt.p_success)
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
    if p <= 0.0 or p >= 1.0 or math.isinf(n):
        return p
    return float(rng.beta(n * p, n * (1.0 - p)))


def _draw_panel(members: dict[str, list[MemberScore]], rng: np.random.Generator) -> Counter[str]:
    """How many times each named member is drawn in this resample (as many draws with
    replacement as there are named members; empty when no score names its member)."""
    names = sorted({m.member for scores in members.values() for m in scores if m.member})
    if not names:
        return Counter()
    return Counter(names[int(j)] for j in rng.integers(0, len(names), size=len(names)))


def _council_draw(
    scores: list[MemberScore], panel: Counter[str], rng: np.random.Generator, centre: float
) -> tuple[float, ThreePoint | None]:
    """One option's pooled p (re-centred on ``centre``, the option's p) and impact from the
    drawn panel, or from its own scorers drawn with replacement when the panel has none."""
    counts = [float(panel.get(m.member, 0)) if m.member else 0.0 for m in scores]
    if not any(c > 0 and m.weight > 0 for c, m in zip(counts, scores, strict=True)):
        counts = [0.0] * len(scores)
        for j in rng.integers(0, len(scores), size=len(scores)):
            counts[int(j)] += 1.0
    p, impact = pool(scores, counts)
    p_all, _ = pool(scores, [1.0] * len(scores))
    return recentre(p, p_all, centre), impact


def pool(scores: list[MemberScore], counts: list[float]) -> tuple[float, ThreePoint | None]:
    """The weighted linear pool of the scores' p (weight × count each; equal weights over the
    counted scores when those are all 0) and the three-point summary of their impacts."""
    weights = np.array([m.weight * c for m, c in zip(scores, counts, strict=True)], dtype=float)
    if weights.sum() <= 0:
        weights = np.array(counts, dtype=float)
    weights = weights / weights.sum()
    p = float(weights @ np.array([m.p_success for m in scores]))
    rated = [
        (float(w), m.impact)
        for w, m in zip(weights, scores, strict=True)
        if m.impact is not None and w > 0
    ]
    if not rated:
        return p, None
    total = sum(w for w, _ in rated)
    mean = sum(w * t.pert_mean for w, t in rated) / total
    low = min(t.low for _, t in rated)
    high = max(t.high for _, t in rated)
    return p, ThreePoint(low=low, most_likely=most_likely_for_mean(mean, low, high), high=high)


def recentre(drawn: float, pooled: float, centre: float) -> float:
    """``drawn`` moved by the log-odds shift that takes ``pooled`` to ``centre``; ``drawn``
    itself when they are equal, ``centre`` itself when it is 0 or 1."""
    if centre <= 0.0 or centre >= 1.0 or abs(centre - pooled) <= 1e-12:
        return drawn if 0.0 < centre < 1.0 else centre
    shift = _logit(centre) - _logit(pooled)
    return 1.0 / (1.0 + math.exp(-(_logit(drawn) + shift)))


def _logit(p: float) -> float:
    p = min(1.0 - _EDGE, max(_EDGE, p))
    return math.log(p / (1.0 - p))


def _bootstrap(problem: Problem, rng: np.random.Generator) -> Problem:
    spec = problem.scenarios
    assert isinstance(spec, ExplicitScenarios)
    count = len(next(iter(spec.impact.values()), []))
    rows = rng.integers(0, count, size=count)
    impact = {key: [values[int(s)] for s in rows] for key, values in spec.impact.items()}
    return problem.model_copy(update={"scenarios": ExplicitScenarios(impact=impact)})


def _sources(
    problem: Problem,
    concentration: float,
    spread: dict[str, Spread | dict[str, float]] | None,
    member_scores: dict[str, Any] | None,
) -> list[Source]:
    """How each option's p is resampled."""
    spreads = _spreads(problem, spread or {})
    out: list[Source] = []
    for cand in problem.candidates:
        for opt in cand.options:
            key = f"{cand.id}/{opt.id}"
            if not 0.0 < opt.p_success < 1.0 or math.isinf(spreads.get(key, concentration)):
                out.append("fixed")
            elif key in (member_scores or {}):
                out.append("members")
            elif key in spreads:
                out.append("spread")
            else:
                out.append("default")
    return out


def _spreads(problem: Problem, spread: dict[str, Spread | dict[str, float]]) -> dict[str, float]:
    """Each option's Beta concentration from its `Spread` (infinite: p is known exactly)."""
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
            if s.sd == 0.0:
                out[key] = math.inf
            elif s.sd**2 >= variance and 0.0 < p < 1.0:
                raise ProblemError(
                    f"{path}.sd",
                    f"must be less than sqrt(p(1 - p)) = {np.sqrt(variance):.4g} for p = {p:g}",
                )
            else:
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
