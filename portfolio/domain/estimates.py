"""The council's arithmetic: PERT moments, opinion pools, spread, flags and performance weights.

DESIGN.md section 4. Pure functions and pydantic models, no I/O. Names echo the maths:

- a three-point estimate ``(a, m, b)`` = (low, most likely, high) is read as a PERT-Beta with
  λ = 4 (its moments and shape: ``optimiser.pert``, the one definition);
- ``w`` are weights of members, normalised to sum to 1 before use;
- ``p`` are probabilities of success, ``o`` resolved outcomes (True = succeeded).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import NamedTuple

from pydantic import Field

from optimiser.pert import most_likely_for_mean, pert_mean, pert_variance
from portfolio.domain.model import (
    AggregationMethod,
    Confidence,
    Score,
    ScoreStatus,
    Sector,
    Strict,
    ThreePoint,
)

# Brier score of the forecaster who always says 0.5: the reference of the skill score.
UNINFORMED_BRIER = 0.25
# 0.55 - 0.30 is 0.25000000000000006 in floating point: a spread equal to the threshold up to
# rounding is not "greater than" it.
SPREAD_TOLERANCE = 1e-9


# -- pools ---------------------------------------------------------------------------------------


def normalise_weights(weights: Sequence[float]) -> list[float]:
    """Weights scaled to sum to 1; each must be finite and >= 0 and at least one > 0."""
    for w in weights:
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"weights: each weight must be a finite number >= 0, got {w}")
    total = math.fsum(weights)
    if total <= 0:
        raise ValueError("weights: at least one weight must be greater than 0")
    return [w / total for w in weights]


def _check_lengths(values: Sequence[object], weights: Sequence[float]) -> None:
    if not values:
        raise ValueError("estimates: at least one member's estimate is needed")
    if len(values) != len(weights):
        raise ValueError(
            f"weights: {len(weights)} weights given for {len(values)} estimates; give one each"
        )


def pool_probability(ps: Sequence[float], weights: Sequence[float]) -> float:
    """Linear opinion pool Σ w_m p_m (weights normalised); between min(p) and max(p)."""
    _check_lengths(ps, weights)
    w = normalise_weights(weights)
    pooled = math.fsum(wi * p for wi, p in zip(w, ps, strict=True))
    return min(max(pooled, min(ps)), max(ps))


class PooledEstimate(Strict):
    """Exact moments of the mixture of members' PERT distributions, and a three-point summary.

    ``low``/``most_likely``/``high`` summarise it for the optimiser's problem file: see
    :func:`pool_three_point` for how ``most_likely`` is chosen. ``mean`` and ``sd`` are the
    mixture's own moments and are authoritative.
    """

    mean: float
    sd: float = Field(ge=0)
    low: float
    most_likely: float
    high: float

    @property
    def variance(self) -> float:
        return self.sd**2

    def three_point(self) -> ThreePoint:
        return ThreePoint(low=self.low, most_likely=self.most_likely, high=self.high)


def pool_three_point(estimates: Sequence[ThreePoint], weights: Sequence[float]) -> PooledEstimate:
    """Linear pool (mixture) of the members' PERT distributions.

    Mixture moments, exact (not an average of the three points):
    μ = Σ w_m μ_m,  σ² = Σ w_m (σ²_m + μ_m²) − μ².

    Three-point summary: low = min of the lows, high = max of the highs (the mixture's support),
    and most_likely m = (6μ − low − high) / 4, so that the PERT mean (low + 4m + high) / 6 of the
    summary equals the mixture mean μ. When that m would fall outside [low, high] (members agree
    on a value near one end of a wide range) it is clamped into [low, high]; the summary's PERT
    mean then differs from μ, and ``mean`` / ``sd`` remain the quantities to trust.
    """
    _check_lengths(estimates, weights)
    w = normalise_weights(weights)
    means = [pert_mean(tp) for tp in estimates]
    variances = [pert_variance(tp) for tp in estimates]
    mean = math.fsum(wi * mu for wi, mu in zip(w, means, strict=True))
    mean = min(max(mean, min(means)), max(means))
    second = math.fsum(wi * (var + mu**2) for wi, var, mu in zip(w, variances, means, strict=True))
    variance = max(second - mean**2, 0.0)
    low = min(tp.low for tp in estimates)
    high = max(tp.high for tp in estimates)
    return PooledEstimate(
        mean=mean,
        sd=math.sqrt(variance),
        low=low,
        most_likely=most_likely_for_mean(mean, low, high),
        high=high,
    )


# -- spread and flags ----------------------------------------------------------------------------


def p_spread(ps: Sequence[float]) -> float:
    """max(p) − min(p) across members; 0 for fewer than two."""
    return max(ps) - min(ps) if ps else 0.0


def p_sd(ps: Sequence[float]) -> float:
    """Standard deviation of the members' p, unweighted, population form (divide by n).

    It describes the panel that scored, not a sample of a larger population; 0 for one member.
    In floats with exact sums (``math.fsum``): ``statistics.pstdev`` computes in fractions,
    and was a seventh of the scoring page of a large programme.
    """
    if not ps:
        return 0.0
    mean = math.fsum(ps) / len(ps)
    return math.sqrt(math.fsum((p - mean) ** 2 for p in ps) / len(ps))


class FlagCode(StrEnum):
    large_disagreement = "large_disagreement"
    single_sector = "single_sector"
    few_scorers = "few_scorers"


class Flag(Strict):
    """A reason for the Mission CEO to look at an option's aggregate before trusting it."""

    code: FlagCode
    message: str


def _scored(score: Score) -> bool:
    return score.status is ScoreStatus.submitted and not score.not_competent


def council_flags(
    scores_by_member: Mapping[str, Score],
    sectors: Mapping[str, Sector],
    *,
    disagreement: float = 0.25,
    min_scorers: int = 3,
) -> list[Flag]:
    """Flags of one option: p spread > ``disagreement`` (beyond rounding), one sector only,
    fewer than ``min_scorers``.

    Only submitted scores that are not "not competent" count. ``sectors`` maps each scoring
    member to their sector; a scorer missing from it is an error.
    """
    scored = {m: s for m, s in scores_by_member.items() if _scored(s)}
    missing = sorted(set(scored) - set(sectors))
    if missing:
        raise ValueError(f"sectors: no sector known for member {missing[0]}")
    ps = [s.p_success for s in scored.values() if s.p_success is not None]
    flags: list[Flag] = []
    spread = p_spread(ps)
    if spread > disagreement + SPREAD_TOLERANCE:
        flags.append(
            Flag(
                code=FlagCode.large_disagreement,
                message=f"p_success ranges from {min(ps):.2f} to {max(ps):.2f} "
                f"(spread {spread:.2f} > {disagreement:.2f}): discuss before relying on it",
            )
        )
    scored_sectors = {sectors[m] for m in scored}
    if len(scored_sectors) == 1:
        (only,) = scored_sectors
        flags.append(
            Flag(
                code=FlagCode.single_sector,
                message=f"scored only by members from {only.value.replace('_', ' ')}",
            )
        )
    if len(scored) < min_scorers:
        flags.append(
            Flag(
                code=FlagCode.few_scorers,
                message=f"{len(scored)} scorer{'' if len(scored) == 1 else 's'}, "
                f"fewer than {min_scorers}",
            )
        )
    return flags


# -- forecasting record --------------------------------------------------------------------------

Forecast = tuple[float, bool]


def _check_forecasts(forecasts: Sequence[Forecast]) -> None:
    for p, _ in forecasts:
        if not 0 <= p <= 1:
            raise ValueError(f"forecasts: a probability must be in [0, 1], got {p}")


def brier(forecasts: Sequence[Forecast]) -> float:
    """Brier score (1/n) Σ (p − o)², o = 1 if the outcome happened; 0 is perfect, 0.25 is 'always
    0.5'. Needs at least one resolved forecast."""
    if not forecasts:
        raise ValueError("forecasts: a Brier score needs at least one resolved forecast")
    _check_forecasts(forecasts)
    return math.fsum((p - float(o)) ** 2 for p, o in forecasts) / len(forecasts)


def brier_skill(forecasts: Sequence[Forecast]) -> float:
    """Skill against the uninformed forecaster: max(0, 1 − Brier / 0.25), in [0, 1]."""
    return max(0.0, 1 - brier(forecasts) / UNINFORMED_BRIER)


SHRINKAGE_K = 5.0
"""k of the performance weights: a record of k resolved forecasts counts as much as the prior of
equal weights (5, the number of resolved forecasts at which records used to start counting)."""
WEIGHT_FLOOR = 0.1
"""Every member keeps at least WEIGHT_FLOOR / M of the weight, however poor their record."""


def brier_weights(
    records: Mapping[str, Sequence[Forecast]],
    *,
    k: float = SHRINKAGE_K,
    floor: float = WEIGHT_FLOOR,
) -> dict[str, float]:
    """Performance weights of the M members from their resolved forecasts; they sum to 1.

    They engage from the first resolved forecast, shrunk towards equal weights by how many
    forecasts have resolved (the fewer, the closer to equal). For member m with n_m resolved
    forecasts and Brier score B_m:

    1. skill s_m = max(0, 1 − B_m / 0.25), the Brier skill score against always saying 0.5;
    2. relative performance r_m = s_m / s̄, with s̄ the mean skill of the members with a record
       (n > 0): 1 is an average forecaster of this council, 2 twice as skilful. r_m = 1 for a
       member without a record, and for everyone while s̄ = 0 (nobody beats always saying 0.5);
    3. shrinkage λ_m = n_m / (n_m + k) (k = ``SHRINKAGE_K`` = 5: a record of 5 forecasts counts
       half), and w_m ∝ λ_m · r_m / M + (1 − λ_m) / M — the member's performance share mixed with
       the equal share 1/M, the record counting more as it grows;
    4. the floor: w = floor / M + (1 − floor) · (the weights of 3 normalised to sum to 1), so every
       member keeps at least floor / M (``WEIGHT_FLOOR`` = 0.1) and a poor forecaster is never
       silenced.

    So: nobody with a record → equal weights; a single member with a record is compared with
    nobody → equal weights; with equal n, the better Brier score gets the higher weight; the weight
    of a better-than-average member grows with the length of their record (λ_m → 1).
    """
    if not (math.isfinite(k) and k > 0):
        raise ValueError("k: the shrinkage constant must be a finite number > 0")
    if not 0 <= floor <= 1:
        raise ValueError("floor: must be between 0 and 1")
    members = list(records)
    count = len(members)
    if count == 0:
        return {}
    for f in records.values():
        _check_forecasts(f)
    skills = {m: brier_skill(f) for m, f in records.items() if f}
    mean_skill = statistics.fmean(skills.values()) if skills else 0.0
    raw = []
    for m in members:
        n = len(records[m])
        relative = skills[m] / mean_skill if m in skills and mean_skill > 0 else 1.0
        shrink = n / (n + k)
        raw.append(shrink * relative + (1 - shrink))
    total = math.fsum(raw)  # > 0: each raw weight is at least 1 − λ_m > 0, or r_m = 1
    return {m: floor / count + (1 - floor) * r / total for m, r in zip(members, raw, strict=True)}


class CalibrationBin(Strict):
    """Forecasts with p in [lower, upper) (the last bin includes 1) and how often they came true."""

    lower: float
    upper: float
    count: int
    mean_forecast: float | None
    observed_frequency: float | None


def calibration_curve(forecasts: Sequence[Forecast], bins: int = 5) -> list[CalibrationBin]:
    """Reliability-diagram data: ``bins`` equal bins of p over [0, 1], empty bins included."""
    if bins < 1:
        raise ValueError("bins: must be at least 1")
    _check_forecasts(forecasts)
    grouped: list[list[Forecast]] = [[] for _ in range(bins)]
    for p, o in forecasts:
        grouped[min(int(p * bins), bins - 1)].append((p, o))
    out = []
    for i, group in enumerate(grouped):
        out.append(
            CalibrationBin(
                lower=i / bins,
                upper=(i + 1) / bins,
                count=len(group),
                mean_forecast=statistics.fmean(p for p, _ in group) if group else None,
                observed_frequency=statistics.fmean(float(o) for _, o in group) if group else None,
            )
        )
    return out


class MemberCalibration(Strict):
    """What a member's calibration page shows: the record, Brier score and curve."""

    n_resolved: int
    brier: float | None
    curve: list[CalibrationBin]


def member_calibration(forecasts: Sequence[Forecast], bins: int = 5) -> MemberCalibration:
    return MemberCalibration(
        n_resolved=len(forecasts),
        brier=brier(forecasts) if forecasts else None,
        curve=calibration_curve(forecasts, bins),
    )


# -- the aggregate of one option -----------------------------------------------------------------


class Contribution(Strict):
    """One scorer's part in an aggregate: their (normalised) weight and what they said."""

    member: str
    sector: Sector
    weight: float
    p: float
    cost_mean: float
    impact_mean: float
    trl: int
    confidence: Confidence


class Aggregate(Strict):
    """The council's pooled estimate of one funding option, traceable to who gave it."""

    method: AggregationMethod
    p: float
    p_min: float
    p_max: float
    p_spread: float
    p_sd: float
    cost: PooledEstimate
    impact: PooledEstimate
    trl_median: float
    n_scorers: int
    sectors: list[Sector]
    flags: list[Flag]
    contributions: list[Contribution]
    note: str = ""


def aggregate_option(
    scores: Sequence[Score],
    weights: Mapping[str, float],
    method: AggregationMethod | str,
    *,
    sectors: Mapping[str, Sector],
    disagreement: float = 0.25,
    min_scorers: int = 3,
) -> Aggregate:
    """Pool the submitted, competent scores of one option with the members' weights.

    ``weights`` maps member → weight (Brier weights, or Cooke global weights for "classical");
    it is ignored for "equal". A scorer missing from it has weight 0. Weights are renormalised
    over the scorers; if they are all 0 (the classical model can exclude every scorer) equal
    weights are used and ``note`` says so. Drafts and "not competent" scores are left out.
    """
    method = AggregationMethod(method)
    used = _scores_to_pool(scores)
    members = [s.member for s in used]
    raw, note = _scorer_weights(method, members, weights)
    w = normalise_weights(raw)
    given = _what_each_scorer_gave(used, w, sectors)
    return Aggregate(
        method=method,
        p=pool_probability(given.ps, w),
        p_min=min(given.ps),
        p_max=max(given.ps),
        p_spread=p_spread(given.ps),
        p_sd=p_sd(given.ps),
        cost=pool_three_point(given.costs, w),
        impact=pool_three_point(given.impacts, w),
        trl_median=float(statistics.median(given.trls)),
        n_scorers=len(used),
        sectors=sorted({sectors[m] for m in members}, key=list(Sector).index),
        flags=council_flags(
            {s.member: s for s in used},
            sectors,
            disagreement=disagreement,
            min_scorers=min_scorers,
        ),
        contributions=given.contributions,
        note=note,
    )


def _scores_to_pool(scores: Sequence[Score]) -> list[Score]:
    """The submitted, competent scores, checked to be of one option and one per member."""
    used = [s for s in scores if _scored(s)]
    if not used:
        raise ValueError("scores: no submitted, competent score to aggregate")
    keys = {(s.quarter, s.candidate, s.option) for s in used}
    if len(keys) > 1:
        raise ValueError("scores: all scores must be for the same quarter, candidate and option")
    members = [s.member for s in used]
    if len(set(members)) != len(members):
        raise ValueError("scores: a member may have only one score per option")
    return used


def _scorer_weights(
    method: AggregationMethod, members: Sequence[str], weights: Mapping[str, float]
) -> tuple[list[float], str]:
    """Each scorer's weight before normalising under ``method``, and a note when every weight
    was 0 and equal weights are used instead."""
    note = ""
    if method is AggregationMethod.equal:
        raw = [1.0] * len(members)
    else:
        raw = [float(weights.get(m, 0.0)) for m in members]
        normalise_weights([*raw, 1.0])  # validates each weight
        if math.fsum(raw) <= 0:
            raw = [1.0] * len(members)
            note = (
                f"every scorer has weight 0 under the {method.value} method; "
                "equal weights used instead"
            )
    return raw, note


class _ScorerInputs(NamedTuple):
    """What the scorers gave, in scorer order, ready to pool."""

    ps: list[float]
    costs: list[ThreePoint]
    impacts: list[ThreePoint]
    trls: list[int]
    contributions: list[Contribution]


def _what_each_scorer_gave(
    used: Sequence[Score], w: Sequence[float], sectors: Mapping[str, Sector]
) -> _ScorerInputs:
    """Each scorer's p, cost, impact and TRL, and their contribution with its weight ``w``."""
    given = _ScorerInputs([], [], [], [], [])
    for s, wi in zip(used, w, strict=True):
        # _scored + the Score validator guarantee these are present.
        assert s.p_success is not None and s.cost is not None and s.impact is not None
        assert s.trl is not None and s.confidence is not None
        if s.member not in sectors:
            raise ValueError(f"sectors: no sector known for member {s.member}")
        given.ps.append(s.p_success)
        given.costs.append(s.cost)
        given.impacts.append(s.impact)
        given.trls.append(s.trl)
        given.contributions.append(
            Contribution(
                member=s.member,
                sector=sectors[s.member],
                weight=wi,
                p=s.p_success,
                cost_mean=pert_mean(s.cost),
                impact_mean=pert_mean(s.impact),
                trl=s.trl,
                confidence=s.confidence,
            )
        )
    return given
