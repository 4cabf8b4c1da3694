"""The Expert Council's scoring round in the web: the round (open, close, how scores are pooled),
a member's scoring of a candidate (blind until they submit it) and "no change" from their last
scores. What a viewer may see is ``council.quarter_view`` / ``council.candidate_view``, the same
the JSON routes read. The council's members, seed questions and challenges:
``council_members``."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.confirm import confirm_page, confirmed
from api.deps import FormDep, ManageRound, MissionContext, ScoreDep, UowDep, ViewMission
from api.flash import redirect_done
from api.forms import form_version, score_values, scores_from_form, values_of
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput, NotFound
from portfolio.domain.model import AGGREGATION_LABELS, AggregationMethod, Candidate, ScoringState
from portfolio.services import council

router = APIRouter(include_in_schema=False)


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


def _current_or_none(uow: SqlUnitOfWork, slug: str) -> str | None:
    try:
        return council.current_quarter(uow, slug)
    except Conflict:
        return None


def _scoring_context(
    uow: SqlUnitOfWork, ctx: MissionContext, label: str, **extra: Any
) -> dict[str, Any]:
    """The scoring round's page: the viewer's own progress and the aggregates the blind rule
    lets them see (``council.quarter_view``, as the JSON routes read them)."""
    state = council.round_state(uow, ctx.slug, label)
    mission = uow.missions.get(ctx.slug)
    view = council.quarter_view(uow, ctx.slug, label, ctx.viewer)
    is_member = ctx.viewer.is_council_member
    scoring_now = state is ScoringState.open and label == _current_or_none(uow, ctx.slug)
    context = {
        "mission": mission,
        "ctx": ctx,
        "quarter": label,
        "state": state.value,
        "quarters": uow.missions.quarters(ctx.slug),
        "rows": view.rows,
        "my_status": view.status,
        "blind": view.blind,
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
    names = council.member_names(uow, missing)
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
    """A candidate's scoring page: the viewer's own form and progress, and — once the blind
    rule lets them (``council.candidate_view``, as the JSON route reads it) — every member's
    scores and the aggregate."""
    candidate = uow.candidates.get(ctx.slug, candidate_id)
    state = council.round_state(uow, ctx.slug, quarter)
    view = council.candidate_view(uow, ctx.slug, quarter, ctx.viewer, candidate)
    is_member = ctx.viewer.is_council_member
    mine = council.member_scores(uow, ctx.slug, quarter, ctx.user.username, candidate_id)
    can_score = (
        is_member
        and state is ScoringState.open
        and not view.done
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
        "status": view.status,
        "submitted": view.done,
        "others": None if view.hidden else view.scores,
        "aggregate": view.aggregate,
        "names": council.member_names(uow, {s.member for s in view.scores}),
        "can_score": can_score,
        "imported": council.imported_draft(uow, ctx.slug, quarter, ctx.user.username, candidate_id)
        if is_member and not view.done
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
