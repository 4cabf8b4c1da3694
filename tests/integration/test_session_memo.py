"""A page reads the mission's quarters, council and candidates once per unit of work
(``repository._shared.remembered``), yet every read after a write, in the same unit of work,
sees the write: on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, event, update
from storage_builders import (  # noqa: F401  (fresh_engine is the engine fixture)
    SLUG,
    a_candidate,
    fresh_engine,
    given_a_mission_with_a_candidate,
)

from portfolio.adapters.orm import CandidateRow
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import CouncilMember, Quarter, Role, Sector, User


def _statements(engine: Engine) -> list[str]:
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    return sent


def test_repeated_reads_send_one_query_each(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        first = (uow.missions.quarters(SLUG), uow.missions.council(SLUG), uow.candidates.all(SLUG))
        sent = _statements(engine)
        again = (uow.missions.quarters(SLUG), uow.missions.council(SLUG), uow.candidates.all(SLUG))
        assert again == first
        assert sent == []
        again[0].clear()  # each caller has its own list
        assert uow.missions.quarters(SLUG) == first[0]


def test_a_pending_change_is_read_back_before_it_is_flushed(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        assert uow.missions.quarters(SLUG)[0].rag is None
        uow.missions.set_quarter(SLUG, "2026-27 Q3", rag="amber")  # not flushed
        assert uow.missions.quarters(SLUG)[0].rag == "amber"


def test_added_rows_and_statements_are_read_back(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        assert [c.name for c in uow.candidates.all(SLUG)] == ["Hydrogen combustion demonstrator"]
        uow.candidates.add(SLUG, a_candidate("saf-plant", name="SAF plant"))
        assert len(uow.candidates.all(SLUG)) == 2
        uow.session.execute(update(CandidateRow).values(name="Renamed"))
        assert {c.name for c in uow.candidates.all(SLUG)} == {"Renamed"}
        assert len(uow.missions.council(SLUG)) == 1
        uow.users.add(User(username="council2", display_name="Dr Two"), "hash-2")
        uow.missions.assign(SLUG, "council2", Role.council_member)
        uow.missions.set_council_member(
            SLUG, CouncilMember(username="council2", sector=Sector.business)
        )
        assert [m.username for m in uow.missions.council(SLUG)] == ["council1", "council2"]


def test_a_rollback_forgets_what_was_read_inside_it(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.missions.add_quarter(SLUG, Quarter(label="2026-27 Q4"))
        assert len(uow.missions.quarters(SLUG)) == 2
        uow.rollback()
        assert [q.label for q in uow.missions.quarters(SLUG)] == ["2026-27 Q3"]


def test_a_commit_forgets_so_the_next_transaction_reads_afresh(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow, SqlUnitOfWork(engine) as other:
        assert len(uow.missions.quarters(SLUG)) == 1
        uow.commit()
        other.missions.add_quarter(SLUG, Quarter(label="2026-27 Q4"))
        other.commit()
        assert len(uow.missions.quarters(SLUG)) == 2


def test_a_locking_read_forgets_so_whoever_waited_reads_what_was_committed(
    engine: Engine,
) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.missions.quarters(SLUG)
        uow.missions.lock_quarter(SLUG, "2026-27 Q3")  # waits for a close in progress
        sent = _statements(engine)
        uow.missions.quarters(SLUG)
        assert any("FROM quarters" in s for s in sent)
