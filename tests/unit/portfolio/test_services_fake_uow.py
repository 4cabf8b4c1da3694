"""The services' rules, run on the in-memory unit of work (``portfolio/adapters/memory``): no
database, so each test takes milliseconds. Storage itself is tested on SQLite and PostgreSQL
(tests/integration/test_storage.py), and tests/integration/test_fake_uow_parity.py checks that
the fake and the SQL unit of work give the same answers to the same calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from small_mission import (
    ADMIN,
    ANNA,
    BEN,
    CEO,
    NOW,
    QUARTER,
    SLUG,
    TREASURY,
    YEARS,
    a_candidate,
    a_mission,
    a_run,
    a_score,
    seed_mission,
)

from portfolio.adapters.memory import FakeUnitOfWork, MemoryStore
from portfolio.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from portfolio.domain.model import (
    ApprovalState,
    AuditEntry,
    Envelope,
    QuarterState,
    Role,
    ScoreStatus,
    ScoringState,
    User,
)
from portfolio.domain.rag import Rag, rag_from_p
from portfolio.services import approvals, council, cycle
from portfolio.services import missions as services
from portfolio.services.council_round import Progress, Viewer


@pytest.fixture
def store() -> MemoryStore:
    """A mission with a CEO, a Treasury reviewer, two council members (anna, ben), one
    candidate and an open quarter, written through the services themselves."""
    store = MemoryStore(clock=lambda: NOW)
    with FakeUnitOfWork(store) as uow:
        seed_mission(uow)
        uow.commit()
    return store


@pytest.fixture
def uow(store: MemoryStore) -> Iterator[FakeUnitOfWork]:
    with FakeUnitOfWork(store) as unit:
        yield unit


def audit_actions(uow: FakeUnitOfWork, entity: str, mission: str | None = SLUG) -> list[str]:
    """The audit trail's actions on ``entity``, oldest first."""
    return [e.action for e in reversed(uow.audit.all(mission, entity=entity))]


# -- the unit of work ------------------------------------------------------------------------------
def test_committed_work_is_seen_by_the_next_unit_of_work(store: MemoryStore) -> None:
    with FakeUnitOfWork(store) as uow:
        services.register_candidate(uow, CEO, SLUG, a_candidate("beta"))
        assert not uow.committed  # services never commit: their caller does
        uow.commit()
        assert uow.committed
    with FakeUnitOfWork(store) as uow:
        assert [c.id for c in uow.candidates.all(SLUG)] == ["alpha", "beta"]


def test_nothing_is_visible_after_a_rollback(store: MemoryStore) -> None:
    with FakeUnitOfWork(store) as uow:
        services.register_candidate(uow, CEO, SLUG, a_candidate("beta"))
        assert uow.candidates.count(SLUG) == 2  # the unit of work sees its own writes
        uow.rollback()
        assert uow.candidates.count(SLUG) == 1
        assert audit_actions(uow, "candidate") == ["created"]  # alpha's only
    with FakeUnitOfWork(store) as uow:
        services.register_candidate(uow, CEO, SLUG, a_candidate("gamma"))
        # leaving the block without commit discards the work
    with FakeUnitOfWork(store) as uow:
        assert [c.id for c in uow.candidates.all(SLUG)] == ["alpha"]


def test_uncommitted_work_is_not_seen_by_another_unit_of_work(store: MemoryStore) -> None:
    with FakeUnitOfWork(store) as writer, FakeUnitOfWork(store) as reader:
        services.register_candidate(writer, CEO, SLUG, a_candidate("beta"))
        assert reader.candidates.count(SLUG) == 1


def test_a_read_is_a_copy_of_what_is_stored(uow: FakeUnitOfWork) -> None:
    candidate = uow.candidates.get(SLUG, "alpha")
    candidate.name = "Renamed in memory only"
    assert uow.candidates.get(SLUG, "alpha").name == "Candidate Alpha"


def test_now_is_the_store_clock(uow: FakeUnitOfWork) -> None:
    assert uow.now() == NOW


# -- users and roles -------------------------------------------------------------------------------
def test_a_weak_password_is_refused_and_no_user_is_made(uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidInput) as refused:
        services.create_user(uow, ADMIN, User(username="dan", display_name="Dan"), "dan")
    assert refused.value.errors[0][0] == "password"
    assert uow.users.find("dan") is None
    assert "dan" not in [e.entity_id for e in uow.audit.all(None, entity="user")]


def test_a_taken_username_is_refused(uow: FakeUnitOfWork) -> None:
    with pytest.raises(Conflict):
        services.create_user(uow, ADMIN, User(username=ANNA, display_name="Other"), None)


def test_a_role_assignment_is_audited_once(uow: FakeUnitOfWork) -> None:
    services.create_user(uow, ADMIN, User(username="dan", display_name="Dan"), None)
    services.assign_role(uow, ADMIN, SLUG, "dan", Role.council_member)
    services.assign_role(uow, ADMIN, SLUG, "dan", Role.council_member)  # already held
    entries = [e for e in uow.audit.all(SLUG, entity="role") if e.entity_id.startswith("dan:")]
    assert [(e.actor, e.action, e.after) for e in entries] == [
        (ADMIN, "granted", {"username": "dan", "role": "council_member"})
    ]
    assert uow.missions.roles_of(SLUG, "dan") == {Role.council_member}


def test_a_mission_has_one_ceo_and_a_refusal_writes_nothing(uow: FakeUnitOfWork) -> None:
    before = uow.audit.count(SLUG)
    with pytest.raises(Conflict, match="already has a Mission CEO"):
        services.assign_role(uow, ADMIN, SLUG, ANNA, Role.mission_ceo)
    assert Role.mission_ceo not in uow.missions.roles_of(SLUG, ANNA)
    assert uow.audit.count(SLUG) == before


def test_removing_a_role_is_audited_and_one_not_held_is_refused(uow: FakeUnitOfWork) -> None:
    services.remove_role(uow, ADMIN, SLUG, BEN, Role.council_member)
    assert audit_actions(uow, "role")[-1] == "revoked"
    with pytest.raises(NotFound):
        services.remove_role(uow, ADMIN, SLUG, BEN, Role.council_member)


def test_disabling_a_user_ends_their_sessions_and_revokes_their_tokens(
    uow: FakeUnitOfWork,
) -> None:
    uow.sessions.add("session-of-ben", BEN)
    services.new_api_token(uow, BEN, BEN, "laptop")
    ben = uow.users.get(BEN)
    services.update_user(uow, ADMIN, ben.with_changes(active=False))
    assert uow.users.tokens(BEN) == []
    assert not uow.sessions.exists("session-of-ben")
    assert audit_actions(uow, "api_token", None) == ["created", "revoked"]


def test_a_token_lifetime_outside_the_rule_is_refused(uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidInput) as refused:
        services.new_api_token(uow, BEN, BEN, "laptop", expires_in_days="400")
    assert refused.value.errors[0][0] == "expires_in_days"
    assert uow.users.tokens(BEN) == []


# -- missions and candidates -----------------------------------------------------------------------
def test_a_candidate_that_does_not_fit_the_mission_is_refused_and_nothing_is_written(
    uow: FakeUnitOfWork,
) -> None:
    misfit = a_candidate("beta", eligible_envelopes=["elsewhere"])
    with pytest.raises(InvalidInput) as refused:
        services.register_candidate(uow, CEO, SLUG, misfit)
    assert refused.value.errors == [
        ("eligible_envelopes", "elsewhere is not an envelope of this mission")
    ]
    assert [c.id for c in uow.candidates.all(SLUG)] == ["alpha"]
    assert audit_actions(uow, "candidate") == ["created"]  # alpha's only


def test_only_treasury_sets_treasury_approval(uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidInput) as refused:
        services.register_candidate(uow, CEO, SLUG, a_candidate("beta", treasury_approved=True))
    assert refused.value.errors == [("treasury_approved", services.TREASURY_ONLY)]
    with pytest.raises(InvalidInput):
        services.update_candidate(
            uow, CEO, SLUG, uow.candidates.get(SLUG, "alpha").with_changes(treasury_approved=True)
        )
    assert not uow.candidates.get(SLUG, "alpha").treasury_approved


def test_registering_names_the_registrar_and_is_audited(uow: FakeUnitOfWork) -> None:
    services.register_candidate(uow, CEO, SLUG, a_candidate("beta"))
    assert uow.candidates.get(SLUG, "beta").registered_by == CEO
    (entry,) = uow.audit.all(SLUG, entity="candidate", entity_id="beta")
    assert (entry.actor, entry.action, entry.at) == (CEO, "created", NOW)


def test_a_mission_may_not_drop_a_year_its_candidates_are_costed_in(uow: FakeUnitOfWork) -> None:
    shorter = a_mission(
        years=YEARS[:1],
        envelopes=[Envelope(id="core", name="Core budget", budget={YEARS[0]: 100.0})],
    )
    with pytest.raises(InvalidInput) as refused:
        services.update_mission(uow, ADMIN, shorter)
    assert {field for field, _ in refused.value.errors} == {"years"}
    assert uow.missions.get(SLUG).years == YEARS


def test_an_edit_from_an_old_form_is_refused(uow: FakeUnitOfWork) -> None:
    version = uow.candidates.version(SLUG, "alpha")
    candidate = uow.candidates.get(SLUG, "alpha")
    services.update_candidate(uow, CEO, SLUG, candidate.with_changes(trl=7), version)
    with pytest.raises(Conflict):
        services.update_candidate(uow, CEO, SLUG, candidate.with_changes(trl=8), version)
    assert uow.candidates.get(SLUG, "alpha").trl == 7
    assert audit_actions(uow, "candidate") == ["created", "updated"]


# -- the council's scores and the blind rule -------------------------------------------------------
def score_all(uow: FakeUnitOfWork, member: str, *, submit: bool) -> None:
    entries = [a_score(member, "base"), a_score(member, "big", p_success=0.3)]
    council.save_scores(uow, member, SLUG, "alpha", entries, submit=submit, not_competent=False)


def viewer(uow: FakeUnitOfWork, username: str) -> Viewer:
    roles = frozenset(uow.missions.roles_of(SLUG, username))
    return Viewer(username, roles, is_admin=uow.users.get(username).is_admin)


def test_scores_are_saved_only_while_the_round_is_open(uow: FakeUnitOfWork) -> None:
    with pytest.raises(Conflict, match="not open"):
        score_all(uow, ANNA, submit=False)
    assert council.open_round(uow, CEO, SLUG) == QUARTER
    score_all(uow, ANNA, submit=False)
    assert uow.missions.quarter(SLUG, QUARTER).scoring is ScoringState.open


def test_a_submission_is_final(uow: FakeUnitOfWork) -> None:
    council.open_round(uow, CEO, SLUG)
    score_all(uow, ANNA, submit=True)
    with pytest.raises(Conflict, match="submitted scores are final"):
        score_all(uow, ANNA, submit=False)
    assert {s.status for s in uow.scores.all(SLUG, QUARTER)} == {ScoreStatus.submitted}
    assert audit_actions(uow, "score") == ["submitted"]


def test_a_submission_needs_every_estimate_and_writes_nothing_without(uow: FakeUnitOfWork) -> None:
    council.open_round(uow, CEO, SLUG)
    entries = [a_score(ANNA, "base"), a_score(ANNA, "big", confidence=None)]
    with pytest.raises(InvalidInput) as refused:
        council.save_scores(uow, ANNA, SLUG, "alpha", entries, submit=True, not_competent=False)
    assert refused.value.errors == [("options.1.confidence", "required to submit")]
    assert uow.scores.all(SLUG) == []


def test_a_form_opened_before_another_save_is_refused(uow: FakeUnitOfWork) -> None:
    council.open_round(uow, CEO, SLUG)
    opened = uow.scores.version_of(SLUG, QUARTER, ANNA, "alpha")
    score_all(uow, ANNA, submit=False)  # another window saves
    with pytest.raises(Conflict, match="another window"):
        council.save_scores(
            uow,
            ANNA,
            SLUG,
            "alpha",
            [a_score(ANNA, "base")],
            submit=False,
            not_competent=False,
            expected_version=opened,
        )


def test_only_the_member_submits_their_scores(uow: FakeUnitOfWork) -> None:
    council.open_round(uow, CEO, SLUG)
    entries = [a_score(ANNA, "base"), a_score(ANNA, "big")]
    with pytest.raises(PermissionDenied):
        council.save_scores(
            uow, ANNA, SLUG, "alpha", entries, submit=True, not_competent=False, imported_by=CEO
        )
    council.save_scores(
        uow, ANNA, SLUG, "alpha", entries, submit=False, not_competent=False, imported_by=CEO
    )
    (entry,) = uow.audit.all(SLUG, entity="score")
    assert (entry.actor, entry.action) == (CEO, "imported on behalf")
    with pytest.raises(PermissionDenied):  # the CEO is not on the council
        score_all(uow, CEO, submit=False)


def test_the_blind_rule(uow: FakeUnitOfWork) -> None:
    """A member sees the others' scores of a candidate only once they have submitted it (or
    the round is over); the CEO, Treasury and the administrator always; others never."""
    council.open_round(uow, CEO, SLUG)
    score_all(uow, ANNA, submit=True)
    score_all(uow, BEN, submit=False)
    services.create_user(uow, ADMIN, User(username="olly", display_name="Olly"), None)
    anna, ben, ceo, outsider = (viewer(uow, u) for u in (ANNA, BEN, CEO, "olly"))

    assert council.hidden_candidates(uow, SLUG, QUARTER, ben) == {"alpha"}
    assert council.quarter_view(uow, SLUG, QUARTER, ben).rows == []
    assert council.candidate_view(uow, SLUG, QUARTER, ben, uow.candidates.get(SLUG, "alpha")) == (
        council.CandidateView(
            QUARTER, uow.candidates.get(SLUG, "alpha"), Progress.draft, True, [], None
        )
    )
    assert council.hidden_candidates(uow, SLUG, QUARTER, outsider) == {"alpha"}
    assert council.hidden_candidates(uow, SLUG, QUARTER, anna) == set()
    assert council.hidden_candidates(uow, SLUG, QUARTER, ceo) == set()

    alpha = uow.candidates.get(SLUG, "alpha")
    seen_by_anna = council.candidate_view(uow, SLUG, QUARTER, anna, alpha).scores
    assert {s.member for s in seen_by_anna} == {ANNA}  # ben's draft stays his
    seen_by_ceo = council.candidate_view(uow, SLUG, QUARTER, ceo, alpha).scores
    assert {s.member for s in seen_by_ceo} == {ANNA, BEN}  # who oversees reads drafts too

    council.close_round(uow, CEO, SLUG)  # the round is over: nothing is blind any more
    assert council.hidden_candidates(uow, SLUG, QUARTER, ben) == set()


def test_closing_the_round_freezes_the_submitted_scores(uow: FakeUnitOfWork) -> None:
    council.open_round(uow, CEO, SLUG)
    score_all(uow, ANNA, submit=True)
    score_all(uow, BEN, submit=False)  # a draft is not pooled
    assert council.outstanding(uow, SLUG, QUARTER) == {BEN: ["alpha"]}
    council.close_round(uow, CEO, SLUG)
    frozen = uow.aggregates.all(SLUG, QUARTER)
    assert sorted(a.option for a in frozen) == ["base", "big"]
    assert uow.missions.quarter(SLUG, QUARTER).scoring is ScoringState.closed
    assert audit_actions(uow, "scoring_round") == ["opened", "closed"]


# -- approving the quarter's allocation, and its rating -------------------------------------------
def test_approving_needs_a_reason_for_each_start_and_writes_nothing_without(
    uow: FakeUnitOfWork,
) -> None:
    run_id = a_run(uow, 0.9)
    with pytest.raises(InvalidInput) as refused:
        cycle.approve_run(uow, CEO, SLUG, run_id, reasons={}, contracted=set())
    assert refused.value.errors == [("reason.alpha", "give the reason for this start")]
    assert uow.missions.quarter(SLUG, QUARTER).state is QuarterState.open
    assert uow.cycle.changes(SLUG, QUARTER) == []


@pytest.mark.parametrize("p_target", [0.9, 0.7, 0.5, 0.1])
def test_approving_rates_the_quarter_by_the_one_rag_rule(
    uow: FakeUnitOfWork, p_target: float
) -> None:
    run_id = a_run(uow, p_target)
    cycle.approve_run(
        uow, CEO, SLUG, run_id, reasons={"alpha": "the best value"}, contracted={"alpha"}
    )
    quarter = uow.missions.quarter(SLUG, QUARTER)
    mission = uow.missions.get(SLUG)
    assert quarter.state is QuarterState.approved
    assert quarter.rag is rag_from_p(p_target, mission.rag_green, mission.rag_amber)
    assert [(c.candidate, c.kind.value, c.contracted) for c in uow.cycle.changes(SLUG)] == [
        ("alpha", "start", True)
    ]
    assert [c.candidate for c in uow.contracts.live(SLUG)] == ["alpha"]
    (entry,) = uow.audit.all(SLUG, entity="quarter")
    assert entry.after is not None and entry.after["rag"] == quarter.rag


def test_an_override_needs_a_reason_and_one_equal_to_the_rating_is_none(
    uow: FakeUnitOfWork,
) -> None:
    run_id = a_run(uow, 0.9)  # green
    cycle.approve_run(uow, CEO, SLUG, run_id, reasons={"alpha": "best"}, contracted=set())
    with pytest.raises(InvalidInput):
        cycle.override_rag(uow, CEO, SLUG, Rag.amber, "  ")
    cycle.override_rag(uow, CEO, SLUG, Rag.amber, "the supply chain is fragile")
    quarter = uow.missions.quarter(SLUG, QUARTER)
    assert (quarter.rag, quarter.rag_override, quarter.rag_shown) == (
        Rag.green,
        Rag.amber,
        Rag.amber,
    )
    cycle.override_rag(uow, CEO, SLUG, Rag.green, "as computed")
    quarter = uow.missions.quarter(SLUG, QUARTER)
    assert (quarter.rag_override, quarter.rag_reason, quarter.rag_shown) == (None, "", Rag.green)


def test_a_run_that_leaves_out_a_live_contract_is_refused(uow: FakeUnitOfWork) -> None:
    first = a_run(uow, 0.8)
    cycle.approve_run(uow, CEO, SLUG, first, reasons={"alpha": "best"}, contracted={"alpha"})
    second = a_run(uow, 0.8, option=None)
    with pytest.raises(Conflict, match="contract"):
        cycle.approve_run(uow, CEO, SLUG, second, reasons={"alpha": "stop"}, contracted=set())
    assert uow.missions.quarter(SLUG, QUARTER).approved_run == first


# -- Treasury approval above the Delegated Authority Limit ----------------------------------------
def test_treasury_approval_is_requested_by_the_ceo_and_decided_by_another(
    uow: FakeUnitOfWork,
) -> None:
    roles = {u: uow.missions.roles_of(SLUG, u) for u in (CEO, TREASURY)}
    with pytest.raises(PermissionDenied):
        approvals.request_approval(uow, TREASURY, roles[TREASURY], SLUG, "alpha", "please")
    request = approvals.request_approval(uow, CEO, roles[CEO], SLUG, "alpha", "it is large")
    with pytest.raises(Conflict, match="already waiting"):
        approvals.request_approval(uow, CEO, roles[CEO], SLUG, "alpha", "again")
    with pytest.raises(PermissionDenied):
        approvals.decide_approval(uow, CEO, roles[CEO], SLUG, request, approve=True, reason="ok")
    decided = approvals.decide_approval(
        uow, TREASURY, roles[TREASURY], SLUG, request, approve=True, reason="value for money"
    )
    assert decided.state is ApprovalState.approved
    assert uow.candidates.get(SLUG, "alpha").treasury_approved
    assert audit_actions(uow, "treasury_approval") == ["requested", "approved"]


def test_the_audit_trail_is_chained(uow: FakeUnitOfWork) -> None:
    head = uow.audit.head(SLUG)
    assert head is not None and head[0] == uow.audit.count(SLUG)
    uow.audit.add(
        AuditEntry(at=NOW, actor=CEO, mission=SLUG, entity="note", entity_id="1", action="noted")
    )
    after = uow.audit.head(SLUG)
    assert after is not None and after[0] == head[0] + 1 and after[1] != head[1]
