"""The imports' rules on the in-memory unit of work (no database): a candidates or scores file
is saved through the services the forms use, or — when any row is bad — nothing is written.
The same imports on SQLite and PostgreSQL: tests/integration/test_csv_import.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from small_mission import ANNA, BEN, CEO, NOW, QUARTER, SLUG, YEARS, a_candidate, seed_mission

from portfolio.adapters.csv.candidates import candidates_to_csv
from portfolio.adapters.csv.scores import SCORE_COLUMNS
from portfolio.adapters.memory import FakeUnitOfWork, MemoryStore
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.domain.model import ScoreStatus
from portfolio.services import council, imports


@pytest.fixture
def uow() -> Iterator[FakeUnitOfWork]:
    store = MemoryStore(clock=lambda: NOW)
    with FakeUnitOfWork(store) as unit:
        seed_mission(unit)
        unit.commit()
    with FakeUnitOfWork(store) as unit:
        yield unit


def scores_file(*rows: str) -> bytes:
    return "\r\n".join([",".join(SCORE_COLUMNS), *rows, ""]).encode()


def a_score_row(member: str, option: str, status: str = "") -> str:
    return f"{member},alpha,{option},no,0.6,15,20,30,0.2,0.5,0.9,6,medium,From the file.,{status}"


def test_a_candidates_file_registers_new_candidates_and_updates_known_ones(
    uow: FakeUnitOfWork,
) -> None:
    renamed = a_candidate(name="Alpha, renamed")
    data = candidates_to_csv([renamed, a_candidate("beta")], YEARS).encode()
    summary = imports.import_candidates(uow, CEO, SLUG, data)
    assert (summary.created, summary.updated, summary.rows) == (1, 1, 4)
    assert summary.message == "Imported 4 rows: 1 candidates created, 1 updated."
    assert [c.name for c in uow.candidates.all(SLUG)] == ["Alpha, renamed", "Candidate Beta"]


def test_a_candidates_file_with_one_bad_row_writes_nothing(uow: FakeUnitOfWork) -> None:
    good = candidates_to_csv([a_candidate("beta")], YEARS)
    bad = good.replace(",0.5,", ",1.5,", 1)  # beta's first option: p_success out of range
    before = (uow.candidates.count(SLUG), uow.audit.count(SLUG))
    with pytest.raises(InvalidInput) as refused:
        imports.import_candidates(uow, CEO, SLUG, bad.encode())
    assert [field for field, _ in refused.value.errors] == ["row 2, column p_success"]
    assert (uow.candidates.count(SLUG), uow.audit.count(SLUG)) == before


def test_scores_cannot_be_imported_before_the_round_opens(uow: FakeUnitOfWork) -> None:
    with pytest.raises(Conflict, match="not open"):
        imports.import_scores(
            uow, ANNA, SLUG, scores_file(a_score_row("", "base")), may_import_for_others=False
        )


def test_the_ceo_imports_a_members_scores_as_drafts_and_each_member_only_their_own(
    uow: FakeUnitOfWork,
) -> None:
    council.open_round(uow, CEO, SLUG)
    data = scores_file(a_score_row(ANNA, "base"), a_score_row(ANNA, "big"))
    summary = imports.import_scores(uow, CEO, SLUG, data, may_import_for_others=True)
    assert (summary.created, summary.updated, summary.submitted) == (2, 0, 0)
    drafts = council.member_scores(uow, SLUG, QUARTER, ANNA, "alpha")
    assert {s.status for s in drafts.values()} == {ScoreStatus.draft}

    before = uow.audit.count(SLUG)
    with pytest.raises(InvalidInput) as refused:
        imports.import_scores(
            uow, BEN, SLUG, scores_file(a_score_row(ANNA, "base")), may_import_for_others=False
        )
    ((field, rule),) = refused.value.errors
    assert field == "row 2, column member" and rule.startswith("you may import only your own")
    assert uow.audit.count(SLUG) == before


def test_one_bad_row_of_a_scores_file_keeps_every_other_row_from_being_saved(
    uow: FakeUnitOfWork,
) -> None:
    council.open_round(uow, CEO, SLUG)
    data = scores_file(a_score_row("", "base"), a_score_row("", "huge"))  # alpha has no huge
    with pytest.raises(InvalidInput) as refused:
        imports.import_scores(uow, ANNA, SLUG, data, may_import_for_others=False)
    assert refused.value.errors == [
        ("row 3, column option", "huge is not an option of alpha (its options: base, big)")
    ]
    assert council.member_scores(uow, SLUG, QUARTER, ANNA) == {}
