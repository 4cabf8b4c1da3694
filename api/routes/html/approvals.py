"""Treasury approvals of awards above the Delegated Authority Limit: the CEO's request (on the
candidate page) and Treasury's decisions (the approvals page)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import (
    DecideTreasuryApproval,
    FormDep,
    MissionContext,
    RequestTreasuryApproval,
    UowDep,
    ViewTreasuryApprovals,
)
from api.flash import redirect_done
from api.forms import values_of
from api.params import RowId
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.domain.model import ApprovalState
from portfolio.services import approvals

router = APIRouter(include_in_schema=False)


DECISION_LABELS = {"decision": "Decision", "reason": "Reason for the decision"}


def _list_context(uow: SqlUnitOfWork, ctx: MissionContext, **extra: Any) -> dict[str, Any]:
    mission = uow.missions.get(ctx.slug)
    candidates = {c.id: c for c in uow.candidates.all(ctx.slug)}
    requests = list(reversed(uow.approvals.all(ctx.slug)))
    return {
        "mission": mission,
        "ctx": ctx,
        "candidates": candidates,
        "waiting": [a for a in requests if a.state is ApprovalState.requested][::-1],
        "decided": [a for a in requests if a.state is not ApprovalState.requested],
        "largest": {cid: max(o.total_cost for o in c.options) for cid, c in candidates.items()},
        **extra,
    }


def _candidate_name(uow: SqlUnitOfWork, slug: str, candidate_id: str) -> str:
    return uow.candidates.get(slug, candidate_id).name


@router.get("/missions/{slug}/approvals")
def approval_list(request: Request, ctx: ViewTreasuryApprovals, uow: UowDep) -> Response:
    return render(request, "approvals/list.html", _list_context(uow, ctx))


@router.post("/missions/{slug}/approvals/{approval_id}/decide")
def decide(
    request: Request, ctx: DecideTreasuryApproval, approval_id: RowId, form: FormDep, uow: UowDep
) -> Response:
    values = values_of(form)
    decision = str(values.get("decision", ""))
    status = 422
    if decision not in ("approve", "refuse"):
        errors = [("decision", "choose approve or refuse")]
    else:
        try:
            raw_state = str(values.get("expected_state", "requested"))
            decided = approvals.decide_approval(
                uow,
                ctx.user.username,
                ctx.roles,
                ctx.slug,
                approval_id,
                approve=decision == "approve",
                reason=str(values.get("reason", "")),
                expected_state=ApprovalState(raw_state)
                if raw_state in ApprovalState.__members__
                else ApprovalState.requested,
            )
            uow.commit()
            name = _candidate_name(uow, ctx.slug, decided.candidate)
            verdict = "approved" if decision == "approve" else "refused"
            return redirect_done(
                request,
                f"/missions/{ctx.slug}/approvals",
                f"Treasury approval {verdict} for {name}.",
            )
        except InvalidInput as exc:
            errors = exc.errors
        except Conflict as exc:
            errors, status = [("reason", str(exc))], 409
        uow.rollback()
    uow.approvals.get(ctx.slug, approval_id)  # a request of another mission is a 404
    context = _list_context(
        uow,
        ctx,
        errors=errors,
        deciding=approval_id,
        decide_values=values,
        field_labels=DECISION_LABELS,
    )
    return render(request, "approvals/list.html", context, status_code=status)


@router.post("/missions/{slug}/candidates/{candidate_id}/treasury-approval")
def request_approval(
    request: Request, ctx: RequestTreasuryApproval, candidate_id: str, form: FormDep, uow: UowDep
) -> Response:
    values = values_of(form)
    status = 422
    try:
        approvals.request_approval(
            uow, ctx.user.username, ctx.roles, ctx.slug, candidate_id, str(values.get("reason", ""))
        )
        uow.commit()
        return redirect_done(
            request,
            f"/missions/{ctx.slug}/candidates/{candidate_id}#treasury",
            f"Treasury approval requested for {_candidate_name(uow, ctx.slug, candidate_id)}.",
        )
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors, status = [("reason", str(exc))], 409
    uow.rollback()
    from api.routes.html.candidates import detail_context

    context = detail_context(uow, ctx, candidate_id)
    context.update(
        errors=errors,
        values=values,
        treasury_form=True,
        field_labels={"reason": "Reason for asking Treasury"},
    )
    return render(request, "candidates/detail.html", context, status_code=status)
