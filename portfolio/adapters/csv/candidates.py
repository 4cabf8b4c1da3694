"""The candidates file: one row per funding option, the candidate's own columns repeated
(identically) on each row of its options; its columns, its template, its export and its parser.

What is downloaded (``candidates_to_csv``) can be edited and imported again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from portfolio.adapters.csv.cells import (
    PARTS,
    ColumnOf,
    flag,
    map_errors,
    number,
    three_columns,
    three_point,
    whole,
)
from portfolio.adapters.csv.table import Errors, first_per_cell, read_table, where
from portfolio.adapters.csv.writer import to_csv
from portfolio.domain.errors import InvalidInput
from portfolio.domain.model import MAX_OPTIONS, Candidate, FundingOption, ThreePoint

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
    f"One row per option; a candidate has 1 to {MAX_OPTIONS} options.",
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
}
"""Column -> one-line description, for the import page's table (``cost_<YEAR>`` stands for
the mission's year columns)."""


def column_doc(column: str) -> str:
    """The description of a column of the file (a year's cost column by ``cost_<YEAR>``)."""
    return COLUMN_DOCS.get(column, COLUMN_DOCS["cost_<YEAR>"])


# -- export -------------------------------------------------------------------------------------
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
            for part in PARTS:
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


EXAMPLE_YEARS = ["2026-27", "2027-28", "2028-29", "2029-30"]
"""Years of an example mission, for trying the template out."""


# -- reading ------------------------------------------------------------------------------------
@dataclass
class CandidateRows:
    """The rows of one candidate in a file: its first row, its own columns as read (None where
    a cell did not read) and, per option row, (row, the option or None if invalid, option id)."""

    first_row: int
    own: dict[str, Any]
    options: list[tuple[int, FundingOption | None, str]]


def _candidate_column(loc: list[str]) -> str | list[str]:
    head = loc[0] if loc else "id"
    return head if head in CANDIDATE_COLUMNS[1:] else "candidate_id"


def _option_column(years: Sequence[str]) -> ColumnOf:
    def column(loc: list[str]) -> str | list[str]:
        head = loc[0] if loc else "option_id"
        if head == "id":
            return "option_id"
        if head == "name":
            return "option_name"
        if head == "cost_profile":
            return year_column(loc[1] if len(loc) > 1 and loc[1] in years else years[0])
        if head == "cost_range":
            return three_columns("cost", loc)
        if head == "impact":
            return three_columns("impact", loc)
        return head

    return column


def _unknown_column(name: str) -> str:
    if name.startswith(COST_PREFIX):
        return "is not one of the mission's years"
    return "is not a column of this file"


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
        "trl": whole(cells, "trl", row, errors),
        "eligible_envelopes": envelopes,
        "ncr": flag(cells, "ncr", row, errors),
        "commercially_sensitive": flag(cells, "commercially_sensitive", row, errors),
        "description": cells.get("description", ""),
    }


def _option_of_row(
    cells: Mapping[str, str], row: int, years: Sequence[str], errors: Errors, before: int
) -> FundingOption | None:
    """The funding option of a row, or None with its problems in ``errors`` (``before``: how
    many errors there were when the row began)."""
    profile: dict[str, float] = {}
    for year in years:
        amount = number(cells, year_column(year), row, errors)
        if amount is not None:
            profile[year] = amount
    option_data: dict[str, Any] = {
        "id": cells.get("option_id", ""),
        "name": cells.get("option_name", ""),
        "p_success": number(cells, "p_success", row, errors),
        "cost_profile": profile,
        "cost_range": three_point(cells, "cost", row, errors, required=False),
        "impact": three_point(cells, "impact", row, errors, required=True),
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
    option_column = _option_column(years)
    if len(errors) == before:
        try:
            return FundingOption.model_validate(option_data)
        except ValidationError as exc:
            errors.extend(map_errors(exc, row, option_column))
            return None
    # still check the cells that parsed, so every problem of the row is reported
    checkable = {k: v for k, v in option_data.items() if v is not None}
    try:
        FundingOption.model_validate(checkable)
    except ValidationError as exc:
        errors.extend(e for e in map_errors(exc, row, option_column) if e[1] != "is required")
    return None


def _add_to_group(
    group: CandidateRows,
    key: str,
    row: int,
    own: dict[str, Any],
    option: tuple[FundingOption | None, str],
    errors: Errors,
) -> None:
    """A further option row of candidate ``key``: its own columns must match the first row's,
    its option id must be new and the candidate may have at most MAX_OPTIONS options."""
    for column in CANDIDATE_COLUMNS[1:]:
        if own[column] is not None and own[column] != group.own[column]:
            errors.append(
                (
                    where(row, column),
                    f"differs from row {group.first_row} of candidate {key}: a candidate's "
                    "columns must be the same on each of its rows",
                )
            )
    option_id = option[1]
    ids = [oid for _, _, oid in group.options]
    if option_id and option_id in ids:
        twin = group.options[ids.index(option_id)][0]
        errors.append(
            (where(row, "option_id"), f"option {option_id} of {key} is already on row {twin}")
        )
    elif len(group.options) >= MAX_OPTIONS:
        errors.append(
            (where(row, "option_id"), f"a candidate has at most {MAX_OPTIONS} funding options")
        )
    group.options.append((row, *option))


def _candidate_of(
    group: CandidateRows, years: Sequence[str], envelope_ids: set[str], errors: Errors
) -> Candidate | None:
    """The candidate of a group of rows, or None (its problems in ``errors``) when it or one of
    its options does not read."""
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
        if valid.id not in {u.id for u in unique} and len(unique) < MAX_OPTIONS:
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
        errors.extend(map_errors(exc, row, _candidate_column))
        return None
    return candidate if len(options) == len(group.options) else None


def parse_candidates(
    data: bytes, years: Sequence[str], envelope_ids: set[str]
) -> tuple[list[tuple[Candidate, CandidateRows]], Errors]:
    """The candidates of a file that read, each with its rows, in file order, and every problem
    (the first per cell, by row and column): a candidate with a problem is left out."""
    columns = candidate_columns(years)
    # a year's cost column may be left out (nothing planned that year), so a file made before
    # the mission gained or ended a year still reads; at least one must be there
    costs = [c for c in columns if c.startswith(COST_PREFIX)]
    table = read_table(
        data,
        columns,
        any_of=costs,
        any_of_rule="missing column: the header must include the cost of at least one of the "
        f"mission's years ({', '.join(costs)})",
        unknown=_unknown_column,
    )
    errors = list(table.errors)
    groups: dict[str, CandidateRows] = {}
    for row, cells in table.rows:
        before = len(errors)
        own = _candidate_fields(cells, row, errors)
        key = own["candidate_id"]
        if not key:
            errors.append((where(row, "candidate_id"), "required"))
            continue
        option = (_option_of_row(cells, row, years, errors, before), cells.get("option_id", ""))
        group = groups.get(key)
        if group is None:
            groups[key] = CandidateRows(row, own, [(row, *option)])
        else:
            _add_to_group(group, key, row, own, option, errors)
    out: list[tuple[Candidate, CandidateRows]] = []
    for group in groups.values():
        candidate = _candidate_of(group, years, envelope_ids, errors)
        if candidate is not None:
            out.append((candidate, group))
    return out, first_per_cell(errors, table.columns)


def parse_candidates_csv(
    data: bytes, years: Sequence[str], envelope_ids: set[str]
) -> list[Candidate]:
    """The candidates of a candidates file (one row per funding option), in file order.

    Raises InvalidInput with every problem as (``row R, column C``, rule)."""
    parsed, errors = parse_candidates(data, years, envelope_ids)
    if errors:
        raise InvalidInput(errors)
    return [candidate for candidate, _ in parsed]
