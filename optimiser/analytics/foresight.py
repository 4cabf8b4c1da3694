"""The value of knowing the outcome (foresight): how much P(target) would improve, on the
optimisation scenarios, if whether each candidate works were known before deciding.

This is NOT the product's value of information (``optimiser.analytics.voi``: the expected value of
partial perfect information about a candidate's probability of success, scored out of sample). It
measures foresight of the realised outcome, fitted in sample: on a few hundred scenarios its
figures come in steps of 1/S and rank noise. It is kept as a library function, under this name.

Expected value of perfect information by scenario partition, on the optimisation scenarios (S of
them, equally likely) with the value of a decision x on a set of scenarios P being
P_P(x) = share of s in P with Σ_k impact[s, k]·x[k] ≥ target:

- F, the decisions available without information: the current decision (`selected`, or the
  problem solved as given) and x0, the problem re-optimised on all S scenarios by `method`;
  baseline = max_{x ∈ F} P_all(x).
- For candidate i, the scenarios are split into parts by i's outcome: which of its options
  succeed, and, within a success pattern, `impact_bins` quantile bins of its realised impact
  (only when that impact varies). On each part P_j (weight w_j = |P_j| / S) the problem is
  re-optimised knowing the outcome — the same rules, the part's scenarios as explicit scenarios,
  objective `method` — giving x_j.
- best_j = max(P_j(x_j), max_{x ∈ F} P_j(x)); EVPI_i = Σ_j w_j·best_j − baseline.

EVPI_i ≥ 0 by construction: Σ_j w_j·max_{x∈F} P_j(x) ≥ max_{x∈F} Σ_j w_j·P_j(x) = baseline. It is
computed in whole scenario counts, so it is exact, and exactly 0 when i's outcome is the same in
every scenario (a single part: nothing to learn) — e.g. p = 0 or 1 with a certain impact, or
explicit scenarios in which its impact never changes.

The approximation: P(target) itself is hard to optimise (DESIGN.md §5), so by default each part is
re-optimised with the `capped` objective (mean of min(target, impact)) — a fast MILP whose answer
is a strong P(target) portfolio — under a short time limit (10 s unless given); `method="p_target"`
uses the P(target) solver itself (exact by enumeration on small instances, slower on large ones).
A weaker re-optimisation can only under-state EVPI (the max with F keeps it ≥ 0). The rule stated
as a probability (`min_p_any_success`) is applied within each part — sufficient for the informed
policy to meet it overall (Σ_j w_j·q = q), so again EVPI is, if anything, under-stated; where a
part cannot meet it the decisions in F stand for that part. A problem with no admissible portfolio
raises `InfeasibleError`.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from optimiser.analytics.per_candidate import chosen_candidates, no_portfolio
from optimiser.data import FloatArray, ProblemData, problem_data
from optimiser.objectives import TOL
from optimiser.problem import Candidate, ExplicitScenarios, Problem
from optimiser.scenarios import Scenarios, optimisation_scenarios

DEFAULT_PART_TIME_LIMIT = 10.0
Method = Literal["capped", "p_target", "expected"]


class OutcomePart(BaseModel):
    """One part of a candidate's scenario partition."""

    label: str
    scenarios: int
    weight: float
    best_p_target: float
    without_information_p_target: float
    reoptimised_status: str
    selected: dict[str, str] = Field(default_factory=dict)


class OutcomeRow(BaseModel):
    """Value of knowing the outcome of one candidate, in P(target) (a share, 0–1: × 100 for
    percentage points)."""

    candidate: str
    name: str = ""
    rank: int
    evpi: float
    informed_p_target: float
    baseline_p_target: float
    uncertain: bool
    method: str
    scenarios: int
    parts: list[OutcomePart] = Field(default_factory=list)


def value_of_knowing_the_outcome(
    problem: Problem,
    *,
    candidates: list[str] | None = None,
    selected: dict[str, str] | None = None,
    method: Method = "capped",
    impact_bins: int = 2,
    solver: str = "highs",
    time_limit: float | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    on_progress: Progress | None = None,
) -> list[OutcomeRow]:
    """EVPI in P(target) per candidate, ranked best first (module docstring for the method).

    `selected`: the current decision ({candidate: option}); default: `problem` solved as given.
    `candidates`: ids to evaluate (default: all). `time_limit`: per re-solve (default 10 s or the
    policy's limit if shorter).
    """
    if impact_bins < 1:
        raise ValueError(f"impact_bins: must be at least 1, got {impact_bins}")
    chosen = chosen_candidates(problem, candidates)
    limit = (
        min(DEFAULT_PART_TIME_LIMIT, problem.policy.time_limit_s)
        if time_limit is None
        else time_limit
    )
    data = problem_data(problem)
    scen = optimisation_scenarios(data)
    ids = [c.id for c in problem.candidates]
    parts = {cid: outcome_parts(data, scen, ids.index(cid), impact_bins) for cid in chosen}
    everything = np.arange(scen.count, dtype=np.int64)
    first = [SolveTask(part_problem(problem, data, scen, everything, method), solver, limit)]
    if selected is None:
        first.append(SolveTask(without_evaluation(problem), solver, time_limit))
    tasks: list[SolveTask] = []
    task_of: dict[str, list[int]] = {}  # a candidate's parts' tasks, in the order of its parts
    for cid in chosen:
        if len(parts[cid]) > 1:
            for rows, _ in parts[cid]:
                task_of.setdefault(cid, []).append(len(tasks))
                tasks.append(
                    SolveTask(part_problem(problem, data, scen, rows, method), solver, limit)
                )
    total = len(first) + len(tasks)
    run = _Solves(workers, scheduler, on_progress, total)
    head = run(first, 0)
    if not all(s.solved for s in head):
        raise no_portfolio()
    results = run(tasks, len(first))
    current = selected if selected is not None else head[1].selected
    fallback = [data.selection_vector(current), data.selection_vector(head[0].selected)]
    meets = [_meets(data, scen, x) for x in fallback]
    baseline = max(int(m.sum()) for m in meets)
    rows_out = []
    for cid in chosen:
        summaries = [results[t] for t in task_of.get(cid, [])]
        out_parts = [
            _part(data, scen, rows, label, meets, summaries[j] if summaries else None)
            for j, (rows, label) in enumerate(parts[cid])
        ]
        cand = problem.candidates[ids.index(cid)]
        rows_out.append(_outcome_row(cand, out_parts, baseline, scen.count, method))
    rows_out.sort(key=lambda r: (-r.evpi, chosen.index(r.candidate)))
    for rank, row in enumerate(rows_out, start=1):
        row.rank = rank
    return rows_out


@dataclass(frozen=True)
class _Solves:
    """`map_solves` of the re-solves' summaries with the analysis's workers, scheduler and
    progress: each phase's progress reported as progress of the whole (`total` re-solves)."""

    workers: int | None
    scheduler: Any
    on_progress: Progress | None
    total: int

    def __call__(self, tasks: list[SolveTask], done: int) -> list[SolveSummary]:
        return map_solves(
            run_summary_task,
            tasks,
            workers=self.workers,
            scheduler=self.scheduler,
            on_progress=_offset(self.on_progress, done, self.total),
        )


def _part(
    data: ProblemData,
    scen: Scenarios,
    rows: np.ndarray[Any, np.dtype[np.int64]],
    label: str,
    meets: list[np.ndarray[Any, np.dtype[np.bool_]]],
    summary: SolveSummary | None,
) -> tuple[OutcomePart, int]:
    """One part of a candidate's partition, and best_j as a count: the part's scenarios in
    which the best of the decisions without information, or the part's re-optimised portfolio
    (`summary`, None when the candidate is certain) if better, reaches the target."""
    without = max(int(m[rows].sum()) for m in meets)
    best, status, picked = without, "not needed", {}
    if summary is not None:
        status, picked = summary.status, summary.selected
        if summary.solved:
            hit = _meets(data, scen, data.selection_vector(summary.selected))
            best = max(best, int(hit[rows].sum()))
    n = len(rows)
    part = OutcomePart(
        label=label,
        scenarios=n,
        weight=n / scen.count,
        best_p_target=best / n,
        without_information_p_target=without / n,
        reoptimised_status=status,
        selected=picked,
    )
    return part, best


def _outcome_row(
    cand: Candidate,
    parts: list[tuple[OutcomePart, int]],
    baseline: int,
    count: int,
    method: str,
) -> OutcomeRow:
    """A candidate's EVPI from its parts and their best_j counts: Σ_j w_j·best_j − baseline
    (module docstring), counted in whole scenarios out of `count`; ranked later."""
    informed = sum(best for _, best in parts)
    return OutcomeRow(
        candidate=cand.id,
        name=cand.name,
        rank=0,
        evpi=(informed - baseline) / count,
        informed_p_target=informed / count,
        baseline_p_target=baseline / count,
        uncertain=len(parts) > 1,
        method=method,
        scenarios=count,
        parts=[part for part, _ in parts],
    )


def outcome_parts(
    data: ProblemData, scen: Scenarios, i: int, impact_bins: int
) -> list[tuple[np.ndarray[Any, np.dtype[np.int64]], str]]:
    """Candidate i's partition of the scenarios: (row indices, label) per non-empty part."""
    ks = data.options_of(i)
    success = scen.success[:, ks]
    impact = scen.impact[:, ks].sum(axis=1)
    code = success.astype(np.int64) @ (1 << np.arange(len(ks), dtype=np.int64))
    option_ids = [data.option_id[int(k)] for k in ks]
    parts = []
    for c in np.unique(code).tolist():
        rows = np.flatnonzero(code == c)
        names = [option_ids[b] for b in range(len(ks)) if c >> b & 1]
        label = "fails" if not names else "succeeds: " + ", ".join(names)
        values = impact[rows]
        if impact_bins == 1 or not names or np.ptp(values) <= TOL:
            parts.append((rows, label))
            continue
        edges = np.quantile(values, np.linspace(0, 1, impact_bins + 1)[1:-1])
        bins = np.searchsorted(edges, values, side="right")
        for b in np.unique(bins).tolist():
            part = rows[bins == b]
            lo, hi = float(impact[part].min()), float(impact[part].max())
            parts.append((part, f"{label} (impact {lo:.3g}–{hi:.3g})"))
    return parts


def part_problem(
    problem: Problem,
    data: ProblemData,
    scen: Scenarios,
    rows: np.ndarray[Any, np.dtype[np.int64]],
    method: str,
) -> Problem:
    """`problem` on the given optimisation scenarios only (as explicit ones), objective `method`."""
    impact = {key: [float(v) for v in scen.impact[rows, k]] for k, key in enumerate(data.keys)}
    policy = problem.policy.model_copy(update={"objective": method})
    part = problem.model_copy(
        update={"scenarios": ExplicitScenarios(impact=impact), "policy": policy}
    )
    return without_evaluation(part)


def _offset(on_progress: Progress | None, done: int, total: int) -> Progress | None:
    """Progress of one phase reported as progress of the whole (phase-start calls dropped)."""
    if on_progress is None:
        return None
    report = on_progress

    def phase(d: int, _n: int) -> None:
        if d > 0 or done == 0:
            report(done + d, total)

    return phase


def _meets(
    data: ProblemData, scen: Scenarios, x: FloatArray
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Per scenario, whether portfolio x reaches the target."""
    return np.asarray(scen.impact @ x >= data.target - TOL)
