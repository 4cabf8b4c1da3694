"""The quarterly cycle in the web: evidence, approving a run, the quarter page (RAG, dissent,
the update letter, closing), audit packs and the planned trajectory."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.confirm import confirm_page, confirmed
from api.deps import (
    DissentDep,
    FormDep,
    ManageCycle,
    MissionContext,
    RecordEvidence,
    UowDep,
    ViewMission,
)
from api.downloads import ZIP, attachment, quarter_file
from api.flash import redirect_done
from api.forms import EVIDENCE_KINDS, EVIDENCE_LABELS, evidence_from_form, parse_number, values_of
from api.params import RowId
from api.permissions import Perm
from api.routes.html.candidates import detail_context
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput, validation_errors
from portfolio.domain.limits import LETTER_WORD_LIMIT
from portfolio.domain.model import (
    ChangeKind,
    Evidence,
    Quarter,
    QuarterState,
    Rag,
    ScoringState,
    TrajectoryPoint,
    next_quarter,
)
from portfolio.domain.rag import RAG_LABELS, RAG_WORDING
from portfolio.services import (
    contracts,
    cycle,
    guide,
    pack_zip,
    publication,
    quarter_view,
    quarters,
)

router = APIRouter(include_in_schema=False)


# -- evidence ------------------------------------------------------------------------------------
def _record_evidence(
    uow: SqlUnitOfWork, ctx: MissionContext, candidate_id: str, values: dict[str, Any]
) -> list[tuple[str, str]]:
    """Record the evidence form's ``values`` about ``candidate_id`` in the current quarter and
    commit; the errors, field by field, when it cannot be (nothing is recorded then)."""
    errors: list[tuple[str, str]] = []
    data = _evidence_data(uow, ctx, candidate_id, values, errors)
    if errors:
        return errors
    try:
        cycle.record_evidence(uow, ctx.user.username, ctx.slug, Evidence.model_validate(data))
        uow.commit()
        return []
    except ValidationError as exc:
        errors = validation_errors(exc)
    except (InvalidInput, Conflict) as exc:
        errors = getattr(exc, "errors", [("kind", str(exc))])
    uow.rollback()
    return errors


def _evidence_data(
    uow: SqlUnitOfWork,
    ctx: MissionContext,
    candidate_id: str,
    values: dict[str, Any],
    errors: list[tuple[str, str]],
) -> dict[str, Any]:
    """The evidence form's values about ``candidate_id``, in the current quarter."""
    quarter = quarters.current_quarter(uow, ctx.slug)
    return evidence_from_form(values, candidate_id, quarter, uow.now().date(), errors)


@router.post("/missions/{slug}/candidates/{candidate_id}/evidence")
def record_evidence(
    request: Request, ctx: RecordEvidence, candidate_id: str, form: FormDep, uow: UowDep
) -> Response:
    values = values_of(form)
    errors = _record_evidence(uow, ctx, candidate_id, values)
    if not errors:
        name = uow.candidates.get(ctx.slug, candidate_id).name
        return redirect_done(
            request,
            f"/missions/{ctx.slug}/candidates/{candidate_id}#belief",
            f"Evidence recorded for {name}.",
        )
    context = detail_context(uow, ctx, candidate_id)
    context.update(errors=errors, values=values, field_labels=EVIDENCE_LABELS)
    return render(request, "candidates/detail.html", context, status_code=422)


def _evidence_context(
    uow: SqlUnitOfWork, ctx: MissionContext, label: str, **extra: Any
) -> dict[str, Any]:
    """The quarter's evidence page (``quarter_view.quarter_evidence``), with the form to record
    more about any candidate (in the current quarter only)."""
    view = quarter_view.quarter_evidence(uow, ctx.slug, label)
    return {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "quarter": view.quarter,
        "home": guide.quarter_url(ctx.slug, label),
        "candidates": sorted(uow.candidates.all(ctx.slug), key=lambda c: c.name),
        "names": view.names,
        "evidence": view.evidence,
        "evidence_kinds": EVIDENCE_KINDS,
        "is_current": view.is_current,
        "today": uow.now().date().isoformat(),
        "field_labels": EVIDENCE_LABELS,
        **extra,
    }


@router.get("/missions/{slug}/quarters/{label}/evidence")
def evidence_page(request: Request, ctx: ViewMission, label: str, uow: UowDep) -> Response:
    return render(request, "cycle/evidence.html", _evidence_context(uow, ctx, label))


@router.post("/missions/{slug}/quarters/{label}/evidence")
def record_quarter_evidence(
    request: Request, ctx: RecordEvidence, label: str, form: FormDep, uow: UowDep
) -> Response:
    """The evidence form of the quarter's evidence page: the candidate is chosen by name; an
    option is sent as ``candidate/option`` (the list holds every candidate's options)."""
    values = values_of(form)
    names = {c.id: c.name for c in uow.candidates.all(ctx.slug)}
    candidate_id = str(values.get("candidate", ""))
    errors: list[tuple[str, str]] = []
    try:
        _check_current(uow, ctx, label)
    except Conflict as exc:
        errors = [("candidate", str(exc))]
    if not errors and candidate_id not in names:
        errors = [("candidate", "choose the candidate the evidence is about")]
        data = _evidence_data(uow, ctx, candidate_id, values, errors)  # and every bad value
        try:
            Evidence.model_validate(data)
        except ValidationError as exc:
            errors += [e for e in validation_errors(exc) if e[0] != "candidate"]
    owner, _, option = str(values.get("option", "")).rpartition("/")
    if not errors and option and owner and owner != candidate_id:
        errors = [
            (
                "option",
                f"that option is {names.get(owner, owner)}'s; choose one of "
                f"{names[candidate_id]}'s options or the first option",
            )
        ]
    if not errors:
        errors = _record_evidence(uow, ctx, candidate_id, {**values, "option": option})
    if not errors:
        return redirect_done(
            request,
            guide.quarter_url(ctx.slug, label),
            f"Evidence recorded for {names[candidate_id]}.",
        )
    context = _evidence_context(uow, ctx, label, errors=errors, values=values)
    return render(request, "cycle/evidence.html", context, status_code=422)


# -- approval ------------------------------------------------------------------------------------
APPROVE_LABELS = {"run": "Approval", "contracted": "Contracted"}


def _approve_context(
    uow: SqlUnitOfWork, ctx: MissionContext, run_id: int, **extra: Any
) -> dict[str, Any]:
    """The approval form: the run's key numbers, then its changes against the last approved
    allocation, a reason asked only for each start, scale and stop (``cycle.needs_reason``),
    pre-filled with the reasons given for the run's locks and exclusions, and a "contracted"
    tick each; a candidate under a live contract shows it. A run that cannot be approved
    (``cycle.approval_refusal``: a what-if, a closed quarter's, one without a portfolio) has no
    form: it is refused."""
    run = uow.runs.get(ctx.slug, run_id)
    refusal = cycle.approval_refusal(uow, ctx.slug, run)
    if refusal is not None:
        raise Conflict(refusal)
    names = {c.id: c.name for c in uow.candidates.all(ctx.slug)}
    option_names = {
        (c["id"], o["id"]): o.get("name") or o["id"]
        for c in run.problem.get("candidates", [])
        for o in c.get("options", [])
    }
    changes = cycle.proposed_changes(uow, ctx.slug, run_id)
    reasoned = {c.candidate for c in changes if cycle.needs_reason(c)}
    blocked = None
    try:
        contracts.refuse_dropping_contracts(
            uow, ctx.slug, {c.candidate: c.option_after for c in changes if c.option_after}
        )
    except Conflict as exc:
        blocked = str(exc)
    given = cycle.override_reasons(run)
    return {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "run": run,
        "oos": run.out_of_sample,
        "names": names,
        "option_names": option_names,
        "changes": changes,
        "reasoned": reasoned,
        "prefilled": {c for c in reasoned if c in given},
        "values": {f"reason.{c}": given[c] for c in reasoned if c in given},
        "field_labels": {
            **APPROVE_LABELS,
            **{
                f"reason.{c.candidate}": f"Reason for {names.get(c.candidate, c.candidate)}"
                for c in changes
            },
        },
        "live": contracts.live_by_candidate(uow, ctx.slug),
        "blocked": blocked,
        "approved_now": uow.missions.quarter(ctx.slug, run.quarter).approved_run,
        "home": guide.quarter_url(ctx.slug, run.quarter),
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
        return redirect_done(
            request,
            guide.quarter_url(ctx.slug, label),
            f"Run {run_id} approved as the {label} allocation.",
        )
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = [("run", str(exc))]
    uow.rollback()
    context = _approve_context(uow, ctx, run_id, errors=errors)
    context["values"] = values
    return render(request, "cycle/approve.html", context, status_code=422)


# -- the quarter home ----------------------------------------------------------------------------
QUARTER_LABELS = {
    "rag": "Override the rating",
    "rag_reason": "Justification (published)",
    "text": "Dissent",
    "body": "Update letter",
    "close": "Close the quarter",
}
"""The quarter home's form fields as its forms label them."""


def _quarter(uow: SqlUnitOfWork, ctx: MissionContext, label: str) -> Quarter:
    return quarter_view.quarter_of(uow, ctx.slug, label)


def _is_current(uow: SqlUnitOfWork, ctx: MissionContext, quarter: Quarter) -> bool:
    return quarter_view.is_current(uow, ctx.slug, quarter)


def quarter_context(
    uow: SqlUnitOfWork, ctx: MissionContext, label: str, **extra: Any
) -> dict[str, Any]:
    """The quarter home: the quarter's tasks (``portfolio.services.guide``), then the approved
    allocation, delivery confidence, the changes, dissent, the update letter and closing."""
    quarter = _quarter(uow, ctx, label)
    all_quarters = uow.missions.quarters(ctx.slug)
    run = uow.runs.get(ctx.slug, quarter.approved_run) if quarter.approved_run else None
    update = uow.cycle.update(ctx.slug, label)
    draft = None
    if update is None and quarter.state is QuarterState.approved:
        draft = publication.draft_letter(uow, ctx.slug, label)
    oos = run.out_of_sample if run else None
    is_current = _is_current(uow, ctx, quarter)
    later = [q for q in all_quarters if q.label > label and q.state is not QuarterState.closed]
    return {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "quarter": quarter,
        "quarters": all_quarters,
        "guide": guide.quarter_tasks(uow, ctx.slug, label),
        "home": guide.quarter_url(ctx.slug, label),
        "public_url": guide.public_update_url(ctx.slug, label),
        "next_open": later[0] if quarter.state is QuarterState.closed and later else None,
        "can_close_round": ctx.can(Perm.manage_round)
        and is_current
        and quarter.scoring is ScoringState.open,
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
        "field_labels": QUARTER_LABELS,
        "rag_labels": RAG_LABELS,
        "rag_wording": RAG_WORDING,
        "letter_word_limit": LETTER_WORD_LIMIT,
        "is_current": is_current,
        "change_kinds": ChangeKind,
        **extra,
    }


def _home_again(
    request: Request,
    uow: SqlUnitOfWork,
    ctx: MissionContext,
    label: str,
    errors: list[tuple[str, str]],
    values: dict[str, Any],
    status_code: int = 422,
) -> Response:
    """The quarter home shown again after a form's error, with what was typed kept."""
    uow.rollback()
    context = quarter_context(uow, ctx, label, errors=errors)
    context["values"].update(values)
    return render(request, "cycle/quarter.html", context, status_code=status_code)


@router.get("/missions/{slug}/quarter")
def current_quarter_home(ctx: ViewMission, uow: UowDep) -> Response:
    """The current quarter's home (the menu's "This quarter")."""
    try:
        label = quarters.current_quarter(uow, ctx.slug)
    except Conflict:
        return RedirectResponse(f"/missions/{ctx.slug}", status_code=303)
    return RedirectResponse(guide.quarter_url(ctx.slug, label), status_code=303)


@router.get("/missions/{slug}/quarters/{label}")
def quarter_page(request: Request, ctx: ViewMission, label: str, uow: UowDep) -> Response:
    return render(request, "cycle/quarter.html", quarter_context(uow, ctx, label))


def _back(
    request: Request, ctx: MissionContext, label: str, message: str, anchor: str = ""
) -> Response:
    return redirect_done(request, guide.quarter_url(ctx.slug, label) + anchor, message)


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
        quarter = uow.missions.quarter(ctx.slug, label)
        shown = quarter.rag_shown
        words = RAG_LABELS[shown] if shown else "–"
        message = (
            f"Delivery confidence for {label} saved: {words}, overridden by the Mission CEO."
            if quarter.rag_override  # an override equal to the computed rating is none
            else f"Delivery confidence for {label} saved: {words}, as computed from P(target)."
        )
        return _back(request, ctx, label, message, "#rag")
    except ValueError:
        errors = [("rag", "choose green, amber, red or no override")]
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = [("rag", str(exc))]
    return _home_again(request, uow, ctx, label, errors, values)


def _check_current(uow: SqlUnitOfWork, ctx: MissionContext, label: str) -> None:
    quarters.require_not_closed(uow, ctx.slug, label)
    if label != quarters.current_quarter(uow, ctx.slug):
        raise Conflict(f"{label} is not the current quarter")


@router.post("/missions/{slug}/quarters/{label}/dissent")
def dissent(request: Request, ctx: DissentDep, label: str, form: FormDep, uow: UowDep) -> Response:
    values = values_of(form)
    try:
        _check_current(uow, ctx, label)
        cycle.add_dissent(
            uow, ctx.user.username, ctx.roles, ctx.slug, str(values.get("text") or "")
        )
        uow.commit()
        return _back(
            request,
            ctx,
            label,
            f"Your dissent is attached to {label}; it is published with your sector, not your "
            "name.",
            "#dissent",
        )
    except ValidationError as exc:
        errors = validation_errors(exc)
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = [("text", str(exc))]
    return _home_again(request, uow, ctx, label, errors, values)


@router.post("/missions/{slug}/quarters/{label}/update")
def save_update(
    request: Request, ctx: ManageCycle, label: str, form: FormDep, uow: UowDep
) -> Response:
    """Save the letter as a draft, or publish it: publishing asks first (it is public at once
    and cannot be withdrawn); the letter travels through the confirmation page."""
    values = values_of(form)
    publish = values.get("action") == "publish"
    body = str(values.get("body", ""))
    public = guide.public_update_url(ctx.slug, label)
    try:
        _check_current(uow, ctx, label)
        if publish and not confirmed(values):
            _, _, words = publication.checked_update(uow, ctx.slug, body)
            return confirm_page(
                request,
                title=f"Publish the update for {label}?",
                warning=f"The update becomes public at {public} at once and cannot be "
                "withdrawn or edited.",
                action=f"/missions/{ctx.slug}/quarters/{quote(label)}/update",
                button="Publish the update",
                cancel=guide.quarter_url(ctx.slug, label) + "#update",
                consequences=[
                    f"The letter ({words:,} words) is published at {public} for anyone to read, "
                    "with the quarter's open data (the approved allocation, commercially "
                    "sensitive candidates shown only by platform and tier).",
                    "It can no longer be edited; the quarter can then be closed.",
                ],
                fields={"body": body, "action": "publish"},
                context={"mission": uow.missions.get(ctx.slug), "ctx": ctx},
            )
        publication.save_update(uow, ctx.user.username, ctx.slug, body, publish=publish)
        uow.commit()
        message = (
            f"The update for {label} is published at {public}."
            if publish
            else f"Draft of the {label} update saved."
        )
        return _back(request, ctx, label, message, "#update")
    except ValidationError as exc:
        errors = validation_errors(exc)
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = [("body", str(exc))]
    return _home_again(request, uow, ctx, label, errors, {"body": body})


@router.post("/missions/{slug}/quarters/{label}/close")
def close(request: Request, ctx: ManageCycle, label: str, form: FormDep, uow: UowDep) -> Response:
    """Close the quarter, after a confirmation: its audit pack is sealed and the next quarter
    opens; nothing of it can change after."""
    values = values_of(form)
    try:
        _check_current(uow, ctx, label)
        quarter = uow.missions.quarter(ctx.slug, label)
        refusal = cycle.close_refusal(uow, ctx.slug, quarter)
        if refusal is not None:
            raise Conflict(refusal)
        nxt = next_quarter(label)
        if not confirmed(values):
            return confirm_page(
                request,
                title=f"Close {label}?",
                warning=f"Closing {label} cannot be undone: nothing of the quarter can be "
                "changed afterwards.",
                action=f"/missions/{ctx.slug}/quarters/{quote(label)}/close",
                button=f"Close {label}",
                cancel=guide.quarter_url(ctx.slug, label) + "#close",
                consequences=[
                    "The quarter's scores, evidence, problem file and allocation are frozen "
                    "into an audit pack, sealed and chained to the previous quarter's.",
                    f"{nxt} opens: new evidence, scores and runs belong to it.",
                ],
                context={"mission": uow.missions.get(ctx.slug), "ctx": ctx},
            )
        cycle.close_quarter(uow, ctx.user.username, ctx.slug)
        uow.commit()
        return _back(
            request,
            ctx,
            label,
            f"{label} is closed and its audit pack sealed; {nxt} is now open.",
            "#close",
        )
    except Conflict as exc:
        errors = [("close", str(exc))]
    return _home_again(request, uow, ctx, label, errors, {}, status_code=409)


@router.get("/missions/{slug}/quarters/{label}/audit-pack.zip")
def audit_pack(ctx: ViewMission, label: str, uow: UowDep) -> Response:
    data = pack_zip.audit_pack_zip(uow, ctx.slug, label)
    return attachment(data, ZIP, quarter_file(ctx.slug, label, "audit-pack.zip"))


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
        "field_labels": {
            "planned": "Planned trajectory",
            **{f"planned.{q}": f"Planned P(target) in {q}" for q in labels},
        },
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
            return redirect_done(
                request, f"/missions/{ctx.slug}#trajectory", "Planned trajectory saved."
            )
        except Conflict as exc:
            errors = [("planned", str(exc))]
        uow.rollback()
    context = _trajectory_context(uow, ctx, errors=errors)
    context["values"] = values
    return render(request, "cycle/trajectory.html", context, status_code=422)
