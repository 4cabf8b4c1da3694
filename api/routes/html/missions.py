"""Mission list, dashboard, mission edit form and the audit trail page."""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import EditMission, FormDep, MissionContext, UowDep, UserDep, ViewAudit, ViewMission
from api.flash import redirect_done
from api.forms import form_version, mission_from_form, mission_values, values_of
from api.params import Page
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.domain.rag import RAG_LABELS
from portfolio.services import beliefs, guide, publication, quarters, report_view
from portfolio.services import missions as services

router = APIRouter(include_in_schema=False)

AUDIT_PAGE = 50


def visible_missions(uow: SqlUnitOfWork, username: str, is_admin: bool) -> list[str]:
    return [m.slug for m in uow.missions.all()] if is_admin else uow.missions.slugs_for(username)


def current_quarter_url(uow: SqlUnitOfWork, slug: str) -> str | None:
    """The home of the mission's current quarter (None when every quarter is closed)."""
    try:
        return guide.quarter_url(slug, quarters.current_quarter(uow, slug))
    except Conflict:
        return None


@router.get("/")
def mission_list(request: Request, user: UserDep, uow: UowDep) -> Response:
    """Where a signed-in person starts: with a role on exactly one mission (and no other
    mission to see), that mission's current quarter home; otherwise the list of missions."""
    slugs = visible_missions(uow, user.username, user.is_admin)
    if len(slugs) == 1 and uow.missions.slugs_for(user.username) == slugs:
        home = current_quarter_url(uow, slugs[0])
        return RedirectResponse(home or f"/missions/{slugs[0]}", status_code=303)
    missions = uow.missions.all(slugs)
    roles = {r.mission: r.role for r in uow.users.roles(user.username)}
    return render(
        request,
        "missions/list.html",
        {
            "missions": missions,
            "roles": uow.users.roles(user.username),
            "role_of": roles,
            "counts": {m.slug: uow.candidates.count(m.slug) for m in missions},
            "homes": {m.slug: current_quarter_url(uow, m.slug) for m in missions},
        },
    )


def dashboard_context(uow: SqlUnitOfWork, ctx: MissionContext) -> dict[str, object]:
    mission = uow.missions.get(ctx.slug)
    candidates = uow.candidates.all(ctx.slug)
    by_platform: dict[str, list[object]] = defaultdict(list)
    for c in candidates:
        by_platform[c.platform].append(c)
    totals = {y: sum(e.budget.get(y, 0.0) for e in mission.envelopes) for y in mission.years}
    try:
        current = quarters.current(uow, ctx.slug)
    except Conflict:
        current = None
    stops = beliefs.proposed_stops(uow, ctx.slug, candidates)
    return {
        "mission": mission,
        "ctx": ctx,
        "candidates": candidates,
        "by_platform": dict(sorted(by_platform.items())),
        "year_totals": totals,
        "grand_total": sum(totals.values()),
        "quarters": uow.missions.quarters(ctx.slug),
        "current": current,
        "council": uow.missions.council(ctx.slug),
        "roles": uow.missions.roles(ctx.slug),
        "trajectory": report_view.trajectory_rows(uow, ctx.slug),
        "stops": stops,
        "home": guide.quarter_url(ctx.slug, current.label) if current else None,
        "rag_labels": RAG_LABELS,
        "published": publication.published_quarters(uow, ctx.slug),
    }


@router.get("/missions/{slug}")
def dashboard(request: Request, ctx: ViewMission, uow: UowDep) -> Response:
    return render(request, "missions/dashboard.html", dashboard_context(uow, ctx))


@router.get("/missions/{slug}/edit")
def edit_form(request: Request, ctx: EditMission, uow: UowDep) -> Response:
    mission = uow.missions.get(ctx.slug)
    return render(
        request,
        "missions/edit.html",
        {
            "mission": mission,
            "ctx": ctx,
            "values": mission_values(mission),
            "version": uow.missions.version(ctx.slug),
        },
    )


@router.post("/missions/{slug}/edit")
def edit(request: Request, ctx: EditMission, form: FormDep, uow: UowDep) -> Response:
    current = uow.missions.get(ctx.slug)
    values = values_of(form)
    mission, errors = mission_from_form(values, current)
    version = str(values.get("version", ""))
    if mission is not None:
        try:
            services.update_mission(
                uow,
                ctx.user.username,
                mission,
                expected_version=form_version(values),
            )
            uow.commit()
            return redirect_done(request, f"/missions/{ctx.slug}", f"{mission.name} saved.")
        except InvalidInput as exc:
            errors = exc.errors
        except Conflict as exc:
            errors = [("name", str(exc))]
        uow.rollback()
    return render(
        request,
        "missions/edit.html",
        {
            "mission": current,
            "ctx": ctx,
            "values": values,
            "errors": errors,
            "version": version,
            "years": str(values.get("years", "")).replace(",", " ").split(),
        },
        status_code=422,
    )


@router.get("/missions/{slug}/audit")
def audit(request: Request, ctx: ViewAudit, uow: UowDep, page: Page = 1) -> Response:
    total = uow.audit.count(ctx.slug)
    entries = uow.audit.all(ctx.slug, limit=AUDIT_PAGE, offset=(page - 1) * AUDIT_PAGE)
    return render(
        request,
        "missions/audit.html",
        {
            "mission": uow.missions.get(ctx.slug),
            "ctx": ctx,
            "entries": entries,
            "page": page,
            "pages": max(1, -(-total // AUDIT_PAGE)),
            "total": total,
        },
    )
