"""The ways into the spend ledger: an entry as a person gives it (the web form, the JSON API, the
command line) and a finance CSV of entries (the file's columns, template and reading are
``portfolio.adapters.csv.spend``).

Every way goes through one model, ``SpendInput``: what a person types is checked there (an amount
is a finite number of £0-100,000m, a year reads ``2026-27``), then against the ledger's rules in
``portfolio.services.ledger`` (an option of that candidate, an envelope it may draw on, a year
that has started). A batch is all or nothing and every error is reported at once, each named as
the caller names it: the field for one entry, ``row N.field`` for a list, ``row N, column amount``
for a CSV file (spreadsheet rows: the header is row 1). The caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError, field_validator
from pydantic_core import ErrorDetails

from portfolio.adapters.csv import spend as spend_file
from portfolio.adapters.csv.spend import COLUMN_DOCS as COLUMN_DOCS
from portfolio.adapters.csv.spend import COLUMNS as COLUMNS
from portfolio.adapters.csv.spend import template as template
from portfolio.adapters.csv.table import first_per_cell, where
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import InvalidInput, rule_in_words
from portfolio.domain.model import (
    MAX_MONEY,
    Amount,
    FinancialYear,
    Slug,
    SpendEntry,
    SpendKind,
    Strict,
    Text,
)
from portfolio.services import ledger, quarters

FIELDS = tuple(spend_file.COLUMNS)
"""The fields a person gives (``SpendInput``'s), in the order forms, files and messages show
them: the spend file's columns."""
REQUIRED = {
    "candidate": "choose a candidate",
    "option": "choose a funding option",
    "envelope": "choose an envelope",
    "year": "choose a financial year",
    "amount": "enter the amount in £ million",
}
AMOUNT_RANGE = f"must be from 0 to {MAX_MONEY:,.0f} (£ million)"

Errors = list[tuple[str, str]]


class SpendInput(Strict):
    """One entry of actual spend as a person gives it; ids name the candidate, its option and
    the envelope (as the mission's pages list them)."""

    candidate: Slug
    option: Slug
    envelope: Slug
    year: FinancialYear
    amount: Amount
    note: Text = ""

    @field_validator("amount", mode="before")
    @classmethod
    def _typed_amount(cls, value: Any) -> Any:
        """Typed text may carry a £ sign and thousands separators; true/false is not a number."""
        if isinstance(value, bool):
            raise ValueError("must be a number in £ million, such as 2.5")
        if isinstance(value, str):
            return value.strip().removeprefix("£").replace(",", "").strip()
        return value

    def entry(self, quarter: str) -> SpendEntry:
        """The ledger entry (the ledger stamps the quarter, who and when as it records it)."""
        return SpendEntry(**self.model_dump(), quarter=quarter, kind=SpendKind.actual)


def _rule(err: ErrorDetails) -> str:
    """pydantic's message in the words of the form."""
    field = str(err["loc"][0]) if err["loc"] else ""
    kind = err["type"]
    if kind == "missing" and field in REQUIRED:
        return REQUIRED[field]
    if kind == "extra_forbidden":
        return f"is not a field of a spend entry (they are {', '.join(FIELDS)})"
    if kind in ("model_type", "model_attributes_type"):
        return f"must be an entry with the fields {', '.join(FIELDS)}"
    if field == "amount":
        if kind in ("greater_than_equal", "less_than_equal"):
            return AMOUNT_RANGE
        if kind == "finite_number":
            return "must be a finite number in £ million, such as 2.5"
        if kind in ("float_parsing", "float_type"):
            return "must be a number in £ million, such as 2.5"
    if kind == "string_pattern_mismatch":
        return "must be an id (lower-case letters, digits and hyphens), not a name"
    if kind == "string_too_long":
        return f"is too long: at most {err.get('ctx', {}).get('max_length', 0):,} characters"
    return rule_in_words(err)


def parse_entry(values: Mapping[str, Any], quarter: str) -> tuple[SpendEntry | None, Errors]:
    """One entry from what a person gave (strings or JSON values; empty means not given), or
    the (field, rule) of every problem."""
    data = {
        k: v.strip() if isinstance(v, str) and k != "amount" else v
        for k, v in values.items()
        if v is not None and not (isinstance(v, str) and not v.strip() and k != "note")
    }
    try:
        return SpendInput.model_validate(data).entry(quarter), []
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "entry"
            errors.append((field, _rule(err)))
        return None, errors


def batch_field(count: int) -> Callable[[int, str], str]:
    """How the ledger names a field: plain for one entry, ``row N.field`` in a batch."""
    return lambda row, field: field if count == 1 else f"row {row}.{field}"


_LEDGER_FIELD = re.compile(r"^row (\d+)\.(\w+)$")


def record_given(
    uow: SqlUnitOfWork,
    actor: str,
    slug: str,
    items: Sequence[Mapping[str, Any]],
    *,
    source: str,
    field_of: Callable[[int, str], str] | None = None,
) -> list[SpendEntry]:
    """Check everything people gave (rows numbered from 1) and record it as actual spend, all or
    nothing: the new entries with their ids, or InvalidInput with every problem of every row,
    each field named by ``field_of(row, field)`` (the ledger's own naming by default)."""
    if not items:
        raise InvalidInput.single("entries", "give at least one entry")
    name = field_of or batch_field(len(items))
    quarter = quarters.current(uow, slug)
    found: list[tuple[int, str, str]] = []
    entries: list[SpendEntry | None] = []
    for row, values in enumerate(items, start=1):
        entry, errors = parse_entry(values, quarter.label)
        found += [(row, field, rule) for field, rule in errors]
        entries.append(entry)
    if found:
        # the rows that read well are held against the ledger's rules too: every problem at once
        mission = uow.missions.get(slug)
        candidates = {c.id: c for c in uow.candidates.all(slug)}
        year = ledger.financial_year(quarter.label)
        for row, (values, entry) in enumerate(zip(items, entries, strict=True), start=1):
            if entry is None:  # a bad amount or note: its names are still worth checking
                entry, _ = parse_entry({**values, "amount": 0, "note": ""}, quarter.label)
            if entry is not None:
                found += [
                    (row, field, rule)
                    for field, rule in ledger.check_entry(mission, candidates, entry, year)
                ]
        found.sort(key=lambda e: e[0])
        raise InvalidInput((name(row, field), rule) for row, field, rule in found)
    checked = [e for e in entries if e is not None]
    try:
        ids = ledger.record_spend(uow, actor, slug, checked, source=source)
    except InvalidInput as exc:
        raise InvalidInput(_renamed(exc.errors, name)) from None
    return [e.with_changes(id=i) for i, e in zip(ids, checked, strict=True)]


def _renamed(errors: Errors, name: Callable[[int, str], str]) -> Errors:
    out = []
    for field, rule in errors:
        match = _LEDGER_FIELD.match(field)
        row, plain = (int(match.group(1)), match.group(2)) if match else (1, field)
        out.append((name(row, plain), rule))
    return out


# -- CSV -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpendImport:
    """What an import recorded."""

    entries: list[SpendEntry]

    @property
    def total(self) -> float:
        return sum(e.amount for e in self.entries)

    @property
    def message(self) -> str:
        rows = "1 entry" if len(self.entries) == 1 else f"{len(self.entries)} entries"
        return f"Imported {rows} of actual spend, £{self.total:,.2f}m in all."


def import_csv(uow: SqlUnitOfWork, actor: str, slug: str, data: bytes) -> SpendImport:
    """Record every row of a spend file, or nothing: InvalidInput names each problem by row and
    column (``row 3, column amount``)."""
    table, columns = spend_file.read_spend(data)
    if table.errors:
        raise InvalidInput(first_per_cell(table.errors, columns))
    rows = [number for number, _ in table.rows]

    def cell(row: int, field: str) -> str:
        return where(rows[row - 1], field if field in columns else None)

    try:
        recorded = record_given(
            uow, actor, slug, [cells for _, cells in table.rows], source="csv", field_of=cell
        )
    except InvalidInput as exc:
        raise InvalidInput(first_per_cell(exc.errors, columns)) from None
    return SpendImport(recorded)
