"""Importing a candidates file or a council scores file into a mission.

Imports are all or nothing: every row is read and checked first (the file by
``portfolio.adapters.csv``, then against the mission: its candidates, its council, its open
round), and every problem is reported as a (field, rule) pair whose field reads like
``row 3, column p_success`` (rows numbered as a spreadsheet shows them: the header is row 1).
Only when no row has a problem does the import change anything, through the same services the
forms use (so every change is audited), in the caller's unit of work; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from portfolio.adapters.csv.candidates import candidate_columns, parse_candidates
from portfolio.adapters.csv.scores import SCORE_COLUMNS, ScoreRow, parse_scores
from portfolio.adapters.csv.table import Errors, first_per_cell, where
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.domain.model import Candidate, Score, ScoreStatus, ScoringState
from portfolio.services import council
from portfolio.services import missions as services


@dataclass(frozen=True)
class ImportSummary:
    """What an import did. For candidates: candidates created/updated; for scores: option scores
    created/updated, of which ``submitted`` were submitted."""

    kind: str
    rows: int
    created: int
    updated: int
    submitted: int = 0

    @property
    def message(self) -> str:
        if self.kind == "candidates":
            return (
                f"Imported {self.rows} rows: {self.created} candidates created, "
                f"{self.updated} updated."
            )
        return (
            f"Imported {self.rows} rows: {self.created} scores created, {self.updated} updated "
            f"({self.submitted} submitted)."
        )


# -- candidates ---------------------------------------------------------------------------------
def import_candidates(uow: SqlUnitOfWork, actor: str, slug: str, data: bytes) -> ImportSummary:
    """Register the file's new candidates and update those the mission has, in ``uow`` (the
    caller commits). Every row is checked first; on any problem InvalidInput lists them all and
    nothing has been changed. An option with council scores cannot be removed by leaving its
    row out."""
    mission = uow.missions.get(slug)
    parsed, errors = parse_candidates(data, list(mission.years), {e.id for e in mission.envelopes})
    existing = {c.id: c for c in uow.candidates.all(slug)} if parsed else {}
    scored = (
        {(s.candidate, s.option) for s in uow.scores.all(slug)}
        if any(c.id in existing for c, _ in parsed)
        else set()
    )
    for candidate, group in parsed:
        before = existing.get(candidate.id)
        if before is None:
            continue
        kept = {o.id for o in candidate.options}
        for option in before.options:
            if option.id not in kept and (candidate.id, option.id) in scored:
                errors.append(
                    (
                        where(group.first_row, "option_id"),
                        f"option {option.id} of {candidate.id} has council scores and cannot be "
                        "removed: keep a row for it",
                    )
                )
    if errors:
        raise InvalidInput(first_per_cell(errors, candidate_columns(mission.years)))
    created = updated = 0
    for candidate, _ in parsed:
        before = existing.get(candidate.id)
        if before is None:
            services.register_candidate(uow, actor, slug, candidate)
            created += 1
        else:
            same_approval = candidate.with_changes(treasury_approved=before.treasury_approved)
            services.update_candidate(uow, actor, slug, same_approval)
            updated += 1
    uow.flush()
    rows = sum(len(c.options) for c, _ in parsed)
    return ImportSummary("candidates", rows, created, updated)


# -- scores -------------------------------------------------------------------------------------
Group = tuple[str, str]
"""(member, candidate id): the rows of one member's scores of one candidate."""


@dataclass(frozen=True)
class _Round:
    """What the rows of a scores file are checked against: the open round of a quarter, the
    members of the mission's council, its candidates and the scores of the quarter so far."""

    actor: str
    quarter: str
    may_import_for_others: bool
    members: frozenset[str]
    candidates: dict[str, Candidate]
    existing: dict[tuple[str, str, str], Score]

    def submitted(self, member: str, candidate_id: str) -> bool:
        """Has ``member`` already submitted scores for the candidate this quarter?"""
        return any(
            s.status is ScoreStatus.submitted
            for (m, c, _), s in self.existing.items()
            if m == member and c == candidate_id
        )


def import_scores(
    uow: SqlUnitOfWork,
    actor: str,
    slug: str,
    data: bytes,
    *,
    may_import_for_others: bool,
) -> ImportSummary:
    """Save the file's scores in the open scoring round of the mission's current quarter, in
    ``uow`` (the caller commits). Rows are grouped per (member, candidate) and saved like the
    scoring form does (drafts, or submitted, final). Every row is checked first; on any problem
    InvalidInput lists them all and nothing has been changed. Without ``may_import_for_others``
    the member column must be empty or ``actor``. Raises Conflict when no round is open.

    Scores for someone else (the Mission CEO, ``may_import_for_others``) are imported as that
    member's *drafts* only: a member's score is the member's own judgement, so the member
    reviews, changes and submits them on the scoring page; a row marking another member's
    scores ``submitted`` is refused. Each such draft's audit entry names ``actor`` as the actor
    ("imported on behalf", ``on_behalf_of`` the member); a member's own rows are audited as the
    scoring form audits them."""
    quarter = council.current_quarter(uow, slug)
    if council.round_state(uow, slug, quarter) is not ScoringState.open:
        raise Conflict(f"the scoring round of {quarter} is not open: scores cannot be imported")
    rows, errors = parse_scores(data)
    scoring = _Round(
        actor=actor,
        quarter=quarter,
        may_import_for_others=may_import_for_others,
        members=frozenset(council.sectors_of(uow, slug)),
        candidates={c.id: c for c in uow.candidates.all(slug)},
        existing={
            (s.member, s.candidate, s.option): s
            for s in uow.scores.all(slug)
            if s.quarter == quarter
        },
    )
    groups = _grouped(rows, scoring, errors)
    for (member, candidate_id), group in groups.items():
        errors.extend(_group_problems(member, candidate_id, group, scoring))
    if errors:
        raise InvalidInput(first_per_cell(errors, SCORE_COLUMNS))
    created, updated, submitted = _save(uow, slug, groups, scoring)
    services.record(
        uow,
        actor,
        slug,
        "score_import",
        quarter,
        "imported",
        after={
            "rows": len(rows),
            "members": sorted({m for m, _ in groups}),
            "on_behalf_of": sorted({m for m, _ in groups if m != actor}),
            "candidates": sorted({c for _, c in groups}),
        },
    )
    uow.flush()
    return ImportSummary("scores", len(rows), created, updated, submitted)


def _grouped(rows: list[ScoreRow], scoring: _Round, errors: Errors) -> dict[Group, list[ScoreRow]]:
    """The rows that pass ``_row_problems`` and name a score once, per (member, candidate);
    the problems of the others appended to ``errors``."""
    groups: dict[Group, list[ScoreRow]] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for r in rows:
        member = r.member or scoring.actor
        problems = _row_problems(r, member, scoring)
        if problems:
            errors.extend(problems)
            continue
        key = (member, r.candidate, r.option)
        if key in seen:
            errors.append(
                (
                    where(r.row, "option"),
                    f"{member}'s score of {r.candidate} / {r.option} is already on row {seen[key]}",
                )
            )
            continue
        seen[key] = r.row
        groups.setdefault((member, r.candidate), []).append(r)
    return groups


def _row_problems(r: ScoreRow, member: str, scoring: _Round) -> Errors:
    """A row's problems with the mission: whose scores it is, and which candidate and option."""
    problems: Errors = []
    actor = scoring.actor
    if member != actor and not scoring.may_import_for_others:
        problems.append(
            (
                where(r.row, "member"),
                f"you may import only your own scores: leave member empty or write {actor}",
            )
        )
    elif member != actor and r.status is ScoreStatus.submitted:
        problems.append(
            (
                where(r.row, "status"),
                f"only {member} can submit {member}'s scores: import them as draft "
                f"(leave status empty) and {member} submits them on the scoring page",
            )
        )
    elif member not in scoring.members:
        problems.append(
            (where(r.row, "member"), f"{member} is not on this mission's Expert Council")
        )
    candidate = scoring.candidates.get(r.candidate)
    if candidate is None:
        problems.append((where(r.row, "candidate"), f"the mission has no candidate {r.candidate}"))
    elif r.option not in {o.id for o in candidate.options}:
        known = ", ".join(o.id for o in candidate.options)
        problems.append(
            (
                where(r.row, "option"),
                f"{r.option} is not an option of {r.candidate} (its options: {known})",
            )
        )
    return problems


def _group_problems(
    member: str, candidate_id: str, group: list[ScoreRow], scoring: _Round
) -> Errors:
    """The problems of one member's rows of one candidate as a whole: not already submitted,
    one status and one not_competent for all, and every option given to submit."""
    first = group[0]
    if scoring.submitted(member, candidate_id):
        return [
            (
                where(first.row, "candidate"),
                f"{member} has already submitted scores for {candidate_id} in {scoring.quarter}; "
                "submitted scores are final",
            )
        ]
    problems: Errors = []
    for r in group[1:]:
        if r.status is not first.status:
            problems.append(
                (
                    where(r.row, "status"),
                    f"differs from row {first.row}: the rows of one member's scores of "
                    f"{candidate_id} must all be draft or all submitted",
                )
            )
        if r.not_competent is not first.not_competent:
            problems.append(
                (
                    where(r.row, "not_competent"),
                    f"differs from row {first.row}: not_competent applies to the whole "
                    f"candidate {candidate_id}",
                )
            )
    if first.status is ScoreStatus.submitted and not first.not_competent:
        given = {r.option for r in group}
        options = scoring.candidates[candidate_id].options
        missing = [o.id for o in options if o.id not in given]
        if missing:
            problems.append(
                (
                    where(first.row, "option"),
                    f"to submit scores for {candidate_id}, give a row for each of its "
                    f"options (missing: {', '.join(missing)})",
                )
            )
    return problems


def _save(
    uow: SqlUnitOfWork, slug: str, groups: dict[Group, list[ScoreRow]], scoring: _Round
) -> tuple[int, int, int]:
    """Save each group as the scoring form does; the option scores (created, updated,
    submitted)."""
    created = updated = submitted = 0
    for (member, candidate_id), group in groups.items():
        first = group[0]
        submit = first.status is ScoreStatus.submitted
        entries = {r.option: r.to_score(member, scoring.quarter) for r in group}
        if not submit:  # keep the member's draft values of the options the file leaves out
            for (m, c, option), score in scoring.existing.items():
                if m == member and c == candidate_id and option not in entries:
                    entries[option] = score
        try:
            council.save_scores(
                uow,
                member,
                slug,
                candidate_id,
                list(entries.values()),
                submit=submit,
                not_competent=first.not_competent,
                imported_by=scoring.actor,
            )
        except InvalidInput as exc:
            raise InvalidInput(
                [(f"{where(first.row)}, {field}", rule) for field, rule in exc.errors]
            ) from exc
        for funding_option in scoring.candidates[candidate_id].options:
            if (member, candidate_id, funding_option.id) in scoring.existing:
                updated += 1
            else:
                created += 1
            submitted += int(submit)
    return created, updated, submitted
