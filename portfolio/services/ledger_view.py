"""The spend ledger as people read it: every entry under the names people know, and per envelope
and financial year the budget, what was spent and what is left. The web page renders this view
and the JSON API returns it; the sums and the money left are the ledger's own rules
(``portfolio.services.ledger``)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict
from portfolio.domain.model import SpendKind
from portfolio.services import ledger, quarters


class SpendLine(BaseModel):
    id: int
    candidate: str
    candidate_name: str
    option: str
    option_name: str
    envelope: str
    envelope_name: str
    year: str
    amount: float
    kind: SpendKind
    quarter: str
    recorded_by: str | None
    recorded_at: dt.datetime | None
    note: str


class EnvelopeYearSpend(BaseModel):
    envelope: str
    envelope_name: str
    year: str
    budget: float
    spent: float
    left: float | None = None
    """From the current year on: the budget less what was spent, an overspend taken from the
    following years; None for a year that is over (money it left unspent is gone)."""


class CandidateSpend(BaseModel):
    candidate: str
    candidate_name: str
    spent: float


class LedgerView(BaseModel):
    quarter: str | None
    """The current quarter (None once every quarter is closed): spend is recorded in it."""
    year: str | None
    """Its financial year: the latest year spend may be recorded for."""
    entries: list[SpendLine]
    by_envelope_year: list[EnvelopeYearSpend]
    by_candidate: list[CandidateSpend]
    total: float


def ledger_view(uow: SqlUnitOfWork, slug: str) -> LedgerView:
    mission = uow.missions.get(slug)
    candidates = {c.id: c for c in uow.candidates.all(slug)}
    envelopes = {e.id: e.name for e in mission.envelopes}
    try:
        quarter: str | None = quarters.current_quarter(uow, slug)
    except Conflict:
        quarter = None
    entries = uow.spend.all(slug)
    spent = ledger.Spent.of(entries)
    ahead = ledger.remaining_years(mission, quarter) if quarter else []

    def name_of(candidate: str) -> str:
        found = candidates.get(candidate)
        return found.name if found else candidate

    def option_name(candidate: str, option: str) -> str:
        found = candidates.get(candidate)
        names = {o.id: o.name for o in found.options} if found else {}
        return names.get(option, option)

    lines = [
        SpendLine(
            id=e.id or 0,
            candidate=e.candidate,
            candidate_name=name_of(e.candidate),
            option=e.option,
            option_name=option_name(e.candidate, e.option),
            envelope=e.envelope,
            envelope_name=envelopes.get(e.envelope, e.envelope),
            year=e.year,
            amount=e.amount,
            kind=e.kind,
            quarter=e.quarter,
            recorded_by=e.recorded_by,
            recorded_at=e.recorded_at,
            note=e.note,
        )
        for e in entries
    ]
    by_envelope_year = []
    for envelope in mission.envelopes:
        by_year = {y: spent.by_envelope_year.get((envelope.id, y), 0.0) for y in mission.years}
        left = ledger.remaining_budget(envelope.budget, by_year, ahead)
        by_envelope_year += [
            EnvelopeYearSpend(
                envelope=envelope.id,
                envelope_name=envelope.name,
                year=y,
                budget=envelope.budget.get(y, 0.0),
                spent=by_year[y],
                left=left.get(y),
            )
            for y in mission.years
        ]
    by_candidate = [
        CandidateSpend(
            candidate=c,
            candidate_name=name_of(c),
            spent=amount,
        )
        for c, amount in sorted(spent.by_candidate.items(), key=lambda kv: -kv[1])
    ]
    return LedgerView(
        quarter=quarter,
        year=ledger.financial_year(quarter) if quarter else None,
        entries=lines,
        by_envelope_year=by_envelope_year,
        by_candidate=by_candidate,
        total=spent.total,
    )
