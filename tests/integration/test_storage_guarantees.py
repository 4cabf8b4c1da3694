"""Storage keeps its promises on SQLite and PostgreSQL: a unit of work writes all or nothing,
duplicates and stale versions are conflicts, and the audit trail is append-only."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from storage_builders import (  # noqa: F401  (fresh_engine is the engine fixture)
    SLUG,
    YEARS,
    a_candidate,
    a_mission,
    a_score,
    fresh_engine,
    given_a_mission_with_a_candidate,
)

from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import (
    User,
)
from portfolio.services import missions as services

# -- transactions ------------------------------------------------------------------------------


def test_nothing_is_written_when_the_unit_of_work_is_not_committed(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        services.create_user(uow, "admin", User(username="ghost", display_name="Ghost"), None)
        services.create_mission(uow, "ceo", a_mission())
        uow.candidates.add(SLUG, a_candidate())
        assert uow.missions.exists(SLUG)
    with SqlUnitOfWork(engine) as uow:
        assert not uow.missions.exists(SLUG)
        assert uow.users.find("ghost") is None
        assert uow.audit.count(SLUG) == 0
        assert uow.audit.count(None) == 0
        assert not uow.committed


def test_nothing_is_written_when_an_error_leaves_the_unit_of_work(engine: Engine) -> None:
    with pytest.raises(RuntimeError), SqlUnitOfWork(engine) as uow:
        uow.missions.add(a_mission())
        raise RuntimeError("boom")
    with SqlUnitOfWork(engine) as uow:
        assert uow.missions.all() == []


def test_a_rollback_discards_the_changes_made_so_far(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.missions.add(a_mission())
        uow.rollback()
        uow.users.add(User(username="kept", display_name="Kept"), None)
        uow.commit()
        assert uow.committed
    with SqlUnitOfWork(engine) as uow:
        assert not uow.missions.exists(SLUG)
        assert uow.users.find("kept") is not None


# -- conflicts ---------------------------------------------------------------------------------


def test_a_second_candidate_with_the_same_id_is_a_conflict(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        with pytest.raises(Conflict, match="h2-combustion"):
            services.register_candidate(uow, "council1", SLUG, a_candidate(name="Again"))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.candidates.get(SLUG, "h2-combustion").name == a_candidate().name
        assert uow.audit.count(SLUG) == 0


def test_the_same_candidate_id_may_be_used_in_another_mission(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.missions.add(a_mission(slug="other-mission"))
        uow.candidates.add("other-mission", a_candidate())
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.candidates.get("other-mission", "h2-combustion") == a_candidate()


def test_a_second_mission_or_user_with_the_same_id_is_a_conflict(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        with pytest.raises(Conflict):
            uow.missions.add(a_mission(name="Another"))
        with pytest.raises(Conflict):
            uow.users.add(User(username="ceo", display_name="Impostor"), None)


def test_a_stale_candidate_version_is_refused(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.candidates.update(SLUG, a_candidate(trl=4), expected_version=1)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        with pytest.raises(Conflict, match="changed by someone else"):
            services.update_candidate(uow, "council1", SLUG, a_candidate(trl=6), expected_version=1)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.candidates.get(SLUG, "h2-combustion").trl == 4
        assert uow.candidates.version(SLUG, "h2-combustion") == 2
        assert uow.audit.count(SLUG) == 0


def test_a_stale_mission_version_is_refused(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.missions.add(a_mission())
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        services.update_mission(uow, "ceo", a_mission(target=5.0), expected_version=1)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        with pytest.raises(Conflict, match="changed by someone else"):
            services.update_mission(uow, "ceo", a_mission(target=7.0), expected_version=1)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.missions.get(SLUG).target == 5.0
        assert uow.missions.version(SLUG) == 2
        assert [e.after for e in uow.audit.all(SLUG)] == [{"target": 5.0}]


def test_removing_an_option_that_has_scores_is_a_conflict(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.scores.add(SLUG, a_score(option="demonstrate"))
        uow.commit()
    without_scored_option = a_candidate(options=[a_candidate().options[0]])
    with SqlUnitOfWork(engine) as uow:
        with pytest.raises(Conflict, match="demonstrate"):
            uow.candidates.update(SLUG, without_scored_option, expected_version=None)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.candidates.get(SLUG, "h2-combustion") == a_candidate()
        assert len(uow.scores.all(SLUG)) == 1


def test_an_option_without_scores_may_be_removed(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.scores.add(SLUG, a_score(option="demonstrate"))
        uow.commit()
    only_scored_option = a_candidate(options=[a_candidate().options[1]])
    with SqlUnitOfWork(engine) as uow:
        uow.candidates.update(SLUG, only_scored_option, expected_version=1)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.candidates.get(SLUG, "h2-combustion") == only_scored_option


def test_a_missing_mission_candidate_or_user_is_not_found(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        with pytest.raises(NotFound):
            uow.missions.get("nope")
        with pytest.raises(NotFound):
            uow.candidates.get("nope", "nope")
        with pytest.raises(NotFound):
            uow.users.get("nobody")


# -- the audit trail is append-only ------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET actor = 'mallory'",
        "UPDATE audit_entries SET after = NULL WHERE entity = 'mission'",
        "DELETE FROM audit_entries",
        "DELETE FROM audit_entries WHERE actor = 'ceo'",
    ],
)
def test_the_database_refuses_to_change_or_delete_an_audit_entry(
    engine: Engine, statement: str
) -> None:
    with SqlUnitOfWork(engine) as uow:
        services.create_mission(uow, "ceo", a_mission())
        uow.commit()
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))
    with SqlUnitOfWork(engine) as uow:
        [entry] = uow.audit.all(SLUG)
        assert (entry.actor, entry.action) == ("ceo", "created")
        assert entry.after is not None and entry.after["slug"] == SLUG


def test_the_audit_trail_still_accepts_new_entries(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_entries (at, actor, mission, entity, entity_id, action) "
                "VALUES (:at, 'ceo', :mission, 'mission', :mission, 'noted')"
            ),
            {"at": dt.datetime(2026, 10, 1, 12, 0), "mission": SLUG},
        )
    with SqlUnitOfWork(engine) as uow:
        assert uow.audit.count(SLUG) == 1
