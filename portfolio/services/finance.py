"""Treasury's programme finance view: per envelope and financial year what the mission has, has
spent, has committed and plans to spend, how likely the plan is to overrun, and how that looked
quarter by quarter. The web page renders this view, the JSON API returns it, and the downloads
and the command line write it. Every figure is defined here, once, in £ million.

**The allocation** is the current quarter's approved allocation, else the latest quarter's that
has one (none before the first approval). Its funding rows are the money it plans still to spend,
per candidate, envelope and year, from its quarter's financial year on. A financial year **has
ended** when it comes before the current quarter's year (once every quarter is closed, before the
last quarter's year).

For each envelope e and financial year y of the mission:

- **budget** B[e,y]: the mission's real budget (never a run's remaining or scaled budget).
- **spent** S[e,y]: every ledger entry from e for y, break costs included.
- **forecast** F[e,y]: all the allocation's funding rows for (e, y), its planned remaining spend,
  each less the actual spend recorded against the same candidate, option, envelope and year
  since the allocation's run was made (never below 0: an overrun is in S, not taken from other
  rows); 0 for a year that has ended (money a past year did not spend is gone).
- **contracted** C[e,y]: the part of F[e,y] planned for candidates with a live contract (C ≤ F).
- **headroom** H[e,y] = B[e,y] − S[e,y] − F[e,y]: neither spent nor planned; negative means
  over-committed.

The totals per envelope (over its years), per year (over the envelopes) and overall sum the same
figures, so their headroom is their budget less spent less forecast too; every figure is rounded
to the pound. Where carry-forward is allowed, a year's negative headroom may be met from earlier
years' headroom: the envelope's total says whether it is. Spend recorded after the allocation's
run was made is counted once: in S, and taken off the row of F it was planned in.

**Risk** of the allocation, out of sample, for the whole programme (all envelopes and years
together, never per envelope): P(overrun), the share of scenarios whose realised spend exceeds the
money available in some year; the expected overspend, the mean over scenarios of the largest
such excess; and P(target). With them the policy it was solved with: over-programming (the
fraction by which planned spend may exceed the budgets) and the overrun limit (the largest
in-sample P(overrun) it allowed; none when unset).

**History**, one row per quarter with an approved allocation, oldest first: the quarter's state;
that allocation's planned remaining spend (all its funding rows), risk and policy; the spend
recorded by the end of that quarter (ledger entries recorded in it or before); and whether the
allocation is a what-if (approval refuses those, but one is shown as such, never hidden).
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from openpyxl import Workbook
from pydantic import BaseModel

from optimiser.problem import Policy
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict
from portfolio.domain.model import (
    Contract,
    Mission,
    Quarter,
    QuarterState,
    RunRecord,
    SpendEntry,
    SpendKind,
)
from portfolio.services import quarters as quarter_rules
from portfolio.services.csvio import neutralise, to_csv
from portfolio.services.ledger import Spent, financial_year, remaining_years, spent_by_end_of

PLACES = 6
"""Money is kept to the pound: £ million to 6 decimal places."""
ALL_YEARS = "All years"
ALL_ENVELOPES = "All envelopes"


class Figures(BaseModel):
    budget: float
    spent: float
    contracted: float
    forecast: float
    headroom: float
    """budget − spent − forecast; negative means over-committed."""

    @classmethod
    def of(cls, budget: float, spent: float, contracted: float, forecast: float) -> Figures:
        b, s, c, f = (round(x, PLACES) for x in (budget, spent, contracted, forecast))
        return cls(budget=b, spent=s, contracted=c, forecast=f, headroom=round(b - s - f, PLACES))

    @classmethod
    def total(cls, parts: Iterable[Figures]) -> Figures:
        items = list(parts)
        return cls.of(
            sum(p.budget for p in items),
            sum(p.spent for p in items),
            sum(p.contracted for p in items),
            sum(p.forecast for p in items),
        )


class EnvelopeYearFinance(Figures):
    envelope: str
    envelope_name: str
    year: str
    ended: bool
    """The year is over: nothing more is forecast for it."""


class EnvelopeFinance(Figures):
    """One envelope over all the mission's years."""

    envelope: str
    envelope_name: str


class YearFinance(Figures):
    """One financial year over all the envelopes."""

    year: str
    ended: bool


class ApprovedAllocation(BaseModel):
    """A quarter's approved allocation: its planned remaining spend, its risk (out of sample, the
    whole programme) and its policy, with the spend recorded by the end of the quarter."""

    quarter: str
    state: QuarterState
    run: int
    approved_by: str | None
    approved_at: dt.datetime | None
    what_if: bool
    planned_remaining: float
    spent_to_date: float
    p_target: float | None
    p_overrun: float | None
    expected_overspend: float | None
    over_programming: float
    max_overrun_probability: float | None


class FinanceView(BaseModel):
    mission: str
    mission_name: str
    quarter: str | None
    """The current quarter (None once every quarter is closed, or before the first opens)."""
    year: str | None
    """The current financial year: the years before it have ended."""
    allocation: ApprovedAllocation | None
    """The allocation the forecast comes from; None before the first approval."""
    lines: list[EnvelopeYearFinance]
    envelopes: list[EnvelopeFinance]
    years: list[YearFinance]
    total: Figures
    history: Sequence[ApprovedAllocation]
    """Every quarter with an approved allocation, oldest first (a list)."""


# -- the figures ---------------------------------------------------------------------------------
def allocation_of(
    quarter: Quarter, run: RunRecord, policy: Policy, entries: Sequence[SpendEntry]
) -> ApprovedAllocation:
    """The history row of ``quarter``, whose approved allocation is ``run``, solved under
    ``policy`` (its problem file's)."""
    result = run.result
    oos = run.out_of_sample
    return ApprovedAllocation(
        quarter=quarter.label,
        state=quarter.state,
        run=run.id or 0,
        approved_by=quarter.approved_by,
        approved_at=quarter.approved_at,
        what_if=run.what_if,
        planned_remaining=round(sum(f.amount for f in result.funding), PLACES) if result else 0.0,
        spent_to_date=round(spent_by_end_of(entries, quarter.label), PLACES),
        p_target=oos.p_target if oos else None,
        p_overrun=oos.p_overrun if oos else None,
        expected_overspend=(
            round(oos.expected_overspend, PLACES)
            if oos and oos.expected_overspend is not None
            else None
        ),
        over_programming=policy.over_programming,
        max_overrun_probability=policy.max_overrun_probability,
    )


def _spent_since(
    run: RunRecord, entries: Sequence[SpendEntry]
) -> dict[tuple[str, str, str, str], float]:
    """Actual spend recorded after ``run`` was made (its problem already knew the rest), per
    candidate, option, envelope and year."""
    out: dict[tuple[str, str, str, str], float] = defaultdict(float)
    for e in entries:
        after = e.recorded_at > run.created_at if e.recorded_at else e.quarter >= run.quarter
        if after and e.kind is SpendKind.actual:
            out[(e.candidate, e.option, e.envelope, e.year)] += e.amount
    return out


def _chosen(quarters: Sequence[Quarter], current: Quarter | None) -> Quarter | None:
    """The quarter whose approved allocation is forecast: the current one's, else the latest."""
    if current is not None and current.approved_run is not None:
        return current
    approved = [q for q in quarters if q.approved_run is not None]
    return approved[-1] if approved else None


def build_finance(
    mission: Mission,
    quarters: Sequence[Quarter],
    current: Quarter | None,
    runs: dict[int, RunRecord],
    policies: dict[int, Policy],
    entries: Sequence[SpendEntry],
    contracts: Sequence[Contract],
) -> FinanceView:
    """The view from the stored data: the mission, its quarters (oldest first) and the current
    one, the approved runs by id and the policy each was solved under (its problem file's, by
    run id), the ledger's entries and the live contracts."""
    latest = current or (quarters[-1] if quarters else None)
    this_year = financial_year(latest.label) if latest else None
    ahead = set(remaining_years(mission, latest.label) if latest else mission.years)
    history = [
        allocation_of(q, runs[q.approved_run], policies.get(q.approved_run, Policy()), entries)
        for q in quarters
        if q.approved_run is not None and q.approved_run in runs
    ]
    chosen = _chosen(quarters, current)
    run = runs.get(chosen.approved_run) if chosen and chosen.approved_run is not None else None
    result = run.result if run else None
    contracted_candidates = {c.candidate for c in contracts}
    since = _spent_since(run, entries) if run else {}
    forecast: dict[tuple[str, str], float] = defaultdict(float)
    contracted: dict[tuple[str, str], float] = defaultdict(float)
    for row in result.funding if result else []:
        key = (row.candidate, row.option, row.envelope, row.year)
        amount = max(0.0, row.amount - since.get(key, 0.0))
        forecast[(row.envelope, row.year)] += amount
        if row.candidate in contracted_candidates:
            contracted[(row.envelope, row.year)] += amount
    spent = Spent.of(list(entries)).by_envelope_year

    def ended(year: str) -> bool:
        return year not in ahead

    lines = [
        EnvelopeYearFinance(
            envelope=envelope.id,
            envelope_name=envelope.name,
            year=year,
            ended=ended(year),
            **Figures.of(
                envelope.budget.get(year, 0.0),
                spent.get((envelope.id, year), 0.0),
                0.0 if ended(year) else contracted[(envelope.id, year)],
                0.0 if ended(year) else forecast[(envelope.id, year)],
            ).model_dump(),
        )
        for envelope in mission.envelopes
        for year in mission.years
    ]
    by_envelope = [
        EnvelopeFinance(
            envelope=envelope.id,
            envelope_name=envelope.name,
            **Figures.total(x for x in lines if x.envelope == envelope.id).model_dump(),
        )
        for envelope in mission.envelopes
    ]
    by_year = [
        YearFinance(
            year=year,
            ended=ended(year),
            **Figures.total(x for x in lines if x.year == year).model_dump(),
        )
        for year in mission.years
    ]
    return FinanceView(
        mission=mission.slug,
        mission_name=mission.name,
        quarter=current.label if current else None,
        year=this_year,
        allocation=next((h for h in history if chosen and h.quarter == chosen.label), None),
        lines=lines,
        envelopes=by_envelope,
        years=by_year,
        total=Figures.total(lines),
        history=history,
    )


def finance_view(uow: SqlUnitOfWork, slug: str) -> FinanceView:
    """The programme finance view of mission ``slug``, read through ``uow``."""
    mission = uow.missions.get(slug)
    quarters = uow.missions.quarters(slug)
    try:
        current: Quarter | None = quarter_rules.current(uow, slug)
    except Conflict:
        current = None
    approved = [q.approved_run for q in quarters if q.approved_run is not None]
    runs = {run.id: run for run in uow.runs.records(slug, approved) if run.id is not None}
    policies = {
        run_id: Policy.model_validate(policy)
        for run_id, policy in uow.runs.policies(slug, approved).items()
    }
    return build_finance(
        mission, quarters, current, runs, policies, uow.spend.all(slug), uow.contracts.live(slug)
    )


# -- downloads -----------------------------------------------------------------------------------
Table = Literal["envelopes", "history"]
TABLES: dict[Table, str] = {
    "envelopes": "By envelope and year",
    "history": "History",
}
"""Each table of the downloads, by the name the page, the CSV choice and the Excel sheet use."""

MONEY_COLUMNS = {
    "budget": "Budget (£m)",
    "spent": "Spent (£m)",
    "contracted": "Contracted (£m)",
    "forecast": "Forecast (£m)",
    "headroom": "Headroom (£m)",
}
ENVELOPE_COLUMNS = ["Envelope", "Financial year", "Year ended", *MONEY_COLUMNS.values()]
HISTORY_COLUMNS = [
    "Quarter",
    "State",
    "Run",
    "Approved by",
    "Planned remaining spend (£m)",
    "Spent to date (£m)",
    "P(target)",
    "P(overrun)",
    "Expected overspend (£m)",
    "Over-programming",
    "Overrun limit",
    "What-if",
]


def _money(figures: Figures) -> dict[str, float]:
    return {label: getattr(figures, key) for key, label in MONEY_COLUMNS.items()}


def envelope_rows(view: FinanceView) -> list[dict[str, Any]]:
    """The table by envelope and year as people read it: each envelope's years then its total,
    then each year over all envelopes, then the grand total."""
    rows: list[dict[str, Any]] = []
    for total in view.envelopes:
        for line in (x for x in view.lines if x.envelope == total.envelope):
            rows.append(
                {
                    "Envelope": line.envelope_name,
                    "Financial year": line.year,
                    "Year ended": line.ended,
                    **_money(line),
                }
            )
        rows.append({"Envelope": total.envelope_name, "Financial year": ALL_YEARS, **_money(total)})
    for year in view.years:
        rows.append(
            {
                "Envelope": ALL_ENVELOPES,
                "Financial year": year.year,
                "Year ended": year.ended,
                **_money(year),
            }
        )
    rows.append({"Envelope": ALL_ENVELOPES, "Financial year": ALL_YEARS, **_money(view.total)})
    return rows


def history_rows(view: FinanceView) -> list[dict[str, Any]]:
    return [
        {
            "Quarter": h.quarter,
            "State": h.state.value,
            "Run": h.run,
            "Approved by": h.approved_by,
            "Planned remaining spend (£m)": h.planned_remaining,
            "Spent to date (£m)": h.spent_to_date,
            "P(target)": h.p_target,
            "P(overrun)": h.p_overrun,
            "Expected overspend (£m)": h.expected_overspend,
            "Over-programming": h.over_programming,
            "Overrun limit": h.max_overrun_probability,
            "What-if": h.what_if,
        }
        for h in view.history
    ]


def _table(view: FinanceView, table: Table) -> tuple[list[str], list[dict[str, Any]]]:
    if table == "history":
        return HISTORY_COLUMNS, history_rows(view)
    return ENVELOPE_COLUMNS, envelope_rows(view)


def csv_text(view: FinanceView, table: Table = "envelopes", *, bom: bool = True) -> str:
    """One table as CSV; the byte-order mark makes Excel read the £ signs as UTF-8."""
    columns, rows = _table(view, table)
    return to_csv(rows, columns, bom=bom)


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return neutralise(value) if isinstance(value, str) else value


def workbook(view: FinanceView) -> bytes:
    """Both tables as an Excel workbook, one sheet each; text that a spreadsheet would run as a
    formula is neutralised."""
    book = Workbook()
    book.remove(book.active)
    for table, title in TABLES.items():
        sheet = book.create_sheet(title)
        columns, rows = _table(view, table)
        sheet.append(columns)
        for row in rows:
            sheet.append([_cell(row.get(c)) for c in columns])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def as_text(view: FinanceView) -> str:
    """The view for reading in a terminal."""
    out = [f"Programme finance: {view.mission_name} (£m)"]
    a = view.allocation
    if a is None:
        out.append("No quarter has an approved allocation yet: nothing is contracted or forecast.")
    else:
        none_yet = f"; {view.quarter} has none yet" if view.quarter not in (None, a.quarter) else ""
        out.append(
            f"Forecast from the allocation approved in {a.quarter} (run {a.run})"
            f"{' - a what-if' if a.what_if else ''}{none_yet}."
        )
        overspend = "–" if a.expected_overspend is None else f"{a.expected_overspend:,.2f}"
        limit = "none" if a.max_overrun_probability is None else _pct(a.max_overrun_probability)
        out.append(
            f"Whole programme, out of sample: P(overrun) {_pct(a.p_overrun)}, expected overspend "
            f"{overspend}, P(target) {_pct(a.p_target)}; run with over-programming "
            f"{_pct(a.over_programming)} and overrun limit {limit}."
        )
    columns = ["Envelope, year", *(label.removesuffix(" (£m)") for label in MONEY_COLUMNS.values())]
    rows = [
        (f"{r['Envelope']}, {r['Financial year']}{' (over)' if r.get('Year ended') else ''}", r)
        for r in envelope_rows(view)
    ]
    width = max(len(columns[0]), *(len(name) for name, _ in rows))
    out.append(f"{columns[0]:<{width}}" + "".join(f"{c:>13}" for c in columns[1:]))
    for name, row in rows:
        out.append(
            f"{name:<{width}}" + "".join(f"{row[c]:>13,.2f}" for c in MONEY_COLUMNS.values())
        )
    out.append("Quarter by quarter: planned remaining spend, spent to date, P(target), P(overrun)")
    for h in view.history:
        out.append(
            f"  {h.quarter} ({h.state.value}): {h.planned_remaining:,.2f}, {h.spent_to_date:,.2f}, "
            f"{_pct(h.p_target)}, {_pct(h.p_overrun)}{' - a what-if' if h.what_if else ''}"
        )
    if not view.history:
        out.append("  none yet")
    return "\n".join(out)
