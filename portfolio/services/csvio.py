"""CSV import and export of candidates and council scores.

Imports are all or nothing: every row is checked first and every problem is reported as a
(field, rule) pair whose field reads like ``row 3, column p_success`` (rows numbered as a
spreadsheet shows them: the header is row 1). Only when no row has a problem does the import
change anything, through the same services the forms use (so every change is audited), in the
caller's unit of work; the caller commits.

Files must be UTF-8 (a byte-order mark is accepted): other encodings are refused rather than
guessed. A cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return, and not a plain number) is refused on import and neutralised on
export.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput, rule_in_words
from portfolio.domain.model import (
    Candidate,
    Confidence,
    FundingOption,
    Score,
    ScoreStatus,
    ScoringState,
    ThreePoint,
)
from portfolio.services import council
from portfolio.services import missions as services

MAX_BYTES = 2_000_000
"""Largest file accepted, in bytes (2 MB)."""
MAX_ROWS = 5_000
"""Most data rows accepted (the header not counted)."""
MAX_CELL = 10_000
"""Longest cell accepted, in characters (a description's limit)."""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
NOT_UTF8 = "the file is not UTF-8 text: save it as CSV UTF-8"
TRUE_WORDS = frozenset({"yes", "true", "1"})
FALSE_WORDS = frozenset({"no", "false", "0", ""})

# -- columns ------------------------------------------------------------------------------------
CANDIDATE_COLUMNS = [
    "candidate_id",
    "name",
    "organisation",
    "organisation_type",
    "platform",
    "tier",
    "trl",
    "eligible_envelopes",
    "ncr",
    "commercially_sensitive",
    "description",
]
"""The candidate's own columns, repeated (identically) on each row of its funding options."""
OPTION_COLUMNS = ["option_id", "option_name", "p_success"]
RANGE_COLUMNS = [
    "cost_low",
    "cost_most_likely",
    "cost_high",
    "impact_low",
    "impact_most_likely",
    "impact_high",
]
SCORE_COLUMNS = [
    "member",
    "candidate",
    "option",
    "not_competent",
    "p_success",
    "cost_low",
    "cost_most_likely",
    "cost_high",
    "impact_low",
    "impact_most_likely",
    "impact_high",
    "trl",
    "confidence",
    "rationale",
    "status",
]
COST_PREFIX = "cost_"


def year_column(year: str) -> str:
    """The column of a mission year's planned spend, e.g. ``cost_2026-27``."""
    return f"{COST_PREFIX}{year}"


def candidate_columns(years: Sequence[str]) -> list[str]:
    """Every column of a candidates file for a mission with these financial years, in order."""
    return [
        *CANDIDATE_COLUMNS,
        *OPTION_COLUMNS,
        *(year_column(y) for y in years),
        *RANGE_COLUMNS,
    ]


COLUMN_DOCS: dict[str, str] = {
    "candidate_id": "The candidate's id: lower-case letters, digits and hyphens (e.g. lh2-tank). "
    "An id the mission already has updates that candidate; a new id registers one.",
    "name": "The candidate's name (1-200 characters).",
    "organisation": "The organisation proposing it (1-200 characters).",
    "organisation_type": "incumbent or rising_star.",
    "platform": "The technology platform it belongs to, as an id (e.g. e-saf).",
    "tier": "conventional or moonshot.",
    "trl": "Technology readiness level today: a whole number from 1 to 9.",
    "eligible_envelopes": "Ids of the funding envelopes that may pay for it, separated by ; "
    "(e.g. sbc;ukri).",
    "ncr": "Novel, contentious or repercussive spending: yes or no (empty means no).",
    "commercially_sensitive": "yes or no (empty means no).",
    "description": "What it is (up to 10,000 characters; may be empty).",
    "option_id": "The funding option's id, unique within the candidate (e.g. demonstrate). "
    "One row per option; a candidate has 1 to 5 options.",
    "option_name": "The option's name (1-200 characters).",
    "p_success": "Probability the option succeeds: a decimal from 0.01 to 0.99 (e.g. 0.35), "
    "not a percentage.",
    "cost_<YEAR>": "Planned spend in that financial year of the mission, £ million (one column "
    "per mission year, e.g. cost_2026-27); empty means nothing that year, at least one is needed.",
    "cost_low": "Three-point total cost, £ million: low. Give all three cost_ columns or none.",
    "cost_most_likely": "Three-point total cost, £ million: most likely "
    "(low <= most likely <= high).",
    "cost_high": "Three-point total cost, £ million: high.",
    "impact_low": "Three-point impact in the mission's unit once it succeeds: low (required).",
    "impact_most_likely": "Three-point impact: most likely (required; low <= most likely <= high).",
    "impact_high": "Three-point impact: high (required).",
    "member": "Scores file: the council member's username; empty means you. Only the Mission "
    "CEO may import other members' scores, and only as drafts: each member reviews and submits "
    "their own.",
    "candidate": "Scores file: the candidate's id.",
    "option": "Scores file: the funding option's id. To submit, give a row for every option of "
    "the candidate.",
    "not_competent": "Scores file: yes to declare yourself not competent to score the candidate "
    "(leave the estimates empty; use the same value on each of its rows).",
    "confidence": "Scores file: low, medium or high.",
    "rationale": "Scores file: why (up to 10,000 characters).",
    "status": "Scores file: draft (can be changed later; the default) or submitted (final; "
    "only your own scores). The same on each row of a candidate.",
}
"""Column -> one-line description, for the import page's table (``cost_<YEAR>`` stands for
the mission's year columns; ``trl``, ``p_success`` and the three-point columns mean the same in
both files)."""


# -- export -------------------------------------------------------------------------------------
def is_plain_number(value: str) -> bool:
    return bool(NUMBER_RE.match(value))


def looks_like_formula(value: str) -> bool:
    """Would a spreadsheet treat ``value`` as a formula (or could it, once trimmed)?"""
    for text in (value, value.lstrip(" ")):
        if text.startswith(FORMULA_PREFIXES) and not is_plain_number(text.strip()):
            return True
    return False


def neutralise(value: str) -> str:
    """``value`` made safe for a spreadsheet: a leading ' when it could run as a formula."""
    return "'" + value if looks_like_formula(value) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) >= 1e15 else str(int(value))
    if isinstance(value, list | tuple | set | frozenset):
        return ";".join(_cell(v) for v in value)
    return str(value)  # numbers, text and StrEnum members (their value)


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, bom: bool = False) -> str:
    """``rows`` as CSV text with a header of ``columns`` (missing keys are empty cells), every
    cell neutralised. ``bom=True`` starts with a byte-order mark so Excel reads it as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in columns])
    for row in rows:
        writer.writerow([neutralise(_cell(row.get(c))) for c in columns])
    return ("\ufeff" if bom else "") + out.getvalue()


def candidate_rows(candidate: Candidate, years: Sequence[str]) -> list[dict[str, Any]]:
    """A candidate as rows of the candidates file, one per funding option."""
    own = {
        "candidate_id": candidate.id,
        "name": candidate.name,
        "organisation": candidate.organisation,
        "organisation_type": candidate.organisation_type,
        "platform": candidate.platform,
        "tier": candidate.tier,
        "trl": candidate.trl,
        "eligible_envelopes": candidate.eligible_envelopes,
        "ncr": candidate.ncr,
        "commercially_sensitive": candidate.commercially_sensitive,
        "description": candidate.description,
    }
    rows = []
    for option in candidate.options:
        row = dict(own, option_id=option.id, option_name=option.name, p_success=option.p_success)
        for year in years:
            row[year_column(year)] = option.cost_profile.get(year)
        for kind, three in (("cost", option.cost_range), ("impact", option.impact)):
            for part in ("low", "most_likely", "high"):
                row[f"{kind}_{part}"] = getattr(three, part) if three else None
        rows.append(row)
    return rows


def candidates_to_csv(candidates: Iterable[Candidate], years: Sequence[str]) -> str:
    """Candidates in the import format (what is downloaded can be edited and imported again)."""
    rows = [row for c in candidates for row in candidate_rows(c, years)]
    return to_csv(rows, candidate_columns(years))


def _example_candidate(years: Sequence[str]) -> Candidate:
    first, rest = years[0], list(years[1:])

    def profile(total: float) -> dict[str, float]:
        if not rest:
            return {first: total}
        return {first: round(total * 0.4, 2), rest[0]: round(total * 0.6, 2)}

    return Candidate(
        id="solar-kerosene",
        name="Solar-thermal kerosene pilot",
        description="Example row: replace with your own candidates.",
        organisation="Example Fuels Ltd",
        organisation_type="rising_star",
        platform="e-saf",
        tier="moonshot",
        trl=4,
        eligible_envelopes=["sbc", "ukri"],
        options=[
            FundingOption(
                id="explore",
                name="Explore: reactor bench tests",
                cost_profile=profile(6.0),
                cost_range=ThreePoint(low=5.5, most_likely=6.0, high=9.0),
                p_success=0.45,
                impact=ThreePoint(low=0.05, most_likely=0.1, high=0.2),
            ),
            FundingOption(
                id="demonstrate",
                name="Demonstrate: 1 t/day pilot plant",
                cost_profile=profile(30.0),
                cost_range=None,
                p_success=0.25,
                impact=ThreePoint(low=0.3, most_likely=0.8, high=1.5),
            ),
        ],
    )


def candidates_template(years: Sequence[str]) -> str:
    """The downloadable candidates template of a mission with these years: the header and two
    example rows (one candidate with two funding options)."""
    if not years:
        raise ValueError("a mission has at least one year")
    return candidates_to_csv([_example_candidate(years)], years)


def scores_template() -> str:
    """The downloadable scores template: the header and two example rows."""
    rows = [
        {
            "candidate": "lh2-tank",
            "option": option,
            "not_competent": "no",
            "p_success": p,
            "cost_low": low,
            "cost_most_likely": ml,
            "cost_high": high,
            "impact_low": i_low,
            "impact_most_likely": i_ml,
            "impact_high": i_high,
            "trl": 4,
            "confidence": "medium",
            "rationale": rationale,
            "status": "draft",
        }
        for option, p, low, ml, high, i_low, i_ml, i_high, rationale in (
            ("explore", 0.4, 6, 7, 10, 0.1, 0.15, 0.25, "Cryogenic cycling data look sound."),
            ("demonstrate", 0.25, 22, 25, 40, 0.3, 0.6, 1.0, "Full-scale test is a big step."),
        )
    ]
    return to_csv(rows, SCORE_COLUMNS)


EXAMPLE_YEARS = ["2026-27", "2027-28", "2028-29", "2029-30"]
TEMPLATES: dict[str, str] = {
    "candidates": candidates_template(EXAMPLE_YEARS),
    "scores": scores_template(),
}
"""Template texts. ``candidates`` is for a mission of EXAMPLE_YEARS; a mission's own template
is ``candidates_template(mission.years)``."""


# -- reading ------------------------------------------------------------------------------------
def where(row: int, column: str | None = None) -> str:
    """The field of an error: ``row 3, column p_success`` (or ``row 3``)."""
    return f"row {row}" if column is None else f"row {row}, column {column}"


def _columns_field(row: int, columns: Sequence[str]) -> str:
    return f"row {row}, columns {', '.join(columns)}"


Errors = list[tuple[str, str]]


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


def read_table(data: bytes, expected: Sequence[str], *, year_columns: bool = False) -> Table:
    """Decode and split a file, checking its size and its header against ``expected`` (with
    ``year_columns``, the cost columns of the mission's years are optional, a missing one meaning
    nothing planned that year, so a file made before the mission gained or ended a year still
    reads, but at least one must be there): raises
    InvalidInput on a problem with the file as a whole or its header. Problems in cells (formulas,
    over-long cells) and rows of the wrong shape are returned in ``Table.errors`` so the caller
    goes on checking every row."""
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
    errors: list[tuple[str, str]] = []
    if len(header) == 1 and ";" in header[0]:
        raise InvalidInput.single(
            where(1),
            "the columns are separated by ; not by commas: save the file as CSV UTF-8 "
            "(comma delimited)",
        )
    seen: set[str] = set()
    for name in header:
        if not name:
            continue
        if name in seen:
            errors.append((where(1, _shown(name)), "appears twice in the header"))
        elif name not in expected:
            hint = (
                "is not one of the mission's years"
                if year_columns and name.startswith(COST_PREFIX)
                else "is not a column of this file"
            )
            errors.append((where(1, _shown(name)), f"unknown column: {hint} (see the template)"))
        seen.add(name)
    costs = [n for n in expected if year_columns and n.startswith(COST_PREFIX)]
    for name in expected:
        if name not in seen and name not in costs:
            errors.append((where(1, name), "missing column: the header must include it"))
    if costs and not seen.intersection(costs):
        errors.append(
            (
                where(1, costs[0]),
                "missing column: the header must include the cost of at least one of the "
                f"mission's years ({', '.join(costs)})",
            )
        )
    if errors:
        raise InvalidInput(errors)
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
        extra = [c for c in cells[len(header) :] if c.strip()]
        if extra:
            errors.append(
                (
                    where(number),
                    f"has {len(cells)} cells but the header has {len(header)} columns "
                    "(a comma inside a value needs the value in double quotes)",
                )
            )
            continue
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
        rows.append((number, row))
    if not rows and not errors:
        raise InvalidInput.single("file", "has only a header row: add a row of data below it")
    return Table(header, rows, errors)


def _shown(name: str) -> str:
    return name if len(name) <= 40 else name[:37] + "..."


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


# -- cell parsers (each returns the value, or appends an error and returns None) -----------------


def _number(cells: Mapping[str, str], column: str, row: int, errors: Errors) -> float | None:
    text = cells.get(column, "")
    if not text:
        return None
    if not is_plain_number(text):
        errors.append((where(row, column), "must be a number such as 12.5 (no units, commas or %)"))
        return None
    number = float(text)
    if not math.isfinite(number):  # 1e400 is written like a number but is beyond any
        errors.append((where(row, column), "must be a finite number"))
        return None
    return number


def _whole(cells: Mapping[str, str], column: str, row: int, errors: Errors) -> int | None:
    number = _number(cells, column, row, errors)
    if number is None:
        return None
    if number != int(number):
        errors.append((where(row, column), "must be a whole number"))
        return None
    return int(number)


def _flag(cells: Mapping[str, str], column: str, row: int, errors: Errors) -> bool | None:
    text = cells.get(column, "").lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    errors.append((where(row, column), "must be yes or no (or true/false, 1/0; empty means no)"))
    return None


def _three_point(
    cells: Mapping[str, str], kind: str, row: int, errors: Errors, *, required: bool
) -> dict[str, float] | None:
    """The three cells ``kind``_low/_most_likely/_high: all or none (all when required)."""
    columns = [f"{kind}_{p}" for p in ("low", "most_likely", "high")]
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
    values = [_number(cells, c, row, errors) for c in columns]
    if len(errors) > before:
        return None
    parts = zip(("low", "most_likely", "high"), values, strict=True)
    return {part: value for part, value in parts if value is not None}


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


def _map_errors(
    exc: ValidationError, row: int, column_of: Callable[[list[str]], str | list[str]]
) -> Errors:
    """pydantic's errors, with each location turned into the row and column it came from."""
    out: Errors = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        message = _friendly(err)
        head, sep, rest = message.partition(": ")
        if sep and re.match(r"^[a-z_][a-z0-9_]*$", head):
            loc, message = [*loc, head], rest
        column = column_of(loc)
        field = where(row, column) if isinstance(column, str) else _columns_field(row, column)
        out.append((field, message))
    return out


def _three_columns(kind: str, loc: list[str]) -> str | list[str]:
    if len(loc) > 1 and loc[1] in ("low", "most_likely", "high"):
        return f"{kind}_{loc[1]}"
    return [f"{kind}_low", f"{kind}_most_likely", f"{kind}_high"]


# -- candidates ---------------------------------------------------------------------------------
def _candidate_column(loc: list[str]) -> str | list[str]:
    head = loc[0] if loc else "id"
    return head if head in CANDIDATE_COLUMNS[1:] else "candidate_id"


def _option_column(years: Sequence[str]) -> Callable[[list[str]], str | list[str]]:
    def column(loc: list[str]) -> str | list[str]:
        head = loc[0] if loc else "option_id"
        if head == "id":
            return "option_id"
        if head == "name":
            return "option_name"
        if head == "cost_profile":
            return year_column(loc[1] if len(loc) > 1 and loc[1] in years else years[0])
        if head == "cost_range":
            return _three_columns("cost", loc)
        if head == "impact":
            return _three_columns("impact", loc)
        return head

    return column


@dataclass
class _CandidateRows:
    first_row: int
    own: dict[str, Any]
    options: list[tuple[int, FundingOption | None, str]]  # row, option (None if invalid), id


def _candidate_fields(cells: Mapping[str, str], row: int, errors: Errors) -> dict[str, Any]:
    """The candidate's own cells of a row, keyed by column (None where a cell did not parse)."""
    envelopes = [e.strip() for e in cells.get("eligible_envelopes", "").split(";") if e.strip()]
    return {
        "candidate_id": cells.get("candidate_id", ""),
        "name": cells.get("name", ""),
        "organisation": cells.get("organisation", ""),
        "organisation_type": cells.get("organisation_type", "").lower(),
        "platform": cells.get("platform", ""),
        "tier": cells.get("tier", "").lower(),
        "trl": _whole(cells, "trl", row, errors),
        "eligible_envelopes": envelopes,
        "ncr": _flag(cells, "ncr", row, errors),
        "commercially_sensitive": _flag(cells, "commercially_sensitive", row, errors),
        "description": cells.get("description", ""),
    }


def _parse_candidates(
    data: bytes, years: Sequence[str], envelope_ids: set[str]
) -> tuple[list[tuple[Candidate, _CandidateRows]], Errors]:
    table = read_table(data, candidate_columns(years), year_columns=True)
    errors = list(table.errors)
    option_column = _option_column(years)
    groups: dict[str, _CandidateRows] = {}
    for row, cells in table.rows:
        before = len(errors)
        own = _candidate_fields(cells, row, errors)
        key = own["candidate_id"]
        if not key:
            errors.append((where(row, "candidate_id"), "required"))
            continue
        profile: dict[str, float] = {}
        for year in years:
            amount = _number(cells, year_column(year), row, errors)
            if amount is not None:
                profile[year] = amount
        option_id = cells.get("option_id", "")
        option_data: dict[str, Any] = {
            "id": option_id,
            "name": cells.get("option_name", ""),
            "p_success": _number(cells, "p_success", row, errors),
            "cost_profile": profile,
            "cost_range": _three_point(cells, "cost", row, errors, required=False),
            "impact": _three_point(cells, "impact", row, errors, required=True),
        }
        if option_data["p_success"] is None and not cells.get("p_success"):
            errors.append((where(row, "p_success"), "required"))
        if not profile and not any(cells.get(year_column(y)) for y in years):
            errors.append(
                (
                    where(row, year_column(years[0])),
                    "give the planned spend of at least one year (£ million)",
                )
            )
        option: FundingOption | None = None
        if len(errors) == before:
            try:
                option = FundingOption.model_validate(option_data)
            except ValidationError as exc:
                errors.extend(_map_errors(exc, row, option_column))
        else:
            # still check the cells that parsed, so every problem of the row is reported
            checkable = {k: v for k, v in option_data.items() if v is not None}
            try:
                FundingOption.model_validate(checkable)
            except ValidationError as exc:
                errors.extend(
                    e for e in _map_errors(exc, row, option_column) if e[1] != "is required"
                )
        group = groups.get(key)
        if group is None:
            groups[key] = _CandidateRows(row, own, [(row, option, option_id)])
            continue
        for column in CANDIDATE_COLUMNS[1:]:
            if own[column] is not None and own[column] != group.own[column]:
                errors.append(
                    (
                        where(row, column),
                        f"differs from row {group.first_row} of candidate {key}: a candidate's "
                        "columns must be the same on each of its rows",
                    )
                )
        ids = [oid for _, _, oid in group.options]
        if option_id and option_id in ids:
            twin = group.options[ids.index(option_id)][0]
            errors.append(
                (
                    where(row, "option_id"),
                    f"option {option_id} of {key} is already on row {twin}",
                )
            )
        elif len(group.options) >= 5:
            errors.append((where(row, "option_id"), "a candidate has at most 5 funding options"))
        group.options.append((row, option, option_id))
    out: list[tuple[Candidate, _CandidateRows]] = []
    for group in groups.values():
        row = group.first_row
        for envelope in group.own["eligible_envelopes"]:
            if envelope not in envelope_ids:
                known = ", ".join(sorted(envelope_ids)) or "none"
                errors.append(
                    (
                        where(row, "eligible_envelopes"),
                        f"{envelope} is not an envelope of this mission (its envelopes: {known})",
                    )
                )
        options = [o for _, o, _ in group.options if o is not None]
        unique: list[FundingOption] = []
        for valid in options:
            if valid.id not in {u.id for u in unique} and len(unique) < 5:
                unique.append(valid)
        # when every option row failed, validate the candidate's own columns against a stand-in
        # option so their errors are still reported (nothing is stored from it)
        stand_in = [
            FundingOption(
                id="stand-in",
                name="stand-in",
                cost_profile={years[0]: 0.0},
                p_success=0.5,
                impact=ThreePoint(low=0, most_likely=0, high=0),
            )
        ]
        fields = {
            ("id" if column == "candidate_id" else column): value
            for column, value in group.own.items()
            if value is not None
        }
        try:
            candidate = Candidate.model_validate({**fields, "options": unique or stand_in})
        except ValidationError as exc:
            errors.extend(_map_errors(exc, row, _candidate_column))
            continue
        if len(options) == len(group.options):
            out.append((candidate, group))
    return out, first_per_cell(errors, table.columns)


def parse_candidates_csv(data: bytes, years: list[str], envelope_ids: set[str]) -> list[Candidate]:
    """The candidates of a candidates file (one row per funding option), in file order.

    Raises InvalidInput with every problem as (``row R, column C``, rule)."""
    parsed, errors = _parse_candidates(data, years, envelope_ids)
    if errors:
        raise InvalidInput(errors)
    return [candidate for candidate, _ in parsed]


@dataclass(frozen=True)
class ImportSummary:
    """What an import did. For candidates: candidates created/updated; for scores: option scores
    created/updated, of which ``submitted`` were submitted."""

    kind: str
    rows: int
    created: int
    updated: int
    submitted: int = 0

    @property
    def message(self) -> str:
        if self.kind == "candidates":
            return (
                f"Imported {self.rows} rows: {self.created} candidates created, "
                f"{self.updated} updated."
            )
        return (
            f"Imported {self.rows} rows: {self.created} scores created, {self.updated} updated "
            f"({self.submitted} submitted)."
        )


def import_candidates(uow: SqlUnitOfWork, actor: str, slug: str, data: bytes) -> ImportSummary:
    """Register the file's new candidates and update those the mission has, in ``uow`` (the
    caller commits). Every row is checked first; on any problem InvalidInput lists them all and
    nothing has been changed."""
    mission = uow.missions.get(slug)
    parsed, errors = _parse_candidates(data, list(mission.years), {e.id for e in mission.envelopes})
    existing = {c.id: c for c in uow.candidates.all(slug)} if parsed else {}
    scored = (
        {(s.candidate, s.option) for s in uow.scores.all(slug)}
        if any(c.id in existing for c, _ in parsed)
        else set()
    )
    for candidate, group in parsed:
        before = existing.get(candidate.id)
        if before is None:
            continue
        kept = {o.id for o in candidate.options}
        for option in before.options:
            if option.id not in kept and (candidate.id, option.id) in scored:
                errors.append(
                    (
                        where(group.first_row, "option_id"),
                        f"option {option.id} of {candidate.id} has council scores and cannot be "
                        "removed: keep a row for it",
                    )
                )
    if errors:
        raise InvalidInput(first_per_cell(errors, candidate_columns(mission.years)))
    created = updated = 0
    for candidate, _ in parsed:
        before = existing.get(candidate.id)
        if before is None:
            services.register_candidate(uow, actor, slug, candidate)
            created += 1
        else:
            same_approval = candidate.with_changes(treasury_approved=before.treasury_approved)
            services.update_candidate(uow, actor, slug, same_approval)
            updated += 1
    uow.flush()
    rows = sum(len(c.options) for c, _ in parsed)
    return ImportSummary("candidates", rows, created, updated)


# -- scores -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreRow:
    """One row of a scores file, checked on its own (``member`` None means the importer)."""

    row: int
    member: str | None
    candidate: str
    option: str
    status: ScoreStatus
    not_competent: bool
    p_success: float | None = None
    cost: ThreePoint | None = None
    impact: ThreePoint | None = None
    trl: int | None = None
    confidence: Confidence | None = None
    rationale: str = ""

    def to_score(self, member: str, quarter: str) -> Score:
        return Score(
            member=member,
            quarter=quarter,
            candidate=self.candidate,
            option=self.option,
            status=self.status,
            not_competent=self.not_competent,
            p_success=self.p_success,
            cost=self.cost,
            impact=self.impact,
            trl=self.trl,
            confidence=self.confidence,
            rationale=self.rationale,
        )


_ESTIMATES = ("p_success", "cost", "impact", "trl", "confidence")


def _score_column(loc: list[str]) -> str | list[str]:
    head = loc[0] if loc else "candidate"
    if head in ("cost", "impact"):
        return _three_columns(head, loc)
    return head if head in SCORE_COLUMNS else "candidate"


def parse_scores_csv(data: bytes) -> list[ScoreRow]:
    """The rows of a scores file, each checked on its own (members, candidates, the round and
    the grouping rules are checked by ``import_scores``). Raises InvalidInput with every
    problem as (``row R, column C``, rule)."""
    rows, errors = _parse_scores(data)
    if errors:
        raise InvalidInput(errors)
    return rows


def _parse_scores(data: bytes) -> tuple[list[ScoreRow], Errors]:
    table = read_table(data, SCORE_COLUMNS)
    errors = list(table.errors)
    out: list[ScoreRow] = []
    for row, cells in table.rows:
        before = len(errors)
        status_text = cells.get("status", "").lower() or "draft"
        if status_text not in ("draft", "submitted"):
            errors.append((where(row, "status"), "must be draft or submitted (empty means draft)"))
        not_competent = _flag(cells, "not_competent", row, errors)
        confidence_text = cells.get("confidence", "").lower()
        if confidence_text and confidence_text not in {c.value for c in Confidence}:
            errors.append((where(row, "confidence"), "must be low, medium or high"))
            confidence_text = ""
        values: dict[str, Any] = {
            "p_success": _number(cells, "p_success", row, errors),
            "cost": _three_point(cells, "cost", row, errors, required=False),
            "impact": _three_point(cells, "impact", row, errors, required=False),
            "trl": _whole(cells, "trl", row, errors),
            "confidence": confidence_text or None,
        }
        for column in ("candidate", "option"):
            if not cells.get(column):
                errors.append((where(row, column), "required"))
        if not_competent:
            for column in (
                "p_success",
                *(c for c in RANGE_COLUMNS),
                "trl",
                "confidence",
            ):
                if cells.get(column):
                    errors.append(
                        (where(row, column), "leave the estimates empty when not_competent is yes")
                    )
        elif status_text == "submitted":
            for field in _ESTIMATES:
                if values[field] is None:
                    columns = (
                        [f"{field}_low", f"{field}_most_likely", f"{field}_high"]
                        if field in ("cost", "impact")
                        else [field]
                    )
                    if all(not cells.get(c) for c in columns):
                        errors.append(
                            (
                                where(row, columns[0])
                                if len(columns) == 1
                                else _columns_field(row, columns),
                                "required to submit a score",
                            )
                        )
        member = cells.get("member", "")
        data_: dict[str, Any] = {
            # stand-ins let the value columns be validated even when the keys are missing
            # (those are reported separately); this Score is only used for its errors
            "member": member or "stand-in",
            "quarter": "2000-01 Q1",
            "candidate": cells.get("candidate") or "stand-in",
            "option": cells.get("option") or "stand-in",
            "status": "draft",
            "not_competent": bool(not_competent),
            "rationale": cells.get("rationale", ""),
            **{k: v for k, v in values.items() if v is not None and not not_competent},
        }
        try:
            score = Score.model_validate(data_)
        except ValidationError as exc:
            errors.extend(_map_errors(exc, row, _score_column))
            continue
        if len(errors) > before:
            continue
        out.append(
            ScoreRow(
                row=row,
                member=member or None,
                candidate=score.candidate,
                option=score.option,
                status=ScoreStatus(status_text),
                not_competent=bool(not_competent),
                p_success=score.p_success,
                cost=score.cost,
                impact=score.impact,
                trl=score.trl,
                confidence=score.confidence,
                rationale=score.rationale,
            )
        )
    return out, first_per_cell(errors, table.columns)


def import_scores(
    uow: SqlUnitOfWork,
    actor: str,
    slug: str,
    data: bytes,
    *,
    may_import_for_others: bool,
) -> ImportSummary:
    """Save the file's scores in the open scoring round of the mission's current quarter, in
    ``uow`` (the caller commits). Rows are grouped per (member, candidate) and saved like the
    scoring form does (drafts, or submitted, final). Every row is checked first; on any problem
    InvalidInput lists them all and nothing has been changed. Without ``may_import_for_others``
    the member column must be empty or ``actor``. Raises Conflict when no round is open.

    Scores for someone else (the Mission CEO, ``may_import_for_others``) are imported as that
    member's *drafts* only: a member's score is the member's own judgement, so the member
    reviews, changes and submits them on the scoring page; a row marking another member's
    scores ``submitted`` is refused. Each such draft's audit entry names ``actor`` as the actor
    ("imported on behalf", ``on_behalf_of`` the member); a member's own rows are audited as the
    scoring form audits them."""
    quarter = council.current_quarter(uow, slug)
    if council.round_state(uow, slug, quarter) is not ScoringState.open:
        raise Conflict(f"the scoring round of {quarter} is not open: scores cannot be imported")
    rows, errors = _parse_scores(data)
    sectors = council.sectors_of(uow, slug)
    candidates = {c.id: c for c in uow.candidates.all(slug)}
    existing = {
        (s.member, s.candidate, s.option): s for s in uow.scores.all(slug) if s.quarter == quarter
    }
    groups: dict[tuple[str, str], list[ScoreRow]] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for r in rows:
        member = r.member or actor
        ok = True
        if member != actor and not may_import_for_others:
            errors.append(
                (
                    where(r.row, "member"),
                    f"you may import only your own scores: leave member empty or write {actor}",
                )
            )
            ok = False
        elif member != actor and r.status is ScoreStatus.submitted:
            errors.append(
                (
                    where(r.row, "status"),
                    f"only {member} can submit {member}'s scores: import them as draft "
                    f"(leave status empty) and {member} submits them on the scoring page",
                )
            )
            ok = False
        elif member not in sectors:
            errors.append(
                (where(r.row, "member"), f"{member} is not on this mission's Expert Council")
            )
            ok = False
        candidate = candidates.get(r.candidate)
        if candidate is None:
            errors.append(
                (where(r.row, "candidate"), f"the mission has no candidate {r.candidate}")
            )
            ok = False
        elif r.option not in {o.id for o in candidate.options}:
            known = ", ".join(o.id for o in candidate.options)
            errors.append(
                (
                    where(r.row, "option"),
                    f"{r.option} is not an option of {r.candidate} (its options: {known})",
                )
            )
            ok = False
        if not ok:
            continue
        key = (member, r.candidate, r.option)
        if key in seen:
            errors.append(
                (
                    where(r.row, "option"),
                    f"{member}'s score of {r.candidate} / {r.option} is already on row {seen[key]}",
                )
            )
            continue
        seen[key] = r.row
        groups.setdefault((member, r.candidate), []).append(r)
    for (member, candidate_id), group in groups.items():
        first = group[0]
        candidate = candidates[candidate_id]
        if any(
            s.status is ScoreStatus.submitted
            for (m, c, _), s in existing.items()
            if m == member and c == candidate_id
        ):
            errors.append(
                (
                    where(first.row, "candidate"),
                    f"{member} has already submitted scores for {candidate_id} in {quarter}; "
                    "submitted scores are final",
                )
            )
            continue
        for r in group[1:]:
            if r.status is not first.status:
                errors.append(
                    (
                        where(r.row, "status"),
                        f"differs from row {first.row}: the rows of one member's scores of "
                        f"{candidate_id} must all be draft or all submitted",
                    )
                )
            if r.not_competent is not first.not_competent:
                errors.append(
                    (
                        where(r.row, "not_competent"),
                        f"differs from row {first.row}: not_competent applies to the whole "
                        f"candidate {candidate_id}",
                    )
                )
        if first.status is ScoreStatus.submitted and not first.not_competent:
            given = {r.option for r in group}
            missing = [o.id for o in candidate.options if o.id not in given]
            if missing:
                errors.append(
                    (
                        where(first.row, "option"),
                        f"to submit scores for {candidate_id}, give a row for each of its "
                        f"options (missing: {', '.join(missing)})",
                    )
                )
    if errors:
        raise InvalidInput(first_per_cell(errors, SCORE_COLUMNS))
    created = updated = submitted = 0
    for (member, candidate_id), group in groups.items():
        first = group[0]
        submit = first.status is ScoreStatus.submitted
        entries = {r.option: r.to_score(member, quarter) for r in group}
        if not submit:  # keep the member's draft values of the options the file leaves out
            for (m, c, option), score in existing.items():
                if m == member and c == candidate_id and option not in entries:
                    entries[option] = score
        try:
            council.save_scores(
                uow,
                member,
                slug,
                candidate_id,
                list(entries.values()),
                submit=submit,
                not_competent=first.not_competent,
                imported_by=actor,
            )
        except InvalidInput as exc:
            raise InvalidInput(
                [(f"{where(first.row)}, {field}", rule) for field, rule in exc.errors]
            ) from exc
        for funding_option in candidates[candidate_id].options:
            if (member, candidate_id, funding_option.id) in existing:
                updated += 1
            else:
                created += 1
            submitted += int(submit)
    services.record(
        uow,
        actor,
        slug,
        "score_import",
        quarter,
        "imported",
        after={
            "rows": len(rows),
            "members": sorted({m for m, _ in groups}),
            "on_behalf_of": sorted({m for m, _ in groups if m != actor}),
            "candidates": sorted({c for _, c in groups}),
        },
    )
    uow.flush()
    return ImportSummary("scores", len(rows), created, updated, submitted)
