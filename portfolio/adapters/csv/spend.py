"""The spend file: one row per entry of actual spend, in the columns a person gives an entry in
(the web form, the JSON API and the command line give the same fields); its columns, its
template and its reader. The entries are checked and recorded by
``portfolio.services.ledger_io.import_csv``.
"""

from __future__ import annotations

from collections.abc import Sequence

from portfolio.adapters.csv.table import Table, read_table
from portfolio.adapters.csv.writer import to_csv
from portfolio.domain.model import MAX_MONEY, Candidate, Mission

COLUMNS = ["candidate", "option", "envelope", "year", "amount", "note"]
"""The fields of an entry of spend as a person gives it, in the order forms, files and messages
show them: the columns of a spend file, of which ``note`` may be left out."""
OPTIONAL = frozenset({"note"})

COLUMN_DOCS: dict[str, str] = {
    "candidate": "The candidate's id, not its name (e.g. lh2-tank): the ids are listed below.",
    "option": "The id of the candidate's funding option the money was spent on (e.g. explore).",
    "envelope": "The id of the envelope it was paid from (e.g. sbc); the candidate must be "
    "eligible for it.",
    "year": "The financial year it was spent in, e.g. 2026-27 (a year that has started).",
    "amount": f"Actual spend, £ million: a number from 0 to {MAX_MONEY:,.0f} (e.g. 2.5).",
    "note": "Optional: an invoice or finance reference (up to 10,000 characters).",
}


def read_spend(data: bytes) -> tuple[Table, list[str]]:
    """The file's rows of cells (problems in cells in ``Table.errors``) and the columns it has,
    in COLUMNS order; raises InvalidInput on a problem with the file or its header."""
    table = read_table(data, COLUMNS, optional=OPTIONAL)
    return table, [c for c in COLUMNS if c in table.columns]


def template(mission: Mission, candidates: Sequence[Candidate], year: str) -> str:
    """A spend file to fill in: the header and an example row from the mission's own data."""
    example = next((c for c in candidates if c.options and c.eligible_envelopes), None)
    rows = []
    if example is not None:
        rows.append(
            {
                "candidate": example.id,
                "option": example.options[0].id,
                "envelope": example.eligible_envelopes[0],
                "year": year if year in mission.years else mission.years[0],
                "amount": 1.5,
                "note": "Example row: replace with your own (invoice INV-0001)",
            }
        )
    return to_csv(rows, COLUMNS)
