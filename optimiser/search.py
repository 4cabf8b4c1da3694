"""Local search over selections for P(target), every move scored over all scenarios at once.

P(target) enters only through a *column value*: a function from an S x m matrix of scenario
impacts (one column per trial portfolio) to the m values of the per-scenario part of the
objective; the tie-break and the switching charge are added here, as in
`objectives.objective_value`. Used by `ptarget`, whose MILP does not close.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimiser.data import FloatArray, IntArray, ProblemData
from optimiser.families import SwitchingCost
from optimiser.feasibility import SelectionChecker
from optimiser.objectives import TOL, tie_break_weights
from optimiser.scenarios import Scenarios

MAX_MOVES_CHECKED = 1500

ColumnValue = Callable[[FloatArray], FloatArray]


def p_target_value(data: ProblemData, scenarios: Scenarios) -> ColumnValue:
    """P(target) of each column of an S x m impact matrix, plus a ranking term: P(target) is flat
    between scenario steps, so a capped-impact term worth less than one scenario
    (mu·min(T, impact)/T < 1/S) ranks equal-P moves by how close they get to T."""
    target = data.target
    mu = 0.5 / scenarios.count / max(target, 1e-12)

    def value(after: FloatArray) -> FloatArray:
        hits = (after >= target - TOL).mean(axis=0)
        return np.asarray(hits + mu * np.minimum(target, after).mean(axis=0), dtype=float)

    return value


def selection_scores(data: ProblemData, scenarios: Scenarios, xs: FloatArray) -> FloatArray:
    """P(target) − switching charge − tie-break for each row of xs (selections x options)."""
    hits = (xs @ scenarios.impact.T >= data.target - TOL).mean(axis=1)
    return np.asarray(hits - charges(data, xs), dtype=float)


def charges(
    data: ProblemData, xs: FloatArray, switching: SwitchingCost | None = None
) -> FloatArray:
    """Tie-break plus switching charge of each row of xs (selections x options)."""
    switching = SwitchingCost(data) if switching is None else switching
    return np.asarray(xs @ tie_break_weights(data) + switching.values(xs), dtype=float)


@dataclass
class _Moves:
    """What every move of one search shares."""

    data: ProblemData
    a: FloatArray  # S x K scenario impacts
    value: ColumnValue
    allowed: np.ndarray  # options that may be funded at all
    spend_cum: FloatArray  # K x years, cumulative when carry_forward
    cap: FloatArray  # per year, every envelope's (cumulative) budget
    checker: SelectionChecker
    deadline: float
    switching: SwitchingCost
    tie: FloatArray  # the tie-break weight of each option

    @property
    def cand_of(self) -> IntArray:
        return self.data.candidate_of

    def surrogate(self, xs: FloatArray) -> FloatArray:
        """The whole value of each row of xs: the column value less the charges."""
        return np.asarray(
            self.value(self.a @ xs.T) - charges(self.data, xs, self.switching), dtype=float
        )

    def best_adds(self, x: FloatArray, base: FloatArray, count: int) -> list[int]:
        """The `count` options best added to x (impact `base`) that pass the budget test."""
        taken = np.zeros(int(self.cand_of.max()) + 1, dtype=bool)
        taken[self.cand_of[x > 0.5]] = True
        addable = np.flatnonzero(self.allowed & (x < 0.5) & ~taken[self.cand_of])
        spent = self.spend_cum.T @ x
        fits = (spent[None, :] + self.spend_cum[addable] <= self.cap[None, :]).all(axis=1)
        addable = addable[fits]
        if len(addable) == 0:
            return []
        score = self.value(base[:, None] + self.a[:, addable])
        order = np.lexsort((addable, -score))[:count]
        return [int(addable[j]) for j in order]

    def improves(self, trial: FloatArray, current: float) -> bool:
        return bool(self.surrogate(trial[None, :])[0] > current + 1e-15) and (
            self.checker.is_feasible(trial)
        )

    def single_moves(self, x: FloatArray) -> tuple[FloatArray, IntArray, IntArray] | None:
        """Every add / drop / change-option / swap move from x: (gain, option dropped or −1,
        option added or −1) each; None when there is none or the deadline passes.

        For each base (x itself, or x with one funded option dropped) every addable option is
        scored at once over all scenarios; the switching charge enters through its change on
        the candidates touched (it is separable by candidate)."""
        a, cost, cand_of, switching = self.a, self.data.total_cost, self.cand_of, self.switching
        impact = a @ x
        now = float(self.value(impact[:, None])[0])
        funded = switching.funded(x)
        pen_now = switching.charge(funded)
        selected = np.flatnonzero(x > 0.5)
        taken = np.zeros(self.data.n_candidates, dtype=bool)
        taken[cand_of[selected]] = True
        gains: list[FloatArray] = []
        drops: list[IntArray] = []
        adds: list[IntArray] = []
        for drop in [-1, *selected.tolist()]:
            if time.perf_counter() > self.deadline:  # one pass can be long at n = 1000, S = 5000
                return None
            base = impact if drop < 0 else impact - a[:, drop]
            base_funded = funded.copy()
            base_spend = self.spend_cum.T @ x - (self.spend_cum[drop] if drop >= 0 else 0.0)
            free_cand = ~taken
            change = 0.0
            if drop >= 0:
                i = int(cand_of[drop])
                base_funded[i] -= cost[drop]
                free_cand = free_cand.copy()
                free_cand[i] = True
                change = float(switching.charge(base_funded[i], i)) - pen_now[i] - self.tie[drop]
                dropped = float(self.value(base[:, None])[0])
                gains.append(np.array([dropped - now - change]))
                drops.append(np.array([drop]))
                adds.append(np.array([-1]))
            addable = np.flatnonzero(self.allowed & (x < 0.5) & free_cand[cand_of])
            fits = (base_spend[None, :] + self.spend_cum[addable] <= self.cap[None, :]).all(axis=1)
            addable = addable[fits]
            if len(addable) == 0:
                continue
            after = self.value(base[:, None] + a[:, addable])
            j = cand_of[addable]
            pen_base = switching.charge(base_funded[j], j)
            pen_new = switching.charge(base_funded[j] + cost[addable], j)
            gains.append(after - now - change - self.tie[addable] - (pen_new - pen_base))
            drops.append(np.full(len(addable), drop))
            adds.append(addable)
        if not gains:
            return None
        return np.concatenate(gains), np.concatenate(drops), np.concatenate(adds)


def local_search(
    data: ProblemData,
    scenarios: Scenarios,
    checker: SelectionChecker,
    x: FloatArray,
    *,
    deadline: float,
    should_stop: Callable[[], bool] | None = None,
) -> FloatArray:
    """Best-improvement add / drop / change-option / swap moves, scored over all scenarios; then
    drop-one-add-two and drop-two-add-one.

    For each base (x itself, or x with one funded option dropped) every addable option is scored
    at once as an S x K numpy computation (`_Moves.single_moves`); only improving moves are
    checked for feasibility, best first, and the first feasible one is taken.
    """
    # a necessary budget test for every move at once: cumulative spend ≤ all envelopes' budgets
    carry = data.problem.policy.carry_forward
    spend_cum = np.cumsum(data.cost, axis=1) if carry else data.cost
    cap = data.total_caps + 1e-7 * (1.0 + data.total_caps)
    moves = _Moves(
        data,
        scenarios.impact,
        p_target_value(data, scenarios),
        ~checker.forbidden,
        spend_cum,
        cap,
        checker,
        deadline,
        SwitchingCost(data),
        tie_break_weights(data),
    )
    x = x.copy()
    current = moves.surrogate(x[None, :])[0]
    while time.perf_counter() < deadline and not (should_stop and should_stop()):
        scored = moves.single_moves(x)
        if scored is None:
            break
        gain, drop_k, add_k = scored
        order = np.lexsort((add_k, drop_k, -gain))[:MAX_MOVES_CHECKED]
        improved = False
        for idx in order:
            if gain[idx] <= 1e-15:
                break
            trial = x.copy()
            if drop_k[idx] >= 0:
                trial[drop_k[idx]] = 0.0
            if add_k[idx] >= 0:
                trial[add_k[idx]] = 1.0
            if checker.is_feasible(trial):
                trial_value = moves.surrogate(trial[None, :])[0]
                if trial_value > current + 1e-15:
                    x, current, improved = trial, trial_value, True
                    break
        if not improved:
            pair = _drop_one_add_two(moves, x, current)
            if pair is None:
                pair = _drop_two_add_one(moves, x, current)
            if pair is None:
                break
            x, current = pair, moves.surrogate(pair[None, :])[0]
    return x


def _drop_one_add_two(moves: _Moves, x: FloatArray, current: float) -> FloatArray | None:
    """The 2-opt move budgets call for: unfund one option, fund two cheaper ones instead.

    For each funded option, the best few first additions are each completed by the best second
    addition; the first feasible improvement is returned.
    """
    a = moves.a
    impact = a @ x
    for drop in np.flatnonzero(x > 0.5).tolist():
        if time.perf_counter() > moves.deadline:
            return None
        trial0 = x.copy()
        trial0[drop] = 0.0
        base = impact - a[:, drop]
        for k1 in moves.best_adds(trial0, base, 3):
            trial1 = trial0.copy()
            trial1[k1] = 1.0
            for k2 in moves.best_adds(trial1, base + a[:, k1], 3):
                trial = trial1.copy()
                trial[k2] = 1.0
                if moves.improves(trial, current):
                    return trial
    return None


def _drop_two_add_one(moves: _Moves, x: FloatArray, current: float) -> FloatArray | None:
    """Unfund two options and fund one (bigger) instead; pairs among the 25 funded options
    whose removal costs least, each completed by its best few additions."""
    a = moves.a
    impact = a @ x
    selected = np.flatnonzero(x > 0.5)
    if len(selected) == 0:
        return None
    loss = moves.value(impact[:, None] - a[:, selected])
    weakest = selected[np.lexsort((selected, -loss))][:25].tolist()
    for n1, k1 in enumerate(weakest):
        if time.perf_counter() > moves.deadline:
            return None
        for k2 in weakest[n1 + 1 :]:
            trial0 = x.copy()
            trial0[[k1, k2]] = 0.0
            base = impact - a[:, k1] - a[:, k2]
            for k in moves.best_adds(trial0, base, 2):
                trial = trial0.copy()
                trial[k] = 1.0
                if moves.improves(trial, current):
                    return trial
    return None
