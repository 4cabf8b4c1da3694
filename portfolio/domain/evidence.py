"""Evidence updates the council's estimates: the Beta belief in p, and the optimism-bias uplift.

DESIGN.md section 4. Pure functions and pydantic models, no I/O. Names echo the maths:

- belief in a probability of success p is a Beta(α, β) distribution; the prior from the council's
  pooled p̄ and its confidence is Beta(p̄·n0, (1 − p̄)·n0), with n0 = 2 / 5 / 10 for low / medium /
  high confidence (the prior is "worth" n0 milestones);
- a milestone met adds its diagnosticity d to α, a milestone missed adds d to β;
- a stage gate is evidence too, not a verdict on the option's full delivery (an explore gate
  passed does not deliver a scaled-up plant): a gate of diagnosticity d on option g counts as
  ``GATE_MILESTONES`` · d = 10·d milestones — as much as the council's most confident prior
  (n0 = 10) — added to α when passed and to β when failed. So p moves a long way but never jumps
  to 0.99 or 0.01, keeps its spread, and later evidence still moves it;
- options are nested, in the order the candidate lists them (explore ⊂ demonstrate ⊂ scale: a
  bigger option succeeds only where the smaller ones do; the scenario model nests a candidate's
  options by p, which the council gives them in the same order). A gate
  on g therefore bears on the candidate's other options too (``gate_weight``): where its outcome
  carries over by nesting — a *failed* gate to every *bigger* option (it cannot succeed where g
  fails), a *passed* gate to every *smaller* option (it succeeds where g does) — it counts in
  full, 10·d; where it only hints — a passed gate to a bigger option, a failed gate to a smaller
  one — it counts ``NESTED_FACTOR`` = ½ as much, 5·d. A gate naming an option the candidate no
  longer lists moves none of the others;
- for the forecasting record a gate still *resolves* the forecasts of the option it concerns
  (``council.resolved_forecasts``: its outcome is the outcome a Brier score is computed against);
  only the belief fed to the optimiser is updated rather than resolved;
- a TRL change is recorded and reported but does not move p (its effect is on the council's next
  scores, not on this arithmetic);
- cost actuals scale the *remaining* planned cost by actual / planned to date (the optimism-bias
  uplift); the latest cost-actuals evidence holds the cumulative actual and planned spend to date.

The Beta quantile is computed here without scipy: the regularised incomplete beta function
I_x(a, b) by its continued fraction (Numerical Recipes ``betacf``), inverted by bisection.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pydantic import ConfigDict, Field, computed_field

from portfolio.domain.model import Confidence, Evidence, EvidenceKind, Strict

CONFIDENCE_N0: dict[Confidence, float] = {
    Confidence.low: 2.0,
    Confidence.medium: 5.0,
    Confidence.high: 10.0,
}
P_MIN, P_MAX = 0.01, 0.99
INTERVAL = (0.05, 0.95)
GATE_MILESTONES = 10.0
"""A stage gate of diagnosticity d counts as GATE_MILESTONES · d milestones on the option it
concerns: the weight of the council's most confident prior (n0 = 10 for high confidence)."""
NESTED_FACTOR = 0.5
"""The share of a gate's weight on an option its outcome only hints at (a passed gate on a bigger
option, a failed gate on a smaller one)."""

_BETACF_MAX_ITERATIONS = 10_000
_BETACF_EPS = 3e-16
_FPMIN = 1e-300
_BISECTION_STEPS = 45  # 2^-45 < 3e-14: well below any displayed digit


# -- the Beta distribution -----------------------------------------------------------------------


def _check_shape(a: float, b: float) -> None:
    if not (math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0):
        raise ValueError(f"Beta shape: α and β must be finite and > 0, got α={a}, β={b}")


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) by the modified Lentz method (Numerical Recipes 6.4)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _FPMIN:
        d = _FPMIN
    d = 1.0 / d
    h = d
    for m in range(1, _BETACF_MAX_ITERATIONS + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))  # even step
        d = 1.0 + aa * d
        d = _FPMIN if abs(d) < _FPMIN else d
        c = 1.0 + aa / c
        c = _FPMIN if abs(c) < _FPMIN else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))  # odd step
        d = 1.0 + aa * d
        d = _FPMIN if abs(d) < _FPMIN else d
        c = 1.0 + aa / c
        c = _FPMIN if abs(c) < _FPMIN else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _BETACF_EPS:
            return h
    raise ArithmeticError(f"incomplete beta: continued fraction did not converge (a={a}, b={b})")


def beta_cdf(x: float, a: float, b: float) -> float:
    """I_x(a, b) = P(X ≤ x) for X ~ Beta(a, b): the regularised incomplete beta function.

    I_x(a, b) = x^a (1 − x)^b / (a B(a, b)) · betacf(a, b, x), used directly where
    x < (a + 1) / (a + b + 2) (where the fraction converges fast) and through the symmetry
    I_x(a, b) = 1 − I_{1−x}(b, a) elsewhere.
    """
    _check_shape(a, b)
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        value = front * _betacf(a, b, x) / a
    else:
        value = 1.0 - front * _betacf(b, a, 1.0 - x) / b
    return min(max(value, 0.0), 1.0)


def beta_quantile(q: float, a: float, b: float) -> float:
    """The x with I_x(a, b) = q, by bisection on [0, 1].

    A fixed number of halvings makes the result monotone in q exactly (two searches follow the
    same midpoints until they part, and then the smaller q goes left), even where rounding makes
    the computed I_x wobble. Accurate to about 1e-15.
    """
    _check_shape(a, b)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q: a quantile level must be between 0 and 1, got {q}")
    if q == 0.0:
        return 0.0
    if q == 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if beta_cdf(mid, a, b) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# -- belief in p ---------------------------------------------------------------------------------


class Belief(Strict):
    """Beta(α, β) belief in a probability of success.

    ``mean``, ``sd``, ``q05`` and ``q95`` are derived (and appear in ``model_dump``); build a
    belief from ``alpha`` and ``beta`` only.
    """

    model_config = ConfigDict(frozen=True)

    alpha: float = Field(gt=0, allow_inf_nan=False)
    beta: float = Field(gt=0, allow_inf_nan=False)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mean(self) -> float:
        """α / (α + β)."""
        return self.alpha / (self.alpha + self.beta)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sd(self) -> float:
        """√(αβ / ((α + β)² (α + β + 1)))."""
        total = self.alpha + self.beta
        return math.sqrt(self.alpha * self.beta / (total * total * (total + 1.0)))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def q05(self) -> float:
        """The 5 % quantile: the lower end of the 90 % interval."""
        return beta_quantile(INTERVAL[0], self.alpha, self.beta)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def q95(self) -> float:
        """The 95 % quantile: the upper end of the 90 % interval."""
        return beta_quantile(INTERVAL[1], self.alpha, self.beta)


def n0_for(confidence: Confidence | str) -> float:
    """The prior's weight in milestones: low 2, medium 5, high 10."""
    return CONFIDENCE_N0[Confidence(confidence)]


def _n0(n0: float | Confidence) -> float:
    if isinstance(n0, Confidence):
        return n0_for(n0)
    if not (math.isfinite(n0) and n0 > 0):
        raise ValueError(f"n0: the prior's weight must be a finite number > 0, got {n0}")
    return float(n0)


def prior_belief(p: float, n0: float | Confidence) -> Belief:
    """Beta(p̄·n0, (1 − p̄)·n0): the council's pooled p̄ held with the weight of n0 milestones.

    ``n0`` is a number > 0 or the council's ``Confidence`` (low 2, medium 5, high 10).
    """
    if not (math.isfinite(p) and 0.0 < p < 1.0):
        raise ValueError(f"p: the prior probability must be strictly between 0 and 1, got {p}")
    weight = _n0(n0)
    return Belief(alpha=p * weight, beta=(1.0 - p) * weight)


def _gated(evidence: Evidence, options: Sequence[str] | None) -> str | None:
    """The option a stage gate concerns: the one it names, else the candidate's first."""
    return evidence.option or (options[0] if options else None)


def gate_weight(
    evidence: Evidence, option: str | None = None, options: Sequence[str] | None = None
) -> float:
    """How many milestones a stage gate counts as on the belief in ``option``.

    ``options`` are the candidate's option ids, smallest first (nested: each succeeds only where
    the ones before it do). On the option the gate concerns (the one it names, else the first):
    ``GATE_MILESTONES`` · d. On a bigger option after a failed gate, or a smaller one after a
    passed gate (the outcome carries over by nesting): the same. On a bigger option after a passed
    gate, or a smaller one after a failed gate (it only hints): ``NESTED_FACTOR`` of it. 0 when
    the evidence is not a gate, or when the relation cannot be told (``options`` not given, or
    the gate or ``option`` not among them) and the gate names another option.
    """
    if evidence.kind is not EvidenceKind.stage_gate or evidence.outcome is None:
        return 0.0
    full = GATE_MILESTONES * evidence.diagnosticity
    gated = _gated(evidence, options)
    if option is None or gated is None or gated == option:
        return full
    if options is None or gated not in options or option not in options:
        return 0.0
    bigger = options.index(option) > options.index(gated)
    carries = bigger != evidence.outcome  # failed → bigger options; passed → smaller ones
    return full if carries else NESTED_FACTOR * full


def apply_evidence(
    belief: Belief,
    evidence: Evidence,
    *,
    option: str | None = None,
    options: Sequence[str] | None = None,
) -> Belief:
    """The belief after one piece of evidence.

    Milestone met: α + d; missed: β + d (d = diagnosticity). Stage gate: α + w when passed, β + w
    when failed, w = ``gate_weight`` (``option``: the option this belief is about; ``options``:
    the candidate's options, smallest first). TRL change and cost actuals: unchanged (see
    ``uplifted_cost``).
    """
    d = evidence.diagnosticity
    match evidence.kind:
        case EvidenceKind.milestone_met:
            return belief.with_changes(alpha=belief.alpha + d)
        case EvidenceKind.milestone_missed:
            return belief.with_changes(beta=belief.beta + d)
        case EvidenceKind.stage_gate:
            w = gate_weight(evidence, option, options)
            if w == 0:
                return belief
            if evidence.outcome:
                return belief.with_changes(alpha=belief.alpha + w)
            return belief.with_changes(beta=belief.beta + w)
        case _:
            return belief


def posterior_p(belief: Belief) -> float:
    """The p fed to the optimiser: the posterior mean, clipped to 0.01-0.99."""
    return min(max(belief.mean, P_MIN), P_MAX)


# -- belief over time ----------------------------------------------------------------------------


class BeliefStep(Strict):
    """One row of a candidate's "belief over time": the prior, then one row per evidence."""

    date: dt.date | None = Field(None, description="None for the prior")
    quarter: str | None = None
    kind: EvidenceKind | None = Field(None, description="None for the prior")
    summary: str
    diagnosticity: float | None = None
    trl: int | None = None
    alpha: float
    beta: float
    mean: float
    sd: float
    q05: float
    q95: float
    outcome: bool | None = Field(None, description="a stage gate's outcome: True passed")
    effect: str = Field(description="what this step did to the belief, in words")


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _money(x: float) -> str:
    return f"£{x:,.3g}m" if x < 1000 else f"£{x:,.0f}m"


def _gate_effect(
    before: Belief,
    after: Belief,
    ev: Evidence,
    option: str | None,
    options: Sequence[str] | None,
    names: Mapping[str, str],
) -> str:
    verdict = "passed" if ev.outcome else "failed"
    gated = _gated(ev, options)
    w = gate_weight(ev, option, options)
    if w == 0:
        return f"Stage gate of {names.get(gated or '', gated)} {verdict}: this option's p unchanged"
    side = (
        f"α {_fmt(before.alpha)} → {_fmt(after.alpha)}"
        if ev.outcome
        else f"β {_fmt(before.beta)} → {_fmt(after.beta)}"
    )
    move = f"p {_fmt(before.mean)} → {_fmt(after.mean)}"
    worth = f"diagnosticity {_fmt(ev.diagnosticity)}, worth {_fmt(w)} milestones"
    if option is None or gated is None or gated == option:
        return f"Stage gate {verdict} ({worth}): {side}; {move}"
    gate_name = names.get(gated, gated)
    if w < GATE_MILESTONES * ev.diagnosticity:
        why = f"{_fmt(NESTED_FACTOR)} of a gate's weight: its outcome only hints at this option"
    elif ev.outcome:
        why = "in full: this smaller option succeeds wherever that one does"
    else:
        why = "in full: this bigger option cannot succeed where that one fails"
    return f"Stage gate of {gate_name} {verdict} ({worth}: {why}): {side}; {move}"


def _effect(
    before: Belief,
    after: Belief,
    ev: Evidence,
    option: str | None,
    options: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    d = _fmt(ev.diagnosticity)
    move = f"p {_fmt(before.mean)} → {_fmt(after.mean)}"
    match ev.kind:
        case EvidenceKind.milestone_met:
            return (
                f"Milestone met (diagnosticity {d}): "
                f"α {_fmt(before.alpha)} → {_fmt(after.alpha)}; {move}"
            )
        case EvidenceKind.milestone_missed:
            return (
                f"Milestone missed (diagnosticity {d}): "
                f"β {_fmt(before.beta)} → {_fmt(after.beta)}; {move}"
            )
        case EvidenceKind.trl_change:
            return f"TRL recorded as {ev.trl}: p unchanged"
        case EvidenceKind.cost_actuals:
            assert ev.cost_actual is not None and ev.cost_planned  # the Evidence validator
            factor = ev.cost_actual / ev.cost_planned
            return (
                f"Spent {_money(ev.cost_actual)} to date against {_money(ev.cost_planned)} "
                f"planned (×{factor:.2f}): p unchanged; the remaining cost is uplifted"
            )
        case _:  # stage gate
            return _gate_effect(before, after, ev, option, options, names or {})


def _step(belief: Belief, effect: str, summary: str, ev: Evidence | None) -> BeliefStep:
    return BeliefStep(
        date=ev.date if ev else None,
        quarter=ev.quarter if ev else None,
        kind=ev.kind if ev else None,
        summary=summary,
        diagnosticity=ev.diagnosticity if ev else None,
        trl=ev.trl if ev else None,
        alpha=belief.alpha,
        beta=belief.beta,
        mean=belief.mean,
        sd=belief.sd,
        q05=belief.q05,
        q95=belief.q95,
        outcome=ev.outcome if ev else None,
        effect=effect,
    )


def _one_candidate(evidences: Sequence[Evidence]) -> None:
    names = {ev.candidate for ev in evidences}
    if len(names) > 1:
        raise ValueError(
            f"evidences: all evidence must be about one candidate, got {', '.join(sorted(names))}"
        )


def belief_history(
    prior_p: float,
    n0: float | Confidence,
    evidences: Sequence[Evidence],
    *,
    option: str | None = None,
    options: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> list[BeliefStep]:
    """The prior, then the belief after each piece of evidence in date order (stable for ties).

    The first step is the prior (``date`` and ``kind`` None); the last step's belief is the
    posterior. ``option``, ``options``: see ``apply_evidence``; ``names``: option id → name, for
    the words of a gate on another option.
    """
    _one_candidate(evidences)
    belief = prior_belief(prior_p, n0)
    weight = _n0(n0)
    steps = [
        _step(
            belief,
            f"Prior from the council: p̄ = {_fmt(prior_p)} held with the weight of "
            f"{_fmt(weight)} milestones, Beta({_fmt(belief.alpha)}, {_fmt(belief.beta)})",
            "The council's pooled estimate",
            None,
        )
    ]
    for ev in sorted(evidences, key=lambda e: e.date):
        after = apply_evidence(belief, ev, option=option, options=options)
        steps.append(
            _step(after, _effect(belief, after, ev, option, options, names), ev.summary, ev)
        )
        belief = after
    return steps


def posterior_belief(
    prior_p: float,
    n0: float | Confidence,
    evidences: Sequence[Evidence],
    *,
    option: str | None = None,
    options: Sequence[str] | None = None,
) -> Belief:
    """The belief after all the evidence, in date order (``option``, ``options``: see
    ``apply_evidence``)."""
    _one_candidate(evidences)
    belief = prior_belief(prior_p, n0)
    for ev in sorted(evidences, key=lambda e: e.date):
        belief = apply_evidence(belief, ev, option=option, options=options)
    return belief


# -- cost ----------------------------------------------------------------------------------------


class CostOutlook(Strict):
    """The remaining cost uplifted by the overrun (or underrun) so far, £ million.

    uplift_factor = actual_to_date / planned_to_date;
    remaining_planned = max(0, total_planned − planned_to_date);
    remaining_uplifted = remaining_planned × uplift_factor;
    outturn = actual_to_date + remaining_uplifted.
    Without cost actuals: nothing spent to date, factor 1, outturn = total_planned.
    """

    total_planned: float
    planned_to_date: float
    actual_to_date: float
    uplift_factor: float
    remaining_planned: float
    remaining_uplifted: float
    outturn: float
    as_of: dt.date | None = Field(None, description="date of the cost actuals used; None if none")
    has_actuals: bool


def uplifted_cost(total_planned: float, evidences: Sequence[Evidence]) -> CostOutlook:
    """The optimism-bias uplift from the latest cost actuals (latest date; the later one in the
    list on a tie). Other kinds of evidence are ignored. An underspend gives a factor below 1:
    the rule is applied as DESIGN.md states it, not floored."""
    if not (math.isfinite(total_planned) and total_planned >= 0):
        raise ValueError(f"total_planned: must be a finite number >= 0, got {total_planned}")
    _one_candidate(evidences)
    actuals = [ev for ev in evidences if ev.kind is EvidenceKind.cost_actuals]
    if not actuals:
        return CostOutlook(
            total_planned=total_planned,
            planned_to_date=0.0,
            actual_to_date=0.0,
            uplift_factor=1.0,
            remaining_planned=total_planned,
            remaining_uplifted=total_planned,
            outturn=total_planned,
            has_actuals=False,
        )
    latest = max(enumerate(actuals), key=lambda pair: (pair[1].date, pair[0]))[1]
    assert latest.cost_actual is not None and latest.cost_planned  # the Evidence validator
    factor = latest.cost_actual / latest.cost_planned
    remaining = max(0.0, total_planned - latest.cost_planned)
    remaining_uplifted = remaining * factor
    return CostOutlook(
        total_planned=total_planned,
        planned_to_date=latest.cost_planned,
        actual_to_date=latest.cost_actual,
        uplift_factor=factor,
        remaining_planned=remaining,
        remaining_uplifted=remaining_uplifted,
        outturn=latest.cost_actual + remaining_uplifted,
        as_of=latest.date,
        has_actuals=True,
    )


# -- kill proposal -------------------------------------------------------------------------------


class KillProposal(NamedTuple):
    """Whether to propose stopping, and why in words. Unpacks as ``(proposed, reason)``;
    ``bool(proposal)`` is ``proposed`` (not the truth of a non-empty tuple)."""

    proposed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.proposed


def kill_proposal(posterior_mean: float, threshold: float) -> KillProposal:
    """Propose stopping when the posterior p is strictly below the policy's kill threshold."""
    if not (math.isfinite(posterior_mean) and 0.0 <= posterior_mean <= 1.0):
        raise ValueError(f"posterior_mean: must be between 0 and 1, got {posterior_mean}")
    if not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise ValueError(f"threshold: the kill threshold must be between 0 and 1, got {threshold}")
    p, t = _fmt(posterior_mean), _fmt(threshold)
    if posterior_mean < threshold:
        return KillProposal(
            True,
            f"Posterior p of {p} is below the kill threshold of {t}: proposed for stopping.",
        )
    return KillProposal(False, f"Posterior p of {p} is at or above the kill threshold of {t}.")
