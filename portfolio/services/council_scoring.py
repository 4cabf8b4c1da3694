"""A council member's scores: saving a draft, submitting (final), importing drafts on a member's
behalf, and starting from — or submitting unchanged — the member's last submitted scores.

Each score is the member's own judgement: only the member submits it, a submission is final,
and a form opened before another window saved changes is refused (its version is stale). The
scores a member may *see* of others are the blind rule's business (``council_round``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput, PermissionDenied
from portfolio.domain.model import AuditEntry, Candidate, Evidence, Score, ScoreStatus
from portfolio.services.council_round import (
    DONE,
    Progress,
    current_quarter,
    member_scores,
    member_sector,
    progress,
    require_open,
)
from portfolio.services.missions import record

ALREADY_SUBMITTED = (
    "you have already submitted your scores for this candidate; submitted scores are final"
)
STALE_SCORES = (
    "you changed these scores in another window since opening this one; "
    "your input is kept below: check it and save again"
)
SCORED_FIELDS = ("p_success", "cost", "impact", "trl", "confidence")
"""What a submission needs for every option (unless the member is not competent)."""


def save_scores(
    uow: UnitOfWork,
    member: str,
    slug: str,
    candidate_id: str,
    entries: Sequence[Score],
    *,
    submit: bool,
    not_competent: bool,
    expected_version: int | None = None,
    imported_by: str | None = None,
    carried_from: str | None = None,
) -> None:
    """Save a member's scores of one candidate as a draft, or submit them (final).

    ``entries`` hold one Score per option the member filled in (drafts may be partial);
    ``not_competent`` replaces the estimates by the declaration for every option.

    ``imported_by`` names someone else (the Mission CEO importing a CSV file) saving the scores
    on the member's behalf. A member's score is the member's own judgement, so another person
    may only save *drafts* for them — the member reviews, changes and submits them on the
    scoring page; submitting for someone else is refused. The audit entry names the importer as
    the actor ("imported on behalf", with ``on_behalf_of`` the member).

    ``carried_from`` names the earlier quarter whose scores the member submits again unchanged
    (``submit_last_scores``); the audit entry says so."""
    on_behalf = imported_by is not None and imported_by != member
    if on_behalf and submit:
        raise PermissionDenied(
            f"only {member} can submit {member}'s scores: import them as drafts and "
            f"{member} submits them on the scoring page"
        )
    member_sector(uow, slug, member)
    quarter = current_quarter(uow, slug)
    require_open(uow, slug, quarter)
    candidate = uow.candidates.get(slug, candidate_id)
    _require_still_editable(uow, slug, quarter, member, candidate_id, expected_version)
    status = ScoreStatus.submitted if submit else ScoreStatus.draft
    base = {"member": member, "quarter": quarter, "candidate": candidate_id, "status": status}
    by_option = _by_option(candidate, entries)
    if not_competent:
        scores = [Score(**base, option=o.id, not_competent=True) for o in candidate.options]
    else:
        scores = _option_scores(candidate, by_option, base, submit=submit)
    # the checks above give early answers; this write re-checks them in the database, atomically
    refused = uow.scores.replace_drafts(slug, scores, expected_version)
    if refused is not None:
        raise Conflict(ALREADY_SUBMITTED if refused == "submitted" else STALE_SCORES)
    after: dict[str, Any] = {
        "not_competent": not_competent,
        "options": {s.option: s.model_dump(mode="json") for s in scores},
    }
    if carried_from is not None:
        after["unchanged_from"] = carried_from
    entity_id = f"{quarter}:{candidate_id}"
    if on_behalf and imported_by is not None:
        after = {"on_behalf_of": member, "status": ScoreStatus.draft.value, **after}
        record(uow, imported_by, slug, "score", entity_id, "imported on behalf", after=after)
    else:
        action = "submitted" if submit else "saved draft"
        record(uow, member, slug, "score", entity_id, action, after=after)


def _require_still_editable(
    uow: UnitOfWork,
    slug: str,
    quarter: str,
    member: str,
    candidate_id: str,
    expected_version: int | None,
) -> None:
    """Refuse a form opened on an older version of the member's scores (another window saved
    since), and scores the member has already submitted (final)."""
    if expected_version is not None and expected_version != uow.scores.version_of(
        slug, quarter, member, candidate_id
    ):
        raise Conflict(STALE_SCORES)
    existing = member_scores(uow, slug, quarter, member, candidate_id)
    if any(s.status is ScoreStatus.submitted for s in existing.values()):
        raise Conflict(ALREADY_SUBMITTED)


def _by_option(candidate: Candidate, entries: Sequence[Score]) -> dict[str, Score]:
    """The entries by option; InvalidInput names an option the candidate does not have."""
    by_option = {e.option: e for e in entries}
    unknown = set(by_option) - {o.id for o in candidate.options}
    if unknown:
        raise InvalidInput.single(
            "option", f"{sorted(unknown)[0]} is not an option of {candidate.id}"
        )
    return by_option


def _option_scores(
    candidate: Candidate, by_option: dict[str, Score], base: dict[str, Any], *, submit: bool
) -> list[Score]:
    """The Score of each option of ``candidate`` from what the member filled in, on ``base``
    (member, quarter, candidate, status); to submit, InvalidInput names every SCORED_FIELDS
    value missing (``options.{i}.{field}``, as the form names it)."""
    errors: list[tuple[str, str]] = []
    scores: list[Score] = []
    for i, option in enumerate(candidate.options):
        entry = by_option.get(option.id)
        values = entry.model_dump(include={*SCORED_FIELDS, "rationale"}) if entry else {}
        if submit:
            errors.extend(
                (f"options.{i}.{name}", "required to submit")
                for name in SCORED_FIELDS
                if values.get(name) is None
            )
        if not errors:
            scores.append(Score(**base, option=option.id, **values))
    if errors:
        raise InvalidInput(errors)
    return scores


def imported_draft(
    uow: UnitOfWork, slug: str, quarter: str, member: str, candidate_id: str
) -> AuditEntry | None:
    """The audit entry of an import that saved ``member``'s current draft of ``candidate_id`` on
    their behalf (``save_scores(imported_by=…)``), if the member has not saved it since."""
    for entry in uow.audit.all(slug, entity="score", entity_id=f"{quarter}:{candidate_id}"):
        if entry.actor == member:
            return None
        if entry.action == "imported on behalf" and (entry.after or {}).get("on_behalf_of") == (
            member
        ):
            return entry
    return None


# -- starting from last quarter's scores --------------------------------------------------------
@dataclass(frozen=True)
class LastScores:
    """A member's last submitted scores of a candidate from an earlier round — what their form
    for the open round starts from — and what changed on the candidate since.

    Only the member's own submitted scores are used (never a draft, never another member's), so
    starting from them reveals nothing the blind rule hides. "Since" counts in quarters:
    evidence recorded in a quarter after ``quarter``, options the member did not score then."""

    quarter: str
    scores: dict[tuple[str, str], Score]
    new_options: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def not_competent(self) -> bool:
        """Did the member declare themselves not competent on the candidate then?"""
        return bool(self.scores) and all(s.not_competent for s in self.scores.values())

    @property
    def options_changed(self) -> bool:
        """Has the candidate gained or lost an option since (so the scores no longer fit it)?"""
        return bool(self.new_options or self.withdrawn)


def last_submitted(uow: UnitOfWork, slug: str, quarter: str, member: str) -> dict[str, LastScores]:
    """Per candidate, ``member``'s scores of the latest round before ``quarter`` in which they
    submitted it (``LastScores``); candidates they never submitted before are left out."""
    latest: dict[str, str] = {}
    submitted: dict[tuple[str, str], list[Score]] = defaultdict(list)
    for s in uow.scores.all(slug, member=member):
        if s.quarter < quarter and s.status is ScoreStatus.submitted:
            submitted[(s.candidate, s.quarter)].append(s)
            latest[s.candidate] = max(latest.get(s.candidate, s.quarter), s.quarter)
    if not latest:
        return {}
    evidence: dict[str, list[Evidence]] = defaultdict(list)
    for ev in uow.evidence.all(slug):
        evidence[ev.candidate].append(ev)
    out: dict[str, LastScores] = {}
    for candidate in uow.candidates.all(slug):
        if candidate.id not in latest:
            continue
        then = latest[candidate.id]
        scores = {(s.candidate, s.option): s for s in submitted[(candidate.id, then)]}
        options = {o.id for o in candidate.options}
        out[candidate.id] = LastScores(
            quarter=then,
            scores=scores,
            new_options=[o.id for o in candidate.options if (candidate.id, o.id) not in scores],
            withdrawn=sorted(option for _, option in scores if option not in options),
            evidence=[
                ev for ev in evidence[candidate.id] if then < ev.quarter and ev.quarter <= quarter
            ],
        )
    return out


def last_scores(
    uow: UnitOfWork, slug: str, quarter: str, member: str, candidate_id: str
) -> LastScores | None:
    """``member``'s last submitted scores of one candidate before ``quarter`` (``LastScores``)."""
    return last_submitted(uow, slug, quarter, member).get(candidate_id)


def submit_last_scores(uow: UnitOfWork, member: str, slug: str, candidate_id: str) -> LastScores:
    """No change: submit, in the open round, ``member``'s last submitted scores of a candidate
    exactly as they were (or their declaration of not being competent), as a submission like any
    other (``save_scores``: the same checks, final, audited as unchanged from that quarter).

    Refused while the member has a draft or a submission of it in this round, when they never
    submitted it before, and when the candidate gained or lost an option since (the form shows
    what changed: the member scores it there)."""
    quarter = current_quarter(uow, slug)
    candidate = uow.candidates.get(slug, candidate_id)
    last = last_scores(uow, slug, quarter, member, candidate_id)
    if last is None:
        raise Conflict(
            f"you have not submitted scores for {candidate.name} in an earlier round: "
            "score it on its form"
        )
    status = progress(member_scores(uow, slug, quarter, member, candidate_id), candidate)
    if status in DONE:
        raise Conflict(ALREADY_SUBMITTED)
    if status is Progress.draft:
        raise Conflict(
            f"you have started scoring {candidate.name} in this round (your draft is saved): "
            "submit it from its form"
        )
    if last.options_changed:
        errors = [
            (f"options.{i}", f"new since {last.quarter}: score it, then submit your scores")
            for i, option in enumerate(candidate.options)
            if option.id in last.new_options
        ]
        if last.withdrawn:
            errors.append(
                (
                    "form",
                    f"an option you scored in {last.quarter} has been withdrawn: check your "
                    "scores of the options it has now, then submit them",
                )
            )
        raise InvalidInput(errors)
    save_scores(
        uow,
        member,
        slug,
        candidate_id,
        [] if last.not_competent else list(last.scores.values()),
        submit=True,
        not_competent=last.not_competent,
        expected_version=0,  # nothing stored yet for this round (checked again as it is written)
        carried_from=last.quarter,
    )
    return last
