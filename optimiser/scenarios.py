"""Scenario generation: correlated, nested successes and PERT-Beta impacts and costs.

Success of candidate i's option o in scenario s: with one latent Gaussian factor F per platform,
    z[s, i] = sqrt(rho)·F[s, platform(i)] + sqrt(1 - rho)·eps[s, i],
option o succeeds iff Phi(z[s, i]) < p[o], i.e. z[s, i] < Phi⁻¹(p[o]). All options of a candidate
use the same z, so an option with a smaller p succeeds only when every bigger-p option would
(nested), and a platform-wide bad draw F kills its candidates together. Impacts (and, for
evaluation, total costs) are drawn from PERT-Beta(low, mode, high) with lambda = 4. Everything is
vectorised numpy from `default_rng(seed)`, drawn in a fixed order, so a seed gives the same
scenarios on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from optimiser.data import BoolArray, FloatArray, ProblemData
from optimiser.problem import ExplicitScenarios, ThreePoint


@dataclass(frozen=True)
class Scenarios:
    """S scenarios over the K options: `impact[s, k]` is 0 when option k fails in s."""

    impact: FloatArray  # S x K
    success: BoolArray  # S x K
    cost: FloatArray | None  # S x K realised total cost (evaluation only)
    source: str  # "explicit" | "sampled"
    seed: int | None

    @property
    def count(self) -> int:
        return int(self.impact.shape[0])


def optimisation_scenarios(data: ProblemData) -> Scenarios:
    """The scenarios the optimiser sees: explicit ones as given, else sampled from `scenarios`."""
    spec = data.problem.scenarios
    if isinstance(spec, ExplicitScenarios):
        impact = np.array([spec.impact[key] for key in data.keys], dtype=float).T
        impact = impact.reshape(-1, data.n_options)
        return Scenarios(impact, impact > 0, None, "explicit", None)
    return sample_scenarios(data, spec.count, spec.seed)


def evaluation_scenarios(data: ProblemData) -> Scenarios:
    """Fresh out-of-sample scenarios from the `evaluation` block (always sampled from the model)."""
    spec = data.problem.evaluation
    return sample_scenarios(data, spec.count, spec.seed, with_costs=True)


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
    noise = rng.standard_normal((count, n_cand))
    z = np.sqrt(rho) * factor[:, plat_of_cand] + np.sqrt(1.0 - rho) * noise
    threshold = np.array([_inverse_phi(p) for p in data.p])
    success = z[:, data.candidate_of] < threshold[None, :]
    options = [o for c in problem.candidates for o in c.options]
    draw = _pert(rng, [o.impact for o in options], count)
    impact = np.where(success, draw, 0.0)
    cost = None
    if with_costs:
        ranges = [
            o.cost_range or _point(float(t)) for o, t in zip(options, data.total_cost, strict=True)
        ]
        cost = _pert(rng, ranges, count)
    return Scenarios(impact, success, cost, "sampled", seed)


def _point(value: float) -> ThreePoint:
    return ThreePoint(low=value, mode=value, high=value)


def _inverse_phi(p: float) -> float:
    if p <= 0.0:
        return -np.inf
    if p >= 1.0:
        return np.inf
    return NormalDist().inv_cdf(p)


def _pert(rng: np.random.Generator, points: list[ThreePoint], count: int) -> FloatArray:
    """PERT-Beta draws, one column per three-point estimate (lambda = 4)."""
    low = np.array([t.low for t in points], dtype=float)
    mode = np.array([t.mode for t in points], dtype=float)
    high = np.array([t.high for t in points], dtype=float)
    width = high - low
    safe = np.where(width > 0, width, 1.0)
    a = 1.0 + 4.0 * (mode - low) / safe
    b = 1.0 + 4.0 * (high - mode) / safe
    u = rng.beta(np.broadcast_to(a, (count, len(points))), np.broadcast_to(b, (count, len(points))))
    return np.asarray(low[None, :] + width[None, :] * u, dtype=float)
