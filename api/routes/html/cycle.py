"""The quarterly cycle in the web: evidence, approving a run, the quarter page (RAG, dissent,
the update letter, closing), audit packs and the planned trajectory."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import FormDep, MissionAccess, MissionContext, UowDep
from api.forms import parse_number, values_of
from api.params import RowId
from api.permissions import Perm
from api.templating import render
from portfolio import contracts, cycle, quarters
from portfolio.errors import Conflict, InvalidInput, NotFound, validation_errors
from portfolio.model import (
    ChangeKind,
    Evidence,
    EvidenceKind,
    QuarterState,
    Rag,
    TrajectoryPoint,
)
from portfolio.reports import RAG_LABELS, RAG_WORDING
from portfolio.unit_of_work import SqlUnitOfWork

router = APIRouter(include_in_schema=False)

ViewMission = Annotated[MissionContext, Depends(MissionAccess(Perm.view_mission))]
RecordEvidence = Annotated[MissionContext, Depends(MissionAccess(Perm.record_evidence))]
ManageCycle = Annotated[MissionContext, Depends(MissionAccess(Perm.manage_cycle))]
DissentDep = Annotated[MissionContext, Depends(MissionAccess(Perm.dissent))]

EVIDENCE_KINDS = [
    ("milestone_met", "Milestone met"),
    ("milestone_missed", "Milestone missed"),
    ("trl_change", "TRL change"),
    ("cost_actuals", "Cost actuals to date"),
    ("stage_gate", "Stage-gate outcome"),
]


# -- evidence ------------------------------------------------------------------------------------
@router.post("/missions/{slug}/candidates/{candidate_id}/evidence")
def record_evidence(
    request: Request, ctx: RecordEvidence, candidate_id: str, form: FormDep, uow: UowDep
) -> Response:
    values = values_of(form)
    errors: list[tuple[str, str]] = []
    quarter = quarters.current_quarter(uow, ctx.slug)
    diagnosticity = parse_number(values, "diagnosticity", errors, required=False)
    data: dict[str, Any] = {
        "candidate": candidate_id,
        "quarter": quarter,
        "kind": values.get("kind", ""),
        "date": values.get("date") or uow.now().date().isoformat(),
        "summary": str(values.get("summary", "")),
        "diagnosticity": 1.0 if diagnosticity is None else diagnosticity,  # empty: the default
        "trl": parse_number(values, "trl", errors, required=False, integer=True),
        "cost_actual": parse_number(values, "cost_actual", errors, required=False),
        "cost_planned": parse_number(values, "cost_planned", errors, required=False),
        "outcome": {"succeeded": True, "failed": False}.get(str(values.get("outcome", ""))),
        "option": str(values.get("option", "")) or None,
    }
    if not errors:
        try:
            cycle.record_evidence(uow, ctx.user.username, ctx.slug, Evidence.model_validate(data))
            uow.commit()
            return RedirectResponse(
                f"/missions/{ctx.slug}/candidates/{candidate_id}#belief", status_code=303
            )
        except ValidationError as exc:
            errors = validation_errors(exc)
        except (InvalidInput, Conflict) as exc:
            errors = getattr(exc, "errors", [("kind", str(exc))])
        uow.rollback()
    from api.routes.html.candidates import detail_context

    context = detail_context(uow, ctx, candidate_id)
    context.update(errors=errors, values=values)
    return render(request, "candidates/detail.html", context, status_code=422)


# -- approval ------------------------------------------------------------------------------------
def _approve_context(
    uow: SqlUnitOfWork, ctx: MissionContext, run_id: int, **extra: Any
) -> dict[str, Any]:
    """The approval form: the changes with a reason and a "contracted" tick each; a candidate
    under a live contract shows it. A what-if run has no approval form (it is refused)."""
    run = uow.runs.get(ctx.slug, run_id)
    if run.what_if:
        raise Conflict(cycle.what_if_refusal(run))
    names = {c.id: c.name for c in uow.candidates.all(ctx.slug)}
    changes = cycle.proposed_changes(uow, ctx.slug, run_id)
    blocked = None
    try:
        contracts.refuse_dropping_contracts(
            uow, ctx.slug, {c.candidate: c.option_after for c in changes if c.option_after}
        )
    except Conflict as exc:
        blocked = str(exc)
    return {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "run": run,
        "names": names,
        "changes": changes,
        "live": contracts.live_by_candidate(uow, ctx.slug),
        "blocked": blocked,
        "approved_now": uow.missions.quarter(ctx.slug, run.quarter).approved_run,
        **extra,
    }


@router.get("/missions/{slug}/runs/{run_id}/approve")
def approve_form(request: Request, ctx: ManageCycle, run_id: RowId, uow: UowDep) -> Response:
    return render(request, "cycle/approve.html", _approve_context(uow, ctx, run_id))


@router.post("/missions/{slug}/runs/{run_id}/approve")
def approve(
    request: Request, ctx: ManageCycle, run_id: RowId, form: FormDep, uow: UowDep
) -> Response:
    values = values_of(form)
    reasons = {
        k.removeprefix("reason."): str(v) for k, v in values.items() if k.startswith("reason.")
    }
    contracted = {
        k.removeprefix("contracted."): True
        for k, v in values.items()
        if k.startswith("contracted.") and v
    }
    try:
        raw = str(values.get("expected_approved", "any"))
        cycle.approve_run(
            uow,
            ctx.user.username,
            ctx.slug,
            run_id,
            reasons=reasons,
            contracted=set(contracted),
            expected_approved=int(raw) if raw.isdigit() else None if raw == "none" else "any",
        )
        uow.commit()
        label = uow.runs.get(ctx.slug, run_id).quarter
        return RedirectResponse(f"/missions/{ctx.slug}/quarters/{label}", status_code=303)
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = [("run", str(exc))]
    uow.rollback()
    context = _approve_context(uow, ctx, run_id, errors=errors)
    context["values"] = values
    return render(request, "cycle/approve.html", context, status_code=422)


# -- the quarter page ----------------------------------------------------------------------------
def quarter_context(
    uow: SqlUnitOfWork, ctx: MissionContext, label: str, **extra: Any
) -> dict[str, Any]:
    all_quarters = uow.missions.quarters(ctx.slug)
    if label not in {q.label for q in all_quarters}:
        raise NotFound(f"no quarter {label}")
    quarter = uow.missions.quarter(ctx.slug, label)
    run = uow.runs.get(ctx.slug, quarter.approved_run) if quarter.approved_run else None
    update = uow.cycle.update(ctx.slug, label)
    draft = None
    if update is None and quarter.state is QuarterState.approved:
        draft = cycle.draft_letter(uow, ctx.slug, label)
    oos = (((run.result or {}).get("metrics") or {}).get("out_of_sample") or {}) if run else {}
    return {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "quarter": quarter,
        "quarters": all_quarters,
        "run": run,
        "oos": oos,
        "names": {c.id: c.name for c in uow.candidates.all(ctx.slug)},
        "changes": uow.cycle.changes(ctx.slug, label),
        "dissents": uow.cycle.dissents(ctx.slug, label),
        "update": update,
        "values": {
            "body": update.body if update else (draft or ""),
            "rag": quarter.rag_override.value if quarter.rag_override else "",
            "rag_reason": quarter.rag_reason,
        },
        "rag_labels": RAG_LABELS,
        "rag_wording": RAG_WORDING,
        "is_current": quarter.label == quarters.current_quarter(uow, ctx.slug)
        if quarter.state is not QuarterState.closed
        else False,
        "change_kinds": ChangeKind,
        **extra,
    }


@router.get("/missions/{slug}/quarters/{label}")
def quarter_page(request: Request, ctx: ViewMission, label: str, uow: UowDep) -> Response:
    return render(request, "cycle/quarter.html", quarter_context(uow, ctx, label))


def _back(ctx: MissionContext, label: str, anchor: str = "") -> Response:
    return RedirectResponse(f"/missions/{ctx.slug}/quarters/{label}{anchor}", status_code=303)


@router.post("/missions/{slug}/quarters/{label}/rag")
def override_rag(
    request: Request, ctx: ManageCycle, label: str, form: FormDep, uow: UowDep
) -> Response:
    values = values_of(form)
    raw = str(values.get("rag", ""))
    try:
        _check_current(uow, ctx, label)
        rag = Rag(raw) if raw else None
        cycle.override_rag(uow, ctx.user.username, ctx.slug, rag, str(values.get("rag_reason", "")))
        uow.commit()
        return _back(ctx, label, "#rag")
    except ValueError:
        errors = [("rag", "choose green, amber, red or no override")]
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = [("rag", str(exc))]
    uow.rollback()
    context = quarter_context(uow, ctx, label, errors=errors)
    context["values"].update(values)
    return render(request, "cycle/quarter.html", context, status_code=422)


def _check_current(uow: SqlUnitOfWork, ctx: MissionContext, label: str) -> None:
    quarters.require_not_closed(uow, ctx.slug, label)
    if label != quarters.current_quarter(uow, ctx.slug):
        raise Conflict(f"{label} is not the current quarter")


@router.post("/missions/{slug}/quarters/{label}/dissent")
def dissent(request: Request, ctx: DissentDep, label: str, form: FormDep, uow: UowDep) -> Response:
    try:
        _check_current(uow, ctx, label)
        cycle.add_dissent(uow, ctx.user.username, ctx.roles, ctx.slug, str(form.get("text") or ""))
        uow.commit()
        return _back(ctx, label, "#dissent")
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = [("text", str(exc))]
    uow.rollback()
    return render(
        request,
        "cycle/quarter.html",
        quarter_context(uow, ctx, label, errors=errors),
        status_code=422,
    )


@router.post("/missions/{slug}/quarters/{label}/update")
def save_update(
    request: Request, ctx: ManageCycle, label: str, form: FormDep, uow: UowDep
) -> Response:
    values = values_of(form)
    try:
        _check_current(uow, ctx, label)
        cycle.save_update(
            uow,
            ctx.user.username,
            ctx.slug,
            str(values.get("body", "")),
            publish=values.get("action") == "publish",
        )
        uow.commit()
        return _back(ctx, label, "#update")
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = [("body", str(exc))]
    uow.rollback()
    context = quarter_context(uow, ctx, label, errors=errors)
    context["values"]["body"] = values.get("body", "")
    return render(request, "cycle/quarter.html", context, status_code=422)


@router.post("/missions/{slug}/quarters/{label}/close")
def close(request: Request, ctx: ManageCycle, label: str, uow: UowDep) -> Response:
    try:
        _check_current(uow, ctx, label)
        cycle.close_quarter(uow, ctx.user.username, ctx.slug)
        uow.commit()
        return _back(ctx, label)
    except Conflict as exc:
        errors = [("close", str(exc))]
    uow.rollback()
    return render(
        request,
        "cycle/quarter.html",
        quarter_context(uow, ctx, label, errors=errors),
        status_code=409,
    )


@router.get("/missions/{slug}/quarters/{label}/audit-pack.zip")
def audit_pack(ctx: ViewMission, label: str, uow: UowDep) -> Response:
    data = cycle.audit_pack_zip(uow, ctx.slug, label)
    name = f"{ctx.slug}-{label.replace(' ', '-')}-audit-pack.zip"
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- trajectory ----------------------------------------------------------------------------------
def _trajectory_context(uow: SqlUnitOfWork, ctx: MissionContext, **extra: Any) -> dict[str, Any]:
    planned = {p.quarter: p.planned_p_target for p in uow.cycle.trajectory(ctx.slug)}
    labels = cycle.quarters_to_deadline(uow, ctx.slug)
    closed = {q.label for q in uow.missions.quarters(ctx.slug) if q.state is QuarterState.closed}
    values = {f"planned.{q}": f"{planned[q] * 100:g}" for q in labels if q in planned}
    return {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "labels": labels,
        "closed": closed,
        "values": values,
        **extra,
    }


@router.get("/missions/{slug}/trajectory")
def trajectory_form(request: Request, ctx: ManageCycle, uow: UowDep) -> Response:
    return render(request, "cycle/trajectory.html", _trajectory_context(uow, ctx))


@router.post("/missions/{slug}/trajectory")
def set_trajectory(request: Request, ctx: ManageCycle, form: FormDep, uow: UowDep) -> Response:
    values = values_of(form)
    errors: list[tuple[str, str]] = []
    points = []
    for label in cycle.quarters_to_deadline(uow, ctx.slug):
        pct = parse_number(values, f"planned.{label}", errors, required=False)
        if pct is None:
            continue
        if not 0 <= pct <= 100:
            errors.append((f"planned.{label}", "must be a percentage from 0 to 100"))
            continue
        points.append(TrajectoryPoint(quarter=label, planned_p_target=pct / 100))
    if not errors:
        try:
            cycle.set_trajectory(uow, ctx.user.username, ctx.slug, points)
            uow.commit()
            return RedirectResponse(f"/missions/{ctx.slug}#trajectory", status_code=303)
        except Conflict as exc:
            errors = [("planned", str(exc))]
        uow.rollback()
    context = _trajectory_context(uow, ctx, errors=errors)
    context["values"] = values
    return render(request, "cycle/trajectory.html", context, status_code=422)


__all__ = ["EVIDENCE_KINDS", "EvidenceKind"]
