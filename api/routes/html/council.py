"""The Expert Council's pages: the scoring round, scoring a candidate (blind until submitted),
members' calibration, seed questions (Cooke's classical model) and red-team challenges."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import FormDep, MissionAccess, MissionContext, UowDep
from api.forms import form_version, parse_number, score_values, scores_from_form, values_of
from api.params import RowId
from api.permissions import Perm
from api.templating import render
from portfolio import council
from portfolio.errors import Conflict, InvalidInput, NotFound, PermissionDenied, validation_errors
from portfolio.model import (
    AGGREGATION_LABELS,
    AggregationMethod,
    Role,
    ScoringState,
    SeedAnswer,
    SeedQuestion,
)
from portfolio.unit_of_work import SqlUnitOfWork

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


@router.get("/missions/{slug}/scoring")
def scoring(
    request: Request, ctx: ViewMission, uow: UowDep, quarter: str | None = None
) -> Response:
    label = _quarter(uow, ctx.slug, quarter)
    state = council.round_state(uow, ctx.slug, label)
    mission = uow.missions.get(ctx.slug)
    is_member = Role.council_member in ctx.roles
    my_status = council.my_status(uow, ctx.slug, label, ctx.user.username) if is_member else {}
    hidden = council.hidden_candidates(uow, ctx.slug, label, ctx.viewer)
    rows = [
        r for r in council.quarter_aggregates(uow, ctx.slug, label) if r.candidate.id not in hidden
    ]
    return render(
        request,
        "council/scoring.html",
        {
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
            "methods": [(m.value, AGGREGATION_LABELS[m]) for m in AggregationMethod],
            "values": {"method": mission.aggregation.value},
        },
    )


@router.post("/missions/{slug}/scoring/open")
def open_round(ctx: ManageRound, uow: UowDep) -> Response:
    council.open_round(uow, ctx.user.username, ctx.slug)
    uow.commit()
    return RedirectResponse(f"/missions/{ctx.slug}/scoring", status_code=303)


@router.post("/missions/{slug}/scoring/close")
def close_round(ctx: ManageRound, uow: UowDep) -> Response:
    council.close_round(uow, ctx.user.username, ctx.slug)
    uow.commit()
    return RedirectResponse(f"/missions/{ctx.slug}/scoring", status_code=303)


@router.post("/missions/{slug}/scoring/method")
def set_method(ctx: ManageRound, form: FormDep, uow: UowDep) -> Response:
    try:
        method = AggregationMethod(str(form.get("method") or ""))
    except ValueError as exc:
        raise InvalidInput.single("method", "choose an aggregation method") from exc
    council.set_aggregation_method(uow, ctx.user.username, ctx.slug, method)
    uow.commit()
    return RedirectResponse(f"/missions/{ctx.slug}/scoring", status_code=303)


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
        "can_score": is_member and state is ScoringState.open and not submitted,
        "imported": council.imported_draft(uow, ctx.slug, quarter, ctx.user.username, candidate_id)
        if is_member and not submitted
        else None,
        "values": score_values(mine, candidate),
        "version": uow.scores.version_of(ctx.slug, quarter, ctx.user.username, candidate_id)
        if is_member
        else 0,
        "sectors": council.sectors_of(uow, ctx.slug),
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
            target = f"/missions/{ctx.slug}/scoring/{candidate_id}"
            return RedirectResponse(target + ("" if submit else "?saved=1"), status_code=303)
        except InvalidInput as exc:
            errors = exc.errors
        except Conflict as exc:
            errors = [("options.0.p_success", str(exc))]
        uow.rollback()
    context = _candidate_context(uow, ctx, candidate_id, quarter, errors=errors)
    context["values"] = values
    return render(request, "council/score.html", context, status_code=422)


@router.get("/missions/{slug}/council")
def council_page(request: Request, ctx: ViewMission, uow: UowDep) -> Response:
    mission = uow.missions.get(ctx.slug)
    return render(
        request,
        "council/members.html",
        {
            "mission": mission,
            "ctx": ctx,
            "records": council.council_records(uow, ctx.slug),
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
    context = {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "questions": questions,
        "answers": visible,
        "result": council.classical_result(uow, ctx.slug),
        "is_member": Role.council_member in ctx.roles,
        "values": values,
        "members": [m.username for m in uow.missions.council(ctx.slug)],
        "field_labels": _seed_labels(questions),
    }
    context.update(extra)
    return context


def _seed_labels(questions: list[SeedQuestion]) -> dict[str, str]:
    """The seeds page's fields as its labels name them."""
    labels = {"realization": "True value", "id": "Identifier", "question": "Question"}
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
            return RedirectResponse(f"/missions/{ctx.slug}/council/seeds", status_code=303)
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
            return RedirectResponse(f"/missions/{ctx.slug}/council/seeds", status_code=303)
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
            return RedirectResponse(f"/missions/{ctx.slug}/council/seeds", status_code=303)
        except (InvalidInput, Conflict) as exc:
            errors = getattr(exc, "errors", [("answers", str(exc))])
        uow.rollback()
    context = _seeds_context(uow, ctx, errors=errors)
    context["values"] = values
    return render(request, "council/seeds.html", context, status_code=422)


@router.post("/missions/{slug}/candidates/{candidate_id}/challenges")
def add_challenge(
    request: Request, ctx: ChallengeDep, candidate_id: str, form: FormDep, uow: UowDep
) -> Response:
    council.add_challenge(
        uow, ctx.user.username, ctx.slug, candidate_id, str(form.get("text") or "")
    )
    uow.commit()
    return RedirectResponse(
        f"/missions/{ctx.slug}/candidates/{candidate_id}#challenges", status_code=303
    )


@router.post("/missions/{slug}/challenges/{challenge_id}/reply")
def reply_challenge(ctx: ReplyDep, challenge_id: RowId, form: FormDep, uow: UowDep) -> Response:
    council.reply_challenge(
        uow, ctx.user.username, ctx.slug, challenge_id, str(form.get("reply") or "")
    )
    uow.commit()
    challenge = dict(uow.challenges.all(ctx.slug))[challenge_id]
    return RedirectResponse(
        f"/missions/{ctx.slug}/candidates/{challenge.candidate}#challenges", status_code=303
    )
