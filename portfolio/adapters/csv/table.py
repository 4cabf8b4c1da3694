"""A CSV file read as a table: its size, its encoding, its header and its rows of cells, and the
naming of every problem by row and column.

Files must be UTF-8 (a byte-order mark is accepted): other encodings are refused rather than
guessed. A cell that could run as a spreadsheet formula (``formula.looks_like_formula``) is
refused. Problems with the file as a whole or its header are raised at once (nothing else can be
read); problems in cells are collected so that every row is still checked.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass

from portfolio.adapters.csv.formula import looks_like_formula
from portfolio.domain.errors import InvalidInput

MAX_BYTES = 2_000_000
"""Largest file accepted, in bytes (2 MB)."""
MAX_ROWS = 5_000
"""Most data rows accepted (the header not counted)."""
MAX_CELL = 10_000
"""Longest cell accepted, in characters (a description's limit)."""

NOT_UTF8 = "the file is not UTF-8 text: save it as CSV UTF-8"

Errors = list[tuple[str, str]]
"""Problems as (field, rule) pairs, the field naming the row and column (``where``)."""


def where(row: int, column: str | None = None) -> str:
    """The field of an error: ``row 3, column p_success`` (or ``row 3``)."""
    return f"row {row}" if column is None else f"row {row}, column {column}"


def columns_field(row: int, columns: Sequence[str]) -> str:
    """The field of an error that belongs to several cells: ``row 3, columns cost_low, ...``."""
    return f"row {row}, columns {', '.join(columns)}"


_FIELD_RE = re.compile(r"^row (\d+)(?:, columns? ([^,]+))?")


def first_per_cell(errors: Iterable[tuple[str, str]], columns: Sequence[str] = ()) -> Errors:
    """The first problem of each cell (later ones usually follow from it), ordered by row and
    then by column as the file has them (problems with the whole file first)."""
    out: Errors = []
    seen: set[str] = set()
    for field, rule in errors:
        if field not in seen:
            seen.add(field)
            out.append((field, rule))
    position = {c: i for i, c in enumerate(columns)}

    def key(error: tuple[str, str]) -> tuple[int, int]:
        match = _FIELD_RE.match(error[0])
        if match is None:
            return (0, 0)
        column = match.group(2)
        return (int(match.group(1)), position.get(column, -1) if column else -1)

    return sorted(out, key=key)


@dataclass
class Table:
    """A CSV file read as rows of cells keyed by column, with spreadsheet row numbers, and the
    problems found in its cells so far (formulas, over-long cells, rows of the wrong shape)."""

    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]
    errors: Errors


def decode(data: bytes) -> str:
    """The text of an uploaded file: UTF-8, with or without a byte-order mark; nothing else."""
    if len(data) > MAX_BYTES:
        raise InvalidInput.single(
            "file",
            f"is {len(data):,} bytes; the limit is {MAX_BYTES:,} bytes (2 MB): split it into "
            "smaller files",
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InvalidInput.single("file", NOT_UTF8)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput.single("file", NOT_UTF8) from None
    if "\x00" in text:  # UTF-16 without a byte-order mark, or a binary file
        raise InvalidInput.single("file", NOT_UTF8)
    return text


def not_a_column(name: str) -> str:
    """Why a header name that no column of the file has is unknown (the default)."""
    return "is not a column of this file"


def read_table(
    data: bytes,
    expected: Sequence[str],
    *,
    optional: Collection[str] = (),
    any_of: Sequence[str] = (),
    any_of_rule: str = "",
    unknown: Callable[[str], str] = not_a_column,
) -> Table:
    """Decode and split a file, checking its size and its header against ``expected``.

    Every expected column must be in the header except the ``optional`` ones and those of
    ``any_of``, of which at least one must be (``any_of_rule`` says so when none is). A header
    name not expected is refused with ``unknown(name)`` as the reason. Raises InvalidInput on a
    problem with the file as a whole or its header. Problems in cells (formulas, over-long
    cells) and rows of the wrong shape are returned in ``Table.errors`` so the caller goes on
    checking every row."""
    reader, header = _open(data)
    _check_header(header, expected, optional, any_of, any_of_rule, unknown)
    rows, errors = _read_rows(reader, header)
    if not rows and not errors:
        raise InvalidInput.single("file", "has only a header row: add a row of data below it")
    return Table(header, rows, errors)


def _open(data: bytes) -> tuple[Iterator[list[str]], list[str]]:
    """The file's rows, the header read off them."""
    text = decode(data)
    if not text.strip():
        raise InvalidInput.single(
            "file", "is empty: it needs a header row (download the template) and data rows"
        )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error as exc:
        raise InvalidInput.single(where(1), f"cannot be read as CSV ({exc})") from None
    if len(header) == 1 and ";" in header[0]:
        raise InvalidInput.single(
            where(1),
            "the columns are separated by ; not by commas: save the file as CSV UTF-8 "
            "(comma delimited)",
        )
    return reader, header


def _check_header(
    header: Sequence[str],
    expected: Sequence[str],
    optional: Collection[str],
    any_of: Sequence[str],
    any_of_rule: str,
    unknown: Callable[[str], str],
) -> None:
    """Raise InvalidInput naming every column twice, unknown or missing, in that order."""
    errors: Errors = []
    seen: set[str] = set()
    for name in header:
        if not name:
            continue
        if name in seen:
            errors.append((where(1, _shown(name)), "appears twice in the header"))
        elif name not in expected:
            rule = f"unknown column: {unknown(name)} (see the template)"
            errors.append((where(1, _shown(name)), rule))
        seen.add(name)
    for name in expected:
        if name not in seen and name not in optional and name not in any_of:
            errors.append((where(1, name), "missing column: the header must include it"))
    if any_of and not seen.intersection(any_of):
        errors.append((where(1, any_of[0]), any_of_rule))
    if errors:
        raise InvalidInput(errors)


def _shown(name: str) -> str:
    return name if len(name) <= 40 else name[:37] + "..."


def _read_rows(
    reader: Iterator[list[str]], header: list[str]
) -> tuple[list[tuple[int, dict[str, str]]], Errors]:
    """The data rows (numbered as a spreadsheet numbers them; blank lines skipped) and the
    problems of their cells."""
    errors: Errors = []
    rows: list[tuple[int, dict[str, str]]] = []
    number = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            message = str(exc)
            if "field larger than field limit" in message:
                message = f"a cell is longer than the limit of {MAX_CELL:,} characters"
            problem = (where(number + 1), f"cannot be read as CSV: {message}")
            raise InvalidInput([*errors, problem]) from None
        number += 1
        if not any(c.strip() for c in cells):
            continue  # a blank line
        if len(rows) >= MAX_ROWS:
            raise InvalidInput.single(
                "file", f"has more than {MAX_ROWS:,} data rows: split it into smaller files"
            )
        if any(c.strip() for c in cells[len(header) :]):
            errors.append(
                (
                    where(number),
                    f"has {len(cells)} cells but the header has {len(header)} columns "
                    "(a comma inside a value needs the value in double quotes)",
                )
            )
            continue
        rows.append((number, _row_cells(number, header, cells, errors)))
    return rows, errors


def _row_cells(number: int, header: list[str], cells: list[str], errors: Errors) -> dict[str, str]:
    """A row's cells by column, trimmed; a cell too long or like a formula is reported in
    ``errors`` and read as empty."""
    row: dict[str, str] = {}
    for name, cell in zip(header, cells, strict=False):
        if not name:
            if cell.strip():
                errors.append((where(number), "has a value under a column with no name"))
            continue
        if len(cell) > MAX_CELL:
            errors.append(
                (
                    where(number, name),
                    f"is {len(cell):,} characters long; the limit is {MAX_CELL:,}",
                )
            )
            cell = ""
        elif cell.strip() and looks_like_formula(cell):
            lead = cell.lstrip(" ")[:1]
            shown = {"\t": "tab", "\r": "carriage return"}.get(lead, lead)
            errors.append(
                (
                    where(number, name),
                    f"looks like a spreadsheet formula; remove the leading {shown}",
                )
            )
            cell = ""
        row[name] = cell.strip()
    return row
