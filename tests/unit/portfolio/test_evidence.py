"""The Beta belief in p and the cost uplift against numbers worked out by hand, and invariants."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portfolio.domain.evidence import (
    Belief,
    apply_evidence,
    belief_history,
    beta_cdf,
    beta_quantile,
    kill_proposal,
    n0_for,
    posterior_belief,
    posterior_p,
    prior_belief,
    uplifted_cost,
)
from portfolio.domain.model import Confidence, Evidence, EvidenceKind


def ev(kind: EvidenceKind, day: int = 1, **fields: Any) -> Evidence:
    data: dict[str, Any] = {
        "candidate": "h2-combustion",
        "quarter": "2026-27 Q1",
        "kind": kind,
        "date": dt.date(2026, 5, day),
        "summary": f"{kind.value} on day {day}",
    }
    data.update(fields)
    return Evidence(**data)


def met(d: float = 1.0, day: int = 1) -> Evidence:
    return ev(EvidenceKind.milestone_met, day, diagnosticity=d)


def missed(d: float = 1.0, day: int = 1) -> Evidence:
    return ev(EvidenceKind.milestone_missed, day, diagnosticity=d)


def gate(outcome: bool, day: int = 1, option: str | None = None) -> Evidence:
    return ev(EvidenceKind.stage_gate, day, outcome=outcome, option=option)


def costs(actual: float, planned: float, day: int = 1) -> Evidence:
    return ev(EvidenceKind.cost_actuals, day, cost_actual=actual, cost_planned=planned)


# -- the Beta distribution -----------------------------------------------------------------------


def test_beta_2_3_median_is_0_3857() -> None:
    assert beta_quantile(0.5, 2, 3) == pytest.approx(0.385728, abs=1e-6)


def test_beta_2_3_five_and_ninety_five_percent_quantiles_match_tables() -> None:
    # scipy.stats.beta.ppf([0.05, 0.95], 2, 3)
    assert beta_quantile(0.05, 2, 3) == pytest.approx(0.0976115, abs=1e-6)
    assert beta_quantile(0.95, 2, 3) == pytest.approx(0.7513954, abs=1e-6)


@pytest.mark.parametrize("q", [0.0, 0.05, 0.25, 0.5, 0.9, 1.0])
def test_quantiles_of_the_uniform_beta_1_1_are_q(q: float) -> None:
    assert beta_quantile(q, 1, 1) == pytest.approx(q, abs=1e-12)


def test_beta_cdf_has_closed_forms_for_small_shapes() -> None:
    # Beta(2, 1): F(x) = x²; Beta(1, 3): F(x) = 1 − (1 − x)³; Beta(2, 2): 3x² − 2x³
    assert beta_cdf(0.3, 2, 1) == pytest.approx(0.09, abs=1e-12)
    assert beta_cdf(0.3, 1, 3) == pytest.approx(1 - 0.7**3, abs=1e-12)
    assert beta_cdf(0.4, 2, 2) == pytest.approx(3 * 0.16 - 2 * 0.064, abs=1e-12)


def test_beta_cdf_converges_for_large_shapes() -> None:
    assert beta_cdf(0.4, 400, 600) == pytest.approx(0.5, abs=0.02)
    assert beta_quantile(0.5, 400, 600) == pytest.approx(0.4, abs=0.001)


def test_a_quantile_level_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="q: a quantile level"):
        beta_quantile(1.5, 2, 3)


shapes = st.floats(0.05, 300, allow_nan=False)
levels = st.floats(0, 1, allow_nan=False)


@given(shapes, shapes, levels, levels)
def test_beta_quantile_is_monotone_in_q(a: float, b: float, q1: float, q2: float) -> None:
    lo, hi = sorted((q1, q2))
    assert beta_quantile(lo, a, b) <= beta_quantile(hi, a, b)


@given(st.floats(0.3, 200), st.floats(0.3, 200), st.floats(0.01, 0.99))
def test_beta_quantile_inverts_the_cdf(a: float, b: float, q: float) -> None:
    assert beta_cdf(beta_quantile(q, a, b), a, b) == pytest.approx(q, abs=1e-7)


# -- prior and updates ---------------------------------------------------------------------------


def test_prior_of_0_4_held_with_medium_confidence_is_beta_2_3() -> None:
    belief = prior_belief(0.4, Confidence.medium)
    assert (belief.alpha, belief.beta) == pytest.approx((2.0, 3.0))
    assert belief.mean == pytest.approx(0.4)
    assert belief.sd == pytest.approx(0.2)  # √(6 / (25·6))


def test_confidence_gives_n0_of_2_5_and_10() -> None:
    assert [n0_for(c) for c in Confidence] == [2.0, 5.0, 10.0]
    assert prior_belief(0.3, Confidence.high).alpha == pytest.approx(3.0)


def test_met_milestone_of_diagnosticity_1_turns_beta_2_3_into_beta_3_3() -> None:
    belief = apply_evidence(prior_belief(0.4, 5), met(1))
    assert (belief.alpha, belief.beta) == pytest.approx((3.0, 3.0))
    assert belief.mean == pytest.approx(0.5)


def test_missed_milestone_of_diagnosticity_2_turns_beta_3_3_into_beta_3_5() -> None:
    belief = apply_evidence(Belief(alpha=3, beta=3), missed(2))
    assert (belief.alpha, belief.beta) == pytest.approx((3.0, 5.0))
    assert belief.mean == pytest.approx(0.375)


def test_trl_change_and_cost_actuals_leave_p_unchanged() -> None:
    prior = prior_belief(0.4, 5)
    assert apply_evidence(prior, ev(EvidenceKind.trl_change, trl=6)) == prior
    assert apply_evidence(prior, costs(50, 40)) == prior


# Issue 18: a stage gate no longer resolves p to 0.99 / 0.01; it counts as 10·d milestones (the
# hand-computed cases, nesting included, are in test_stage_gate_update.py).
def test_passed_stage_gate_adds_ten_milestones_to_alpha_and_keeps_a_spread() -> None:
    belief = apply_evidence(prior_belief(0.4, 5), gate(True))
    assert (belief.alpha, belief.beta) == pytest.approx((12.0, 3.0))  # Beta(2, 3) + 10 to α
    assert belief.mean == pytest.approx(0.8)
    assert belief.sd > 0 and belief.q05 < belief.mean < belief.q95


def test_failed_stage_gate_adds_ten_milestones_to_beta_and_later_milestones_still_move_it() -> None:
    belief = posterior_belief(0.4, 5, [gate(False, day=2), met(3, day=9)])
    assert (belief.alpha, belief.beta) == pytest.approx((5.0, 13.0))  # Beta(2, 3) + 10 β + 3 α
    assert belief.mean == pytest.approx(5 / 18)


def test_stage_gate_of_another_option_leaves_this_options_belief_alone() -> None:
    """Without the candidate's options the relation of two named options is unknown: a gate on
    another named option leaves this one alone (with them, see gate_weight's nesting rule)."""
    prior = prior_belief(0.4, 5)
    assert apply_evidence(prior, gate(False, option="scale"), option="explore") == prior
    assert apply_evidence(prior, gate(False, option="scale"), option="scale").mean == (
        pytest.approx(2 / 15)
    )


def test_posterior_p_for_the_optimiser_is_the_mean_clipped_to_0_01_0_99() -> None:
    assert posterior_p(Belief(alpha=3, beta=5)) == pytest.approx(0.375)
    assert posterior_p(Belief(alpha=1000, beta=0.5)) == 0.99
    assert posterior_p(Belief(alpha=0.1, beta=1000)) == 0.01


def test_prior_outside_0_1_and_n0_not_positive_are_refused() -> None:
    with pytest.raises(ValueError, match="p: the prior probability"):
        prior_belief(1.0, 5)
    with pytest.raises(ValueError, match="n0"):
        prior_belief(0.5, 0)


# -- belief over time ----------------------------------------------------------------------------


def test_belief_history_starts_with_the_prior_and_follows_evidence_in_date_order() -> None:
    steps = belief_history(
        0.4,
        Confidence.medium,
        [missed(2, day=20), met(1, day=3), ev(EvidenceKind.trl_change, 25, trl=6)],
    )
    assert [s.kind for s in steps] == [
        None,
        EvidenceKind.milestone_met,
        EvidenceKind.milestone_missed,
        EvidenceKind.trl_change,
    ]
    assert [(s.alpha, s.beta) for s in steps] == [(2, 3), (3, 3), (3, 5), (3, 5)]
    assert [s.mean for s in steps] == pytest.approx([0.4, 0.5, 0.375, 0.375])
    assert steps[0].date is None and steps[1].date == dt.date(2026, 5, 3)
    assert all(s.q05 < s.mean < s.q95 for s in steps)
    assert "α 2 → 3" in steps[1].effect and "β 3 → 5" in steps[2].effect
    assert "p unchanged" in steps[3].effect


def test_belief_history_refuses_evidence_about_two_candidates() -> None:
    other = met().model_copy(update={"candidate": "saf-plant"})
    with pytest.raises(ValueError, match="one candidate"):
        belief_history(0.4, 5, [met(), other])


evidence_kinds = st.sampled_from([EvidenceKind.milestone_met, EvidenceKind.milestone_missed])
diagnosticities = st.floats(0.01, 10)


@given(
    st.floats(0.01, 0.99),
    st.sampled_from(list(Confidence)),
    st.lists(st.tuples(evidence_kinds, diagnosticities), max_size=30),
)
def test_posterior_mean_stays_strictly_inside_0_1(
    p: float, confidence: Confidence, items: list[tuple[EvidenceKind, float]]
) -> None:
    evidences = [ev(kind, diagnosticity=d) for kind, d in items]
    steps = belief_history(p, confidence, evidences)
    assert all(0 < s.mean < 1 for s in steps)
    assert all(0 <= s.q05 <= s.q95 <= 1 for s in steps)


@given(st.floats(0.01, 0.99), st.floats(0.5, 20), diagnosticities)
def test_met_milestone_never_lowers_the_mean_and_missed_never_raises_it(
    p: float, n0: float, d: float
) -> None:
    prior = prior_belief(p, n0)
    assert apply_evidence(prior, met(d)).mean >= prior.mean
    assert apply_evidence(prior, missed(d)).mean <= prior.mean


# -- cost ----------------------------------------------------------------------------------------


def test_spending_50_against_40_planned_uplifts_the_remaining_60_to_75() -> None:
    outlook = uplifted_cost(100, [costs(50, 40)])
    assert outlook.uplift_factor == pytest.approx(1.25)
    assert outlook.remaining_planned == pytest.approx(60)
    assert outlook.remaining_uplifted == pytest.approx(75)
    assert outlook.outturn == pytest.approx(125)
    assert outlook.has_actuals and outlook.as_of == dt.date(2026, 5, 1)


def test_the_latest_cost_actuals_are_used_and_other_evidence_ignored() -> None:
    outlook = uplifted_cost(100, [costs(50, 40, day=20), costs(12, 10, day=5), met(1, day=25)])
    assert (outlook.actual_to_date, outlook.planned_to_date) == (50, 40)


def test_without_cost_actuals_the_outturn_is_the_plan() -> None:
    outlook = uplifted_cost(80, [met()])
    assert not outlook.has_actuals
    assert (outlook.uplift_factor, outlook.remaining_uplifted, outlook.outturn) == (1.0, 80, 80)


def test_an_underspend_lowers_the_remaining_cost() -> None:
    outlook = uplifted_cost(100, [costs(20, 40)])
    assert outlook.remaining_uplifted == pytest.approx(30)
    assert outlook.outturn == pytest.approx(50)


def test_planned_to_date_beyond_the_total_leaves_nothing_remaining() -> None:
    outlook = uplifted_cost(30, [costs(50, 40)])
    assert outlook.remaining_planned == 0
    assert outlook.outturn == pytest.approx(50)


# -- kill proposal -------------------------------------------------------------------------------


def test_candidate_below_the_kill_threshold_is_proposed_for_stopping() -> None:
    proposed, reason = kill_proposal(0.12, 0.15)
    assert proposed
    assert reason == (
        "Posterior p of 0.12 is below the kill threshold of 0.15: proposed for stopping."
    )


def test_candidate_at_the_kill_threshold_is_not_proposed() -> None:
    proposal = kill_proposal(0.15, 0.15)
    assert not proposal
    assert "at or above" in proposal.reason


def test_kill_threshold_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        kill_proposal(0.5, 1.2)
