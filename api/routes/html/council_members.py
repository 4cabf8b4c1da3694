"""The Expert Council's members in the web: each member's forecasting record and calibration,
the seed questions of Cooke's classical model (others' answers hidden until the true value is
known: ``council.visible_seed_answers``) and red-team challenges of a candidate with the Mission
CEO's replies. The scoring round itself: ``council``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import (
    AnswerSeeds,
    ChallengeDep,
    FormDep,
    ManageSeeds,
    MissionContext,
    ReplyChallenge,
    UowDep,
    ViewMission,
)
from api.flash import redirect_done
from api.forms import parse_number, values_of
from api.params import RowId
from api.routes.html.candidates import detail_context
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.calibration_check import simulate_council
from portfolio.domain.errors import Conflict, InvalidInput, NotFound, validation_errors
from portfolio.domain.model import AGGREGATION_LABELS, AggregationMethod, SeedAnswer, SeedQuestion
from portfolio.services import council, seeds_view

router = APIRouter(include_in_schema=False)


@router.get("/missions/{slug}/council")
def council_page(request: Request, ctx: ViewMission, uow: UowDep) -> Response:
    mission = uow.missions.get(ctx.slug)
    records = council.council_records(uow, ctx.slug)
    names = council.member_names(uow, [r.username for r in records])
    return render(
        request,
        "council/members.html",
        {
            "mission": mission,
            "ctx": ctx,
            "records": records,
            "names": names,
            "trend_quarters": [row.quarter for row in records[0].trend] if records else [],
            "classical_warnings": seeds_view.result_warnings(
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
            "display_name": council.member_names(uow, [username])[username],
            "method": mission.aggregation.value,
            "names": {c.id: c.name for c in uow.candidates.all(ctx.slug)},
        },
    )


def _seeds_context(uow: SqlUnitOfWork, ctx: MissionContext, **extra: Any) -> dict[str, Any]:
    """The seeds page (``seeds_view.seeds_view``), with the caller's own answers in the form."""
    view = seeds_view.seeds_view(uow, ctx.slug, ctx.viewer)
    values: dict[str, Any] = {}
    for a in view.answers:
        if a.member == ctx.user.username:
            values[f"{a.question}.q5"], values[f"{a.question}.q50"] = str(a.q5), str(a.q50)
            values[f"{a.question}.q95"] = str(a.q95)
    context = {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "questions": view.questions,
        "answers": view.answers,
        "result": view.result,
        "classical_warnings": view.warnings,
        "is_member": view.is_member,
        "values": values,
        "members": view.members,
        "field_labels": _seed_labels(view.questions),
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
    request: Request, ctx: ReplyChallenge, challenge_id: RowId, form: FormDep, uow: UowDep
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
            f"Reply added to {council.member_names(uow, [challenge.author])[challenge.author]}'s "
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
