"""The Expert Council's seed questions and red-team challenges.

Seed questions are questions whose true value becomes known (the realization): each member gives
their 5 %, 50 % and 95 % quantiles while it is unknown, and Cooke's classical model
(``council_record.classical_result``) weighs members by how well their answers did. Another
member's answer stays hidden until the question's true value is known
(``visible_seed_answers``), as the blind rule hides scores; those who oversee see every answer.

A challenge is a council member's written objection to a candidate; the Mission CEO replies.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.domain.limits import checked_text
from portfolio.domain.model import Challenge, SeedAnswer, SeedQuestion
from portfolio.services.council_round import Viewer, current_quarter, member_sector
from portfolio.services.missions import changed, record


def _json(model: BaseModel | None) -> dict[str, Any] | None:
    return model.model_dump(mode="json") if model is not None else None


# -- seed questions ------------------------------------------------------------------------------
def visible_seed_answers(uow: UnitOfWork, slug: str, viewer: Viewer) -> list[SeedAnswer]:
    """The seed answers ``viewer`` may see: their own, and every answer to a question whose true
    value is known; those who oversee (``Viewer.oversees``) see all of them."""
    known = {q.id for q in uow.seeds.questions(slug) if q.realization is not None}
    return [
        a
        for a in uow.seeds.answers(slug)
        if viewer.oversees or a.member == viewer.username or a.question in known
    ]


def add_seed_question(uow: UnitOfWork, actor: str, slug: str, question: SeedQuestion) -> None:
    uow.seeds.add_question(slug, question)
    record(uow, actor, slug, "seed_question", question.id, "created", after=_json(question))


def set_realization(
    uow: UnitOfWork, actor: str, slug: str, question_id: str, realization: float | None
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


def answer_seed(uow: UnitOfWork, slug: str, answer: SeedAnswer) -> None:
    member_sector(uow, slug, answer.member)
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
def add_challenge(uow: UnitOfWork, member: str, slug: str, candidate_id: str, text: str) -> int:
    member_sector(uow, slug, member)
    uow.candidates.get(slug, candidate_id)
    text = checked_text("text", text, missing="write the challenge")
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


def reply_challenge(uow: UnitOfWork, actor: str, slug: str, challenge_id: int, text: str) -> None:
    text = checked_text("reply", text, missing="write the reply")
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
