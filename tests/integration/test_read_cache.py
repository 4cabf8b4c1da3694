"""A quarter's scores and a mission's candidates are read from the database once per state of
them: the database draws a new token (``quarters.scores_token``, ``missions.candidates_token``)
whenever any of them is written, however it is written (revision 0016), and a server process
reads them again only under a new token. A run's result is parsed once per text of it. On
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, select, text
from storage_builders import (  # noqa: F401  (fresh_engine is the engine fixture)
    SLUG,
    a_candidate,
    a_score,
    fresh_engine,
    given_a_mission_with_a_candidate,
)

from optimiser.result import FundingRow, Metrics, MetricsPair, Result, SolverInfo
from portfolio.adapters.orm import MissionRow, QuarterRow
from portfolio.adapters.repository.read_cache import (
    MISSION_CANDIDATES,
    QUARTER_SCORES,
    RUN_RESULTS,
    Memo,
    TokenMemory,
)
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import (
    CouncilMember,
    OptimiserRun,
    Role,
    Score,
    ScoreStatus,
    Sector,
    User,
)
from portfolio.services import council

QUARTER = "2026-27 Q3"


@pytest.fixture(autouse=True)
def empty_memory() -> Iterator[None]:
    QUARTER_SCORES.clear()
    MISSION_CANDIDATES.clear()
    RUN_RESULTS.clear()
    council.LIVE_AGGREGATES.clear()
    yield
    QUARTER_SCORES.clear()
    MISSION_CANDIDATES.clear()
    RUN_RESULTS.clear()
    council.LIVE_AGGREGATES.clear()


def _token(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.scalar(select(QuarterRow.scores_token).where(QuarterRow.label == QUARTER))


def _candidates_token(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.scalar(select(MissionRow.candidates_token))


def _reads(engine: Engine, table: str = "scores") -> list[str]:
    sent: list[str] = []

    def seen(*args: object) -> None:
        statement = str(args[2])
        if f"FROM {table}" in statement:
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    return sent


def test_every_write_of_a_score_draws_a_new_token(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    assert _token(engine) is None  # no scores yet
    with SqlUnitOfWork(engine) as uow:
        uow.scores.add(SLUG, a_score(status=ScoreStatus.draft))
        uow.commit()
    tokens = [_token(engine)]
    with engine.begin() as connection:  # as a statement typed at the database would
        connection.execute(text("UPDATE scores SET p_success = 0.5"))
    tokens.append(_token(engine))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM scores"))
    tokens.append(_token(engine))
    assert None not in tokens
    assert len(set(tokens)) == 3


def test_a_quarter_read_again_under_the_same_token_is_not_read_from_the_database(
    engine: Engine,
) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.scores.add(SLUG, a_score())
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        first = uow.scores.all(SLUG, QUARTER)
    sent = _reads(engine)
    with SqlUnitOfWork(engine) as uow:
        assert uow.scores.all(SLUG, QUARTER) == first
        assert sent == []
        assert [s.member for s in uow.scores.all(SLUG, QUARTER, member="council1")] == [
            "council1"
        ]  # a member's own are read as before
        assert len(sent) == 1


def test_a_change_made_anywhere_is_read_back(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.scores.add(SLUG, a_score(status=ScoreStatus.draft))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert [s.p_success for s in uow.scores.all(SLUG, QUARTER)] == [0.31]
    with engine.begin() as connection:
        connection.execute(text("UPDATE scores SET p_success = 0.5"))
    with SqlUnitOfWork(engine) as uow:
        assert [s.p_success for s in uow.scores.all(SLUG, QUARTER)] == [0.5]
    with SqlUnitOfWork(engine) as uow:  # a write not yet committed is read back in its own
        uow.scores.replace_drafts(SLUG, [a_score(status=ScoreStatus.draft, p_success=0.6)], None)
        assert [s.p_success for s in uow.scores.all(SLUG, QUARTER)] == [0.6]
    with SqlUnitOfWork(engine) as uow:  # and not by anyone once rolled back
        assert [s.p_success for s in uow.scores.all(SLUG, QUARTER)] == [0.5]


def test_the_memory_keeps_the_most_recently_read_quarters_within_its_bound() -> None:
    memory = TokenMemory[Score](max_items=3)
    one, two = (a_score(),), (a_score(), a_score(p_success=0.4))
    memory.put((1, "a"), one)
    memory.put((2, "b"), two)
    assert memory.get((1, "a")) == one  # now the most recent
    memory.put((3, "c"), one)  # over the bound: the least recent goes
    assert memory.get((2, "b")) is None
    assert memory.get((1, "a")) == one
    assert memory.get((3, "c")) == one
    memory.put((4, "d"), (a_score(),) * 4)  # larger than the bound: not kept
    assert memory.get((4, "d")) is None


def test_every_write_of_a_candidate_or_an_option_draws_a_new_token(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    tokens = [_candidates_token(engine)]
    with SqlUnitOfWork(engine) as uow:
        uow.candidates.add(SLUG, a_candidate("saf-plant"))
        uow.commit()
    tokens.append(_candidates_token(engine))
    for statement in (
        "UPDATE candidates SET name = 'Renamed' WHERE key = 'saf-plant'",
        "UPDATE funding_options SET p_success = 0.5",
        "DELETE FROM funding_options WHERE key = 'explore'",
    ):
        with engine.begin() as connection:
            connection.execute(text(statement))
        tokens.append(_candidates_token(engine))
    assert None not in tokens
    assert len(set(tokens)) == 5


def test_candidates_are_read_once_per_token_and_a_change_is_read_back(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        first = uow.candidates.all(SLUG)
    sent = _reads(engine, "candidates")
    with SqlUnitOfWork(engine) as uow:
        assert uow.candidates.all(SLUG) == first
        assert sent == []
    with engine.begin() as connection:
        connection.execute(text("UPDATE funding_options SET p_success = 0.5"))
    with SqlUnitOfWork(engine) as uow:
        assert {o.p_success for c in uow.candidates.all(SLUG) for o in c.options} == {0.5}
    with SqlUnitOfWork(engine) as uow:  # an update in the unit of work is read back in it
        candidate = uow.candidates.all(SLUG)[0]
        uow.candidates.update(SLUG, candidate.with_changes(name="Renamed"), None)
        assert [c.name for c in uow.candidates.all(SLUG)] == ["Renamed"]
    with SqlUnitOfWork(engine) as uow:  # and not by anyone once rolled back
        assert [c.name for c in uow.candidates.all(SLUG)] == [first[0].name]


def _result(amount: float) -> Result:
    return Result(
        status="optimal",
        funding=[
            FundingRow(
                candidate="h2-combustion",
                option="explore",
                envelope="core",
                year="2026-27",
                amount=amount,
            )
        ],
        metrics=MetricsPair(
            out_of_sample=Metrics(
                p_target=0.6, expected_impact=1.0, cvar_shortfall=0.0, p_overrun=0.2
            )
        ),
        solver=SolverInfo(name="highs", version="1", seconds=0.1),
    )


def test_a_runs_result_is_read_as_stored_and_an_edit_made_anywhere_is_read_back(
    engine: Engine,
) -> None:
    """The runs list reads each result's text and parses it once per text and process: the
    same result as the run read whole, and another text (however it was written) is parsed
    anew."""
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        run_id = uow.runs.add(
            SLUG,
            OptimiserRun(
                mission=SLUG,
                quarter=QUARTER,
                objective="expected",
                started_by="ceo",
                created_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
                problem={},
            ),
        )
        assert [r.result for r in uow.runs.records(SLUG)] == [None]  # not solved yet
        uow.runs.update(
            run_id,
            status="optimal",
            result=_result(4.0).model_dump(mode="json"),
            finished_at=dt.datetime(2026, 10, 1, 0, 5, tzinfo=dt.UTC),
        )
        uow.commit()
    for _ in range(2):  # the second read finds the text parsed already
        with SqlUnitOfWork(engine) as uow:
            (record,) = uow.runs.records(SLUG)
            whole = uow.runs.get(SLUG, run_id)
            assert record.result_document() == whole.result_document()
            assert [f.amount for f in record.funding] == [4.0]
    edited = _result(5.5).model_dump(mode="json")
    with engine.begin() as connection:  # as a statement typed at the database would
        connection.execute(
            text("UPDATE optimiser_runs SET result = :result"), {"result": json.dumps(edited)}
        )
    with SqlUnitOfWork(engine) as uow:
        assert [f.amount for r in uow.runs.records(SLUG) for f in r.funding] == [5.5]


def test_the_memo_makes_a_value_once_a_key_and_keeps_the_most_recent_within_its_bound() -> None:
    made: list[str] = []

    def parse(text: str) -> int:
        made.append(text)
        return len(text)

    memory = Memo[str, int](max_entries=2)
    assert [memory.kept(t, lambda t=t: parse(t)) for t in ("a", "bb", "a", "bb")] == [1, 2, 1, 2]
    assert made == ["a", "bb"]
    memory.kept("ccc", lambda: parse("ccc"))  # over the bound: the least recent ("a") goes
    memory.kept("bb", lambda: parse("bb"))
    memory.kept("a", lambda: parse("a"))
    assert made == ["a", "bb", "ccc", "a"]


def test_live_aggregates_are_kept_while_nothing_they_are_made_of_changes(engine: Engine) -> None:
    """The scoring page's pooling of every option is computed once per state of the quarter's
    scores, the mission's candidates and the council (weights and sectors), and anew as soon
    as any of them changes, however it was written."""
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.scores.add(SLUG, a_score(status=ScoreStatus.draft))  # a draft is not pooled
        uow.commit()

    def pooled() -> tuple[list[object], float | None]:
        with SqlUnitOfWork(engine) as uow:
            rows = council.quarter_aggregates(uow, SLUG, QUARTER)
        aggregate = rows[0].aggregates["demonstrate"]
        return rows, aggregate.p if aggregate else None

    first, p = pooled()
    again, _ = pooled()
    assert again[0] is first[0] and p is None  # kept: the very same rows
    with engine.begin() as connection:  # the draft submitted at the database
        connection.execute(text("UPDATE scores SET status = 'submitted'"))
    assert pooled()[1] == 0.31
    with SqlUnitOfWork(engine) as uow:  # a second member, another sector: new weights
        uow.users.add(User(username="council2", display_name="Dr Two"), "hash-2")
        uow.missions.assign(SLUG, "council2", Role.council_member)
        uow.missions.set_council_member(
            SLUG, CouncilMember(username="council2", sector=Sector.business)
        )
        uow.scores.add(SLUG, a_score(member="council2", p_success=0.7))
        uow.commit()
    rows, p = pooled()
    assert rows[0].scorers == 2 and p is not None and 0.31 < p < 0.7
    with engine.begin() as connection:  # an option renamed: the candidates' state changes
        connection.execute(text("UPDATE funding_options SET name = 'Demo plant'"))
    rows, _ = pooled()
    assert {o.name for o in rows[0].candidate.options} == {"Demo plant"}
    with SqlUnitOfWork(engine) as uow:  # the blind rule's skip still applies to kept rows
        assert council.quarter_aggregates(uow, SLUG, QUARTER, skip={"h2-combustion"}) == []
