"""The Expert Council's work: scoring rounds, blind scores, aggregation, calibration, seed
questions and red-team challenges. Services take a unit of work; the maths is in ``estimates``
and ``classical``.

The blind rule (``hidden_candidates``, the one place it is decided; every page, route and export
that shows a score, a spread, an aggregate or a forecast goes through it or through
``round_over``): a council member sees other members' scores, the spread and the aggregate of a
candidate in a quarter only once they have submitted (or declared themselves not competent on)
every option of that candidate, or once the quarter's scoring is over (its round closed, or the
quarter itself closed). The CEO, Treasury and the administrator see them always; they do not
score. The forecasting record (calibration, Brier score, performance weights) counts only
forecasts of rounds that are over, so it never shows a number the blind rule still hides.

Performance weights (``member_weights`` with the Brier method; the rule itself is
``estimates.brier_weights``): a stage gate resolves each member's latest forecast of the option
it concerns (``resolved_forecasts``), and from the first resolved forecast each member's weight
is their relative Brier skill shrunk towards equal weights by the length of their record,
w_m ∝ λ_m·r_m + (1 − λ_m) with λ_m = n_m / (n_m + 5), floored at 0.1 / M. ``brier_trend`` shows
how each member's Brier score and weight moved quarter by quarter as gates resolved forecasts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.classical import ClassicalResult, elicitation_from_seeds, run_classical_model
from portfolio.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from portfolio.domain.estimates import (
    Aggregate,
    MemberCalibration,
    aggregate_option,
    brier,
    brier_weights,
    member_calibration,
)
from portfolio.domain.model import (
    AggregationMethod,
    AuditEntry,
    Candidate,
    Challenge,
    Evidence,
    EvidenceKind,
    Quarter,
    QuarterState,
    Role,
    Score,
    ScoreStatus,
    ScoringState,
    Sector,
    SeedAnswer,
    SeedQuestion,
    StoredAggregate,
    ThreePoint,
)
from portfolio.services.missions import changed, record
from portfolio.services.quarters import current_quarter as current_quarter


def _json(model: BaseModel | None) -> dict[str, Any] | None:
    return model.model_dump(mode="json") if model is not None else None


# -- who is looking, and the blind rule ----------------------------------------------------------
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


DONE = ("submitted", "not competent")
"""A member's statuses on a candidate that lift the blind rule for them."""


def round_over(quarter: Quarter) -> bool:
    """Is the scoring of ``quarter`` over — its round closed, or the quarter itself closed (a
    quarter may close with its round still open; nobody can score it after)? Its scores are then
    no longer blind, and only then can its forecasts resolve."""
    return quarter.scoring is ScoringState.closed or quarter.state is QuarterState.closed


def rounds_over(uow: SqlUnitOfWork, slug: str) -> set[str]:
    """The labels of the quarters whose scoring is over (``round_over``)."""
    return {q.label for q in uow.missions.quarters(slug) if round_over(q)}


def _status(mine: dict[tuple[str, str], Score], candidate: Candidate) -> str:
    scores = [mine.get((candidate.id, o.id)) for o in candidate.options]
    if all(s is not None and s.status is ScoreStatus.submitted for s in scores):
        return "not competent" if all(s and s.not_competent for s in scores) else "submitted"
    if any(s is not None for s in scores):
        return "draft"
    return "not started"


def my_status(uow: SqlUnitOfWork, slug: str, quarter: str, member: str) -> dict[str, str]:
    """Per candidate, what ``member`` has done in ``quarter``: ``not started``, ``draft``,
    ``submitted`` or ``not competent`` (submitted as not competent on every option)."""
    mine = member_scores(uow, slug, quarter, member)
    return {c.id: _status(mine, c) for c in uow.candidates.all(slug)}


def hidden_candidates(uow: SqlUnitOfWork, slug: str, quarter: str, viewer: Viewer) -> set[str]:
    """The blind rule: the ids of the candidates whose other members' scores, spread and
    aggregate in ``quarter`` are hidden from ``viewer`` — for a council member, those they have
    not yet submitted (or declared not competent on) while the quarter's scoring is not over;
    for anyone without a role on the mission, all of them; for those who oversee, none."""
    if viewer.oversees:
        return set()
    if Role.council_member not in viewer.roles:
        return {c.id for c in uow.candidates.all(slug)}
    if quarter in rounds_over(uow, slug):
        return set()
    return {
        candidate
        for candidate, status in my_status(uow, slug, quarter, viewer.username).items()
        if status not in DONE
    }


# -- the round ---------------------------------------------------------------------------------
def round_state(uow: SqlUnitOfWork, slug: str, quarter: str) -> ScoringState:
    for q in uow.missions.quarters(slug):
        if q.label == quarter:
            return q.scoring
    raise Conflict(f"no quarter {quarter}")


def require_open(uow: SqlUnitOfWork, slug: str, quarter: str) -> None:
    """Scores are saved, and a round closed, only while the round is open."""
    if round_state(uow, slug, quarter) is not ScoringState.open:
        raise Conflict(f"the scoring round of {quarter} is not open")


def open_round(uow: SqlUnitOfWork, actor: str, slug: str) -> str:
    """Open the scoring round of the current quarter (once)."""
    quarter = current_quarter(uow, slug)
    state = round_state(uow, slug, quarter)
    if state is not ScoringState.not_opened:
        raise Conflict(f"the scoring round of {quarter} is already {state.value.replace('_', ' ')}")
    uow.missions.set_quarter(slug, quarter, scoring=ScoringState.open.value)
    record(uow, actor, slug, "scoring_round", quarter, "opened")
    return quarter


def close_round(uow: SqlUnitOfWork, actor: str, slug: str) -> str:
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


def outstanding(uow: SqlUnitOfWork, slug: str, quarter: str) -> dict[str, list[str]]:
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
        missing = [c.id for c in candidates if _status(mine, c) not in DONE]
        if missing:
            out[member.username] = missing
    return out


def freeze_aggregates(uow: SqlUnitOfWork, slug: str, quarter: str) -> list[StoredAggregate]:
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
    uow: SqlUnitOfWork, actor: str, slug: str, method: AggregationMethod
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


# -- scoring -------------------------------------------------------------------------------------
def _member_sector(uow: SqlUnitOfWork, slug: str, member: str) -> Sector:
    for m in uow.missions.council(slug):
        if m.username == member:
            return m.sector
    raise PermissionDenied("only members of the mission's Expert Council score candidates")


def member_scores(
    uow: SqlUnitOfWork, slug: str, quarter: str, member: str, candidate: str | None = None
) -> dict[tuple[str, str], Score]:
    return {
        (s.candidate, s.option): s
        for s in uow.scores.all(slug, quarter)
        if s.quarter == quarter
        and s.member == member
        and (candidate is None or s.candidate == candidate)
    }


def has_submitted(
    uow: SqlUnitOfWork, slug: str, quarter: str, member: str, candidate: Candidate
) -> bool:
    """Has ``member`` submitted (or declared not competent on) every option of ``candidate``?"""
    return _status(member_scores(uow, slug, quarter, member, candidate.id), candidate) in DONE


ALREADY_SUBMITTED = (
    "you have already submitted your scores for this candidate; submitted scores are final"
)
STALE_SCORES = (
    "you changed these scores in another window since opening this one; "
    "your input is kept below: check it and save again"
)


def save_scores(
    uow: SqlUnitOfWork,
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
    _member_sector(uow, slug, member)
    quarter = current_quarter(uow, slug)
    require_open(uow, slug, quarter)
    candidate = uow.candidates.get(slug, candidate_id)
    existing = member_scores(uow, slug, quarter, member, candidate_id)
    if expected_version is not None and expected_version != uow.scores.version_of(
        slug, quarter, member, candidate_id
    ):
        raise Conflict(STALE_SCORES)
    if any(s.status is ScoreStatus.submitted for s in existing.values()):
        raise Conflict(ALREADY_SUBMITTED)
    by_option = {e.option: e for e in entries}
    unknown = set(by_option) - {o.id for o in candidate.options}
    if unknown:
        raise InvalidInput.single(
            "option", f"{sorted(unknown)[0]} is not an option of {candidate_id}"
        )
    status = ScoreStatus.submitted if submit else ScoreStatus.draft
    errors: list[tuple[str, str]] = []
    scores: list[Score] = []
    for i, option in enumerate(candidate.options):
        entry = by_option.get(option.id)
        base: dict[str, Any] = {
            "member": member,
            "quarter": quarter,
            "candidate": candidate_id,
            "option": option.id,
            "status": status,
        }
        if not_competent:
            scores.append(Score(**base, not_competent=True))
            continue
        values = (
            entry.model_dump(
                include={"p_success", "cost", "impact", "trl", "confidence", "rationale"}
            )
            if entry
            else {}
        )
        if submit:
            for field_name in ("p_success", "cost", "impact", "trl", "confidence"):
                if values.get(field_name) is None:
                    errors.append((f"options.{i}.{field_name}", "required to submit"))
        if not errors:
            scores.append(Score(**base, **values))
    if errors:
        raise InvalidInput(errors)
    # the checks above give early answers; this write re-checks them in the database, atomically
    refused = uow.scores.replace_drafts(slug, scores, expected_version)
    if refused is not None:
        raise Conflict(ALREADY_SUBMITTED if refused == "submitted" else STALE_SCORES)
    after: dict[str, Any] = {
        "not_competent": not_competent,
        "options": {s.option: _json(s) for s in scores},
    }
    if carried_from is not None:
        after["unchanged_from"] = carried_from
    if on_behalf:
        assert imported_by is not None
        record(
            uow,
            imported_by,
            slug,
            "score",
            f"{quarter}:{candidate_id}",
            "imported on behalf",
            after={"on_behalf_of": member, "status": ScoreStatus.draft.value, **after},
        )
        return
    record(
        uow,
        member,
        slug,
        "score",
        f"{quarter}:{candidate_id}",
        "submitted" if submit else "saved draft",
        after=after,
    )


def imported_draft(
    uow: SqlUnitOfWork, slug: str, quarter: str, member: str, candidate_id: str
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


def last_submitted(
    uow: SqlUnitOfWork, slug: str, quarter: str, member: str
) -> dict[str, LastScores]:
    """Per candidate, ``member``'s scores of the latest round before ``quarter`` in which they
    submitted it (``LastScores``); candidates they never submitted before are left out."""
    latest: dict[str, str] = {}
    submitted: dict[tuple[str, str], list[Score]] = defaultdict(list)
    for s in uow.scores.all(slug):
        if s.member == member and s.quarter < quarter and s.status is ScoreStatus.submitted:
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
    uow: SqlUnitOfWork, slug: str, quarter: str, member: str, candidate_id: str
) -> LastScores | None:
    """``member``'s last submitted scores of one candidate before ``quarter`` (``LastScores``)."""
    return last_submitted(uow, slug, quarter, member).get(candidate_id)


def submit_last_scores(uow: SqlUnitOfWork, member: str, slug: str, candidate_id: str) -> LastScores:
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
    status = _status(member_scores(uow, slug, quarter, member, candidate_id), candidate)
    if status in DONE:
        raise Conflict(ALREADY_SUBMITTED)
    if status == "draft":
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


def visible_scores(
    uow: SqlUnitOfWork, slug: str, quarter: str, viewer: Viewer, candidate: Candidate
) -> list[Score]:
    """Every member's scores of ``candidate`` in ``quarter`` as ``viewer`` may see them:
    PermissionDenied while the blind rule (``hidden_candidates``) hides the candidate from them.
    A council member sees the others' submitted scores and their own."""
    if candidate.id in hidden_candidates(uow, slug, quarter, viewer):
        if Role.council_member not in viewer.roles and not viewer.oversees:
            raise PermissionDenied("you have no role on this mission")
        raise PermissionDenied(
            "submit your own scores for this candidate first: others' scores stay hidden "
            "until you have"
        )
    return [
        s
        for s in uow.scores.all(slug, quarter)
        if s.quarter == quarter
        and s.candidate == candidate.id
        and (viewer.oversees or s.status is ScoreStatus.submitted or s.member == viewer.username)
    ]


# -- aggregation ---------------------------------------------------------------------------------
@dataclass
class CandidateAggregate:
    """A candidate's aggregates in a quarter, option by option, with its flags and sectors."""

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


def sectors_of(uow: SqlUnitOfWork, slug: str) -> dict[str, Sector]:
    return {m.username: m.sector for m in uow.missions.council(slug)}


def member_weights(uow: SqlUnitOfWork, slug: str, method: AggregationMethod) -> dict[str, float]:
    """Each council member's weight under ``method`` (they sum to 1 over the members)."""
    members = [m.username for m in uow.missions.council(slug)]
    if not members:
        return {}
    if method is AggregationMethod.brier:
        records = resolved_forecasts(uow, slug)
        return brier_weights({m: [(f.p, f.outcome) for f in records.get(m, [])] for m in members})
    if method is AggregationMethod.classical:
        result = classical_result(uow, slug)
        if result is None:
            return dict.fromkeys(members, 1 / len(members))
        return {m: result.experts[m].weight if m in result.experts else 0.0 for m in members}
    return dict.fromkeys(members, 1 / len(members))


def quarter_aggregates(
    uow: SqlUnitOfWork, slug: str, quarter: str, method: AggregationMethod | None = None
) -> list[CandidateAggregate]:
    """Live aggregates of the submitted scores of ``quarter`` (every candidate)."""
    method = method or uow.missions.get(slug).aggregation
    weights = member_weights(uow, slug, method)
    sectors = sectors_of(uow, slug)
    scores: dict[tuple[str, str], list[Score]] = defaultdict(list)
    for s in uow.scores.all(slug, quarter):
        scores[(s.candidate, s.option)].append(s)
    out = []
    for candidate in uow.candidates.all(slug):
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


def visible_aggregates(
    uow: SqlUnitOfWork, slug: str, quarter: str, viewer: Viewer
) -> list[CandidateAggregate]:
    """The live aggregates of ``quarter`` that ``viewer`` may see (``hidden_candidates``)."""
    hidden = hidden_candidates(uow, slug, quarter, viewer)
    return [r for r in quarter_aggregates(uow, slug, quarter) if r.candidate.id not in hidden]


def latest_aggregates(uow: SqlUnitOfWork, slug: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The most recent frozen aggregate of each option (from the latest closed round that
    scored it): what the optimiser's problem file reads."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for agg in uow.aggregates.all(slug):  # ordered by quarter
        latest[(agg.candidate, agg.option)] = agg.data
    return latest


# -- forecasting record --------------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedForecast:
    member: str
    candidate: str
    option: str
    quarter: str
    p: float
    outcome: bool
    resolved_on: dt.date
    resolved_in: str = ""
    """The quarter of the stage gate that resolved it."""


def resolved_forecasts(uow: SqlUnitOfWork, slug: str) -> dict[str, list[ResolvedForecast]]:
    """Members' forecasts whose outcome is known: a stage gate resolves each member's latest
    submitted p of the option it concerns (the candidate's first option unless it says which).

    A forecast counts only once its round is over (``round_over``: the blind rule no longer
    hides it) and only if the outcome came after it: the stage gate is recorded in a *later*
    quarter than the forecast. A gate recorded in the forecast's own quarter may have been known
    when the member scored (the store does not say which came first), so it resolves the
    member's forecast of an earlier round instead. Forecasts of the open round never count: the
    calibration page and the Brier weights would otherwise reveal them."""
    candidates = {c.id: c for c in uow.candidates.all(slug)}
    over = rounds_over(uow, slug)
    scores = [
        s
        for s in uow.scores.all(slug)
        if s.quarter in over
        and s.status is ScoreStatus.submitted
        and not s.not_competent
        and s.p_success is not None
    ]
    out: dict[str, list[ResolvedForecast]] = defaultdict(list)
    for ev in uow.evidence.all(slug):
        if ev.kind is not EvidenceKind.stage_gate or ev.outcome is None:
            continue
        option = ev.option or candidates[ev.candidate].options[0].id
        latest: dict[str, Score] = {}
        for s in scores:
            if s.candidate == ev.candidate and s.option == option and s.quarter < ev.quarter:
                if s.member not in latest or s.quarter >= latest[s.member].quarter:
                    latest[s.member] = s
        for member, s in sorted(latest.items()):
            assert s.p_success is not None
            out[member].append(
                ResolvedForecast(
                    member,
                    ev.candidate,
                    option,
                    s.quarter,
                    s.p_success,
                    ev.outcome,
                    ev.date,
                    ev.quarter,
                )
            )
    return dict(out)


@dataclass(frozen=True)
class QuarterBrier:
    """One quarter of a member's record: the forecasts stage gates resolved in it, their Brier
    score, the record to date, and the member's performance (Brier) weight after it."""

    quarter: str
    resolved: int
    brier: float | None
    resolved_to_date: int
    brier_to_date: float | None
    weight: float


TREND_TOLERANCE = 0.01
"""Brier scores of two quarters closer than this are "about the same" in the trend's words."""


def brier_trend(
    records: dict[str, list[ResolvedForecast]], members: Sequence[str]
) -> dict[str, list[QuarterBrier]]:
    """Each member's Brier score by quarter: one row per quarter in which a stage gate resolved
    anyone's forecast (the same quarters for every member), with the performance weight
    ``brier_weights`` gives each member on the forecasts resolved by the end of that quarter."""
    quarters = sorted({f.resolved_in for fs in records.values() for f in fs})
    out: dict[str, list[QuarterBrier]] = {m: [] for m in members}
    for quarter in quarters:
        to_date = {
            m: [(f.p, f.outcome) for f in records.get(m, []) if f.resolved_in <= quarter]
            for m in members
        }
        weights = brier_weights(to_date)
        for m in members:
            now = [(f.p, f.outcome) for f in records.get(m, []) if f.resolved_in == quarter]
            out[m].append(
                QuarterBrier(
                    quarter=quarter,
                    resolved=len(now),
                    brier=brier(now) if now else None,
                    resolved_to_date=len(to_date[m]),
                    brier_to_date=brier(to_date[m]) if to_date[m] else None,
                    weight=weights[m],
                )
            )
    return out


def trend_words(rows: Sequence[QuarterBrier]) -> str:
    """The trend of a member's Brier score in words: the first and the last quarter in which
    their forecasts resolved (a lower Brier score is better)."""
    scored = [r for r in rows if r.brier is not None]
    if not scored:
        return "No forecast has resolved yet."
    first, last = scored[0], scored[-1]
    assert first.brier is not None and last.brier is not None
    if len(scored) == 1:
        return f"One quarter of record so far: Brier score {first.brier:.3f} in {first.quarter}."
    change = last.brier - first.brier
    verdict = (
        "about the same"
        if abs(change) < TREND_TOLERANCE
        else "better (lower)"
        if change < 0
        else "worse (higher)"
    )
    return (
        f"Brier score {first.brier:.3f} in {first.quarter}, {last.brier:.3f} in {last.quarter}: "
        f"{verdict}."
    )


@dataclass
class MemberRecord:
    username: str
    sector: Sector
    forecasts: list[ResolvedForecast]
    calibration: MemberCalibration
    weights: dict[str, float]
    trend: list[QuarterBrier] = field(default_factory=list)

    @property
    def trend_words(self) -> str:
        return trend_words(self.trend)


def council_records(uow: SqlUnitOfWork, slug: str) -> list[MemberRecord]:
    """Each member's forecasting record, Brier score, calibration curve, current weights and
    Brier score by quarter."""
    records = resolved_forecasts(uow, slug)
    weights = {m: member_weights(uow, slug, m) for m in AggregationMethod}
    council = uow.missions.council(slug)
    trends = brier_trend(records, [m.username for m in council])
    out = []
    for member in council:
        forecasts = records.get(member.username, [])
        out.append(
            MemberRecord(
                member.username,
                member.sector,
                forecasts,
                member_calibration([(f.p, f.outcome) for f in forecasts]),
                {m.value: weights[m].get(member.username, 0.0) for m in AggregationMethod},
                trends[member.username],
            )
        )
    return out


def member_record(uow: SqlUnitOfWork, slug: str, username: str) -> MemberRecord:
    """One member's forecasting record (``council_records``); NotFound for a non-member."""
    for r in council_records(uow, slug):
        if r.username == username:
            return r
    raise NotFound(f"{username} is not on this mission's council")


# -- seed questions and the classical model ------------------------------------------------------
def classical_result(uow: SqlUnitOfWork, slug: str) -> ClassicalResult | None:
    """Cooke's classical model on the mission's seed questions, or None without enough data."""
    document = elicitation_from_seeds(uow.seeds.questions(slug), uow.seeds.answers(slug))
    if not document["experts"] or not any(
        item["realization"] is not None for item in document["items"]
    ):
        return None
    return run_classical_model(document)


def add_seed_question(uow: SqlUnitOfWork, actor: str, slug: str, question: SeedQuestion) -> None:
    uow.seeds.add_question(slug, question)
    record(uow, actor, slug, "seed_question", question.id, "created", after=_json(question))


def set_realization(
    uow: SqlUnitOfWork, actor: str, slug: str, question_id: str, realization: float | None
) -> None:
    questions = {q.id: q for q in uow.seeds.questions(slug)}
    if question_id not in questions:
        raise InvalidInput.single("question", f"no seed question {question_id}")
    before = questions[question_id]
    try:
        after = before.with_changes(realization=realization)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from None
    uow.seeds.update_question(slug, after)
    record(
        uow,
        actor,
        slug,
        "seed_question",
        question_id,
        "updated",
        before={"realization": before.realization},
        after={"realization": realization},
    )


def answer_seed(uow: SqlUnitOfWork, slug: str, answer: SeedAnswer) -> None:
    _member_sector(uow, slug, answer.member)
    questions = {q.id: q for q in uow.seeds.questions(slug)}
    if answer.question not in questions:
        raise InvalidInput.single("question", f"no seed question {answer.question}")
    if questions[answer.question].realization is not None:
        raise Conflict(
            "the answer to this seed question is already known; it can no longer be answered"
        )
    if questions[answer.question].scale == "log" and answer.q5 <= 0:
        raise InvalidInput.single(
            f"{answer.question}.q5", "a question on the log scale needs values above 0"
        )
    previous = next(
        (
            a
            for a in uow.seeds.answers(slug)
            if a.question == answer.question and a.member == answer.member
        ),
        None,
    )
    uow.seeds.set_answer(slug, answer)
    old, new = changed(_json(previous) or {}, _json(answer) or {})
    record(
        uow,
        answer.member,
        slug,
        "seed_answer",
        f"{answer.question}:{answer.member}",
        "updated" if previous else "created",
        old or None,
        new,
    )


# -- challenges ----------------------------------------------------------------------------------
def add_challenge(uow: SqlUnitOfWork, member: str, slug: str, candidate_id: str, text: str) -> int:
    _member_sector(uow, slug, member)
    uow.candidates.get(slug, candidate_id)
    text = text.strip()
    if not text:
        raise InvalidInput.single("text", "write the challenge")
    if len(text) > 5000:
        raise InvalidInput.single("text", "must be at most 5000 characters")
    challenge = Challenge(
        candidate=candidate_id,
        quarter=current_quarter(uow, slug),
        author=member,
        text=text,
        created_at=uow.now(),
    )
    challenge_id = uow.challenges.add(slug, challenge)
    record(uow, member, slug, "challenge", str(challenge_id), "created", after=_json(challenge))
    return challenge_id


def reply_challenge(
    uow: SqlUnitOfWork, actor: str, slug: str, challenge_id: int, text: str
) -> None:
    text = text.strip()
    if not text:
        raise InvalidInput.single("reply", "write the reply")
    if len(text) > 5000:
        raise InvalidInput.single("reply", "must be at most 5000 characters")
    before = uow.challenges.reply(slug, challenge_id, text, actor, uow.now())
    record(
        uow,
        actor,
        slug,
        "challenge",
        str(challenge_id),
        "replied",
        before={"reply": before.reply},
        after={"reply": text},
    )


def pooled_three_point(data: dict[str, Any], key: str) -> ThreePoint:
    """The three-point summary of a frozen aggregate's pooled cost or impact."""
    pooled = data[key]
    return ThreePoint(low=pooled["low"], most_likely=pooled["most_likely"], high=pooled["high"])
