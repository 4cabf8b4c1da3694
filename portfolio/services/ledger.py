"""The spend ledger: money actually spent, and what remains to plan (issue 15).

Rules, each defined here once:
- **Recording.** An entry names a candidate, one of its options, an envelope the candidate may
  draw on, a financial year of the mission that has started (not after the current quarter's
  year), and an amount of £0–100,000m. A batch is recorded all or nothing, every error named by
  field (and by row for a batch); each entry is audited in the same transaction.
- **Remaining cost** of an option (estimate to complete): its planned total less the actual spend
  recorded on it (never below 0), spread over the current and later years like its planned
  profile (all in the current year when its plan has no such year left).
- **Remaining budget** of an envelope in each year from the current one: its budget less what was
  spent from it in that year; an overspend beyond a year's budget is taken from the next years'.
  Money of past years is gone: it is neither offered again nor refunded when a candidate stops.
- **Break costs** (ending a contract early) are spent money: they use up budget but do not
  reduce what remains to be done on the option.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import InvalidInput
from portfolio.domain.model import Candidate, Mission, SpendEntry, SpendKind
from portfolio.services.missions import record
from portfolio.services.quarters import current

#: how a form, a CSV column and an error message name each field of an entry
FIELD_LABELS = {
    "candidate": "Candidate",
    "option": "Funding option",
    "envelope": "Envelope",
    "year": "Financial year",
    "amount": "Amount (£m)",
    "note": "Note",
}


def financial_year(quarter_label: str) -> str:
    """``2026-27 Q3`` → ``2026-27``."""
    return quarter_label.split(" ")[0]


def check_entry(
    mission: Mission, candidates: dict[str, Candidate], entry: SpendEntry, current_year: str
) -> list[tuple[str, str]]:
    """Every rule an entry breaks, as (field, rule) with the field as a person knows it."""
    errors: list[tuple[str, str]] = []
    candidate = candidates.get(entry.candidate)
    if candidate is None:
        return [("candidate", f"{entry.candidate} is not a candidate of this mission")]
    options = {o.id for o in candidate.options}
    if entry.option not in options:
        names = ", ".join(sorted(options))
        errors.append(("option", f"{entry.option} is not an option of {candidate.name} ({names})"))
    envelopes = {e.id: e.name for e in mission.envelopes}
    if entry.envelope not in envelopes:
        errors.append(("envelope", f"{entry.envelope} is not an envelope of this mission"))
    elif entry.envelope not in candidate.eligible_envelopes:
        errors.append(("envelope", f"{candidate.name} may not draw on {envelopes[entry.envelope]}"))
    if entry.year not in mission.years:
        errors.append(("year", f"{entry.year} is not one of the mission's years"))
    elif entry.year > current_year:
        errors.append(("year", f"{entry.year} has not started: spend is recorded once it is made"))
    return errors


def record_spend(
    uow: UnitOfWork, actor: str, slug: str, entries: list[SpendEntry], *, source: str = "form"
) -> list[int]:
    """Record `entries` (stamped with the current quarter and the actor) all or nothing; a
    single entry's errors name its fields, a batch's name the row (1-based) too."""
    quarter = current(uow, slug)
    mission = uow.missions.get(slug)
    candidates = {c.id: c for c in uow.candidates.all(slug)}
    year = financial_year(quarter.label)
    errors: list[tuple[str, str]] = []
    for row, entry in enumerate(entries, start=1):
        for field, rule in check_entry(mission, candidates, entry, year):
            errors.append((f"row {row}.{field}" if len(entries) > 1 else field, rule))
    if errors:
        raise InvalidInput(errors)
    ids = []
    now = uow.now()
    for entry in entries:
        stamped = entry.with_changes(quarter=quarter.label, recorded_by=actor, recorded_at=now)
        entry_id = uow.spend.add(slug, stamped)
        ids.append(entry_id)
        record(
            uow,
            actor,
            slug,
            "spend",
            str(entry_id),
            "recorded",
            after={**stamped.model_dump(mode="json", exclude={"id"}), "source": source},
        )
    return ids


# -- what was spent, and what remains ------------------------------------------------------------
@dataclass(frozen=True)
class Spent:
    """The ledger summed the ways the product needs it."""

    by_option: dict[tuple[str, str], float]  # (candidate, option) → actual spend (no break costs)
    by_candidate: dict[str, float]  # candidate → all spend, break costs included
    by_envelope_year: dict[tuple[str, str], float]  # (envelope, year) → all spend
    total: float

    @classmethod
    def of(cls, entries: list[SpendEntry]) -> Spent:
        by_option: dict[tuple[str, str], float] = defaultdict(float)
        by_candidate: dict[str, float] = defaultdict(float)
        by_envelope_year: dict[tuple[str, str], float] = defaultdict(float)
        for e in entries:
            if e.kind is SpendKind.actual:
                by_option[(e.candidate, e.option)] += e.amount
            by_candidate[e.candidate] += e.amount
            by_envelope_year[(e.envelope, e.year)] += e.amount
        return cls(
            dict(by_option),
            dict(by_candidate),
            dict(by_envelope_year),
            sum(e.amount for e in entries),
        )


def spent(uow: UnitOfWork, slug: str) -> Spent:
    return Spent.of(uow.spend.all(slug))


def spent_by_end_of(entries: Sequence[SpendEntry], quarter_label: str) -> float:
    """All the money recorded by the end of a quarter (labels like ``2026-27 Q3`` sort in time
    order as text)."""
    return sum(e.amount for e in entries if e.quarter <= quarter_label)


def remaining_profile(
    profile: dict[str, float], actual: float, years: list[str]
) -> dict[str, float]:
    """The option's remaining planned spend over `years` (the current one first): its planned
    total less `actual`, spread like the planned profile over those years."""
    left = max(0.0, sum(profile.values()) - actual)
    ahead = {y: float(v) for y in years if (v := profile.get(y, 0.0)) > 0}
    planned_ahead = sum(ahead.values())
    if left <= 0:
        return {}
    if planned_ahead <= 0:
        return {years[0]: left}
    if abs(left - planned_ahead) <= 1e-9 * max(1.0, left):
        return ahead  # on plan: the profile as registered
    return {y: left * v / planned_ahead for y, v in ahead.items()}


def remaining_budget(
    budget: dict[str, float], spent_by_year: dict[str, float], years: list[str]
) -> dict[str, float]:
    """An envelope's money left in each of `years` (the current one first): the budget less the
    spend of that year, an overspend taken from the following years."""
    out: dict[str, float] = {}
    deficit = 0.0
    for y in years:
        left = float(budget.get(y, 0.0)) - spent_by_year.get(y, 0.0) - deficit
        deficit = max(0.0, -left)
        out[y] = max(0.0, left)
    return out


def remaining_years(mission: Mission, quarter_label: str) -> list[str]:
    """The mission's years from the current quarter's financial year on."""
    year = financial_year(quarter_label)
    return [y for y in mission.years if y >= year]


def spend_json(entry: SpendEntry, names: dict[str, str] | None = None) -> dict[str, Any]:
    """An entry as the API and exports show it, with the candidate's name."""
    data = entry.model_dump(mode="json")
    if names is not None:
        data["candidate_name"] = names.get(entry.candidate, entry.candidate)
    return data
