"""The Expert Council's forecasting record and the members' weights.

A member's forecast is their submitted p of an option; a stage gate resolves it
(``resolved_forecasts``). The record counts only forecasts of rounds that are over
(``council_round.round_over``), so it never shows a number the blind rule still hides.

Performance weights (``member_weights`` with the Brier method; the rule itself is
``estimates.brier_weights``): from the first resolved forecast each member's weight is their
relative Brier skill shrunk towards equal weights by the length of their record,
w_m ∝ λ_m·r_m + (1 − λ_m) with λ_m = n_m / (n_m + 5), floored at 0.1 / M. ``brier_trend`` shows
how each member's Brier score and weight moved quarter by quarter as gates resolved forecasts.
With the classical method the weights are Cooke's, from the seed questions (``classical_result``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.classical import ClassicalResult, elicitation_from_seeds, run_classical_model
from portfolio.domain.errors import NotFound
from portfolio.domain.estimates import MemberCalibration, brier, brier_weights, member_calibration
from portfolio.domain.model import AggregationMethod, EvidenceKind, Sector, SubmittedP
from portfolio.services.council_round import rounds_over


# -- the members' weights --------------------------------------------------------------------------
def member_weights(
    uow: UnitOfWork,
    slug: str,
    method: AggregationMethod,
    records: dict[str, list[ResolvedForecast]] | None = None,
) -> dict[str, float]:
    """Each council member's weight under ``method`` (they sum to 1 over the members); a caller
    that holds ``resolved_forecasts`` already passes them as ``records``."""
    members = [m.username for m in uow.missions.council(slug)]
    if not members:
        return {}
    if method is AggregationMethod.brier:
        if records is None:
            records = resolved_forecasts(uow, slug)
        return brier_weights({m: [(f.p, f.outcome) for f in records.get(m, [])] for m in members})
    if method is AggregationMethod.classical:
        result = classical_result(uow, slug)
        if result is None:
            return dict.fromkeys(members, 1 / len(members))
        return {m: result.experts[m].weight if m in result.experts else 0.0 for m in members}
    return dict.fromkeys(members, 1 / len(members))


# -- the forecasting record ----------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedForecast:
    member: str
    candidate: str
    option: str
    quarter: str
    p: float
    outcome: bool
    resolved_on: dt.date
    resolved_in: str = ""
    """The quarter of the stage gate that resolved it."""


def resolved_forecasts(uow: UnitOfWork, slug: str) -> dict[str, list[ResolvedForecast]]:
    """Members' forecasts whose outcome is known: a stage gate resolves each member's latest
    submitted p of the option it concerns (the candidate's first option unless it says which).

    A forecast counts only once its round is over (``round_over``: the blind rule no longer
    hides it) and only if the outcome came after it: the stage gate is recorded in a *later*
    quarter than the forecast. A gate recorded in the forecast's own quarter may have been known
    when the member scored (the store does not say which came first), so it resolves the
    member's forecast of an earlier round instead. Forecasts of the open round never count: the
    calibration page and the Brier weights would otherwise reveal them."""
    gates = [
        ev
        for ev in uow.evidence.all(slug)
        if ev.kind is EvidenceKind.stage_gate and ev.outcome is not None
    ]
    if not gates:
        return {}
    candidates = {c.id: c for c in uow.candidates.all(slug)}
    over = rounds_over(uow, slug)
    scores = [
        s for s in uow.scores.submitted_p(slug, {ev.candidate for ev in gates}) if s.quarter in over
    ]
    out: dict[str, list[ResolvedForecast]] = defaultdict(list)
    for ev in gates:
        option = ev.option or candidates[ev.candidate].options[0].id
        latest: dict[str, SubmittedP] = {}
        for s in scores:
            if s.candidate == ev.candidate and s.option == option and s.quarter < ev.quarter:
                if s.member not in latest or s.quarter >= latest[s.member].quarter:
                    latest[s.member] = s
        for member, s in sorted(latest.items()):
            assert ev.outcome is not None
            out[member].append(
                ResolvedForecast(
                    member,
                    ev.candidate,
                    option,
                    s.quarter,
                    s.p_success,
                    ev.outcome,
                    ev.date,
                    ev.quarter,
                )
            )
    return dict(out)


@dataclass(frozen=True)
class QuarterBrier:
    """One quarter of a member's record: the forecasts stage gates resolved in it, their Brier
    score, the record to date, and the member's performance (Brier) weight after it."""

    quarter: str
    resolved: int
    brier: float | None
    resolved_to_date: int
    brier_to_date: float | None
    weight: float


TREND_TOLERANCE = 0.01
"""Brier scores of two quarters closer than this are "about the same" in the trend's words."""


def brier_trend(
    records: dict[str, list[ResolvedForecast]], members: Sequence[str]
) -> dict[str, list[QuarterBrier]]:
    """Each member's Brier score by quarter: one row per quarter in which a stage gate resolved
    anyone's forecast (the same quarters for every member), with the performance weight
    ``brier_weights`` gives each member on the forecasts resolved by the end of that quarter."""
    quarters = sorted({f.resolved_in for fs in records.values() for f in fs})
    out: dict[str, list[QuarterBrier]] = {m: [] for m in members}
    for quarter in quarters:
        to_date = {
            m: [(f.p, f.outcome) for f in records.get(m, []) if f.resolved_in <= quarter]
            for m in members
        }
        weights = brier_weights(to_date)
        for m in members:
            now = [(f.p, f.outcome) for f in records.get(m, []) if f.resolved_in == quarter]
            out[m].append(
                QuarterBrier(
                    quarter=quarter,
                    resolved=len(now),
                    brier=brier(now) if now else None,
                    resolved_to_date=len(to_date[m]),
                    brier_to_date=brier(to_date[m]) if to_date[m] else None,
                    weight=weights[m],
                )
            )
    return out


def trend_words(rows: Sequence[QuarterBrier]) -> str:
    """The trend of a member's Brier score in words: the first and the last quarter in which
    their forecasts resolved (a lower Brier score is better)."""
    scored = [r for r in rows if r.brier is not None]
    if not scored:
        return "No forecast has resolved yet."
    first, last = scored[0], scored[-1]
    assert first.brier is not None and last.brier is not None
    if len(scored) == 1:
        return f"One quarter of record so far: Brier score {first.brier:.3f} in {first.quarter}."
    change = last.brier - first.brier
    verdict = (
        "about the same"
        if abs(change) < TREND_TOLERANCE
        else "better (lower)"
        if change < 0
        else "worse (higher)"
    )
    return (
        f"Brier score {first.brier:.3f} in {first.quarter}, {last.brier:.3f} in {last.quarter}: "
        f"{verdict}."
    )


@dataclass
class MemberRecord:
    username: str
    sector: Sector
    forecasts: list[ResolvedForecast]
    calibration: MemberCalibration
    weights: dict[str, float]
    trend: list[QuarterBrier] = field(default_factory=list)

    @property
    def trend_words(self) -> str:
        return trend_words(self.trend)


def council_records(uow: UnitOfWork, slug: str) -> list[MemberRecord]:
    """Each member's forecasting record, Brier score, calibration curve, current weights and
    Brier score by quarter."""
    records = resolved_forecasts(uow, slug)
    weights = {m: member_weights(uow, slug, m, records) for m in AggregationMethod}
    council = uow.missions.council(slug)
    trends = brier_trend(records, [m.username for m in council])
    out = []
    for member in council:
        forecasts = records.get(member.username, [])
        out.append(
            MemberRecord(
                member.username,
                member.sector,
                forecasts,
                member_calibration([(f.p, f.outcome) for f in forecasts]),
                {m.value: weights[m].get(member.username, 0.0) for m in AggregationMethod},
                trends[member.username],
            )
        )
    return out


def member_record(uow: UnitOfWork, slug: str, username: str) -> MemberRecord:
    """One member's forecasting record (``council_records``); NotFound for a non-member."""
    for r in council_records(uow, slug):
        if r.username == username:
            return r
    raise NotFound(f"{username} is not on this mission's council")


# -- Cooke's classical model on the seed questions -------------------------------------------------
def classical_result(uow: UnitOfWork, slug: str) -> ClassicalResult | None:
    """Cooke's classical model on the mission's seed questions, or None without enough data."""
    document = elicitation_from_seeds(uow.seeds.questions(slug), uow.seeds.answers(slug))
    if not document["experts"] or not any(
        item["realization"] is not None for item in document["items"]
    ):
        return None
    return run_classical_model(document)
