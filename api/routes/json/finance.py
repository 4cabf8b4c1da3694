"""Treasury's programme finance in the JSON API (under /api/v1): the same view, definitions and
permission as the Programme finance page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import MissionAccess, MissionContext, UowDep
from api.permissions import Perm
from api.routes.json.v1 import ERROR_RESPONSES, UtcDateTime
from portfolio.services.finance import ApprovedAllocation, FinanceView, finance_view

router = APIRouter(prefix="/api/v1", tags=["v1"], responses=ERROR_RESPONSES)

ViewFinance = Annotated[MissionContext, Depends(MissionAccess(Perm.view_finance))]


class ApprovedAllocationOut(ApprovedAllocation):
    approved_at: UtcDateTime | None


class FinanceViewOut(FinanceView):
    allocation: ApprovedAllocationOut | None
    history: list[ApprovedAllocationOut]


@router.get("/missions/{slug}/finance", response_model=FinanceViewOut)
def finance(ctx: ViewFinance, uow: UowDep) -> FinanceViewOut:
    """Programme finance: per envelope and financial year (with totals per envelope, per year and
    overall) the budget, spent, contracted, forecast and headroom (budget − spent − forecast), all
    £ million; the approved allocation the forecast comes from, with its out-of-sample
    P(overrun), expected overspend and P(target) for the whole programme and the over-programming
    and overrun limit it was run with; and every quarter's approved allocation, oldest first.
    ``allocation`` is null before the first approval."""
    return FinanceViewOut.model_validate(finance_view(uow, ctx.slug).model_dump())
