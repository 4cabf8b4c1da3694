"""Candidate list, detail, and the register / edit forms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import EditCandidate, FormDep, MissionContext, RegisterCandidate, UowDep, ViewMission
from api.flash import redirect_done
from api.forms import (
    EVIDENCE_KINDS,
    MAX_OPTIONS,
    candidate_from_form,
    candidate_values,
    form_version,
    values_of,
)
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.domain.model import OrganisationType, Tier
from portfolio.services import candidate_view
from portfolio.services import missions as services

router = APIRouter(include_in_schema=False)


#: the register / edit form's labels where the words for the field differ (api.templating)
FORM_LABELS = {"id": "Identifier", "trl": "Technology readiness level (TRL)"}


def _form_context(uow: SqlUnitOfWork, ctx: MissionContext, **extra: Any) -> dict[str, Any]:
    mission = uow.missions.get(ctx.slug)
    platforms = sorted({c.platform for c in uow.candidates.all(ctx.slug)})
    n_rows = extra.pop("rows", 3)
    return {
        "mission": mission,
        "ctx": ctx,
        "platforms": platforms,
        "tiers": list(Tier),
        "organisation_types": list(OrganisationType),
        "option_rows": range(min(max(n_rows, 1), MAX_OPTIONS)),
        "field_labels": FORM_LABELS,
        **extra,
    }


@router.get("/missions/{slug}/candidates")
def candidate_list(
    request: Request, ctx: ViewMission, uow: UowDep, platform: str | None = None
) -> Response:
    candidates = uow.candidates.all(ctx.slug)
    if platform:
        candidates = [c for c in candidates if c.platform == platform]
    return render(
        request,
        "candidates/list.html",
        {
            "mission": uow.missions.get(ctx.slug),
            "ctx": ctx,
            "candidates": candidates,
            "platform": platform,
            "platforms": sorted({c.platform for c in uow.candidates.all(ctx.slug)}),
        },
    )


@router.get("/missions/{slug}/candidates/new")
def new_form(request: Request, ctx: RegisterCandidate, uow: UowDep) -> Response:
    return render(request, "candidates/form.html", _form_context(uow, ctx, candidate=None))


@router.post("/missions/{slug}/candidates/new")
def create(request: Request, ctx: RegisterCandidate, form: FormDep, uow: UowDep) -> Response:
    values = values_of(form)
    mission = uow.missions.get(ctx.slug)
    candidate, errors = candidate_from_form(values, mission.years)
    if candidate is not None:
        try:
            services.register_candidate(uow, ctx.user.username, ctx.slug, candidate)
            uow.commit()
            return redirect_done(
                request,
                f"/missions/{ctx.slug}/candidates/{candidate.id}",
                f"{candidate.name} registered.",
            )
        except InvalidInput as exc:
            errors = exc.errors
        except Conflict as exc:
            errors = [("id", str(exc))]
        uow.rollback()
    return render(
        request,
        "candidates/form.html",
        _form_context(
            uow,
            ctx,
            candidate=None,
            values=values,
            errors=errors,
            rows=_rows(values),
        ),
        status_code=422,
    )


def detail_context(uow: SqlUnitOfWork, ctx: MissionContext, candidate_id: str) -> dict[str, Any]:
    """The candidate page (``candidate_view.candidate_page``), with its evidence form."""
    page = candidate_view.candidate_page(uow, ctx.slug, candidate_id)
    return {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "candidate": page.candidate,
        "contract": page.contract,
        "needs_treasury": page.needs_treasury,
        "treasury_requests": page.treasury_requests,
        "evidence": page.evidence,
        "belief": page.belief,
        "current_quarter": page.current_quarter,
        "challenges": [(c.id, c.challenge) for c in page.challenges],
        "history": page.history,
        "evidence_kinds": EVIDENCE_KINDS,
        "today": uow.now().date().isoformat(),
    }


@router.get("/missions/{slug}/candidates/{candidate_id}")
def detail(request: Request, ctx: ViewMission, candidate_id: str, uow: UowDep) -> Response:
    return render(request, "candidates/detail.html", detail_context(uow, ctx, candidate_id))


@router.get("/missions/{slug}/candidates/{candidate_id}/edit")
def edit_form(request: Request, ctx: EditCandidate, candidate_id: str, uow: UowDep) -> Response:
    candidate = uow.candidates.get(ctx.slug, candidate_id)
    return render(
        request,
        "candidates/form.html",
        _form_context(
            uow,
            ctx,
            candidate=candidate,
            values=candidate_values(candidate),
            version=uow.candidates.version(ctx.slug, candidate_id),
            rows=len(candidate.options) + 1,
        ),
    )


@router.post("/missions/{slug}/candidates/{candidate_id}/edit")
def edit(
    request: Request, ctx: EditCandidate, candidate_id: str, form: FormDep, uow: UowDep
) -> Response:
    existing = uow.candidates.get(ctx.slug, candidate_id)
    mission = uow.missions.get(ctx.slug)
    values = values_of(form)
    version = str(values.get("version", ""))
    candidate, errors = candidate_from_form(
        values,
        mission.years,
        fixed_id=candidate_id,
        keep=existing,
    )
    if candidate is not None:
        try:
            services.update_candidate(
                uow,
                ctx.user.username,
                ctx.slug,
                candidate,
                expected_version=form_version(values),
            )
            uow.commit()
            return redirect_done(
                request,
                f"/missions/{ctx.slug}/candidates/{candidate_id}",
                f"Changes to {candidate.name} saved.",
            )
        except InvalidInput as exc:
            errors = exc.errors
        except Conflict as exc:
            errors = [("name", str(exc))]
        uow.rollback()
    return render(
        request,
        "candidates/form.html",
        _form_context(
            uow,
            ctx,
            candidate=existing,
            values=values,
            errors=errors,
            version=version,
            rows=_rows(values),
        ),
        status_code=422,
    )


def _rows(values: dict[str, Any]) -> int:
    used = [
        int(k.split(".")[1])
        for k in values
        if k.startswith("options.") and k.split(".")[1].isdigit() and values[k]
    ]
    return max(used, default=0) + 2
