"""The Expert Council's pages: the scoring round, scoring a candidate (blind until submitted),
members' calibration, seed questions (Cooke's classical model) and red-team challenges."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.confirm import confirm_page, confirmed
from api.deps import FormDep, MissionAccess, MissionContext, UowDep
from api.flash import redirect_done
from api.forms import form_version, parse_number, score_values, scores_from_form, values_of
from api.params import RowId
from api.permissions import Perm
from api.routes.html.candidates import detail_context
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.calibration_check import simulate_council
from portfolio.domain.classical import ClassicalResult, classical_warnings
from portfolio.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    validation_errors,
)
from portfolio.domain.model import (
    AGGREGATION_LABELS,
    AggregationMethod,
    Candidate,
    Role,
    ScoringState,
    SeedAnswer,
    SeedQuestion,
)
from portfolio.services import council

router = APIRouter(include_in_schema=False)

ViewMission = Annotated[MissionContext, Depends(MissionAccess(Perm.view_mission))]
ScoreDep = Annotated[MissionContext, Depends(MissionAccess(Perm.score))]
ManageRound = Annotated[MissionContext, Depends(MissionAccess(Perm.manage_round))]
ChallengeDep = Annotated[MissionContext, Depends(MissionAccess(Perm.challenge))]
ReplyDep = Annotated[MissionContext, Depends(MissionAccess(Perm.reply_challenge))]
ManageSeeds = Annotated[MissionContext, Depends(MissionAccess(Perm.manage_seeds))]
AnswerSeeds = Annotated[MissionContext, Depends(MissionAccess(Perm.answer_seeds))]


def _quarter(uow: SqlUnitOfWork, slug: str, requested: str | None) -> str:
    labels = [q.label for q in uow.missions.quarters(slug)]
    if requested:
        if requested not in labels:
            raise NotFound(f"no quarter {requested}")
        return requested
    try:
        return council.current_quarter(uow, slug)
    except Conflict:
        if not labels:
            raise
        return labels[-1]


def _next_in_mission(raw: Any, slug: str) -> str | None:
    """The page a form asks to return to (its hidden ``next``), if it is a plain path of this
    mission's pages (``/missions/{slug}/…``); anything else is ignored."""
    if not isinstance(raw, str) or len(raw) > 500:
        return None
    if not re.fullmatch(rf"/missions/{re.escape(slug)}/[A-Za-z0-9._~%/?=&+ -]*", raw):
        return None
    path = raw.split("?", 1)[0]
    if "//" in path or any(unquote(part) in (".", "..") for part in path.split("/")):
        return None
    return raw


def _display_names(uow: SqlUnitOfWork, usernames: list[str]) -> dict[str, str]:
    """Each user's full name (their username when they have none)."""
    names = {}
    for username in usernames:
        user = uow.users.find(username)
        names[username] = user.display_name if user and user.display_name else username
    return names


def _scoring_context(
    uow: SqlUnitOfWork, ctx: MissionContext, label: str, **extra: Any
) -> dict[str, Any]:
    state = council.round_state(uow, ctx.slug, label)
    mission = uow.missions.get(ctx.slug)
    is_member = Role.council_member in ctx.roles
    my_status = council.my_status(uow, ctx.slug, label, ctx.user.username) if is_member else {}
    hidden = council.hidden_candidates(uow, ctx.slug, label, ctx.viewer)
    rows = [
        r for r in council.quarter_aggregates(uow, ctx.slug, label) if r.candidate.id not in hidden
    ]
    scoring_now = state is ScoringState.open and label == _current_or_none(uow, ctx.slug)
    context = {
        "mission": mission,
        "ctx": ctx,
        "quarter": label,
        "state": state.value,
        "quarters": uow.missions.quarters(ctx.slug),
        "rows": rows,
        "my_status": my_status,
        "blind": bool(hidden),
        "candidates": uow.candidates.all(ctx.slug),
        "is_member": is_member,
        # what each candidate's form starts from: the member's own last submitted scores
        "last": council.last_submitted(uow, ctx.slug, label, ctx.user.username)
        if is_member and scoring_now
        else {},
        "scoring_now": scoring_now,
        "methods": [(m.value, AGGREGATION_LABELS[m]) for m in AggregationMethod],
        "values": {"method": mission.aggregation.value},
        "field_labels": {"method": "How scores are pooled"},
    }
    context.update(extra)
    return context


def _current_or_none(uow: SqlUnitOfWork, slug: str) -> str | None:
    try:
        return council.current_quarter(uow, slug)
    except Conflict:
        return None


@router.get("/missions/{slug}/scoring")
def scoring(
    request: Request, ctx: ViewMission, uow: UowDep, quarter: str | None = None
) -> Response:
    label = _quarter(uow, ctx.slug, quarter)
    return render(request, "council/scoring.html", _scoring_context(uow, ctx, label))


@router.post("/missions/{slug}/scoring/open")
def open_round(request: Request, ctx: ManageRound, uow: UowDep) -> Response:
    quarter = council.open_round(uow, ctx.user.username, ctx.slug)
    uow.commit()
    return redirect_done(
        request,
        f"/missions/{ctx.slug}/scoring",
        f"Scoring round for {quarter} opened: council members can score the candidates now.",
    )


def _close_consequences(uow: SqlUnitOfWork, slug: str, quarter: str) -> list[str]:
    """What closing the round of ``quarter`` does, in words, with who has not submitted yet."""
    mission = uow.missions.get(slug)
    lines = [
        f"The scores submitted for {quarter} become final and are pooled into one estimate per "
        f"option. Pooling: {AGGREGATION_LABELS[mission.aggregation]}.",
        "The optimiser uses these estimates for every run from then on.",
        "Nobody can score in this round any more, and it cannot be opened again.",
    ]
    missing = council.outstanding(uow, slug, quarter)
    if not missing:
        lines.append("Every council member has submitted every candidate.")
        return lines
    candidates = {c.id: c.name for c in uow.candidates.all(slug)}
    unscored = {c for ids in missing.values() for c in ids}
    names = _display_names(uow, list(missing))
    members = "member has" if len(missing) == 1 else "members have"
    lines.append(
        f"{len(missing)} {members} not submitted scores for {len(unscored)} of the "
        f"{len(candidates)} candidates; what they have not submitted is left out:"
    )
    for member, ids in sorted(missing.items(), key=lambda item: names[item[0]]):
        if len(ids) == len(candidates):
            lines.append(f"{names[member]} has not submitted any of them")
        elif len(ids) <= 3:
            listed = ", ".join(candidates[c] for c in ids)
            lines.append(f"{names[member]} has not submitted {listed}")
        else:
            lines.append(f"{names[member]} has not submitted {len(ids)} of them")
    return lines


@router.post("/missions/{slug}/scoring/close")
def close_round(request: Request, ctx: ManageRound, form: FormDep, uow: UowDep) -> Response:
    """Close the round, after a confirmation page that says what closing does; a hidden ``next``
    (a page of this mission) is where to return to afterwards."""
    values = values_of(form)
    back = _next_in_mission(values.get("next"), ctx.slug)
    target = back or f"/missions/{ctx.slug}/scoring"
    if not confirmed(values):
        quarter = council.current_quarter(uow, ctx.slug)
        council.require_open(uow, ctx.slug, quarter)
        return confirm_page(
            request,
            title=f"Close the scoring round for {quarter}?",
            warning="Closing the round cannot be undone: the scores become final.",
            action=f"/missions/{ctx.slug}/scoring/close",
            button="Close the scoring round",
            cancel=target,
            consequences=_close_consequences(uow, ctx.slug, quarter),
            fields={"next": back} if back else {},
            context={"mission": uow.missions.get(ctx.slug), "ctx": ctx},
        )
    quarter = council.close_round(uow, ctx.user.username, ctx.slug)
    uow.commit()
    frozen = len(uow.aggregates.all(ctx.slug, quarter))
    return redirect_done(
        request,
        target,
        f"Scoring round for {quarter} closed: {frozen} option estimates are final, and the "
        "optimiser uses them from now on.",
    )


@router.post("/missions/{slug}/scoring/method")
def set_method(request: Request, ctx: ManageRound, form: FormDep, uow: UowDep) -> Response:
    values = values_of(form)
    try:
        method = AggregationMethod(str(values.get("method") or ""))
    except ValueError:
        label = _quarter(uow, ctx.slug, None)
        context = _scoring_context(
            uow, ctx, label, errors=[("method", "choose how scores are pooled")], values=values
        )
        return render(request, "council/scoring.html", context, status_code=422)
    council.set_aggregation_method(uow, ctx.user.username, ctx.slug, method)
    uow.commit()
    return redirect_done(
        request,
        f"/missions/{ctx.slug}/scoring",
        f"Scores are now pooled by {AGGREGATION_LABELS[method].lower()}.",
    )


SCORE_FIELDS = {
    "p_success": "Probability of success",
    "trl": "Readiness (TRL)",
    "confidence": "Your confidence",
    "rationale": "Rationale",
    "cost": "Total cost (£m)",
    "impact": "Impact if it succeeds",
}
THREE_WORDS = {"low": "low", "most_likely": "most likely", "high": "high"}


def _score_labels(candidate: Candidate) -> dict[str, str]:
    """The scoring form's fields as the form labels them, each under its option's name."""
    labels = {
        "form": "Your scores",
        "not_competent": "I am not competent to score this candidate",
    }
    for i, option in enumerate(candidate.options):
        p = f"options.{i}"
        labels[p] = option.name
        for key, text in SCORE_FIELDS.items():
            labels[f"{p}.{key}"] = f"{option.name} — {text}"
        for part in ("cost", "impact"):
            for k, words in THREE_WORDS.items():
                labels[f"{p}.{part}.{k}"] = f"{option.name} — {SCORE_FIELDS[part]}, {words}"
    return labels


def _candidate_context(
    uow: SqlUnitOfWork, ctx: MissionContext, candidate_id: str, quarter: str, **extra: Any
) -> dict[str, Any]:
    candidate = uow.candidates.get(ctx.slug, candidate_id)
    state = council.round_state(uow, ctx.slug, quarter)
    is_member = Role.council_member in ctx.roles
    submitted = is_member and council.has_submitted(
        uow, ctx.slug, quarter, ctx.user.username, candidate
    )
    try:
        others = council.visible_scores(uow, ctx.slug, quarter, ctx.viewer, candidate)
    except PermissionDenied:
        others = None
    aggregate = next(
        (
            r
            for r in council.visible_aggregates(uow, ctx.slug, quarter, ctx.viewer)
            if r.candidate.id == candidate_id
        ),
        None,
    )
    mine = council.member_scores(uow, ctx.slug, quarter, ctx.user.username, candidate_id)
    can_score = (
        is_member
        and state is ScoringState.open
        and not submitted
        and quarter == _current_or_none(uow, ctx.slug)
    )
    # the member's own last submitted scores (never anyone else's): the form starts from them
    # until the member saves something in this round
    last = (
        council.last_scores(uow, ctx.slug, quarter, ctx.user.username, candidate_id)
        if can_score
        else None
    )
    prefilled = last is not None and not mine
    context = {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "candidate": candidate,
        "quarter": quarter,
        "state": state.value,
        "is_member": is_member,
        "submitted": submitted,
        "others": others,
        "aggregate": aggregate,
        "can_score": can_score,
        "imported": council.imported_draft(uow, ctx.slug, quarter, ctx.user.username, candidate_id)
        if is_member and not submitted
        else None,
        "last": last,
        "prefilled": prefilled,
        "values": score_values(last.scores if last and prefilled else mine, candidate),
        "version": uow.scores.version_of(ctx.slug, quarter, ctx.user.username, candidate_id)
        if is_member
        else 0,
        "sectors": council.sectors_of(uow, ctx.slug),
        "field_labels": _score_labels(candidate),
    }
    context.update(extra)
    return context


@router.get("/missions/{slug}/scoring/{candidate_id}")
def score_page(
    request: Request, ctx: ViewMission, candidate_id: str, uow: UowDep, quarter: str | None = None
) -> Response:
    label = _quarter(uow, ctx.slug, quarter)
    return render(request, "council/score.html", _candidate_context(uow, ctx, candidate_id, label))


@router.post("/missions/{slug}/scoring/{candidate_id}")
def save_scores(
    request: Request, ctx: ScoreDep, candidate_id: str, form: FormDep, uow: UowDep
) -> Response:
    values = values_of(form)
    quarter = council.current_quarter(uow, ctx.slug)
    candidate = uow.candidates.get(ctx.slug, candidate_id)
    submit = str(values.get("action", "")) == "submit"
    not_competent = bool(values.get("not_competent"))
    scores, errors = scores_from_form(values, candidate, ctx.user.username, quarter)
    if not errors:
        try:
            council.save_scores(
                uow,
                ctx.user.username,
                ctx.slug,
                candidate_id,
                [] if not_competent else scores,
                submit=submit,
                not_competent=not_competent,
                expected_version=form_version(values),
            )
            uow.commit()
            return redirect_done(
                request,
                f"/missions/{ctx.slug}/scoring/{candidate_id}",
                f"Your scores for {candidate.name} are submitted."
                if submit
                else "Draft saved. Submit when you are ready: submitted scores are final.",
            )
        except InvalidInput as exc:
            errors = exc.errors
        except Conflict as exc:
            errors = [("form", str(exc))]
        uow.rollback()
    context = _candidate_context(uow, ctx, candidate_id, quarter, errors=errors)
    context["values"] = values
    return render(request, "council/score.html", context, status_code=422)


@router.post("/missions/{slug}/scoring/{candidate_id}/no-change")
def submit_unchanged(
    request: Request, ctx: ScoreDep, candidate_id: str, form: FormDep, uow: UowDep
) -> Response:
    """No change: submit the member's last submitted scores of the candidate again for this
    round. Refused on the candidate's own form (with its error), which starts from those scores."""
    quarter = council.current_quarter(uow, ctx.slug)
    candidate = uow.candidates.get(ctx.slug, candidate_id)
    try:
        last = council.submit_last_scores(uow, ctx.user.username, ctx.slug, candidate_id)
        uow.commit()
        return redirect_done(
            request,
            f"/missions/{ctx.slug}/scoring",
            f"No change for {candidate.name}: your {last.quarter} scores are submitted for "
            f"{quarter}.",
        )
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = [("form", str(exc))]
    uow.rollback()
    context = _candidate_context(uow, ctx, candidate_id, quarter, errors=errors)
    return render(request, "council/score.html", context, status_code=422)


def _classical_warnings(result: ClassicalResult | None, names: dict[str, str]) -> list[str]:
    """The classical model's warnings, naming members as people read them."""
    if result is None:
        return []
    weights = {e: r.weight for e, r in result.experts.items()}
    return classical_warnings(weights, result.seed_items, names)


@router.get("/missions/{slug}/council")
def council_page(request: Request, ctx: ViewMission, uow: UowDep) -> Response:
    mission = uow.missions.get(ctx.slug)
    records = council.council_records(uow, ctx.slug)
    names = _display_names(uow, [r.username for r in records])
    return render(
        request,
        "council/members.html",
        {
            "mission": mission,
            "ctx": ctx,
            "records": records,
            "names": names,
            "trend_quarters": [row.quarter for row in records[0].trend] if records else [],
            "classical_warnings": _classical_warnings(
                council.classical_result(uow, ctx.slug), names
            ),
            "simulation": simulate_council(),
            "method": mission.aggregation.value,
            "methods": [(m.value, AGGREGATION_LABELS[m]) for m in AggregationMethod],
        },
    )


@router.get("/missions/{slug}/council/members/{username}")
def member_page(request: Request, ctx: ViewMission, username: str, uow: UowDep) -> Response:
    record = council.member_record(uow, ctx.slug, username)
    mission = uow.missions.get(ctx.slug)
    return render(
        request,
        "council/member.html",
        {
            "mission": mission,
            "ctx": ctx,
            "record": record,
            "display_name": _display_names(uow, [username])[username],
            "method": mission.aggregation.value,
            "names": {c.id: c.name for c in uow.candidates.all(ctx.slug)},
        },
    )


def _seeds_context(uow: SqlUnitOfWork, ctx: MissionContext, **extra: Any) -> dict[str, Any]:
    questions = uow.seeds.questions(ctx.slug)
    answers = uow.seeds.answers(ctx.slug)
    privileged = ctx.can(Perm.view_aggregates)
    known = {q.id for q in questions if q.realization is not None}
    visible = [
        a for a in answers if privileged or a.member == ctx.user.username or a.question in known
    ]
    mine = {a.question: a for a in answers if a.member == ctx.user.username}
    values: dict[str, Any] = {}
    for question_id, a in mine.items():
        values[f"{question_id}.q5"], values[f"{question_id}.q50"] = str(a.q5), str(a.q50)
        values[f"{question_id}.q95"] = str(a.q95)
    result = council.classical_result(uow, ctx.slug)
    members = [m.username for m in uow.missions.council(ctx.slug)]
    context = {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "questions": questions,
        "answers": visible,
        "result": result,
        "classical_warnings": _classical_warnings(result, _display_names(uow, members)),
        "is_member": Role.council_member in ctx.roles,
        "values": values,
        "members": [m.username for m in uow.missions.council(ctx.slug)],
        "field_labels": _seed_labels(questions),
    }
    context.update(extra)
    return context


def _seed_labels(questions: list[SeedQuestion]) -> dict[str, str]:
    """The seeds page's fields as its labels name them."""
    labels = {
        "realization": "True value, if known",
        "id": "Identifier",
        "question": "Question",
        "unit": "Unit",
        "scale": "Scale",
        "answers": "Your answers",
    }
    for q in questions:
        labels[f"{q.id}.realization"] = f"True value of {q.question}"
        for k, text in (("q5", "5 % (low)"), ("q50", "50 % (median)"), ("q95", "95 % (high)")):
            labels[f"{q.id}.{k}"] = f"{q.question}: {text}"
    return labels


@router.get("/missions/{slug}/council/seeds")
def seeds_page(request: Request, ctx: ViewMission, uow: UowDep) -> Response:
    return render(request, "council/seeds.html", _seeds_context(uow, ctx))


@router.post("/missions/{slug}/council/seeds")
def add_seed(request: Request, ctx: ManageSeeds, form: FormDep, uow: UowDep) -> Response:
    values = values_of(form)
    errors: list[tuple[str, str]] = []
    realization = parse_number(values, "realization", errors, required=False)
    if not errors:
        try:
            question = SeedQuestion(
                id=str(values.get("id", "")).strip(),
                question=str(values.get("question", "")),
                unit=str(values.get("unit", "")),
                scale=str(values.get("scale", "") or "uniform"),
                realization=realization,
            )
            council.add_seed_question(uow, ctx.user.username, ctx.slug, question)
            uow.commit()
            return redirect_done(
                request,
                f"/missions/{ctx.slug}/council/seeds",
                f"Seed question added: {question.question}",
            )
        except ValidationError as exc:
            errors = validation_errors(exc)
        except Conflict as exc:
            errors = [("id", str(exc))]
        uow.rollback()
    return render(
        request,
        "council/seeds.html",
        _seeds_context(uow, ctx, errors=errors, new=values),
        status_code=422,
    )


@router.post("/missions/{slug}/council/seeds/{question_id}/realization")
def set_realization(
    request: Request, ctx: ManageSeeds, question_id: str, form: FormDep, uow: UowDep
) -> Response:
    """Record (or clear) a question's true value; a value the question cannot take is shown
    again beside the question with its error."""
    field = f"{question_id}.realization"  # the input's name ("realization" is read too)
    typed = {field: str(form.get(field) or form.get("realization") or "")}
    errors: list[tuple[str, str]] = []
    value = parse_number(typed, field, errors, required=False)
    if not errors:
        try:
            council.set_realization(uow, ctx.user.username, ctx.slug, question_id, value)
            uow.commit()
            asked = {q.id: q.question for q in uow.seeds.questions(ctx.slug)}[question_id]
            return redirect_done(
                request,
                f"/missions/{ctx.slug}/council/seeds",
                f"True value of “{asked}” cleared."
                if value is None
                else f"True value of “{asked}” recorded.",
            )
        except InvalidInput as exc:
            errors = [(field if f == "realization" else f, rule) for f, rule in exc.errors]
        uow.rollback()
    context = _seeds_context(uow, ctx, errors=errors)
    context["values"].update(typed)
    return render(request, "council/seeds.html", context, status_code=422)


@router.post("/missions/{slug}/council/seeds/answers")
def answer_seeds(request: Request, ctx: AnswerSeeds, form: FormDep, uow: UowDep) -> Response:
    values = values_of(form)
    errors: list[tuple[str, str]] = []
    answers = []
    for question in uow.seeds.questions(ctx.slug):
        if question.realization is not None:
            continue
        names = [f"{question.id}.{q}" for q in ("q5", "q50", "q95")]
        if not any(str(values.get(name, "")).strip() for name in names):
            continue
        found = len(errors)
        q5, q50, q95 = (parse_number(values, name, errors) for name in names)
        if len(errors) > found:
            continue
        try:
            answers.append(
                SeedAnswer(question=question.id, member=ctx.user.username, q5=q5, q50=q50, q95=q95)
            )
        except ValidationError as exc:
            errors.extend(
                (path if path in names else names[0], rule)
                for path, rule in validation_errors(exc, question.id)
            )
    if not errors:
        try:
            for answer in answers:
                council.answer_seed(uow, ctx.slug, answer)
            uow.commit()
            return redirect_done(
                request,
                f"/missions/{ctx.slug}/council/seeds",
                f"Your answers to {len(answers)} seed question"
                f"{'' if len(answers) == 1 else 's'} are saved."
                if answers
                else "You gave no answers, so nothing was saved.",
            )
        except (InvalidInput, Conflict) as exc:
            errors = getattr(exc, "errors", [("answers", str(exc))])
        uow.rollback()
    context = _seeds_context(uow, ctx, errors=errors)
    context["values"] = values
    return render(request, "council/seeds.html", context, status_code=422)


CHALLENGE_LABEL = "Challenge this candidate"
REPLY_LABEL = "Your reply"


def _candidate_page_again(
    request: Request,
    uow: SqlUnitOfWork,
    ctx: MissionContext,
    candidate_id: str,
    errors: list[tuple[str, str]],
    **extra: Any,
) -> Response:
    """The candidate page again, with the challenge (or reply) form's error and its input."""
    context = detail_context(uow, ctx, candidate_id)
    context.update(errors=errors, **extra)
    return render(request, "candidates/detail.html", context, status_code=422)


@router.post("/missions/{slug}/candidates/{candidate_id}/challenges")
def add_challenge(
    request: Request, ctx: ChallengeDep, candidate_id: str, form: FormDep, uow: UowDep
) -> Response:
    candidate = uow.candidates.get(ctx.slug, candidate_id)
    text = str(form.get("text") or "")
    try:
        council.add_challenge(uow, ctx.user.username, ctx.slug, candidate_id, text)
        uow.commit()
        return redirect_done(
            request,
            f"/missions/{ctx.slug}/candidates/{candidate_id}#challenges",
            f"Challenge added to {candidate.name}: the Mission CEO replies to it here.",
        )
    except InvalidInput as exc:
        errors = exc.errors
    uow.rollback()
    return _candidate_page_again(
        request,
        uow,
        ctx,
        candidate_id,
        errors,
        challenge_values={"text": text},
        field_labels={"text": CHALLENGE_LABEL},
    )


@router.post("/missions/{slug}/challenges/{challenge_id}/reply")
def reply_challenge(
    request: Request, ctx: ReplyDep, challenge_id: RowId, form: FormDep, uow: UowDep
) -> Response:
    challenge = dict(uow.challenges.all(ctx.slug)).get(challenge_id)
    if challenge is None:
        raise NotFound(f"no challenge {challenge_id} in this mission")
    field = f"reply.{challenge_id}"  # each challenge's reply box has its own name
    text = str(form.get(field) or form.get("reply") or "")
    try:
        council.reply_challenge(uow, ctx.user.username, ctx.slug, challenge_id, text)
        uow.commit()
        candidate = uow.candidates.get(ctx.slug, challenge.candidate)
        return redirect_done(
            request,
            f"/missions/{ctx.slug}/candidates/{challenge.candidate}#challenges",
            f"Reply added to {_display_names(uow, [challenge.author])[challenge.author]}'s "
            f"challenge of {candidate.name}.",
        )
    except InvalidInput as exc:
        errors = [(field if f == "reply" else f, rule) for f, rule in exc.errors]
    uow.rollback()
    return _candidate_page_again(
        request,
        uow,
        ctx,
        challenge.candidate,
        errors,
        reply_values={field: text},
        field_labels={field: REPLY_LABEL},
    )
