"""The beliefs of a mission's candidates as stored data gives them, and the estimates the problem
file uses: reads the council's frozen aggregates and the evidence, then applies
``portfolio.domain.beliefs`` (where the rule is stated)."""

from __future__ import annotations

from typing import Any

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain import beliefs
from portfolio.domain.beliefs import Aggregates, CandidateBelief, OptionBelief
from portfolio.domain.model import Candidate, Evidence

__all__ = [
    "CandidateBelief",
    "OptionBelief",
    "all_beliefs",
    "candidate_belief",
    "current_estimates",
    "proposed_stops",
    "scores_quarter",
]


def _aggregates(uow: UnitOfWork, slug: str) -> Aggregates:
    """Each option's latest frozen aggregate."""
    return {(a.candidate, a.option): a for a in uow.aggregates.latest(slug)}


def _evidence_by_candidate(uow: UnitOfWork, slug: str) -> dict[str, list[Evidence]]:
    out: dict[str, list[Evidence]] = {}
    for ev in uow.evidence.all(slug):
        out.setdefault(ev.candidate, []).append(ev)
    return out


def candidate_belief(
    uow: UnitOfWork,
    slug: str,
    candidate: Candidate,
    *,
    aggregates: Aggregates | None = None,
    evidence: list[Evidence] | None = None,
    kill_threshold: float | None = None,
    history: bool = True,
) -> CandidateBelief:
    """One candidate's belief (``portfolio.domain.beliefs.candidate_belief``); what the caller
    has read already (``aggregates``, the candidate's ``evidence``, the ``kill_threshold``) is
    not read again."""
    return beliefs.candidate_belief(
        candidate,
        _aggregates(uow, slug) if aggregates is None else aggregates,
        uow.evidence.all(slug, candidate.id) if evidence is None else evidence,
        kill_threshold=(
            uow.missions.get(slug).kill_threshold if kill_threshold is None else kill_threshold
        ),
        history=history,
    )


def all_beliefs(
    uow: UnitOfWork, slug: str, candidates: list[Candidate] | None = None
) -> list[CandidateBelief]:
    """Every candidate's belief (posteriors only), reading the aggregates and evidence once."""
    aggregates = _aggregates(uow, slug)
    evidence = _evidence_by_candidate(uow, slug)
    threshold = uow.missions.get(slug).kill_threshold
    return [
        beliefs.candidate_belief(
            c, aggregates, evidence.get(c.id, []), kill_threshold=threshold, history=False
        )
        for c in (candidates if candidates is not None else uow.candidates.all(slug))
    ]


def proposed_stops(
    uow: UnitOfWork, slug: str, candidates: list[Candidate] | None = None
) -> list[Candidate]:
    """Candidates whose every option's posterior p is below the kill threshold."""
    return [b.candidate for b in all_beliefs(uow, slug, candidates) if b.proposed_for_stopping]


def scores_quarter(uow: UnitOfWork, slug: str) -> str | None:
    """The quarter whose council scores a run started now uses: that of the latest closed
    scoring round (``current_estimates`` reads each option's latest frozen aggregate, frozen when
    a round closes), or None before any round has closed (the estimates registered with the
    candidates). While the current quarter's round is open, runs use an earlier quarter's."""
    frozen = uow.aggregates.quarters(slug)
    return frozen[-1] if frozen else None


def current_estimates(uow: UnitOfWork, slug: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Per option, what the problem file uses where it differs from the registration: the
    posterior p after evidence, the impact and total cost of the belief (the council's pooled
    ones from the latest closed round), and the candidate's cost-actuals uplift (``cost_uplift``),
    which ``portfolio.services.to_problem`` applies to the remaining cost only."""
    aggregates = _aggregates(uow, slug)
    evidence = _evidence_by_candidate(uow, slug)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for candidate in uow.candidates.all(slug):
        belief = beliefs.candidate_belief(
            candidate,
            aggregates,
            evidence.get(candidate.id, []),
            kill_threshold=0.0,
            history=False,
        )
        factor = belief.cost.uplift_factor if belief.cost.has_actuals else 1.0
        for option, ob in zip(candidate.options, belief.options, strict=True):
            pooled = (candidate.id, option.id) in aggregates
            if not pooled and ob.posterior == option.p_success and factor == 1.0:
                continue
            out[(candidate.id, option.id)] = {
                "p": ob.posterior,
                "impact": ob.impact.model_dump(),
                "cost": ob.cost.model_dump() if ob.cost is not None else None,
                "cost_uplift": factor,
            }
    return out
