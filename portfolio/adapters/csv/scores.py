"""The council's scores file: one row per (member, candidate, funding option); its columns, its
template and its parser. Each row is checked on its own here; who may import whose scores, the
open round, the mission's candidates and the grouping rules are the import's
(``portfolio.services.imports.import_scores``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from portfolio.adapters.csv import candidates
from portfolio.adapters.csv.cells import (
    flag,
    map_errors,
    number,
    range_columns,
    three_columns,
    three_point,
    whole,
)
from portfolio.adapters.csv.table import Errors, columns_field, first_per_cell, read_table, where
from portfolio.adapters.csv.writer import to_csv
from portfolio.domain.errors import InvalidInput
from portfolio.domain.model import Confidence, Score, ScoreStatus, ThreePoint

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
_SHARED = ("p_success", *candidates.RANGE_COLUMNS, "trl")
"""Columns that mean the same as in the candidates file."""

COLUMN_DOCS: dict[str, str] = {
    "member": "Scores file: the council member's username; empty means you. Only the Mission "
    "CEO may import other members' scores, and only as drafts: each member reviews and submits "
    "their own.",
    "candidate": "Scores file: the candidate's id.",
    "option": "Scores file: the funding option's id. To submit, give a row for every option of "
    "the candidate.",
    "not_competent": "Scores file: yes to declare yourself not competent to score the candidate "
    "(leave the estimates empty; use the same value on each of its rows).",
    **{column: candidates.COLUMN_DOCS[column] for column in _SHARED},
    "confidence": "Scores file: low, medium or high.",
    "rationale": "Scores file: why (up to 10,000 characters).",
    "status": "Scores file: draft (can be changed later; the default) or submitted (final; "
    "only your own scores). The same on each row of a candidate.",
}
"""Column -> one-line description, for the import page's table (``trl``, ``p_success`` and the
three-point columns as the candidates file describes them)."""

_ESTIMATES = ("p_success", "cost", "impact", "trl", "confidence")
"""The estimates of a score: all required to submit, none given when not competent."""


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


def _score_column(loc: list[str]) -> str | list[str]:
    head = loc[0] if loc else "candidate"
    if head in ("cost", "impact"):
        return three_columns(head, loc)
    return head if head in SCORE_COLUMNS else "candidate"


def parse_scores_csv(data: bytes) -> list[ScoreRow]:
    """The rows of a scores file, each checked on its own (members, candidates, the round and
    the grouping rules are checked by ``import_scores``). Raises InvalidInput with every
    problem as (``row R, column C``, rule)."""
    rows, errors = parse_scores(data)
    if errors:
        raise InvalidInput(errors)
    return rows


def parse_scores(data: bytes) -> tuple[list[ScoreRow], Errors]:
    """The rows of a scores file that read, and every problem (the first per cell, by row and
    column): a row with a problem is left out."""
    table = read_table(data, SCORE_COLUMNS)
    errors = list(table.errors)
    out: list[ScoreRow] = []
    for row, cells in table.rows:
        score_row = _score_row(cells, row, errors)
        if score_row is not None:
            out.append(score_row)
    return out, first_per_cell(errors, table.columns)


def _score_row(cells: Mapping[str, str], row: int, errors: Errors) -> ScoreRow | None:
    """A row read on its own, or None with its problems in ``errors``."""
    before = len(errors)
    status_text = cells.get("status", "").lower() or "draft"
    if status_text not in ("draft", "submitted"):
        errors.append((where(row, "status"), "must be draft or submitted (empty means draft)"))
    not_competent = flag(cells, "not_competent", row, errors)
    values = _estimates(cells, row, errors)
    for column in ("candidate", "option"):
        if not cells.get(column):
            errors.append((where(row, column), "required"))
    if not_competent:
        _no_estimates(cells, row, errors)
    elif status_text == "submitted":
        _all_estimates(cells, row, values, errors)
    member = cells.get("member", "")
    data: dict[str, Any] = {
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
        score = Score.model_validate(data)
    except ValidationError as exc:
        errors.extend(map_errors(exc, row, _score_column))
        return None
    if len(errors) > before:
        return None
    return ScoreRow(
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


def _estimates(cells: Mapping[str, str], row: int, errors: Errors) -> dict[str, Any]:
    """The estimate cells of a row as Score's fields (None where empty or not read)."""
    confidence_text = cells.get("confidence", "").lower()
    if confidence_text and confidence_text not in {c.value for c in Confidence}:
        errors.append((where(row, "confidence"), "must be low, medium or high"))
        confidence_text = ""
    return {
        "p_success": number(cells, "p_success", row, errors),
        "cost": three_point(cells, "cost", row, errors, required=False),
        "impact": three_point(cells, "impact", row, errors, required=False),
        "trl": whole(cells, "trl", row, errors),
        "confidence": confidence_text or None,
    }


def _no_estimates(cells: Mapping[str, str], row: int, errors: Errors) -> None:
    """A member not competent to score gives no estimate."""
    for column in ("p_success", *candidates.RANGE_COLUMNS, "trl", "confidence"):
        if cells.get(column):
            errors.append(
                (where(row, column), "leave the estimates empty when not_competent is yes")
            )


def _all_estimates(
    cells: Mapping[str, str], row: int, values: Mapping[str, Any], errors: Errors
) -> None:
    """A submitted score gives every estimate (an estimate given but not read is already
    reported)."""
    for field in _ESTIMATES:
        if values[field] is not None:
            continue
        columns = range_columns(field) if field in ("cost", "impact") else [field]
        if all(not cells.get(c) for c in columns):
            named = where(row, columns[0]) if len(columns) == 1 else columns_field(row, columns)
            errors.append((named, "required to submit a score"))
