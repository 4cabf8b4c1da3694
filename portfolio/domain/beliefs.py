"""What is believed about each funding option: the prior, the evidence since, the posterior p,
and the impact and cost the optimiser is given (DESIGN.md §4).

- The prior of an option is the council's latest frozen aggregate of it — its pooled p, with the
  scorers' median confidence as the prior's weight n0 (``evidence.n0_for``), and its pooled impact
  and total cost — else what is registered with the candidate (its p with the weight of medium
  confidence, its impact and cost range).
- Evidence recorded in the aggregate's quarter or later (all of it without an aggregate) updates
  p (``portfolio.domain.evidence``; a stage gate bears on every option by the nesting rule of
  ``evidence.gate_weight``); the posterior p is kept within [0.01, 0.99].
- A candidate is proposed for stopping when every option's posterior is below the mission's
  kill threshold; its remaining cost is uplifted by its cost actuals (``evidence.uplifted_cost``).
- ``OptionBelief.expected_impact`` is the PERT mean (``optimiser.pert``) of the impact the
  problem file gives the optimiser: the figure the candidate page shows is the optimiser's.

Pure: the caller reads the aggregates and evidence (``portfolio.services.beliefs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portfolio.domain.evidence import (
    BeliefStep,
    CostOutlook,
    KillProposal,
    belief_history,
    kill_proposal,
    n0_for,
    posterior_belief,
    uplifted_cost,
)
from portfolio.domain.model import (
    Candidate,
    Confidence,
    Evidence,
    FundingOption,
    StoredAggregate,
    ThreePoint,
)

P_FLOOR, P_CEILING = 0.01, 0.99

Aggregates = Mapping[tuple[str, str], StoredAggregate]
"""(candidate, option) → the option's latest frozen aggregate."""


@dataclass
class OptionBelief:
    """What is believed about one option: the prior, the evidence steps since, the posterior p
    fed to the optimiser with the impact and total cost it is given, and the kill proposal."""

    option: str
    prior_p: float
    prior_source: str
    n0: float
    steps: list[BeliefStep]
    posterior: float
    kill: KillProposal
    impact: ThreePoint
    cost: ThreePoint | None

    @property
    def expected_impact(self) -> float:
        """The impact expected if the option succeeds: the PERT mean of ``impact``."""
        return self.impact.pert_mean


@dataclass
class CandidateBelief:
    candidate: Candidate
    options: list[OptionBelief]
    cost: CostOutlook

    @property
    def proposed_for_stopping(self) -> bool:
        return all(o.kill.proposed for o in self.options)


def median_confidence(data: Mapping[str, Any]) -> Confidence:
    """The median confidence of the scorers behind an aggregate (medium when none gave one)."""
    order = [Confidence.low, Confidence.medium, Confidence.high]
    levels = sorted(
        order.index(Confidence(c["confidence"]))
        for c in data.get("contributions", [])
        if c.get("confidence")
    )
    return order[levels[len(levels) // 2]] if levels else Confidence.medium


def _three_point(pooled: Mapping[str, Any] | None) -> ThreePoint | None:
    """The three-point summary of a pooled estimate (``estimates.PooledEstimate``)."""
    if pooled is None:
        return None
    return ThreePoint(
        low=float(pooled["low"]),
        most_likely=float(pooled["most_likely"]),
        high=float(pooled["high"]),
    )


def option_belief(
    option: FundingOption,
    aggregate: StoredAggregate | None,
    evidence: Sequence[Evidence],
    *,
    order: list[str],
    names: Mapping[str, str],
    kill_threshold: float,
    history: bool = True,
) -> OptionBelief:
    """One option's belief (module docstring). ``order``: the candidate's options, smallest
    first (the nesting of stage gates); ``history``: keep every step with its quantiles (the
    candidate page), else the posterior alone (the dashboard, the problem file)."""
    if aggregate is not None:
        prior_p, source = float(aggregate.data["p"]), f"council, {aggregate.quarter}"
        n0 = n0_for(median_confidence(aggregate.data))
        since = [e for e in evidence if e.quarter >= aggregate.quarter]
        impact = _three_point(aggregate.data["impact"]) or option.impact
        cost = _three_point(aggregate.data.get("cost"))
    else:
        prior_p, source, n0 = option.p_success, "registered estimate", n0_for("medium")
        since = list(evidence)
        impact, cost = option.impact, option.cost_range
    if history:
        steps = belief_history(prior_p, n0, since, option=option.id, options=order, names=names)
        mean = steps[-1].mean
    else:
        steps = []
        mean = posterior_belief(prior_p, n0, since, option=option.id, options=order).mean
    posterior = min(max(mean, P_FLOOR), P_CEILING)
    return OptionBelief(
        option=option.id,
        prior_p=prior_p,
        prior_source=source,
        n0=n0,
        steps=steps,
        posterior=posterior,
        kill=kill_proposal(posterior, kill_threshold),
        impact=impact,
        cost=cost,
    )


def candidate_belief(
    candidate: Candidate,
    aggregates: Aggregates,
    evidence: Sequence[Evidence],
    *,
    kill_threshold: float,
    history: bool = True,
) -> CandidateBelief:
    """Every option's belief (``option_belief``) and the candidate's cost outlook, from the
    aggregates of the mission and the candidate's own evidence."""
    order = [o.id for o in candidate.options]  # nested: smallest first
    names = {o.id: o.name for o in candidate.options}
    options = [
        option_belief(
            option,
            aggregates.get((candidate.id, option.id)),
            evidence,
            order=order,
            names=names,
            kill_threshold=kill_threshold,
            history=history,
        )
        for option in candidate.options
    ]
    total = max((o.total_cost for o in candidate.options), default=0.0)
    return CandidateBelief(candidate, options, uplifted_cost(total, evidence))
