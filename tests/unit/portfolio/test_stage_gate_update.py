"""A stage gate is evidence with a diagnosticity (issue 18), never a jump to 0.99 / 0.01: a gate
of diagnosticity d counts as 10·d milestones on the option it concerns, and on the candidate's
other options by the nesting rule (explore ⊂ demonstrate ⊂ scale, in the order the candidate
lists them): in full where its outcome carries over (failed → bigger options, passed → smaller
ones), half where it only hints. Against numbers worked out by hand, and on the demo."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from support import DEMO

from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.evidence import (
    GATE_MILESTONES,
    NESTED_FACTOR,
    apply_evidence,
    belief_history,
    gate_weight,
    posterior_belief,
    prior_belief,
)
from portfolio.domain.model import Evidence, EvidenceKind
from portfolio.services import beliefs, council

OPTIONS = ["explore", "demonstrate", "scale"]  # smallest first, as a candidate lists them


def gate(outcome: bool, option: str | None = None, d: float = 1.0, day: int = 1) -> Evidence:
    return Evidence(
        candidate="h2-combustion",
        quarter="2026-27 Q1",
        kind=EvidenceKind.stage_gate,
        date=dt.date(2026, 5, day),
        summary="Gate 1",
        outcome=outcome,
        option=option,
        diagnosticity=d,
    )


def milestone(met: bool, d: float = 1.0, day: int = 1) -> Evidence:
    kind = EvidenceKind.milestone_met if met else EvidenceKind.milestone_missed
    return gate(True, day=day).model_copy(
        update={"kind": kind, "outcome": None, "diagnosticity": d}
    )


def test_a_gate_counts_as_ten_milestones_and_a_hint_as_half_of_that() -> None:
    assert (GATE_MILESTONES, NESTED_FACTOR) == (10.0, 0.5)


@pytest.mark.parametrize(
    ("outcome", "gated", "expected"),
    [
        # failed explore gate: every bigger option cannot succeed where explore fails → in full
        (False, "explore", {"explore": 10, "demonstrate": 10, "scale": 10}),
        # passed explore gate: a hint for the bigger options → half
        (True, "explore", {"explore": 10, "demonstrate": 5, "scale": 5}),
        # failed demonstrate gate: in full on scale, a hint (half) on explore
        (False, "demonstrate", {"explore": 5, "demonstrate": 10, "scale": 10}),
        # passed demonstrate gate: explore succeeds where demonstrate does → in full; scale half
        (True, "demonstrate", {"explore": 10, "demonstrate": 10, "scale": 5}),
        # a gate naming no option concerns the first
        (False, None, {"explore": 10, "demonstrate": 10, "scale": 10}),
    ],
)
def test_the_nesting_rule_weights_a_gate_on_each_option(
    outcome: bool, gated: str | None, expected: dict[str, float]
) -> None:
    ev = gate(outcome, gated)
    assert {o: gate_weight(ev, o, OPTIONS) for o in OPTIONS} == expected
    doubled = gate(outcome, gated, d=2)
    assert {o: gate_weight(doubled, o, OPTIONS) for o in OPTIONS} == {
        o: 2 * w for o, w in expected.items()
    }


def test_only_gates_weigh_and_unknown_relations_weigh_nothing() -> None:
    assert gate_weight(milestone(True), "explore", OPTIONS) == 0
    assert gate_weight(gate(False, "scale"), "explore") == 0  # no option order given
    assert gate_weight(gate(False, "scale"), "scale") == 10
    assert gate_weight(gate(False, "withdrawn"), "explore", OPTIONS) == 0
    assert gate_weight(gate(False), None) == 10


def test_a_failed_gate_turns_beta_2_3_into_beta_2_13() -> None:
    # prior p̄ 0.4 held with medium confidence (n0 = 5): Beta(2, 3); + 10 to β
    belief = apply_evidence(prior_belief(0.4, 5), gate(False), option="explore", options=OPTIONS)
    assert (belief.alpha, belief.beta) == pytest.approx((2.0, 13.0))
    assert belief.mean == pytest.approx(2 / 15)  # 0.1333, not 0.01
    assert belief.sd == pytest.approx(math.sqrt(2 * 13 / (15**2 * 16)))  # 0.0850


def test_a_passed_explore_gate_moves_demonstrate_by_half_as_much() -> None:
    belief = apply_evidence(
        prior_belief(0.4, 5), gate(True, "explore"), option="demonstrate", options=OPTIONS
    )
    assert (belief.alpha, belief.beta) == pytest.approx((7.0, 3.0))  # Beta(2, 3) + 5 to α
    assert belief.mean == pytest.approx(0.7)


def test_a_failed_demonstrate_gate_on_three_nested_options_by_hand() -> None:
    # every option held at p̄ 0.4, n0 5: Beta(2, 3)
    posteriors = {
        o: posterior_belief(0.4, 5, [gate(False, "demonstrate")], option=o, options=OPTIONS)
        for o in OPTIONS
    }
    assert {o: (b.alpha, b.beta) for o, b in posteriors.items()} == {
        "explore": pytest.approx((2.0, 8.0)),  # a hint: + 5 to β, p 0.2
        "demonstrate": pytest.approx((2.0, 13.0)),  # p 2/15
        "scale": pytest.approx((2.0, 13.0)),  # cannot succeed where demonstrate fails
    }


def test_a_passed_gate_on_a_confident_prior_stays_below_0_99_with_a_spread() -> None:
    # p̄ 0.9 held with high confidence (n0 = 10): Beta(9, 1); + 10 to α → Beta(19, 1)
    belief = posterior_belief(0.9, 10, [gate(True)], option="explore", options=OPTIONS)
    assert belief.mean == pytest.approx(0.95)
    assert belief.sd > 0.04 and belief.q95 < 1


def test_evidence_after_a_gate_still_moves_the_belief() -> None:
    # Beta(2, 3) → failed gate Beta(2, 13) → milestone met (d 3) Beta(5, 13): p 5/18
    steps = belief_history(
        0.4,
        5,
        [milestone(True, d=3, day=9), gate(False, day=2)],
        option="demonstrate",
        options=OPTIONS,
        names={"explore": "Explore: wind-tunnel campaign"},
    )
    assert [s.alpha for s in steps] == pytest.approx([2, 2, 5])
    assert [s.beta for s in steps] == pytest.approx([3, 13, 13])
    assert steps[-1].mean == pytest.approx(5 / 18)
    assert steps[1].outcome is False and steps[1].kind is EvidenceKind.stage_gate
    assert steps[1].effect == (
        "Stage gate of Explore: wind-tunnel campaign failed (diagnosticity 1, worth 10 "
        "milestones: in full: this bigger option cannot succeed where that one fails): β 3 → 13; "
        "p 0.4 → 0.133"
    )


@given(st.floats(0.01, 0.99), st.floats(0.5, 20), st.floats(0.01, 10), st.booleans())
def test_a_gate_never_resolves_p_and_moves_it_the_right_way(
    p: float, n0: float, d: float, passed: bool
) -> None:
    prior = prior_belief(p, n0)
    for option in OPTIONS:
        after = apply_evidence(
            prior, gate(passed, "demonstrate", d=d), option=option, options=OPTIONS
        )
        assert 0 < after.mean < 1 and after.sd > 0
        assert after.mean >= prior.mean if passed else after.mean <= prior.mean


# -- the demo: the wing's failed Gate 1 -----------------------------------------------------------
@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _prior(data: dict[str, Any], n0: float) -> tuple[float, float]:
    return data["p"] * n0, (1 - data["p"]) * n0


def test_the_wings_failed_gate_drops_its_belief_below_the_kill_threshold(engine: Engine) -> None:
    """distributed-propulsion failed Gate 1 (its explore option) in 2026-27 Q2: each option's
    belief drops by 10 milestones on β (demonstrate too: it cannot succeed where explore fails)
    rather than being set to 0.01, and both fall below the kill threshold of 0.1, so the wing is
    proposed for stopping — as the demo's story (the CEO stopped it) needs."""
    with SqlUnitOfWork(engine) as uow:
        wing = uow.candidates.get(DEMO, "distributed-propulsion")
        belief = beliefs.candidate_belief(uow, DEMO, wing)
        aggregates = {a.option: a for a in uow.aggregates.all(DEMO) if a.candidate == wing.id}
        threshold = uow.missions.get(DEMO).kill_threshold
        forecasts = council.resolved_forecasts(uow, DEMO)
    for ob in belief.options:
        agg = aggregates[ob.option]
        assert agg.quarter == "2026-27 Q2" and ob.prior_p == agg.data["p"]
        alpha, beta = _prior(agg.data, ob.n0)
        assert ob.posterior == pytest.approx(alpha / (alpha + beta + 10))  # by hand
        assert 0.01 < ob.posterior < threshold
        assert (ob.steps[-1].alpha, ob.steps[-1].beta) == pytest.approx((alpha, beta + 10))
    assert belief.proposed_for_stopping
    # the gate still resolves the members' forecasts of explore (the option it concerns)
    wing_forecasts = [
        f for fs in forecasts.values() for f in fs if f.candidate == "distributed-propulsion"
    ]
    assert wing_forecasts and all(
        f.option == "explore" and f.outcome is False and f.resolved_in == "2026-27 Q2"
        for f in wing_forecasts
    )


def test_a_passed_gate_raises_the_belief_but_not_to_0_99(engine: Engine) -> None:
    """continuous-descent passed Gate 1 (explore) in 2026-27 Q2: explore + 10 on α, demonstrate
    (bigger: a hint) + 5 on α."""
    with SqlUnitOfWork(engine) as uow:
        candidate = uow.candidates.get(DEMO, "continuous-descent")
        belief = beliefs.candidate_belief(uow, DEMO, candidate)
        aggregates = {a.option: a for a in uow.aggregates.all(DEMO) if a.candidate == candidate.id}
    added = {"explore": 10.0, "demonstrate": 5.0}
    for ob in belief.options:
        alpha, beta = _prior(aggregates[ob.option].data, ob.n0)
        assert ob.posterior == pytest.approx(
            (alpha + added[ob.option]) / (alpha + beta + added[ob.option])
        )
        assert ob.prior_p < ob.posterior < 0.99
