"""The council's seed questions page, built once: the web page renders it and the JSON API
returns it. The questions of Cooke's classical model, the answers the viewer may see (their own,
and everyone's once a question's true value is known: ``council.visible_seed_answers``) and the
classical model's result with its warnings."""

from __future__ import annotations

from pydantic import BaseModel, Field

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.classical import ClassicalResult, classical_warnings
from portfolio.domain.model import SeedAnswer, SeedQuestion
from portfolio.services import council


class SeedsView(BaseModel):
    questions: list[SeedQuestion]
    answers: list[SeedAnswer] = Field(
        description="the answers the caller may see: their own, and all answers to a question "
        "whose true value is known (all of them for those who oversee the council)"
    )
    result: ClassicalResult | None = Field(
        description="the classical model's calibration, information and weight of each member, "
        "once questions have true values and answers"
    )
    warnings: list[str] = Field(description="what to be wary of in the result, in words")
    members: list[str] = Field(description="the council's members (usernames)")
    is_member: bool = Field(description="the caller is on the council (and answers questions)")


def result_warnings(result: ClassicalResult | None, names: dict[str, str]) -> list[str]:
    """The classical model's warnings, naming members as people read them."""
    if result is None:
        return []
    weights = {e: r.weight for e, r in result.experts.items()}
    return classical_warnings(weights, result.seed_items, names)


def seeds_view(uow: UnitOfWork, slug: str, viewer: council.Viewer) -> SeedsView:
    """The seed questions page as ``viewer`` may see it."""
    result = council.classical_result(uow, slug)
    members = [m.username for m in uow.missions.council(slug)]
    return SeedsView(
        questions=uow.seeds.questions(slug),
        answers=council.visible_seed_answers(uow, slug, viewer),
        result=result,
        warnings=result_warnings(result, council.member_names(uow, members)),
        members=members,
        is_member=viewer.is_council_member,
    )
