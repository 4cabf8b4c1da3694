"""The demo mission document is valid, deterministic and has content for every screen and flag."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import pytest

from portfolio.adapters.exchange import MissionDocument
from portfolio.demo.mission import DEMO_SLUG, demo_document
from portfolio.domain.model import (
    EvidenceKind,
    QuarterState,
    Role,
    ScoreStatus,
    ScoringState,
    Sector,
    quarter_of,
)


@pytest.fixture(scope="module")
def doc() -> MissionDocument:
    return demo_document()


def test_the_demo_document_validates_and_round_trips_through_json(doc: MissionDocument) -> None:
    again = MissionDocument.model_validate(doc.model_dump(mode="json"))
    assert again == doc
    assert MissionDocument.model_validate_json(doc.model_dump_json()) == doc


def test_the_demo_document_is_the_same_on_every_call(doc: MissionDocument) -> None:
    assert demo_document().model_dump(mode="json") == doc.model_dump(mode="json")


def test_the_mission_is_the_uk_air_travel_demo_with_two_envelopes(doc: MissionDocument) -> None:
    mission = doc.mission
    assert mission.slug == DEMO_SLUG == "uk-air-travel"
    assert "Figures are illustrative, not real programme data." in mission.description
    assert mission.years == ["2025-26", "2026-27", "2027-28", "2028-29", "2029-30"]
    assert {e.id for e in mission.envelopes} == {"sbc", "ukri"}
    assert mission.dal == 50.0
    assert mission.dal_mode == "flag"


def test_there_are_at_least_twenty_candidates_across_six_platforms_with_one_to_three_options(
    doc: MissionDocument,
) -> None:
    assert len(doc.candidates) >= 20
    assert len({c.platform for c in doc.candidates}) >= 6
    assert all(1 <= len(c.options) <= 3 for c in doc.candidates)
    assert {c.tier.value for c in doc.candidates} == {"conventional", "moonshot"}
    assert {c.organisation_type.value for c in doc.candidates} == {"incumbent", "rising_star"}
    assert sum("ukri" in c.eligible_envelopes for c in doc.candidates) >= 8
    assert any(c.ncr for c in doc.candidates)
    assert any(c.treasury_approved for c in doc.candidates)
    assert sum(c.commercially_sensitive for c in doc.candidates) == 2


def test_bigger_options_cost_more_and_are_no_more_likely_to_succeed(doc: MissionDocument) -> None:
    for candidate in doc.candidates:
        ordered = sorted(candidate.options, key=lambda o: o.total_cost)
        for smaller, bigger in pairwise(ordered):
            assert bigger.total_cost > smaller.total_cost
            assert bigger.p_success <= smaller.p_success


def test_seven_council_members_cover_all_four_sectors(doc: MissionDocument) -> None:
    assert len(doc.council) == 7
    assert {m.sector for m in doc.council} == set(Sector)


def test_every_role_is_present_and_the_admin_has_none(doc: MissionDocument) -> None:
    roles = {r.username: r.role for r in doc.roles}
    assert set(roles.values()) == set(Role)
    assert roles["ceo"] is Role.mission_ceo
    assert roles["treasury"] is Role.treasury_reviewer
    admins = [u for u in doc.users if u.is_admin]
    assert [u.username for u in admins] == ["admin"]
    assert "admin" not in roles


def test_four_past_quarters_with_closed_scoring_rounds_precede_the_open_one(
    doc: MissionDocument,
) -> None:
    # the loader replays the past quarters through the cycle (approve, record spend, publish,
    # close), so the document holds them open with their scoring rounds closed; the database ends
    # up with four closed quarters (tests/integration/test_cycle.py checks the loaded demo)
    states = [(q.label, q.state, q.scoring) for q in doc.quarters]
    assert states == [
        ("2025-26 Q3", QuarterState.open, ScoringState.closed),
        ("2025-26 Q4", QuarterState.open, ScoringState.closed),
        ("2026-27 Q1", QuarterState.open, ScoringState.closed),
        ("2026-27 Q2", QuarterState.open, ScoringState.closed),
        ("2026-27 Q3", QuarterState.open, ScoringState.open),
    ]


def test_evidence_covers_every_past_quarter_with_stage_gates_dated_inside_them(
    doc: MissionDocument,
) -> None:
    assert len(doc.evidence) >= 12
    assert {e.quarter for e in doc.evidence} == {
        "2025-26 Q3",
        "2025-26 Q4",
        "2026-27 Q1",
        "2026-27 Q2",
    }
    assert {e.kind for e in doc.evidence} == set(EvidenceKind)
    gates = [e for e in doc.evidence if e.kind is EvidenceKind.stage_gate]
    assert len(gates) >= 2
    assert {g.outcome for g in gates} == {True, False}
    for e in doc.evidence:
        assert quarter_of(e.date) == e.quarter


def test_the_most_expensive_options_together_exceed_the_total_budget(
    doc: MissionDocument,
) -> None:
    budget = sum(e.total for e in doc.mission.envelopes)
    most_expensive = sum(max(o.total_cost for o in c.options) for c in doc.candidates)
    assert most_expensive > 2 * budget


def test_at_least_one_option_costs_more_than_the_delegated_authority_limit(
    doc: MissionDocument,
) -> None:
    assert any(o.total_cost > doc.mission.dal for c in doc.candidates for o in c.options)


def test_closed_quarters_hold_only_submitted_scores_and_the_open_one_has_gaps(
    doc: MissionDocument,
) -> None:
    for quarter in ("2025-26 Q3", "2025-26 Q4", "2026-27 Q1", "2026-27 Q2"):
        scores = [s for s in doc.scores if s.quarter == quarter]
        assert scores
        assert all(s.status is ScoreStatus.submitted for s in scores)
    current = [s for s in doc.scores if s.quarter == "2026-27 Q3"]
    assert any(s.status is ScoreStatus.draft for s in current)
    scored = {s.member for s in current}
    assert {m.username for m in doc.council} - scored


def _p_by_candidate(doc: MissionDocument, quarter: str) -> dict[tuple[str, str], list[float]]:
    by_option: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in doc.scores:
        if (
            s.quarter == quarter
            and s.status is ScoreStatus.submitted
            and not s.not_competent
            and s.p_success is not None
        ):
            by_option[(s.candidate, s.option)].append(s.p_success)
    return by_option


@pytest.mark.parametrize("quarter", ["2025-26 Q3", "2026-27 Q2", "2026-27 Q3"])
def test_some_candidate_has_a_p_spread_above_a_quarter_among_submitted_scores(
    doc: MissionDocument, quarter: str
) -> None:
    spreads = {
        key: max(ps) - min(ps) for key, ps in _p_by_candidate(doc, quarter).items() if len(ps) > 1
    }
    assert max(spreads.values()) > 0.25


@pytest.mark.parametrize("quarter", ["2025-26 Q3", "2026-27 Q2", "2026-27 Q3"])
def test_some_candidate_is_scored_by_fewer_than_three_members_of_a_single_sector(
    doc: MissionDocument, quarter: str
) -> None:
    sector = {m.username: m.sector for m in doc.council}
    scorers: dict[str, set[str]] = defaultdict(set)
    for s in doc.scores:
        if s.quarter == quarter and s.status is ScoreStatus.submitted and not s.not_competent:
            scorers[s.candidate].add(s.member)
    thin = [
        cid
        for cid, members in scorers.items()
        if len(members) < 3 and len({sector[m] for m in members}) == 1
    ]
    assert thin
    assert any(s.not_competent for s in doc.scores if s.quarter == quarter)
