"""The Expert Council's scoring round: its state, each member's progress in it, and the blind
rule that progress decides.

The blind rule (DESIGN.md, the quarterly cycle: "scores of others are hidden from a member until
that member has submitted", against anchoring and groupthink). ``hidden_candidates`` is its one
definition; ``council.quarter_view`` and ``council.candidate_view`` apply it for every page and
JSON route that shows a score, a spread or an aggregate, and the forecasting record
(``council_record``) counts only rounds that are over (``round_over``):

- a council member sees other members' scores, the spread and the aggregate of a candidate in a
  quarter only once their own progress on it (``progress``) is DONE — every option submitted, or
  declared not competent — or once the quarter's scoring is over (its round closed, or the
  quarter itself closed);
- the Mission CEO, Treasury and the administrator see them always (``Viewer.oversees``); they do
  not score;
- anyone else sees none of them.

The exports need no view of their own: the audit pack holds a quarter's scores only once the
quarter has closed (its scoring is then over), the optimiser's problem file and the analyses read
only the aggregates frozen when a round closed, and the whole mission document is exported by
the server's operator (the CLI), not through the web.

A member's progress on a candidate (``progress``, the one definition the scoring page, the
candidate's scoring page, the JSON routes, ``council.outstanding`` and the blind rule use):
``not started``, ``draft`` (something saved, not everything submitted), ``submitted`` (every
option submitted) or ``not competent`` (every option submitted as not competent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import Conflict, PermissionDenied
from portfolio.domain.model import (
    Candidate,
    Quarter,
    QuarterState,
    Role,
    Score,
    ScoreStatus,
    ScoringState,
    Sector,
)
from portfolio.services.quarters import current_quarter as current_quarter


# -- who is looking ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Viewer:
    """Who is looking at the council's work: the blind rule depends on it."""

    username: str
    roles: frozenset[Role]
    is_admin: bool = False

    @property
    def oversees(self) -> bool:
        """The CEO, Treasury and the administrator see every score always (they do not score)."""
        return self.is_admin or bool(self.roles & {Role.mission_ceo, Role.treasury_reviewer})

    @property
    def is_council_member(self) -> bool:
        """Does the viewer score (a council member), so that they have a progress of their own?"""
        return Role.council_member in self.roles


# -- a member's progress -------------------------------------------------------------------------
class Progress(StrEnum):
    """A member's progress on one candidate in one quarter's round (``progress``)."""

    not_started = "not started"
    draft = "draft"
    submitted = "submitted"
    not_competent = "not competent"


DONE = (Progress.submitted, Progress.not_competent)
"""A member's progress on a candidate that lifts the blind rule for them (and is final)."""


def progress(mine: Mapping[tuple[str, str], Score], candidate: Candidate) -> Progress:
    """A member's progress on ``candidate`` from their scores of one quarter, ``mine`` keyed by
    (candidate, option): ``not competent`` when every option is submitted as not competent,
    ``submitted`` when every option is submitted, ``draft`` when any option is saved, else
    ``not started``."""
    scores = [mine.get((candidate.id, o.id)) for o in candidate.options]
    if all(s is not None and s.status is ScoreStatus.submitted for s in scores):
        if all(s is not None and s.not_competent for s in scores):
            return Progress.not_competent
        return Progress.submitted
    if any(s is not None for s in scores):
        return Progress.draft
    return Progress.not_started


def member_scores(
    uow: UnitOfWork, slug: str, quarter: str, member: str, candidate: str | None = None
) -> dict[tuple[str, str], Score]:
    """``member``'s scores in ``quarter`` (drafts included), keyed by (candidate, option)."""
    return {
        (s.candidate, s.option): s
        for s in uow.scores.all(slug, quarter, member=member)
        if candidate is None or s.candidate == candidate
    }


def my_status(uow: UnitOfWork, slug: str, quarter: str, viewer: Viewer) -> dict[str, Progress]:
    """Per candidate, the viewer's own ``progress`` in ``quarter``; empty for a viewer who does
    not score. The scoring page, the candidate's scoring page and the JSON routes all read it."""
    if not viewer.is_council_member:
        return {}
    mine = member_scores(uow, slug, quarter, viewer.username)
    return {c.id: progress(mine, c) for c in uow.candidates.all(slug)}


def has_submitted(
    uow: UnitOfWork, slug: str, quarter: str, member: str, candidate: Candidate
) -> bool:
    """Is ``member``'s ``progress`` on ``candidate`` DONE (submitted or not competent)?"""
    return progress(member_scores(uow, slug, quarter, member, candidate.id), candidate) in DONE


# -- the round -----------------------------------------------------------------------------------
def round_over(quarter: Quarter) -> bool:
    """Is the scoring of ``quarter`` over — its round closed, or the quarter itself closed (a
    quarter may close with its round still open; nobody can score it after)? Its scores are then
    no longer blind, and only then can its forecasts resolve."""
    return quarter.scoring is ScoringState.closed or quarter.state is QuarterState.closed


def rounds_over(uow: UnitOfWork, slug: str) -> set[str]:
    """The labels of the quarters whose scoring is over (``round_over``)."""
    return {q.label for q in uow.missions.quarters(slug) if round_over(q)}


def round_state(uow: UnitOfWork, slug: str, quarter: str) -> ScoringState:
    for q in uow.missions.quarters(slug):
        if q.label == quarter:
            return q.scoring
    raise Conflict(f"no quarter {quarter}")


def require_open(uow: UnitOfWork, slug: str, quarter: str) -> None:
    """Scores are saved, and a round closed, only while the round is open."""
    if round_state(uow, slug, quarter) is not ScoringState.open:
        raise Conflict(f"the scoring round of {quarter} is not open")


def member_sector(uow: UnitOfWork, slug: str, member: str) -> Sector:
    """The sector of ``member`` on the mission's council; PermissionDenied for anyone else."""
    for m in uow.missions.council(slug):
        if m.username == member:
            return m.sector
    raise PermissionDenied("only members of the mission's Expert Council score candidates")


def sectors_of(uow: UnitOfWork, slug: str) -> dict[str, Sector]:
    """Each council member's sector."""
    return {m.username: m.sector for m in uow.missions.council(slug)}


def member_names(uow: UnitOfWork, usernames: Iterable[str]) -> dict[str, str]:
    """Each user's full name, as pages name members (their username when they have none)."""
    names = {}
    for username in usernames:
        user = uow.users.find(username)
        names[username] = user.display_name if user and user.display_name else username
    return names


# -- the blind rule ------------------------------------------------------------------------------
def hidden_candidates(
    uow: UnitOfWork,
    slug: str,
    quarter: str,
    viewer: Viewer,
    status: Mapping[str, Progress] | None = None,
) -> set[str]:
    """The blind rule (this module's docstring): the ids of the candidates whose other members'
    scores, spread and aggregate in ``quarter`` are hidden from ``viewer`` — for a council
    member, those whose ``progress`` is not DONE while the quarter's scoring is not over; for
    anyone without a role on the mission, all of them; for those who oversee, none. A caller
    that holds the viewer's ``my_status`` already passes it as ``status``."""
    if viewer.oversees:
        return set()
    if not viewer.is_council_member:
        return {c.id for c in uow.candidates.all(slug)}
    if quarter in rounds_over(uow, slug):
        return set()
    if status is None:
        status = my_status(uow, slug, quarter, viewer)
    return {candidate for candidate, progress in status.items() if progress not in DONE}


BLIND = "submit your own scores for this candidate first: others' scores stay hidden until you have"
"""Why a council member may not see a candidate's scores yet (the blind rule)."""


def blind_refusal(viewer: Viewer) -> PermissionDenied:
    """The refusal a route raises for a candidate the blind rule hides from ``viewer``."""
    if viewer.is_council_member:
        return PermissionDenied(BLIND)
    return PermissionDenied("you have no role on this mission")
