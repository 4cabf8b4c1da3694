"""RAG thresholds and wording, change classification, public labels and the update letter."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portfolio.domain.limits import count_words as word_count
from portfolio.domain.model import Candidate, ChangeKind, EvidenceKind, Rag, Sector
from portfolio.domain.quarterly_update import (
    Change,
    ProposedStop,
    PublicDissent,
    UpdateContext,
    classify_changes,
    draft_update,
    public_label,
)
from portfolio.domain.rag import RAG_WORDING, apply_override, rag_from_p, rate_delivery

PAPER = "/work/shared/seeds/000_94dcca9441e1b365.txt"

# -- RAG -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "rag"),
    [(0.7, Rag.green), (0.95, Rag.green), (0.69, Rag.amber), (0.4, Rag.amber), (0.39, Rag.red)],
)
def test_rag_is_green_from_0_7_amber_from_0_4_and_red_below(p: float, rag: Rag) -> None:
    assert rag_from_p(p) is rag


def test_rag_thresholds_can_be_set() -> None:
    assert rag_from_p(0.6, green=0.6, amber=0.3) is Rag.green
    assert rag_from_p(0.29, green=0.6, amber=0.3) is Rag.red


def test_green_threshold_not_above_amber_is_refused() -> None:
    with pytest.raises(ValueError, match="must be above the Amber threshold"):
        rag_from_p(0.5, green=0.4, amber=0.4)


def test_rag_wording_quotes_the_ipa_definitions_exactly_as_the_paper_gives_them() -> None:
    try:
        paper = open(PAPER, encoding="utf-8").read()
    except FileNotFoundError:
        pytest.skip("the seed paper is not beside this checkout")
    for rag, label in ((Rag.green, "Green"), (Rag.amber, "Amber"), (Rag.red, "Red")):
        assert f"- {label}: {RAG_WORDING[rag]}\n" in paper


def test_rag_wording_starts_as_the_ipa_does() -> None:
    assert RAG_WORDING[Rag.green].startswith("Successful delivery of the mission appears “highly")
    assert "“feasible”" in RAG_WORDING[Rag.amber]
    assert "“appears to be unachievable." in RAG_WORDING[Rag.red]


def test_ceo_override_needs_a_reason_and_keeps_the_computed_rating() -> None:
    with pytest.raises(ValueError, match="rag_reason"):
        rate_delivery(0.35, override=Rag.amber, reason="  ")
    rating = rate_delivery(0.35, override=Rag.amber, reason="Gate 2 results due next month")
    assert (rating.computed, rating.rag, rating.overridden) == (Rag.red, Rag.amber, True)


def test_override_equal_to_the_computed_rating_is_no_override() -> None:
    rating = rate_delivery(0.8, override=Rag.green, reason="Looks fine to me")
    assert not rating.overridden and rating.rag is Rag.green
    assert rating.override is None and rating.reason == ""


def test_an_override_that_differs_is_stored_with_its_reason() -> None:
    rating = apply_override(Rag.green, Rag.amber, "  Two stage gates ahead  ")
    assert rating.override is Rag.amber and rating.reason == "Two stage gates ahead"
    assert apply_override(Rag.green, None, "ignored").override is None


# -- changes -------------------------------------------------------------------------------------


def test_changes_are_classified_start_continue_scale_up_scale_down_and_stop() -> None:
    previous = {
        "kept": ("explore", 10.0),
        "nudged": ("explore", 10.0),
        "grown": ("explore", 10.0),
        "shrunk": ("scale", 30.0),
        "dropped": ("explore", 5.0),
        "promoted": ("explore", 10.0),
    }
    current = {
        "kept": ("explore", 10.0),
        "nudged": ("explore", 10.09),
        "grown": ("explore", 12.0),
        "shrunk": ("scale", 20.0),
        "new": ("explore", 4.0),
        "promoted": ("demonstrate", 25.0),
    }
    changes = {c.candidate: c for c in classify_changes(previous, current)}
    kinds = {k: c.kind for k, c in changes.items()}
    assert kinds == {
        "kept": ChangeKind.continue_,
        "nudged": ChangeKind.continue_,
        "grown": ChangeKind.scale_up,
        "shrunk": ChangeKind.scale_down,
        "dropped": ChangeKind.stop,
        "new": ChangeKind.start,
        "promoted": ChangeKind.scale_up,
    }
    promoted, dropped, new = changes["promoted"], changes["dropped"], changes["new"]
    assert (promoted.option_before, promoted.option_after) == ("explore", "demonstrate")
    assert (dropped.option_before, dropped.option_after, dropped.amount_after) == (
        "explore",
        None,
        0,
    )
    assert (new.option_before, new.amount_before) == (None, 0)


def test_a_change_of_just_over_one_percent_is_a_scale_up() -> None:
    [change] = classify_changes({"a": ("x", 10.0)}, {"a": ("x", 10.11)})
    assert change.kind is ChangeKind.scale_up


def test_changes_carry_public_labels_when_given() -> None:
    [change] = classify_changes({}, {"h2": ("x", 1.0)}, labels={"h2": "A moonshot h2 candidate"})
    assert change.candidate_label == "A moonshot h2 candidate"


def test_a_candidate_unfunded_in_both_quarters_is_no_change() -> None:
    assert classify_changes({"a": ("x", 0.0)}, {}) == []


# -- public labels -------------------------------------------------------------------------------


def candidate(sensitive: bool) -> Candidate:
    return Candidate.model_validate(
        {
            "id": "h2-burner",
            "name": "Secret Burner Mk II",
            "organisation": "Acme Turbines",
            "organisation_type": "incumbent",
            "platform": "hydrogen-combustion",
            "tier": "moonshot",
            "trl": 3,
            "eligible_envelopes": ["sbc"],
            "commercially_sensitive": sensitive,
            "options": [
                {
                    "id": "explore",
                    "name": "Explore",
                    "cost_profile": {"2026-27": 2.0},
                    "p_success": 0.3,
                    "impact": {"low": 0, "most_likely": 1, "high": 2},
                }
            ],
        }
    )


def test_public_label_is_the_name_of_a_normal_candidate() -> None:
    assert public_label(candidate(False)) == "Secret Burner Mk II"


def test_commercially_sensitive_candidate_is_shown_only_as_tier_and_platform() -> None:
    label = public_label(candidate(True))
    assert label == "A moonshot hydrogen-combustion candidate"
    assert "Secret" not in label and "Acme" not in label


# -- the letter ----------------------------------------------------------------------------------


def context(**changes: Any) -> UpdateContext:
    data: dict[str, Any] = {
        "mission_name": "Carbon-neutral UK air travel",
        "target": 10.0,
        "unit": "MtCO2e/yr",
        "deadline": dt.date(2030, 12, 31),
        "quarter": "2026-27 Q3",
        "rag": Rag.amber,
        "p_target": 0.55,
        "planned_p_target": 0.6,
        "previous_p_target": 0.5,
        "expected_impact": 8.2,
        "cvar_shortfall": 6.5,
        "cvar_alpha": 0.9,
        "spend_total": 200.0,
        "budget_total": 250.0,
        "spend_by_platform": {"hydrogen": 90.0, "saf": 70.0, "electric": 40.0},
        "n_funded": 12,
        "n_candidates": 20,
        "changes": [
            Change(
                kind=ChangeKind.stop,
                candidate="lh2-tank",
                candidate_label="A moonshot hydrogen candidate",
                option_before="demonstrate",
                amount_before=15.0,
                amount_after=0.0,
                reason="Liner cracked in cryogenic cycling; the council's p fell to 0.1.",
            ),
            Change(
                kind=ChangeKind.start,
                candidate="ev-trainer",
                candidate_label="Electric trainer aircraft",
                option_after="explore",
                amount_before=0.0,
                amount_after=8.0,
                reason="Passed gate 1.",
            ),
        ],
        "evidence_counts": {EvidenceKind.milestone_met: 4, EvidenceKind.milestone_missed: 2},
        "stage_gates_passed": 1,
        "flags": ["Two awards above the Delegated Authority Limit await Treasury approval."],
        "proposed_stops": [ProposedStop(candidate_label="PtL Orkney", posterior_p=0.12)],
        "dissents": [PublicDissent(member_sector=Sector.academia, text="Amber is too generous.")],
        "next_quarter": "2026-27 Q4",
        "next_planned_p_target": 0.62,
    }
    data.update(changes)
    return UpdateContext(**data)


SECTIONS = [
    "## State of play",
    "## Delivery confidence: Amber — why",
    "## What changed in the portfolio and why",
    "## Leading indicators",
    "## Risks",
    "## Next quarter",
]


def test_letter_has_the_six_sections_in_order() -> None:
    text = draft_update(context())
    positions = [text.index(heading) for heading in SECTIONS]
    assert positions == sorted(positions)
    assert text.startswith("# Carbon-neutral UK air travel: quarterly update, 2026-27 Q3")


def test_letter_is_plain_text_without_html() -> None:
    text = draft_update(context())
    assert not re.search(r"<[a-zA-Z/]", text)
    for line in text.splitlines():
        assert not line.startswith(("*", "+", "|", ">", "###"))


def test_letter_explains_the_rating_with_the_ipa_wording() -> None:
    text = draft_update(context())
    assert "We rate delivery confidence Amber." in text
    assert "Green when the chance of reaching the target is 70% or more" in text
    assert RAG_WORDING[Rag.amber] in text
    assert "At 55% the estimate gives Amber." in text


def test_letter_names_the_override_and_its_reason() -> None:
    text = draft_update(
        context(p_target=0.35, rag_override_reason="Gate 2 results are due in January.")
    )
    assert (
        "The Mission CEO has rated it Amber rather than Red, because: "
        "Gate 2 results are due in January." in text
    )


def test_letter_lists_changes_with_reasons_and_leading_indicators() -> None:
    text = draft_update(context())
    assert "Compared with last quarter: 1 started, 1 stopped." in text
    assert "- Stop: A moonshot hydrogen candidate (£15.0 million to £0). Liner cracked" in text
    assert "- Start: Electric trainer aircraft (£0 to £8.0 million). Passed gate 1." in text
    assert "planned 60%, actual 55% (5 points behind plan)" in text
    assert "- Milestones this quarter: 4 met, 2 missed." in text
    assert "- Stage gates: 1 passed, 0 failed." in text


def test_letter_states_the_risks_and_the_dissent() -> None:
    text = draft_update(context())
    assert "the largest platform, hydrogen, takes 45% of spend" in text
    assert "in the worst 10% of scenarios the portfolio falls short" in text
    assert "PtL Orkney (p 0.12)" in text
    assert "- A council member from academia: “Amber is too generous.”" in text
    assert "- Two awards above the Delegated Authority Limit await Treasury approval." in text


def test_letter_never_prints_candidate_ids() -> None:
    text = draft_update(context())
    assert "lh2-tank" not in text and "ev-trainer" not in text


def many_changes(n: int) -> list[Change]:
    return [
        Change(
            kind=ChangeKind.scale_up if i % 2 else ChangeKind.continue_,
            candidate=f"cand-{i}",
            candidate_label=f"Candidate number {i} with a fairly long descriptive name",
            option_before="explore",
            option_after="explore",
            amount_before=10.0,
            amount_after=10.0 + (i % 2) * (i + 1),
            reason="The council raised its estimate after the trial results. " * 5,
        )
        for i in range(n)
    ]


def test_letter_with_200_changes_lists_25_and_stays_under_2000_words() -> None:
    text = draft_update(context(changes=many_changes(200)))
    assert word_count(text) < 2000
    assert "Compared with last quarter: 100 continued, 100 scaled up." in text
    assert "- and 175 smaller changes, listed in the open data." in text
    # the largest changes come first
    assert "Candidate number 199 " in text and "Candidate number 0 " not in text


def test_letter_stays_under_2000_words_with_huge_dissents_and_flags() -> None:
    text = draft_update(
        context(
            changes=many_changes(200),
            dissents=[PublicDissent(member_sector=Sector.business, text="word " * 4000)] * 15,
            flags=["flag " * 200] * 50,
            proposed_stops=[ProposedStop(candidate_label="x " * 50, posterior_p=0.1)] * 100,
            mission_name="long " * 150,
        )
    )
    assert word_count(text) < 2000
    assert all(heading in text for heading in SECTIONS)


def test_word_count_ignores_bullets_and_dashes() -> None:
    assert word_count("- Stop: A candidate — £4.0 million\n\n## Risks") == 6


@given(st.lists(st.text(max_size=40), max_size=5))
def test_word_count_is_at_most_the_number_of_tokens(texts: list[str]) -> None:
    text = " ".join(texts)
    assert 0 <= word_count(text) <= len(text.split())


def test_thresholds_in_context_are_validated() -> None:
    with pytest.raises(ValueError, match="Green threshold"):
        context(green_threshold=0.3, amber_threshold=0.5)
