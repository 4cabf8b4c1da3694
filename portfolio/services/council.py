"""The Expert Council's work: the scoring round, pooled estimates, and what each viewer may see
of them. Pages, JSON routes, the CLI and the CSV import call this module; its parts live beside it:

- ``council_round``: the round's state, a member's progress (``progress``, ``my_status``) and the
  blind rule (``hidden_candidates``, its one definition, stated in that module's docstring);
- ``council_scoring``: saving, submitting and importing a member's scores;
- ``council_record``: the forecasting record (Brier scores, calibration) and the members' weights;
- ``council_seeds``: seed questions (Cooke's classical model) and red-team challenges.

This module pools the submitted scores into one estimate per option (``quarter_aggregates``),
freezes them when the round closes, and applies the blind rule once for every page and route
that shows a score, a spread or an aggregate: ``quarter_view`` (the scoring page, the aggregates
route) and ``candidate_view`` (a candidate's scoring page and its JSON twin). Nothing else
filters scores or aggregates by who is looking.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable
from dataclasses import dataclass, field
from typing import Any

from portfolio.adapters.ports import UnitOfWork
from portfolio.adapters.repository.read_cache import Memo
from portfolio.domain.errors import Conflict
from portfolio.domain.estimates import Aggregate, aggregate_option
from portfolio.domain.model import (
    AggregationMethod,
    Candidate,
    Score,
    ScoreStatus,
    ScoringState,
    Sector,
    StoredAggregate,
)
from portfolio.services.council_record import MemberRecord as MemberRecord
from portfolio.services.council_record import ResolvedForecast as ResolvedForecast
from portfolio.services.council_record import classical_result as classical_result
from portfolio.services.council_record import council_records as council_records
from portfolio.services.council_record import member_record as member_record
from portfolio.services.council_record import member_weights as member_weights
from portfolio.services.council_record import resolved_forecasts as resolved_forecasts
from portfolio.services.council_round import DONE as DONE
from portfolio.services.council_round import Progress as Progress
from portfolio.services.council_round import Viewer as Viewer
from portfolio.services.council_round import blind_refusal as blind_refusal
from portfolio.services.council_round import current_quarter as current_quarter
from portfolio.services.council_round import has_submitted as has_submitted
from portfolio.services.council_round import hidden_candidates as hidden_candidates
from portfolio.services.council_round import member_names as member_names
from portfolio.services.council_round import member_scores as member_scores
from portfolio.services.council_round import my_status as my_status
from portfolio.services.council_round import progress as progress
from portfolio.services.council_round import require_open as require_open
from portfolio.services.council_round import round_over as round_over
from portfolio.services.council_round import round_state as round_state
from portfolio.services.council_round import rounds_over as rounds_over
from portfolio.services.council_round import sectors_of as sectors_of
from portfolio.services.council_scoring import ALREADY_SUBMITTED as ALREADY_SUBMITTED
from portfolio.services.council_scoring import STALE_SCORES as STALE_SCORES
from portfolio.services.council_scoring import LastScores as LastScores
from portfolio.services.council_scoring import imported_draft as imported_draft
from portfolio.services.council_scoring import last_scores as last_scores
from portfolio.services.council_scoring import last_submitted as last_submitted
from portfolio.services.council_scoring import save_scores as save_scores
from portfolio.services.council_scoring import submit_last_scores as submit_last_scores
from portfolio.services.council_seeds import add_challenge as add_challenge
from portfolio.services.council_seeds import add_seed_question as add_seed_question
from portfolio.services.council_seeds import answer_seed as answer_seed
from portfolio.services.council_seeds import reply_challenge as reply_challenge
from portfolio.services.council_seeds import set_realization as set_realization
from portfolio.services.council_seeds import visible_seed_answers as visible_seed_answers
from portfolio.services.missions import record


# -- the round -------------------------------------------------------------------------------------
def open_round(uow: UnitOfWork, actor: str, slug: str) -> str:
    """Open the scoring round of the current quarter (once)."""
    quarter = current_quarter(uow, slug)
    state = round_state(uow, slug, quarter)
    if state is not ScoringState.not_opened:
        raise Conflict(f"the scoring round of {quarter} is already {state.value.replace('_', ' ')}")
    uow.missions.set_quarter(slug, quarter, scoring=ScoringState.open.value)
    record(uow, actor, slug, "scoring_round", quarter, "opened")
    return quarter


def close_round(uow: UnitOfWork, actor: str, slug: str) -> str:
    """Close the current quarter's round and freeze its aggregates (with the scores and weights
    that made them); the optimiser's problem file reads these from now on."""
    quarter = current_quarter(uow, slug)
    require_open(uow, slug, quarter)
    uow.missions.set_quarter(slug, quarter, scoring=ScoringState.closed.value)
    frozen = freeze_aggregates(uow, slug, quarter)
    record(
        uow,
        actor,
        slug,
        "scoring_round",
        quarter,
        "closed",
        after={"aggregates": len(frozen), "method": uow.missions.get(slug).aggregation.value},
    )
    return quarter


def outstanding(uow: UnitOfWork, slug: str, quarter: str) -> dict[str, list[str]]:
    """Per council member who has not finished the round of ``quarter``, the ids of the
    candidates they have neither submitted nor declared themselves not competent on (what
    closing the round now leaves unscored)."""
    by_member: dict[str, dict[tuple[str, str], Score]] = defaultdict(dict)
    for s in uow.scores.all(slug, quarter):
        if s.quarter == quarter:
            by_member[s.member][(s.candidate, s.option)] = s
    candidates = uow.candidates.all(slug)
    out: dict[str, list[str]] = {}
    for member in uow.missions.council(slug):
        mine = by_member.get(member.username, {})
        missing = [c.id for c in candidates if progress(mine, c) not in DONE]
        if missing:
            out[member.username] = missing
    return out


def freeze_aggregates(uow: UnitOfWork, slug: str, quarter: str) -> list[StoredAggregate]:
    method = uow.missions.get(slug).aggregation
    stored = [
        StoredAggregate(
            quarter=quarter,
            candidate=row.candidate.id,
            option=option,
            method=method,
            data=agg.model_dump(mode="json"),
        )
        for row in quarter_aggregates(uow, slug, quarter, method)
        for option, agg in row.aggregates.items()
        if agg is not None
    ]
    uow.aggregates.replace(slug, quarter, stored)
    return stored


def set_aggregation_method(
    uow: UnitOfWork, actor: str, slug: str, method: AggregationMethod
) -> None:
    mission = uow.missions.get(slug)
    if mission.aggregation is method:
        return
    uow.missions.update(mission.with_changes(aggregation=method))
    record(
        uow,
        actor,
        slug,
        "mission",
        slug,
        "updated",
        before={"aggregation": mission.aggregation.value},
        after={"aggregation": method.value},
    )


# -- pooled estimates ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CandidateAggregate:
    """A candidate's aggregates in a quarter, option by option, with its flags and sectors.
    Shared by every reader once kept (``LIVE_AGGREGATES``): never changed after it is made."""

    candidate: Candidate
    aggregates: dict[str, Aggregate | None]
    sectors: list[Sector] = field(default_factory=list)
    scorers: int = 0

    @property
    def flags(self) -> list[str]:
        seen: list[str] = []
        for agg in self.aggregates.values():
            for flag in agg.flags if agg else []:
                if flag.message not in seen:
                    seen.append(flag.message)
        return seen


LIVE_AGGREGATES: Memo[Hashable, tuple[CandidateAggregate, ...]] = Memo(16)
"""Quarters' live aggregates of every candidate, by what they were computed from: the
quarter's scores and the mission's candidates as the database names their states (tokens it
draws anew on every write), the method, every member's weight and sector. At most 16 quarters:
a large programme's pooling of 600 options took half of its scoring page."""


def quarter_aggregates(
    uow: UnitOfWork,
    slug: str,
    quarter: str,
    method: AggregationMethod | None = None,
    *,
    only: str | None = None,
    skip: Collection[str] = frozenset(),
) -> list[CandidateAggregate]:
    """Live aggregates of the submitted scores of ``quarter``: every candidate but those in
    ``skip``, or the one ``only`` names. Whom they may be shown to is ``quarter_view``'s and
    ``candidate_view``'s business. Every candidate's are kept in this process while nothing
    they were computed from changes (``LIVE_AGGREGATES``)."""
    method = method or uow.missions.get(slug).aggregation
    weights = member_weights(uow, slug, method)
    sectors = sectors_of(uow, slug)
    if only is not None:
        rows = _aggregated(uow, slug, quarter, method, weights, sectors, only)
        return [row for row in rows if row.candidate.id not in skip]
    # the states first: what is read after them is at least as new as they say
    scores_state, candidates_state = uow.scores.state(slug, quarter), uow.candidates.state(slug)
    kept: tuple[CandidateAggregate, ...]
    if scores_state is None or candidates_state is None:
        kept = tuple(_aggregated(uow, slug, quarter, method, weights, sectors))
    else:
        key = (
            scores_state,
            candidates_state,
            method,
            tuple(sorted(weights.items())),
            tuple(sorted(sectors.items())),
        )
        kept = LIVE_AGGREGATES.kept(
            key, lambda: tuple(_aggregated(uow, slug, quarter, method, weights, sectors))
        )
    return [row for row in kept if row.candidate.id not in skip]


def _aggregated(
    uow: UnitOfWork,
    slug: str,
    quarter: str,
    method: AggregationMethod,
    weights: dict[str, float],
    sectors: dict[str, Sector],
    only: str | None = None,
) -> list[CandidateAggregate]:
    scores: dict[tuple[str, str], list[Score]] = defaultdict(list)
    for s in uow.scores.all(slug, quarter, candidates={only} if only else None):
        scores[(s.candidate, s.option)].append(s)
    out = []
    candidates = [uow.candidates.get(slug, only)] if only else uow.candidates.all(slug)
    for candidate in candidates:
        aggregates: dict[str, Aggregate | None] = {}
        scorer_set: set[str] = set()
        for option in candidate.options:
            used = [
                s
                for s in scores.get((candidate.id, option.id), [])
                if s.status is ScoreStatus.submitted and not s.not_competent and s.member in sectors
            ]
            scorer_set |= {s.member for s in used}
            aggregates[option.id] = (
                aggregate_option(used, weights, method, sectors=sectors) if used else None
            )
        out.append(
            CandidateAggregate(
                candidate,
                aggregates,
                sorted({sectors[m] for m in scorer_set}),
                len(scorer_set),
            )
        )
    return out


def latest_aggregates(uow: UnitOfWork, slug: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The most recent frozen aggregate of each option (from the latest closed round that
    scored it): what the optimiser's problem file reads."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for agg in uow.aggregates.all(slug):  # ordered by quarter
        latest[(agg.candidate, agg.option)] = agg.data
    return latest


# -- what a viewer may see (the blind rule, applied once) ----------------------------------------
@dataclass(frozen=True)
class QuarterView:
    """What ``viewer`` may see of the council's work in a quarter: their own progress on each
    candidate (empty if they do not score), the candidates the blind rule hides from them, and
    the aggregates of the others. The scoring page and the JSON routes read it."""

    quarter: str
    status: dict[str, Progress]
    hidden: frozenset[str]
    rows: list[CandidateAggregate]

    @property
    def blind(self) -> bool:
        """Does the blind rule hide any candidate from the viewer?"""
        return bool(self.hidden)


def quarter_view(uow: UnitOfWork, slug: str, quarter: str, viewer: Viewer) -> QuarterView:
    """The council's work in ``quarter`` as ``viewer`` may see it (``hidden_candidates``)."""
    status = my_status(uow, slug, quarter, viewer)
    hidden = frozenset(hidden_candidates(uow, slug, quarter, viewer, status))
    return QuarterView(quarter, status, hidden, quarter_aggregates(uow, slug, quarter, skip=hidden))


@dataclass(frozen=True)
class CandidateView:
    """One candidate in a quarter as ``viewer`` may see it: their own progress on it (None if
    they do not score), and — unless the blind rule hides it (``hidden``) — every member's
    scores they may read and the candidate's aggregate. A council member reads the others'
    submitted scores and their own drafts; those who oversee read drafts too."""

    quarter: str
    candidate: Candidate
    status: Progress | None
    hidden: bool
    scores: list[Score]
    aggregate: CandidateAggregate | None

    @property
    def done(self) -> bool:
        """Has the viewer submitted the candidate (or declared not being competent on it)?"""
        return self.status in DONE


def candidate_view(
    uow: UnitOfWork, slug: str, quarter: str, viewer: Viewer, candidate: Candidate
) -> CandidateView:
    """``candidate`` in ``quarter`` as ``viewer`` may see it (``hidden_candidates``)."""
    status = my_status(uow, slug, quarter, viewer).get(candidate.id)
    if candidate.id in hidden_candidates(uow, slug, quarter, viewer):
        return CandidateView(quarter, candidate, status, True, [], None)
    scores = [
        s
        for s in uow.scores.all(slug, quarter, candidates={candidate.id})
        if (viewer.oversees or s.status is ScoreStatus.submitted or s.member == viewer.username)
    ]
    (aggregate,) = quarter_aggregates(uow, slug, quarter, only=candidate.id)
    return CandidateView(quarter, candidate, status, False, scores, aggregate)
