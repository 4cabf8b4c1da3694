"""Rows to CSV text, every cell neutralised (``formula.neutralise``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from portfolio.adapters.csv.formula import neutralise


def cell_text(value: Any) -> str:
    """A value as a cell: empty for None, yes/no for a flag, a float without a needless ``.0``,
    a list joined by ``;``, anything else (numbers, text, StrEnum members) as ``str``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) >= 1e15 else str(int(value))
    if isinstance(value, list | tuple | set | frozenset):
        return ";".join(cell_text(v) for v in value)
    return str(value)


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, bom: bool = False) -> str:
    """``rows`` as CSV text with a header of ``columns`` (missing keys are empty cells), every
    cell neutralised. ``bom=True`` starts with a byte-order mark so Excel reads it as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in columns])
    for row in rows:
        writer.writerow([neutralise(cell_text(row.get(c))) for c in columns])
    return ("\ufeff" if bom else "") + out.getvalue()
