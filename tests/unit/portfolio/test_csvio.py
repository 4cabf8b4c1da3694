"""CSV import and export: every row checked, every problem named by row and column, hostile
files (the corpus in tests/corpus/csv) refused with a clear reason, formulas neutralised."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from portfolio.adapters.csv import candidates as candidates_file
from portfolio.adapters.csv import formula, table, writer
from portfolio.adapters.csv import scores as scores_file
from portfolio.adapters.csv import spend as spend_file
from portfolio.domain.errors import InvalidInput
from portfolio.domain.model import Confidence, ScoreStatus
from portfolio.services import ledger_io

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "csv"
YEARS = ["2026-27", "2027-28", "2028-29", "2029-30"]
ENVELOPES = {"sbc", "ukri"}


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def candidate_errors(data: bytes) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        candidates_file.parse_candidates_csv(data, YEARS, ENVELOPES)
    return caught.value.errors


def score_errors(data: bytes) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        scores_file.parse_scores_csv(data)
    return caught.value.errors


def fields(errors: list[tuple[str, str]]) -> list[str]:
    return [field for field, _ in errors]


def rule_of(errors: list[tuple[str, str]], field: str) -> str:
    rules = [rule for f, rule in errors if f == field]
    assert rules, f"no error for {field} in {errors}"
    return rules[0]


def valid_row(**changes: str) -> dict[str, str]:
    row = dict(
        zip(
            candidates_file.candidate_columns(YEARS),
            next(csv.reader(io.StringIO(corpus("candidates_valid.csv").decode().splitlines()[3]))),
            strict=True,
        )
    )
    row.update(changes)
    return row


def a_file(rows: list[dict[str, str]], columns: list[str] | None = None) -> bytes:
    columns = columns or candidates_file.candidate_columns(YEARS)
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


# -- templates and documentation ---------------------------------------------------------------
def test_the_candidates_template_has_one_column_per_mission_year_and_two_example_rows() -> None:
    text = candidates_file.candidates_template(["2030-31", "2031-32"])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
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
        "option_id",
        "option_name",
        "p_success",
        "cost_2030-31",
        "cost_2031-32",
        "cost_low",
        "cost_most_likely",
        "cost_high",
        "impact_low",
        "impact_most_likely",
        "impact_high",
    ]
    assert len(rows) == 3
    assert rows[1][0] == rows[2][0] and rows[1][11] != rows[2][11]


def test_each_template_parses_back_without_errors() -> None:
    years = candidates_file.EXAMPLE_YEARS
    template = candidates_file.candidates_template(years)
    candidates = candidates_file.parse_candidates_csv(template.encode(), years, ENVELOPES)
    assert len(candidates) == 1 and len(candidates[0].options) == 2
    scores = scores_file.parse_scores_csv(scores_file.scores_template().encode())
    assert [s.option for s in scores] == ["explore", "demonstrate"]
    assert scores_file.scores_template().splitlines()[0].split(",") == scores_file.SCORE_COLUMNS


def test_every_column_of_both_files_is_documented() -> None:
    for column in candidates_file.candidate_columns(YEARS):
        key = "cost_<YEAR>" if column.startswith("cost_20") else column
        assert key in candidates_file.COLUMN_DOCS, column
        assert candidates_file.column_doc(column) == candidates_file.COLUMN_DOCS[key].strip()
    assert set(scores_file.COLUMN_DOCS) == set(scores_file.SCORE_COLUMNS)
    assert all(doc.strip() for doc in scores_file.COLUMN_DOCS.values())


def test_a_column_both_files_have_is_described_the_same_in_each() -> None:
    shared = set(candidates_file.COLUMN_DOCS) & set(scores_file.COLUMN_DOCS)
    assert shared == {"p_success", "trl", *candidates_file.RANGE_COLUMNS}
    for column in shared:
        assert scores_file.COLUMN_DOCS[column] == candidates_file.COLUMN_DOCS[column]


# -- candidates: reading good files ------------------------------------------------------------
def test_a_valid_file_gives_one_candidate_per_id_with_its_options_in_file_order() -> None:
    candidates = candidates_file.parse_candidates_csv(
        corpus("candidates_valid.csv"), YEARS, ENVELOPES
    )
    assert [c.id for c in candidates] == ["solent-ammonia", "kelp-biojet"]
    ammonia = candidates[0]
    assert [o.id for o in ammonia.options] == ["explore", "demonstrate"]
    assert ammonia.eligible_envelopes == ["sbc", "ukri"]
    assert ammonia.commercially_sensitive is True and ammonia.ncr is False
    assert ammonia.description == "Ammonia-fired gas turbine rig, with NOx abatement."
    explore, demonstrate = ammonia.options
    assert explore.cost_profile == {"2026-27": 3.0, "2027-28": 2.0}
    assert explore.cost_range is not None and explore.cost_range.high == 8.0
    assert demonstrate.cost_profile == {"2027-28": 10.0, "2028-29": 15.0, "2029-30": 5.0}
    assert demonstrate.cost_range is None
    assert demonstrate.impact.most_likely == 0.6
    assert candidates[1].ncr is True and candidates[1].trl == 5


def test_a_utf8_file_with_a_byte_order_mark_is_accepted() -> None:
    with_bom = candidates_file.parse_candidates_csv(corpus("candidates_bom.csv"), YEARS, ENVELOPES)
    without = candidates_file.parse_candidates_csv(corpus("candidates_valid.csv"), YEARS, ENVELOPES)
    assert with_bom == without


def test_columns_may_come_in_any_order_with_blank_lines_and_spaced_header_names() -> None:
    columns = list(reversed(candidates_file.candidate_columns(YEARS)))
    data = a_file([valid_row()], columns).replace(b"candidate_id", b" Candidate_ID ") + b"\r\n\r\n"
    (candidate,) = candidates_file.parse_candidates_csv(data, YEARS, ENVELOPES)
    assert candidate.id == "kelp-biojet"


def test_booleans_accept_yes_no_true_false_one_zero_and_empty() -> None:
    for text, value in [("Yes", True), ("TRUE", True), ("1", True), ("no", False), ("", False)]:
        (candidate,) = candidates_file.parse_candidates_csv(
            a_file([valid_row(ncr=text)]), YEARS, ENVELOPES
        )
        assert candidate.ncr is value


# -- candidates: hostile files -----------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["candidates_latin1.csv", "candidates_utf16.csv", "candidates_utf16_no_bom.csv"]
)
def test_a_file_that_is_not_utf8_gets_one_clear_error_and_no_guess(name: str) -> None:
    assert candidate_errors(corpus(name)) == [
        ("file", "the file is not UTF-8 text: save it as CSV UTF-8")
    ]


def test_an_empty_file_is_refused() -> None:
    assert fields(candidate_errors(corpus("empty.csv"))) == ["file"]
    assert "empty" in candidate_errors(b"  \r\n")[0][1]


def test_a_file_with_only_a_header_is_refused() -> None:
    assert candidate_errors(corpus("candidates_header_only.csv")) == [
        ("file", "has only a header row: add a row of data below it")
    ]


def test_wrong_columns_are_each_named_unknown_or_missing() -> None:
    errors = candidate_errors(corpus("candidates_wrong_columns.csv"))
    # cost_2029-30 is missing too, but a year's cost column is optional (nothing planned that
    # year); the mistyped cost_2031-32 beside it is what the user needs to hear about
    assert fields(errors) == [
        "row 1, column probability",
        "row 1, column cost_2031-32",
        "row 1, column notes",
        "row 1, column p_success",
    ]
    assert "unknown column" in rule_of(errors, "row 1, column notes")
    assert "not one of the mission's years" in rule_of(errors, "row 1, column cost_2031-32")
    assert "missing column" in rule_of(errors, "row 1, column p_success")


def test_a_years_cost_column_may_be_left_out_but_not_every_one() -> None:
    columns = candidates_file.candidate_columns(YEARS)
    first_year = candidates_file.year_column(YEARS[0])
    without = [c for c in columns if c != first_year]
    row = {k: v for k, v in valid_row().items() if k != first_year}
    (candidate,) = candidates_file.parse_candidates_csv(a_file([row], without), YEARS, ENVELOPES)
    assert all(YEARS[0] not in o.cost_profile for o in candidate.options)
    no_costs = [c for c in columns if not c.startswith(candidates_file.COST_PREFIX)]
    bare = {k: v for k, v in valid_row().items() if k in no_costs}
    ((field, rule),) = candidate_errors(a_file([bare], no_costs))
    assert field == f"row 1, column {first_year}"
    assert "at least one of the mission's years" in rule


def test_a_column_named_twice_is_refused() -> None:
    header = ",".join([*candidates_file.candidate_columns(YEARS), "name"])
    errors = candidate_errors(header.encode() + b"\r\n")
    assert errors == [("row 1, column name", "appears twice in the header")]


def test_a_file_separated_by_semicolons_is_explained() -> None:
    ((field, rule),) = candidate_errors(corpus("candidates_semicolon.csv"))
    assert field == "row 1" and "separated by ;" in rule


def test_cells_that_look_like_spreadsheet_formulas_are_refused_by_row_and_column() -> None:
    errors = candidate_errors(corpus("candidates_formulas.csv"))
    assert errors == [
        ("row 2, column name", "looks like a spreadsheet formula; remove the leading ="),
        ("row 3, column organisation", "looks like a spreadsheet formula; remove the leading +"),
        ("row 4, column description", "looks like a spreadsheet formula; remove the leading @"),
        ("row 4, column option_name", "looks like a spreadsheet formula; remove the leading tab"),
        ("row 5, column p_success", "must be at least 0.01"),
    ]


def test_a_negative_number_is_reported_by_the_numeric_rule_not_as_a_formula() -> None:
    errors = candidate_errors(a_file([valid_row(**{"cost_2026-27": "-4"})]))
    assert errors == [("row 2, column cost_2026-27", "must be at least 0")]


def test_duplicate_rows_are_reported_on_the_second_row() -> None:
    assert candidate_errors(corpus("candidates_duplicate_rows.csv")) == [
        ("row 3, column option_id", "option demonstrate of kelp-biojet is already on row 2")
    ]


def test_very_long_fields_are_refused_without_echoing_them() -> None:
    errors = candidate_errors(corpus("candidates_long_field.csv"))
    assert errors == [
        ("row 2, column description", "is 20,000 characters long; the limit is 10,000"),
        ("row 2, column option_name", "is too long: at most 200 characters"),
    ]


def test_a_cell_longer_than_the_csv_reader_allows_is_refused_by_row() -> None:
    data = a_file([valid_row(), valid_row(option_id="scale", description="y" * 200_000)])
    ((field, rule),) = candidate_errors(data)
    assert field == "row 3" and "longer than the limit" in rule


def test_a_file_over_two_megabytes_is_refused_before_it_is_read() -> None:
    errors = candidate_errors(b"x" * (table.MAX_BYTES + 1))
    assert fields(errors) == ["file"] and "2 MB" in errors[0][1]


def test_a_file_over_the_row_limit_is_refused() -> None:
    rows = [valid_row(candidate_id=f"c{i}", option_id="explore") for i in range(table.MAX_ROWS + 1)]
    errors = candidate_errors(a_file(rows))
    assert errors == [("file", "has more than 5,000 data rows: split it into smaller files")]


def test_every_bad_value_of_every_row_is_reported_with_its_row_and_column() -> None:
    errors = candidate_errors(corpus("candidates_bad_values.csv"))
    assert fields(errors) == [
        "row 2, column organisation_type",
        "row 2, column trl",
        "row 2, column eligible_envelopes",
        "row 2, column ncr",
        "row 2, column p_success",
        "row 2, column cost_2026-27",
        "row 2, columns cost_low, cost_most_likely, cost_high",
        "row 3, column candidate_id",
        "row 3, column impact_high",
        "row 5, column name",
        "row 5, column cost_2026-27",
        "row 6",
    ]
    assert "rising_star" in rule_of(errors, "row 2, column organisation_type")
    assert rule_of(errors, "row 2, column trl") == "must be at most 9"
    assert "treasury is not an envelope" in rule_of(errors, "row 2, column eligible_envelopes")
    assert rule_of(errors, "row 2, column p_success") == "must be at most 0.99"
    assert "no units" in rule_of(errors, "row 2, column cost_2026-27")
    assert "must be in that order" in rule_of(
        errors, "row 2, columns cost_low, cost_most_likely, cost_high"
    )
    assert "lower-case letters" in rule_of(errors, "row 3, column candidate_id")
    assert rule_of(errors, "row 3, column impact_high") == "required"
    assert "differs from row 4" in rule_of(errors, "row 5, column name")
    assert "at least one year" in rule_of(errors, "row 5, column cost_2026-27")
    assert "25 cells" in rule_of(errors, "row 6")


def test_a_half_given_cost_range_and_a_missing_required_cell_are_named() -> None:
    errors = candidate_errors(a_file([valid_row(cost_low="", p_success="", name="")]))
    assert errors == [
        ("row 2, column name", "required"),
        ("row 2, column p_success", "required"),
        ("row 2, column cost_low", "give all three cost values or none"),
    ]


def test_an_empty_envelope_list_and_a_repeated_envelope_are_refused() -> None:
    errors = candidate_errors(
        a_file(
            [
                valid_row(eligible_envelopes=" ; "),
                valid_row(candidate_id="other", eligible_envelopes="sbc;sbc"),
            ]
        )
    )
    assert errors == [
        ("row 2, column eligible_envelopes", "give at least one"),
        ("row 3, column eligible_envelopes", "each envelope may appear once"),
    ]


def test_a_candidate_has_at_most_five_options() -> None:
    rows = [valid_row(option_id=f"option-{i}") for i in range(6)]
    assert candidate_errors(a_file(rows)) == [
        ("row 7, column option_id", "a candidate has at most 5 funding options")
    ]


def test_a_trl_must_be_a_whole_number() -> None:
    assert candidate_errors(a_file([valid_row(trl="4.5")])) == [
        ("row 2, column trl", "must be a whole number")
    ]


# -- scores ------------------------------------------------------------------------------------
def test_a_valid_scores_file_gives_one_checked_row_each() -> None:
    rows = scores_file.parse_scores_csv(corpus("scores_valid.csv"))
    assert [(r.row, r.candidate, r.option, r.status) for r in rows] == [
        (2, "northsea-hefa", "demonstrate", ScoreStatus.submitted),
        (3, "northsea-hefa", "scale", ScoreStatus.submitted),
        (4, "tallow-to-jet", "explore", ScoreStatus.draft),
        (5, "cellulosic-atj", "explore", ScoreStatus.submitted),
    ]
    first = rows[0]
    assert first.member is None and first.p_success == 0.75 and first.trl == 7
    assert first.confidence is Confidence.high
    assert first.cost is not None and first.cost.most_likely == 45
    assert rows[2].cost is None and rows[2].p_success == 0.7
    assert rows[3].not_competent is True and rows[3].p_success is None
    score = rows[0].to_score("council6", "2026-27 Q3")
    assert score.member == "council6" and score.status is ScoreStatus.submitted


def test_bad_score_rows_are_each_reported_with_row_and_column() -> None:
    errors = score_errors(corpus("scores_bad_values.csv"))
    assert errors == [
        ("row 2, column p_success", "must be a number such as 12.5 (no units, commas or %)"),
        ("row 2, column confidence", "must be low, medium or high"),
        ("row 2, column status", "must be draft or submitted (empty means draft)"),
        ("row 3, columns cost_low, cost_most_likely, cost_high", "required to submit a score"),
        ("row 3, column confidence", "required to submit a score"),
        ("row 3, column rationale", "looks like a spreadsheet formula; remove the leading ="),
        ("row 9, columns cost_low, cost_most_likely, cost_high", "required to submit a score"),
        (
            "row 9, columns impact_low, impact_most_likely, impact_high",
            "required to submit a score",
        ),
        ("row 9, column trl", "required to submit a score"),
        ("row 9, column confidence", "required to submit a score"),
    ]


def test_a_not_competent_row_must_leave_the_estimates_empty() -> None:
    header = ",".join(scores_file.SCORE_COLUMNS)
    data = f"{header}\r\n,lh2-tank,explore,yes,0.5,,,,,,,,,,submitted\r\n".encode()
    assert score_errors(data) == [
        ("row 2, column p_success", "leave the estimates empty when not_competent is yes")
    ]


def test_score_rows_with_bad_ids_and_out_of_range_values_are_refused() -> None:
    header = ",".join(scores_file.SCORE_COLUMNS)
    data = (
        f"{header}\r\nCouncil 1,LH2,,no,1.2,3,2,1,0,0,0,0,,,draft\r\n"
        ",lh2-tank,explore,no,-0.5,,,,,,,,,,\r\n"
    ).encode()
    errors = score_errors(data)
    assert fields(errors) == [
        "row 2, column member",
        "row 2, column candidate",
        "row 2, column option",
        "row 2, column p_success",
        "row 2, columns cost_low, cost_most_likely, cost_high",
        "row 2, column trl",
        "row 3, column p_success",
    ]
    assert rule_of(errors, "row 2, column option") == "required"
    assert rule_of(errors, "row 3, column p_success") == "must be at least 0.01"


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("scores_header_only.csv", "file"),
        ("empty.csv", "file"),
        ("candidates_utf16.csv", "file"),
        ("candidates_valid.csv", "row 1, column candidate_id"),
    ],
)
def test_hostile_scores_files_are_refused(name: str, field: str) -> None:
    assert field in fields(score_errors(corpus(name)))


def test_an_unterminated_quote_is_refused_rather_than_swallowing_the_rest_of_the_file() -> None:
    assert score_errors(corpus("scores_unterminated_quote.csv")) == [
        ("row 3", "cannot be read as CSV: unexpected end of data")
    ]


def test_a_cell_with_only_a_tab_counts_as_empty_not_as_a_formula() -> None:
    header = ",".join(scores_file.SCORE_COLUMNS)
    (row,) = scores_file.parse_scores_csv(
        f"{header}\r\n,lh2-tank,explore,no,\t,,,,,,,,,,\r\n".encode()
    )
    assert row.p_success is None and row.status is ScoreStatus.draft


# -- export ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            '=HYPERLINK("http://evil.example","click")',
            '\'=HYPERLINK("http://evil.example","click")',
        ),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTabbed", "'\tTabbed"),
        ("\rReturn", "'\rReturn"),
        ("  =1+1", "'  =1+1"),
        ("-1", "-1"),
        ("+0.5", "+0.5"),
        ("-1.5e3", "-1.5e3"),
        ("plain text", "plain text"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_neutralise_prefixes_a_quote_to_possible_formulas_but_not_to_plain_numbers(
    value: str, expected: str
) -> None:
    assert formula.neutralise(value) == expected


def test_to_csv_neutralises_every_cell_and_formats_values_for_a_spreadsheet() -> None:
    text = writer.to_csv(
        [
            {"name": "=1+1", "n": -3.0, "flag": True, "list": ["sbc", "ukri"], "p": 0.35},
            {"name": "@evil", "missing": None},
        ],
        ["name", "n", "flag", "list", "p", "missing"],
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["name", "n", "flag", "list", "p", "missing"],
        ["'=1+1", "-3", "yes", "sbc;ukri", "0.35", ""],
        ["'@evil", "", "", "", "", ""],
    ]
    assert writer.to_csv([], ["a"], bom=True).startswith("\ufeff")


def test_exported_candidates_import_back_unchanged() -> None:
    candidates = candidates_file.parse_candidates_csv(
        corpus("candidates_valid.csv"), YEARS, ENVELOPES
    )
    again = candidates_file.parse_candidates_csv(
        candidates_file.candidates_to_csv(candidates, YEARS).encode(), YEARS, ENVELOPES
    )
    assert again == candidates


# -- one rule for every file: the formula rule, the limits, the spend file's columns ----------
FORMULA_OR_NOT = [
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "  =1+1",
    "-1",
    "+0.5",
    "-1.5e3",
    "plain text",
    "a=b",
]


@pytest.mark.parametrize("value", FORMULA_OR_NOT)
def test_a_cell_refused_as_a_formula_on_import_is_exactly_one_the_export_neutralises(
    value: str,
) -> None:
    written = io.StringIO()  # the cell as a spreadsheet would save it, nothing neutralised
    csv.writer(written, lineterminator="\r\n").writerows([["note"], [value]])
    imported = table.read_table(written.getvalue().encode(), ["note"])
    refused = any("spreadsheet formula" in rule for _, rule in imported.errors)

    exported = writer.to_csv([{"note": value}], ["note"])
    (cell,) = list(csv.reader(io.StringIO(exported)))[1]
    assert refused is (cell != value)
    again = table.read_table(exported.encode(), ["note"])
    assert again.errors == [], "what the export writes imports again"
    assert again.rows[0][1]["note"] == cell.strip()


def test_the_candidates_scores_and_spend_files_refuse_a_formula_in_the_same_words() -> None:
    formula_cell = "=SUM(A1:A9)"
    candidate_rule = rule_of(
        candidate_errors(a_file([valid_row(name=formula_cell)])), "row 2, column name"
    )
    header = ",".join(scores_file.SCORE_COLUMNS)
    score_rule = rule_of(
        score_errors(f"{header}\r\n,lh2-tank,explore,no,,,,,,,,,,{formula_cell},\r\n".encode()),
        "row 2, column rationale",
    )
    spend_data = f"candidate,option,envelope,year,amount\r\nx,y,sbc,2026-27,{formula_cell}\r\n"
    spend_table, _ = spend_file.read_spend(spend_data.encode())
    ((field, spend_rule),) = spend_table.errors
    assert field == "row 2, column amount"
    assert candidate_rule == score_rule == spend_rule
    assert spend_rule == "looks like a spreadsheet formula; remove the leading ="


def test_the_size_limit_is_the_same_for_every_file() -> None:
    too_big = b"x" * (table.MAX_BYTES + 1)
    refusals = []
    for read in (
        lambda: candidates_file.parse_candidates_csv(too_big, YEARS, ENVELOPES),
        lambda: scores_file.parse_scores_csv(too_big),
        lambda: spend_file.read_spend(too_big),
    ):
        with pytest.raises(InvalidInput) as caught:
            read()
        refusals.append(caught.value.errors)
    assert refusals[0] == refusals[1] == refusals[2]
    ((field, rule),) = refusals[0]
    assert field == "file" and f"the limit is {table.MAX_BYTES:,} bytes" in rule


def test_the_spend_files_columns_are_the_fields_a_person_gives_an_entry_in() -> None:
    assert ledger_io.FIELDS == tuple(spend_file.COLUMNS) == tuple(ledger_io.SpendInput.model_fields)
    assert set(spend_file.COLUMN_DOCS) == set(spend_file.COLUMNS)


def test_a_spend_files_note_column_may_be_left_out_but_no_other() -> None:
    rows = "lh2-tank,explore,sbc,2026-27,1.5"
    read, columns = spend_file.read_spend(
        f"candidate,option,envelope,year,amount\r\n{rows}\r\n".encode()
    )
    assert columns == spend_file.COLUMNS[:-1] and read.errors == []
    assert read.rows == [
        (
            2,
            {
                "candidate": "lh2-tank",
                "option": "explore",
                "envelope": "sbc",
                "year": "2026-27",
                "amount": "1.5",
            },
        )
    ]
    with pytest.raises(InvalidInput) as caught:
        spend_file.read_spend(f"candidate,option,envelope,year,note\r\n{rows}\r\n".encode())
    assert caught.value.errors == [
        ("row 1, column amount", "missing column: the header must include it")
    ]
