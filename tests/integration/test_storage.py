"""Storage round trips through the repositories and the unit of work, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from portfolio.adapters import database
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import (
    AuditEntry,
    Candidate,
    Confidence,
    CouncilMember,
    Envelope,
    Evidence,
    EvidenceKind,
    FundingOption,
    Mission,
    OrganisationType,
    Quarter,
    QuarterState,
    Role,
    RoleAssignment,
    Score,
    ScoreStatus,
    Sector,
    ThreePoint,
    Tier,
    User,
)
from portfolio.services import missions as services

SLUG = "test-mission"
YEARS = ["2026-27", "2027-28", "2028-29"]


@pytest.fixture
def engine(empty_db_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated, empty database; disposed before the database is dropped."""
    engine = database.make_engine(empty_db_url)
    yield engine
    engine.dispose()


def a_mission(**changes: object) -> Mission:
    mission = Mission(
        slug=SLUG,
        name="A test mission",
        description="Figures are made up.",
        target=4.5,
        unit="MtCO2e/yr",
        deadline=dt.date(2029, 3, 31),
        years=YEARS,
        envelopes=[
            Envelope(
                id="sbc",
                name="Single business case",
                budget={"2026-27": 10.0, "2027-28": 12.25, "2028-29": 0.0},
            ),
            Envelope(id="ukri", name="UKRI", budget={"2027-28": 3.5}, min_spend=1.5),
        ],
        dal=40.0,
        dal_mode="cap",
    )
    return mission.model_copy(update=changes)


def a_candidate(key: str = "h2-combustion", **changes: object) -> Candidate:
    candidate = Candidate(
        id=key,
        name="Hydrogen combustion demonstrator",
        description="A made-up candidate.",
        organisation="Fictional Aero Ltd",
        organisation_type=OrganisationType.rising_star,
        platform="hydrogen",
        tier=Tier.moonshot,
        trl=3,
        eligible_envelopes=["sbc", "ukri"],
        ncr=True,
        treasury_approved=False,
        commercially_sensitive=True,
        registered_by="council1",
        options=[
            FundingOption(
                id="explore",
                name="Exploration",
                cost_profile={"2026-27": 1.5, "2027-28": 0.75},
                cost_range=None,
                p_success=0.2,
                impact=ThreePoint(low=0.01, most_likely=0.05, high=0.125),
            ),
            FundingOption(
                id="demonstrate",
                name="Demonstrator",
                cost_profile={"2026-27": 3.0, "2027-28": 6.0, "2028-29": 4.5},
                cost_range=ThreePoint(low=12.0, most_likely=13.5, high=21.6),
                p_success=0.35,
                impact=ThreePoint(low=0.1, most_likely=0.3, high=0.55),
            ),
        ],
    )
    return candidate.model_copy(update=changes)


def a_score(**changes: object) -> Score:
    score = Score(
        member="council1",
        quarter="2026-27 Q3",
        candidate="h2-combustion",
        option="demonstrate",
        status=ScoreStatus.submitted,
        p_success=0.31,
        cost=ThreePoint(low=11.0, most_likely=14.0, high=20.5),
        impact=ThreePoint(low=0.12, most_likely=0.25, high=0.6),
        trl=4,
        confidence=Confidence.medium,
        rationale="Rig results look plausible.",
    )
    return score.model_copy(update=changes)


def given_a_mission_with_a_candidate(engine: Engine, quarters: list[str] | None = None) -> None:
    """A mission, the users ceo and council1 (a council member), a candidate and quarters."""
    with SqlUnitOfWork(engine) as uow:
        uow.users.add(User(username="ceo", display_name="The CEO"), None)
        uow.users.add(User(username="council1", display_name="Dr One"), "hash-1")
        uow.missions.add(a_mission())
        uow.missions.assign(SLUG, "council1", Role.council_member)
        uow.missions.set_council_member(
            SLUG, CouncilMember(username="council1", sector=Sector.academia)
        )
        uow.candidates.add(SLUG, a_candidate())
        for label in quarters or ["2026-27 Q3"]:
            uow.missions.add_quarter(SLUG, Quarter(label=label))
        uow.commit()


# -- round trips -------------------------------------------------------------------------------


def test_a_mission_with_its_envelopes_reads_back_as_written(engine: Engine) -> None:
    mission = a_mission()
    with SqlUnitOfWork(engine) as uow:
        uow.missions.add(mission)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.missions.get(SLUG) == mission
        assert uow.missions.version(SLUG) == 1
        assert uow.missions.exists(SLUG)
        assert uow.missions.all() == [mission]
        assert uow.missions.all([SLUG]) == [mission]
        assert uow.missions.all(["other"]) == []


def test_an_updated_mission_keeps_its_new_envelopes_in_order(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.missions.add(a_mission())
        uow.commit()
    changed = a_mission(
        target=6.0,
        deadline=dt.date(2030, 3, 31),
        envelopes=[
            Envelope(id="ukri", name="UKRI", budget={"2026-27": 2.0}),
            Envelope(id="dsit", name="DSIT top-up", budget={"2028-29": 7.0}, min_spend=0.0),
        ],
    )
    with SqlUnitOfWork(engine) as uow:
        uow.missions.update(changed, expected_version=1)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.missions.get(SLUG) == changed
        assert uow.missions.version(SLUG) == 2


def test_a_candidate_with_its_options_reads_back_as_written(engine: Engine) -> None:
    candidate = a_candidate()
    assert candidate.options[0].cost_range is None
    assert candidate.options[1].cost_range is not None
    with SqlUnitOfWork(engine) as uow:
        uow.missions.add(a_mission())
        uow.candidates.add(SLUG, candidate)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.candidates.get(SLUG, candidate.id) == candidate
        assert uow.candidates.all(SLUG) == [candidate]
        assert uow.candidates.count(SLUG) == 1
        assert uow.candidates.version(SLUG, candidate.id) == 1


def test_an_updated_candidate_keeps_its_options_in_their_new_order(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    original = a_candidate()
    changed = a_candidate(
        trl=5,
        options=[
            original.options[1].model_copy(update={"p_success": 0.4, "cost_range": None}),
            original.options[0].model_copy(
                update={"cost_range": ThreePoint(low=2.0, most_likely=2.25, high=3.0)}
            ),
            FundingOption(
                id="scale",
                name="Scale-up",
                cost_profile={"2028-29": 30.0},
                p_success=0.6,
                impact=ThreePoint(low=0.5, most_likely=1.0, high=1.5),
            ),
        ],
    )
    with SqlUnitOfWork(engine) as uow:
        uow.candidates.update(SLUG, changed, expected_version=1)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.candidates.get(SLUG, changed.id) == changed
        assert uow.candidates.version(SLUG, changed.id) == 2


def test_users_roles_and_council_members_read_back_as_written(engine: Engine) -> None:
    admin = User(username="admin", display_name="Site administrator", is_admin=True)
    retired = User(username="retired", display_name="Former member", active=False)
    with SqlUnitOfWork(engine) as uow:
        uow.missions.add(a_mission())
        uow.users.add(admin, "argon-hash")
        uow.users.add(retired, None)
        uow.users.add(User(username="council1", display_name="Dr One"), None)
        uow.users.add(User(username="council2", display_name="Ms Two"), None)
        assert uow.missions.assign(SLUG, "council1", Role.council_member)
        assert uow.missions.assign(SLUG, "council1", Role.treasury_reviewer)
        assert uow.missions.assign(SLUG, "council2", Role.council_member)
        assert not uow.missions.assign(SLUG, "council2", Role.council_member)
        uow.missions.set_council_member(SLUG, CouncilMember(username="council1", sector="business"))
        uow.missions.set_council_member(SLUG, CouncilMember(username="council2", sector="academia"))
        uow.missions.set_council_member(
            SLUG, CouncilMember(username="council1", sector="civil_society")
        )
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.users.get("admin") == admin
        assert uow.users.get("retired") == retired
        assert uow.users.find("nobody") is None
        assert [u.username for u in uow.users.all()] == ["admin", "council1", "council2", "retired"]
        assert uow.users.password_hash("admin") == "argon-hash"
        assert uow.users.password_hash("retired") is None
        assert uow.missions.roles(SLUG) == [
            RoleAssignment(username="council1", mission=SLUG, role=Role.council_member),
            RoleAssignment(username="council1", mission=SLUG, role=Role.treasury_reviewer),
            RoleAssignment(username="council2", mission=SLUG, role=Role.council_member),
        ]
        assert uow.missions.roles_of(SLUG, "council1") == {
            Role.council_member,
            Role.treasury_reviewer,
        }
        assert uow.missions.slugs_for("council2") == [SLUG]
        assert uow.missions.slugs_for("admin") == []
        assert uow.missions.council(SLUG) == [
            CouncilMember(username="council1", sector=Sector.civil_society),
            CouncilMember(username="council2", sector=Sector.academia),
        ]
        assert [r.role for r in uow.users.roles("council1")] == [
            Role.council_member,
            Role.treasury_reviewer,
        ]


def test_a_revoked_role_is_gone(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        assert uow.missions.unassign(SLUG, "council1", Role.council_member)
        assert not uow.missions.unassign(SLUG, "council1", Role.council_member)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.missions.roles_of(SLUG, "council1") == set()


def test_quarters_read_back_in_label_order_with_their_state(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.missions.add(a_mission())
        uow.missions.add_quarter(SLUG, Quarter(label="2026-27 Q3"))
        uow.missions.add_quarter(SLUG, Quarter(label="2026-27 Q1", state=QuarterState.closed))
        uow.missions.add_quarter(SLUG, Quarter(label="2026-27 Q2", state=QuarterState.closed))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.missions.quarters(SLUG) == [
            Quarter(label="2026-27 Q1", state=QuarterState.closed),
            Quarter(label="2026-27 Q2", state=QuarterState.closed),
            Quarter(label="2026-27 Q3", state=QuarterState.open),
        ]
        with pytest.raises(Conflict):
            uow.missions.add_quarter(SLUG, Quarter(label="2026-27 Q1"))
        with pytest.raises(NotFound):
            uow.missions.quarter_row(SLUG, "2026-27 Q4")


def test_scores_read_back_as_written(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine, quarters=["2026-27 Q2", "2026-27 Q3"])
    scores = [
        a_score(),
        a_score(quarter="2026-27 Q2", option="explore", cost=None, status=ScoreStatus.draft),
        Score(
            member="council1",
            quarter="2026-27 Q2",
            candidate="h2-combustion",
            option="demonstrate",
            status=ScoreStatus.submitted,
            not_competent=True,
            rationale="Outside my expertise.",
        ),
    ]
    with SqlUnitOfWork(engine) as uow:
        for score in scores:
            uow.scores.add(SLUG, score)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.scores.all(SLUG) == scores


def test_a_second_score_for_the_same_member_option_and_quarter_is_a_conflict(
    engine: Engine,
) -> None:
    given_a_mission_with_a_candidate(engine)
    with SqlUnitOfWork(engine) as uow:
        uow.scores.add(SLUG, a_score())
        uow.scores.add(SLUG, a_score(p_success=0.5))
        with pytest.raises(Conflict):
            uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.scores.all(SLUG) == []


def test_evidence_reads_back_as_written_in_date_order(engine: Engine) -> None:
    given_a_mission_with_a_candidate(engine, quarters=["2026-27 Q1", "2026-27 Q2"])
    later = Evidence(
        candidate="h2-combustion",
        quarter="2026-27 Q2",
        kind=EvidenceKind.cost_actuals,
        date=dt.date(2026, 9, 30),
        summary="Half-year spend above plan",
        diagnosticity=1.5,
        cost_actual=4.25,
        cost_planned=3.0,
        recorded_by="ceo",
    )
    earlier = [
        Evidence(
            candidate="h2-combustion",
            quarter="2026-27 Q1",
            kind=EvidenceKind.trl_change,
            date=dt.date(2026, 5, 2),
            summary="Combustor rig test",
            trl=4,
        ),
        Evidence(
            candidate="h2-combustion",
            quarter="2026-27 Q1",
            kind=EvidenceKind.stage_gate,
            date=dt.date(2026, 6, 20),
            summary="Stage gate 1 failed",
            outcome=False,
            recorded_by="council1",
        ),
    ]
    with SqlUnitOfWork(engine) as uow:
        uow.evidence.add(SLUG, later)
        for item in earlier:
            uow.evidence.add(SLUG, item)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.evidence.all(SLUG) == [*earlier, later]
        assert uow.evidence.all(SLUG, candidate="h2-combustion") == [*earlier, later]
        assert uow.evidence.all(SLUG, candidate="other") == []


def test_audit_entries_read_back_newest_first_per_mission(engine: Engine) -> None:
    at = dt.datetime(2026, 10, 1, 9, 30, 15, 123456)
    entries = [
        AuditEntry(
            at=at,
            actor="ceo",
            mission=SLUG,
            entity="mission",
            entity_id=SLUG,
            action="updated",
            before={"target": 4.5, "years": ["2026-27"]},
            after={"target": 6.0, "years": ["2026-27", "2027-28"]},
        ),
        AuditEntry(
            at=at + dt.timedelta(seconds=1),
            actor="council1",
            mission=SLUG,
            entity="candidate",
            entity_id="h2-combustion",
            action="created",
            after={"name": "Hydrogen – “combustion”", "trl": 3},
        ),
        AuditEntry(
            at=at,
            actor="admin",
            mission=None,
            entity="user",
            entity_id="council1",
            action="created",
        ),
    ]
    with SqlUnitOfWork(engine) as uow:
        for entry in entries:
            uow.audit.add(entry)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.audit.all(SLUG) == [entries[1], entries[0]]
        assert uow.audit.all(None) == [entries[2]]
        assert uow.audit.all(SLUG, entity="candidate") == [entries[1]]
        assert uow.audit.all(SLUG, entity_id=SLUG) == [entries[0]]
        assert uow.audit.all(SLUG, limit=1, offset=1) == [entries[0]]
        assert uow.audit.count(SLUG) == 2
        assert uow.audit.count(None) == 1


def test_a_service_change_and_its_audit_entry_are_stored_together(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        services.create_mission(uow, "ceo", a_mission())
        services.register_candidate(uow, "council1", SLUG, a_candidate(registered_by=None))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.candidates.get(SLUG, "h2-combustion").registered_by == "council1"
        trail = uow.audit.all(SLUG)
        assert [(e.actor, e.entity, e.entity_id, e.action) for e in trail] == [
            ("council1", "candidate", "h2-combustion", "created"),
            ("ceo", "mission", SLUG, "created"),
        ]


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
