"""Scenario generation: correlated, nested successes and PERT-Beta impacts and costs.

Success of candidate i's option o in scenario s: with one latent Gaussian factor F per platform,
    z[s, i] = sqrt(rho)·F[s, platform(i)] + sqrt(1 - rho)·eps[s, i],
option o succeeds iff Phi(z[s, i]) < p[o], i.e. z[s, i] < Phi⁻¹(p[o]). All options of a candidate
use the same z, so an option with a smaller p succeeds only when every bigger-p option would
(nested), and a platform-wide bad draw F kills its candidates together. Impacts (and, for
evaluation, total costs) are drawn from the PERT-Beta of their three points (`optimiser.pert`). The
optimisation scenarios are vectorised numpy from `default_rng(seed)`, drawn in a fixed order, so a
seed gives the same scenarios on any machine.

Realised spend (problem format version 2; `Scenarios.spend_columns`). Explicit scenarios give it
as `scenarios.spend` rows; an option without rows spends exactly its planned cost. Sampled
scenarios derive it, per option k and scenario s, from:
- its realised remaining total T[s, k]: a PERT-Beta draw of `cost_range` (the planned remaining
  total when it has none), spread over the years in proportion to the planned `cost` profile;
- success: an option that succeeds spends all of T; one that fails stops spending once it has
  spent a share U[s, k] ~ Uniform(0, 1) of T (its failure is found part-way through), in year
  order, so a failure costs on average half of its realised total, front-loaded.
T and U are drawn after the impacts from the same generator (optimisation scenarios) or from the
option's own "cost" and "stop" generators (evaluation), so adding them changed no impact draw.

The out-of-sample evaluation scenarios (20,000 by default) are drawn column by column, only for
the options a metric asks about: each platform factor, candidate noise and option impact or cost
has its own generator, keyed by the `evaluation` seed and the candidate/option id. Scoring one
portfolio then costs its own options' draws rather than S x K Beta draws for every option (9 s at a
thousand candidates), every portfolio of a problem is scored on the same draws (common random
numbers), and adding a candidate changes no other candidate's draws.
"""

from __future__ import annotations

import hashlib
import threading
from statistics import NormalDist

import numpy as np

from optimiser.data import BoolArray, FloatArray, IntArray, ProblemData
from optimiser.pert import ThreePoint, beta_parameters
from optimiser.problem import ExplicitScenarios


class Scenarios:
    """S scenarios over the K options: `impact[s, k]` is 0 when option k fails in s.

    Sampled impacts and costs are drawn on first use (in the fixed order impacts, then costs, from
    the generator state that follows the success draws), so a model that needs only the successes —
    the `expected` objective with its P(any success) floor — does not pay for S x K Beta draws, and
    the numbers are the same whichever is read first.
    """

    def __init__(
        self,
        success: BoolArray,
        source: str,
        seed: int | None,
        *,
        impact: FloatArray | None = None,
        draws: _LazyDraws | None = None,
        planned: FloatArray | None = None,
        spend: FloatArray | None = None,
        show_cost: bool = False,
    ):
        if impact is None and draws is None:
            raise ValueError("scenarios need impacts or a way to draw them")
        self._success = success
        self.source = source
        self.seed = seed
        self._impact = impact
        self._draws = draws
        self._planned = planned  # K x Y planned remaining spend
        self._spend = spend  # S x K x Y realised spend, for explicit scenarios
        self._show_cost = show_cost

    @property
    def success(self) -> BoolArray:  # S x K
        return self._success

    @property
    def impact(self) -> FloatArray:  # S x K
        if self._impact is None:
            assert self._draws is not None
            self._impact = self._draws.impact()
        return self._impact

    @property
    def cost(self) -> FloatArray | None:
        """S x K realised total cost (evaluation scenarios only)."""
        if self._draws is None or not self._show_cost:
            return None
        return self._draws.cost()

    def spend_columns(self, options: IntArray) -> FloatArray:
        """S x len(options) x Y: each option's realised spend per year if funded (see the module
        docstring)."""
        options = np.asarray(options, dtype=np.int64)
        if self._spend is not None:
            return self._spend[:, options, :]
        assert self._planned is not None, "these scenarios were made without the plan"
        if self._draws is None:  # explicit impacts without spend rows: the plan in every scenario
            return np.broadcast_to(
                self._planned[options][None, :, :],
                (self.count, len(options), self._planned.shape[1]),
            )
        return realised_spend(
            self._planned[options],
            self._draws.cost()[:, options],
            self.success[:, options],
            self._draws.stop()[:, options],
        )

    def spend_total(self, options: IntArray) -> FloatArray:
        """S x Y: the realised spend per year of the given options together, funded (what the
        overrun test measures; `spend_columns` summed over the options, without building it)."""
        options = np.asarray(options, dtype=np.int64)
        if self._spend is not None:
            return np.asarray(self._spend[:, options, :].sum(axis=1), dtype=float)
        assert self._planned is not None, "these scenarios were made without the plan"
        if self._draws is None:  # explicit impacts without spend rows: the plan in every scenario
            plan = self._planned[options].sum(axis=0)
            return np.asarray(np.broadcast_to(plan, (self.count, len(plan))), dtype=float)
        return realised_total(
            self._planned[options],
            self._draws.cost()[:, options],
            self.success[:, options],
            self._draws.stop()[:, options],
        )

    @property
    def count(self) -> int:
        return int(self._success.shape[0])

    def columns(self, options: IntArray) -> tuple[BoolArray, FloatArray, FloatArray | None]:
        """Success, impact and (evaluation only) cost of the given options, S x len(options)."""
        cost = self.cost
        return (
            self.success[:, options],
            self.impact[:, options],
            None if cost is None else cost[:, options],
        )


class EvaluationScenarios(Scenarios):
    """Out-of-sample scenarios drawn per column on demand (see the module docstring)."""

    def __init__(self, data: ProblemData, count: int, seed: int):
        self._data = data
        self._count = count
        self._seed = seed
        self.source = "sampled"
        self.seed = seed
        self._impact = None
        self._draws = None
        self._lock = threading.Lock()
        self._z: dict[int, FloatArray] = {}
        self._factor: FloatArray | None = None
        self._options = [o for c in data.problem.candidates for o in c.options]
        self._full: tuple[BoolArray, FloatArray, FloatArray] | None = None
        self._last: tuple[tuple[int, ...], tuple[BoolArray, FloatArray, FloatArray]] | None = None

    @property
    def count(self) -> int:
        return self._count

    def _stream(self, *key: str) -> np.random.Generator:
        words = [
            int.from_bytes(hashlib.sha256(part.encode()).digest()[:4], "little") for part in key
        ]
        return np.random.default_rng(np.random.SeedSequence(self._seed, spawn_key=tuple(words)))

    def _latent(self, i: int) -> FloatArray:
        """z[:, i] of candidate i (cached): its platform's factor and its own noise."""
        with self._lock:
            if self._factor is None:
                self._factor = self._stream("platform factors").standard_normal(
                    (self._count, len(self._data.platforms))
                )
            if i not in self._z:
                rho = self._data.problem.policy.correlation
                cand = self._data.problem.candidates[i]
                noise = self._stream("noise", cand.id).standard_normal(self._count)
                platform = int(self._data.platform_of[self._data.options_of(i)[0]])
                self._z[i] = np.sqrt(rho) * self._factor[:, platform] + np.sqrt(1.0 - rho) * noise
            return self._z[i]

    def spend_columns(self, options: IntArray) -> FloatArray:
        options = np.asarray(options, dtype=np.int64)
        success, _, total = self.columns(options)
        return realised_spend(self._data.cost[options], total, success, self._stops(options))

    def spend_total(self, options: IntArray) -> FloatArray:
        options = np.asarray(options, dtype=np.int64)
        success, _, total = self.columns(options)
        return realised_total(self._data.cost[options], total, success, self._stops(options))

    def _stops(self, options: IntArray) -> FloatArray:
        stop = np.empty((self._count, len(options)))
        for j, k in enumerate(options.tolist()):
            stop[:, j] = self._stream("stop", self._data.keys[k]).random(self._count)
        return stop

    def columns(self, options: IntArray) -> tuple[BoolArray, FloatArray, FloatArray]:
        """Success, impact and cost of the given options (the last call's answer is kept:
        the metrics ask for the same options twice, their impacts then their spend)."""
        key = tuple(np.asarray(options, dtype=np.int64).tolist())
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        drawn = self._draw_columns(options)
        self._last = (key, drawn)
        return drawn

    def _draw_columns(self, options: IntArray) -> tuple[BoolArray, FloatArray, FloatArray]:
        d = self._data
        success = np.empty((self._count, len(options)), dtype=bool)
        impact = np.empty((self._count, len(options)))
        cost = np.empty((self._count, len(options)))
        for j, k in enumerate(np.asarray(options, dtype=np.int64).tolist()):
            i = int(d.candidate_of[k])
            success[:, j] = self._latent(i) < _inverse_phi(float(d.p[k]))
            option = self._options[k]
            hits = np.flatnonzero(success[:, j])  # impacts are drawn where the option succeeds
            impact[:, j] = 0.0
            impact[hits, j] = _pert_one(self._stream("impact", d.keys[k]), option.impact, len(hits))
            spread = option.cost_range or _point(float(d.total_cost[k]))
            cost[:, j] = _pert_one(self._stream("cost", d.keys[k]), spread, self._count)
        return success, impact, cost

    def _every_column(self) -> tuple[BoolArray, FloatArray, FloatArray]:
        """All options at once (drawn once; metrics ask `columns` for the chosen ones only)."""
        if self._full is None:
            self._full = self.columns(np.arange(self._data.n_options))
        return self._full

    @property
    def success(self) -> BoolArray:
        return self._every_column()[0]

    @property
    def impact(self) -> FloatArray:
        return self._every_column()[1]

    @property
    def cost(self) -> FloatArray:
        return self._every_column()[2]


class _LazyDraws:
    """Impact (then cost) draws from one generator, each made once, always in the same order."""

    def __init__(
        self,
        rng: np.random.Generator,
        success: BoolArray,
        impacts: list[ThreePoint],
        costs: list[ThreePoint],
    ):
        self._rng = rng
        self._success = success
        self._impacts = impacts
        self._costs = costs
        self._impact: FloatArray | None = None
        self._cost: FloatArray | None = None
        self._stop: FloatArray | None = None
        self._lock = threading.Lock()

    def impact(self) -> FloatArray:
        with self._lock:
            if self._impact is None:
                draw = _pert(self._rng, self._impacts, self._success.shape[0])
                self._impact = np.where(self._success, draw, 0.0)
            return self._impact

    def cost(self) -> FloatArray:
        self.impact()
        with self._lock:
            if self._cost is None:
                self._cost = _pert(self._rng, self._costs, self._success.shape[0])
            return self._cost

    def stop(self) -> FloatArray:
        """U[s, k]: the share of its realised total an option spends if it fails (after costs)."""
        self.cost()
        with self._lock:
            if self._stop is None:
                self._stop = self._rng.random(self._success.shape)
            return self._stop


def optimisation_scenarios(data: ProblemData) -> Scenarios:
    """The scenarios the optimiser sees: explicit ones as given, else sampled from `scenarios`."""
    spec = data.problem.scenarios
    if isinstance(spec, ExplicitScenarios):
        impact = np.array([spec.impact[key] for key in data.keys], dtype=float).T
        impact = impact.reshape(-1, data.n_options)
        spend = None
        if spec.spend:
            # options without rows spend exactly their planned cost in every scenario
            spend = np.repeat(data.cost[None, :, :], impact.shape[0], axis=0)
            for key, rows in spec.spend.items():
                spend[:, data.index_of(key), :] = np.asarray(rows, dtype=float)
        return Scenarios(
            impact > 0, "explicit", None, impact=impact, planned=data.cost, spend=spend
        )
    return sample_scenarios(data, spec.count, spec.seed)


def evaluation_scenarios(data: ProblemData) -> Scenarios:
    """Fresh out-of-sample scenarios from the `evaluation` block (always sampled from the model)."""
    spec = data.problem.evaluation
    return EvaluationScenarios(data, spec.count, spec.seed)


def sample_scenarios(
    data: ProblemData, count: int, seed: int, *, with_costs: bool = False
) -> Scenarios:
    """Sample `count` scenarios with `default_rng(seed)` (see the module docstring)."""
    problem = data.problem
    rng = np.random.default_rng(seed)
    rho = problem.policy.correlation
    n_cand = data.n_candidates
    plat_of_cand = np.zeros(n_cand, dtype=np.int64)
    plat_of_cand[data.candidate_of] = data.platform_of
    factor = rng.standard_normal((count, len(data.platforms)))
    z = rng.standard_normal((count, n_cand))  # the idiosyncratic noise, scaled in place
    z *= np.sqrt(1.0 - rho)
    z += np.sqrt(rho) * factor[:, plat_of_cand]
    threshold = np.array([_inverse_phi(p) for p in data.p])
    # options are stored candidate by candidate, so z[:, candidate_of] is a column repeat; done
    # in blocks of rows so the temporary stays in cache
    repeats = np.bincount(data.candidate_of, minlength=n_cand)
    success = np.empty((count, data.n_options), dtype=bool)
    step = max(1, 2**18 // max(1, data.n_options))
    for lo in range(0, count, step):
        block = np.repeat(z[lo : lo + step], repeats, axis=1)
        np.less(block, threshold[None, :], out=success[lo : lo + step])
    options = [o for c in problem.candidates for o in c.options]
    costs = [
        o.cost_range or _point(float(t)) for o, t in zip(options, data.total_cost, strict=True)
    ]
    draws = _LazyDraws(rng, success, [o.impact for o in options], costs)
    return Scenarios(success, "sampled", seed, draws=draws, planned=data.cost, show_cost=with_costs)


def _profile(planned: FloatArray) -> FloatArray:
    """Each option's planned profile (m x Y) as shares of its planned total (0 where none)."""
    planned_total = planned.sum(axis=1)
    shares: FloatArray = np.zeros_like(planned)
    np.divide(planned, planned_total[:, None], out=shares, where=planned_total[:, None] > 0)
    return shares


def realised_spend(
    planned: FloatArray, total: FloatArray, success: BoolArray, stop: FloatArray
) -> FloatArray:
    """S x m x Y realised spend of m options from their planned profiles (m x Y), realised
    totals, successes and stop shares (S x m each): the total spread like the plan; a failed
    option's spending stops, in year order, once it reaches stop x total."""
    profile = _profile(planned)
    full = np.cumsum(total[:, :, None] * profile[None, :, :], axis=2)  # cumulative if it runs on
    spent = np.where(success, total, stop * total)
    cumulative = np.minimum(full, spent[:, :, None])
    return np.diff(cumulative, axis=2, prepend=0.0)


def realised_total(
    planned: FloatArray, total: FloatArray, success: BoolArray, stop: FloatArray
) -> FloatArray:
    """S x Y: `realised_spend` summed over the m options, computed a year at a time on S x m
    arrays (the same rule, without the S x m x Y intermediates)."""
    profile = _profile(planned)
    spent = np.where(success, total, stop * total)
    years = planned.shape[1]
    out = np.empty((total.shape[0], years))
    running = np.zeros_like(total)  # cumulative spend if it runs on
    before = np.zeros_like(total)  # cumulative realised spend to the previous year
    for y in range(years):
        running += total * profile[None, :, y]
        now = np.minimum(running, spent)
        out[:, y] = (now - before).sum(axis=1)
        before = now
    return out


def _point(value: float) -> ThreePoint:
    return ThreePoint(low=value, most_likely=value, high=value)


def _inverse_phi(p: float) -> float:
    if p <= 0.0:
        return -np.inf
    if p >= 1.0:
        return np.inf
    return NormalDist().inv_cdf(p)


def _pert_one(rng: np.random.Generator, point: ThreePoint, count: int) -> FloatArray:
    """`count` PERT-Beta draws of one three-point estimate (lambda = 4)."""
    width = point.high - point.low
    if width <= 0:
        return np.full(count, float(point.low))
    a, b = beta_parameters([point.low], [point.most_likely], [point.high])
    return np.asarray(point.low + width * rng.beta(a[0], b[0], count), dtype=float)


def _pert(rng: np.random.Generator, points: list[ThreePoint], count: int) -> FloatArray:
    """PERT-Beta draws, one column per three-point estimate (lambda = 4)."""
    low = np.array([t.low for t in points], dtype=float)
    most_likely = np.array([t.most_likely for t in points], dtype=float)
    high = np.array([t.high for t in points], dtype=float)
    width = high - low
    a, b = beta_parameters(low, most_likely, high)
    u = rng.beta(np.broadcast_to(a, (count, len(points))), np.broadcast_to(b, (count, len(points))))
    return np.asarray(low[None, :] + width[None, :] * u, dtype=float)
