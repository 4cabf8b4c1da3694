"""Storage round trips through the repositories and the unit of work, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
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
    AuditEntry,
    CouncilMember,
    Envelope,
    Evidence,
    EvidenceKind,
    FundingOption,
    Quarter,
    QuarterState,
    Role,
    RoleAssignment,
    Score,
    ScoreStatus,
    Sector,
    ThreePoint,
    User,
)
from portfolio.services import missions as services

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
