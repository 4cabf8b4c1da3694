"""Typed cells of a row, and pydantic's errors put back on the cells they came from.

Each reader returns the cell's value, or None: None for an empty cell, and None with the problem
appended to ``errors`` (named ``row R, column C``) for a cell that does not read. Numbers are
plain decimals (``formula.is_plain_number``: no units, thousands separators or %) and finite.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from portfolio.adapters.csv.formula import is_plain_number
from portfolio.adapters.csv.table import Errors, columns_field, where
from portfolio.domain.errors import rule_in_words

TRUE_WORDS = frozenset({"yes", "true", "1"})
FALSE_WORDS = frozenset({"no", "false", "0", ""})
PARTS = ("low", "most_likely", "high")
"""The three points of a range, as its columns end (``cost_low``, ``cost_most_likely``, ...)."""

Cells = Mapping[str, str]
ColumnOf = Callable[[list[str]], str | list[str]]
"""The column (or columns) a pydantic error location came from."""


def number(cells: Cells, column: str, row: int, errors: Errors) -> float | None:
    """A finite decimal number, or None."""
    text = cells.get(column, "")
    if not text:
        return None
    if not is_plain_number(text):
        errors.append((where(row, column), "must be a number such as 12.5 (no units, commas or %)"))
        return None
    value = float(text)
    if not math.isfinite(value):  # 1e400 is written like a number but is beyond any
        errors.append((where(row, column), "must be a finite number"))
        return None
    return value


def whole(cells: Cells, column: str, row: int, errors: Errors) -> int | None:
    """A whole number (``4`` or ``4.0``), or None."""
    value = number(cells, column, row, errors)
    if value is None:
        return None
    if value != int(value):
        errors.append((where(row, column), "must be a whole number"))
        return None
    return int(value)


def flag(cells: Cells, column: str, row: int, errors: Errors) -> bool | None:
    """yes/true/1 or no/false/0 (empty means no), or None when the cell is neither."""
    text = cells.get(column, "").lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    errors.append((where(row, column), "must be yes or no (or true/false, 1/0; empty means no)"))
    return None


def range_columns(kind: str) -> list[str]:
    """The three columns of a range: ``kind``_low, ``kind``_most_likely, ``kind``_high."""
    return [f"{kind}_{part}" for part in PARTS]


def three_point(
    cells: Cells, kind: str, row: int, errors: Errors, *, required: bool
) -> dict[str, float] | None:
    """The three cells ``kind``_low/_most_likely/_high: all or none (all when required)."""
    columns = range_columns(kind)
    given = [c for c in columns if cells.get(c, "")]
    if not given and not required:
        return None
    if len(given) < 3:
        for column in columns:
            if column not in given:
                rule = "required" if required else f"give all three {kind} values or none"
                errors.append((where(row, column), rule))
        return None
    before = len(errors)
    values = [number(cells, c, row, errors) for c in columns]
    if len(errors) > before:
        return None
    return {part: value for part, value in zip(PARTS, values, strict=True) if value is not None}


def three_columns(kind: str, loc: list[str]) -> str | list[str]:
    """The column of a range's point named in a pydantic location, or all three."""
    if len(loc) > 1 and loc[1] in PARTS:
        return f"{kind}_{loc[1]}"
    return range_columns(kind)


def _friendly(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    if err.get("input") == "" and kind.startswith("string_"):
        return "required"
    if kind == "string_pattern_mismatch":
        return (
            "use lower-case letters, digits and hyphens, starting and ending with a letter or digit"
        )
    if kind == "string_too_short":
        return "required"
    if kind == "too_short":
        return "give at least one"
    if kind in ("enum", "literal_error") and (err.get("ctx") or {}).get("expected"):
        return f"must be {err['ctx']['expected']}"  # a file holds the codes, not their names
    return rule_in_words(err)


def map_errors(exc: ValidationError, row: int, column_of: ColumnOf) -> Errors:
    """pydantic's errors, with each location turned into the row and column it came from."""
    out: Errors = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        message = _friendly(err)
        head, sep, rest = message.partition(": ")
        if sep and re.match(r"^[a-z_][a-z0-9_]*$", head):
            loc, message = [*loc, head], rest
        column = column_of(loc)
        field = where(row, column) if isinstance(column, str) else columns_field(row, column)
        out.append((field, message))
    return out
