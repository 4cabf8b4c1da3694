"""A corpus of malformed and hostile problem files (tests/corpus/problems): each one is refused by
the loader with an error naming the field, and by ``mission-portfolio solve`` with exit code 2 and
nothing on stdout — never a crash, never a partial result. And the CLI still reads a problem of
1,000 candidates x 5,000 explicit scenarios."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from optimiser.errors import ProblemError
from optimiser.problem import load_problem

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "problems"

# file -> (the path the first error must name, "" for the whole document; a part of its rule)
EXPECTED: dict[str, tuple[str, str]] = {
    # not a JSON object at all
    "empty.json": ("", "not valid JSON"),
    "whitespace_only.json": ("", "not valid JSON"),
    "truncated.json": ("", "not valid JSON"),
    "not_utf8.json": ("", "utf-8"),
    "array_instead_of_object.json": ("", "must be a JSON object"),
    "string_instead_of_object.json": ("", "must be a JSON object"),
    "null_document.json": ("", "must be a JSON object"),
    "wrong_format.json": ("format", "must be 'mission-portfolio/problem'"),
    "wrong_version.json": ("version", "must be 1 or 2"),
    # wrong types
    "wrong_type_target_string.json": ("mission.target", "valid number"),
    "wrong_type_candidates_object.json": ("candidates", "valid list"),
    "wrong_type_years_number.json": ("years", "valid list"),
    "wrong_type_eligible_envelopes_string.json": ("candidates[1].eligible_envelopes", "valid list"),
    "wrong_type_p_success_list.json": ("candidates[0].options[0].p_success", "valid number"),
    "wrong_type_mission_null.json": ("mission", "valid dictionary"),
    "wrong_type_policy_string.json": ("policy", "valid dictionary"),
    "wrong_type_cost_boolean.json": ("candidates[1].options[0].cost", "valid number"),
    "wrong_type_cost_numeric_string.json": ("candidates[1].options[0].cost", "valid number"),
    "unknown_field_typo.json": ("policy.objectiv", "not a known field"),
    "unknown_objective.json": ("policy.objective", "must be 'expected'"),
    # NaN / Infinity as JSON tokens
    "nan_target.json": ("mission.target", "finite"),
    "infinity_budget.json": ("envelopes[0].budget.2026-27", "finite"),
    "negative_infinity_cost.json": ("candidates[1].options[0].cost", "finite"),
    "nan_in_explicit_scenarios.json": ("scenarios.impact.saf/main[0]", "finite"),
    # negative money and numbers out of range
    "negative_cost.json": ("candidates[1].options[0].cost", "at least 0"),
    "negative_cost_in_a_year.json": ("candidates[0].options[0].cost.2026-27", "at least 0"),
    "negative_budget.json": ("envelopes[0].budget.2027-28", "at least 0"),
    "negative_min_spend.json": ("envelopes[1].min_spend", "at least 0"),
    "negative_dal.json": ("policy.dal", "at least 0"),
    "negative_switching_cost.json": ("policy.switching_cost", "at least 0"),
    "negative_impact.json": ("candidates[0].options[0].impact.low", "at least 0"),
    "negative_target.json": ("mission.target", "at least 0"),
    "p_success_above_one.json": ("candidates[0].options[0].p_success", "between 0 and 1"),
    "impact_out_of_order.json": (
        "candidates[0].options[0].impact",
        "low, most likely and high must be in that order",
    ),
    "scenario_count_too_large.json": ("scenarios.count", "at most"),
    "scenario_count_zero.json": ("scenarios.count", "at least 1"),
    "correlation_one.json": ("policy.correlation", "less than 1"),
    "time_limit_zero.json": ("policy.time_limit_s", "greater than 0"),
    # contradictory rules, unknown references, duplicates, missing parts
    "locked_and_excluded.json": ("policy.exclusions[0]", "also locked or committed"),
    "committed_and_excluded.json": ("policy.exclusions[0]", "also locked or committed"),
    "unknown_envelope_reference.json": ("candidates[1].eligible_envelopes[1]", "not an envelope"),
    "unknown_lock.json": ("policy.locks[0]", "not a candidate id"),
    "unknown_option_exclusion.json": ("policy.exclusions[0]", "not an option"),
    "unknown_previous_option.json": ("policy.previous.saf", "not an option"),
    "budget_for_unknown_year.json": ("envelopes[0].budget.2031-32", "not one of the years"),
    "cost_in_unknown_year.json": ("candidates[0].options[0].cost.2031-32", "not one of the years"),
    "duplicate_candidate_ids.json": ("candidates[2].id", "duplicate id 'saf'"),
    "duplicate_option_ids.json": ("candidates[0].options[1].id", "duplicate id 'explore'"),
    "duplicate_envelope_ids.json": ("envelopes[1].id", "duplicate id 'sbc'"),
    "duplicate_years.json": ("years[2]", "duplicate id"),
    "slash_in_candidate_id.json": ("candidates[2].id", "must not contain '/'"),
    "empty_candidate_id.json": ("candidates[2].id", "must not be empty"),
    "option_without_cost.json": ("candidates[1].options[0].cost", "is required"),
    "candidate_without_options.json": ("candidates[2].options", "must not be empty"),
    "no_envelopes.json": ("envelopes", "must not be empty"),
    "missing_years.json": ("years", "is required"),
    "explicit_scenarios_missing_row.json": ("scenarios.impact.ops/main", "is required"),
    "explicit_scenarios_ragged.json": ("scenarios.impact", "same number of scenarios"),
    "explicit_scenarios_negative_impact.json": ("scenarios.impact.saf/main[1]", "at least 0"),
    # hostile
    "deeply_nested_junk.json": ("policy.junk", "not a known field"),
    "nested_beyond_recursion_limit.json": ("", "nested too deeply"),
    "huge_integer.json": ("", "too many digits"),
    "huge_string.json": ("policy.objective", "must be 'expected'"),
}

MAX_MESSAGE = 2_000  # an error must not echo a hostile file back


def cases() -> list[object]:
    return [pytest.param(name, id=name.removesuffix(".json")) for name in sorted(EXPECTED)]


def test_every_corpus_file_has_an_expected_error() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.is_file()}
    assert files == set(EXPECTED), "list each corpus file in EXPECTED (and only those)"


@pytest.mark.parametrize("name", cases())
def test_the_loader_refuses_it_naming_the_field(name: str) -> None:
    path, rule = EXPECTED[name]
    with pytest.raises(ProblemError) as info:
        load_problem((CORPUS / name).read_bytes())
    error = info.value
    assert (error.path, error.rule) == error.errors[0]
    assert error.path == path, error.errors
    assert rule in error.rule, error.errors
    assert len(str(error)) < MAX_MESSAGE


@pytest.mark.parametrize("name", cases())
def test_the_cli_exits_two_with_nothing_on_stdout(name: str) -> None:
    path, rule = EXPECTED[name]
    result = CliRunner().invoke(cli, ["solve", str(CORPUS / name), "--time-limit", "5"])
    assert result.exit_code == 2, (result.exception, result.stderr[-500:])
    assert result.stdout == ""
    assert f"{path or '(document)'}: " in result.stderr
    assert rule in result.stderr
    assert len(result.stderr) < MAX_MESSAGE


# -- a large problem ---------------------------------------------------------------------------

CANDIDATES, SCENARIOS = 1_000, 5_000


def write_large_problem(path: Path, **policy: object) -> None:
    """1,000 candidates with one option each and 5,000 explicit scenarios of impact per option
    (about 28 MB of JSON), written row by row."""
    rng = np.random.default_rng(11)
    candidates = [
        {
            "id": f"c{i:04d}",
            "platform": f"p{i % 12}",
            "eligible_envelopes": ["sbc"],
            "options": [
                {
                    "id": "main",
                    "cost": round(1 + 9 * float(rng.random()), 2),
                    "p_success": 0.3,
                    "impact": {"low": 0.0, "mode": 1.0, "high": 2.0},
                }
            ],
        }
        for i in range(CANDIDATES)
    ]
    head = {
        "format": "mission-portfolio/problem",
        "version": 1,
        "mission": {"name": "large", "target": 50.0, "unit": "u"},
        "years": ["2026-27"],
        "envelopes": [{"id": "sbc", "budget": {"2026-27": 1000.0}}],
        "candidates": candidates,
        "policy": {
            "objective": "expected",
            "max_platform_share": 1.0,
            "min_platforms": 0,
            "dal": None,
            "time_limit_s": 10,
            **policy,
        },
    }
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(head)[:-1] + ', "scenarios": {"impact": {')
        for i in range(CANDIDATES):
            row = np.round(2 * rng.random(SCENARIOS) * (rng.random(SCENARIOS) < 0.3), 3)
            fh.write(("" if i == 0 else ", ") + f'"c{i:04d}/main": ' + json.dumps(row.tolist()))
        fh.write("}}}\n")


@pytest.mark.slow
def test_the_cli_reads_a_problem_of_1000_candidates_by_5000_scenarios(tmp_path: Path) -> None:
    path = tmp_path / "large.json"
    started = time.perf_counter()
    write_large_problem(path)
    written = time.perf_counter() - started
    size = path.stat().st_size

    started = time.perf_counter()
    problem = load_problem(path.read_bytes())
    loaded = time.perf_counter() - started
    impact = problem.scenarios.impact  # type: ignore[union-attr]
    assert len(problem.candidates) == CANDIDATES
    assert len(impact) == CANDIDATES and {len(row) for row in impact.values()} == {SCENARIOS}
    print(
        f"\nlarge problem: {size / 1e6:.1f} MB written in {written:.1f} s, "
        f"loaded by load_problem in {loaded:.2f} s"
    )

    # The CLI reads the whole file (no size limit of its own) and checks every rule: a wrong
    # reference after the 5,000,000 numbers is still found, and named. (Solving the large
    # problem takes about a minute on a 2-core machine, so it is not solved here.)
    hostile = tmp_path / "large-bad.json"
    write_large_problem(hostile, locks=["c9999"])
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["solve", str(hostile)])
    read = time.perf_counter() - started
    assert result.exit_code == 2, (result.exception, result.stderr[-500:])
    assert result.stdout == ""
    assert "policy.locks[0]: 'c9999' is not a candidate id" in result.stderr
    print(f"large problem: read and refused by `mission-portfolio solve` in {read:.2f} s")
