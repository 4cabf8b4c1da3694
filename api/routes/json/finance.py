"""Treasury's programme finance in the JSON API (under /api/v1): the same view, definitions and
permission as the Programme finance page."""

from __future__ import annotations

from api.deps import UowDep, ViewFinance
from api.routes.json.common import UtcDateTime, v1_router
from portfolio.services.finance import ApprovedAllocation, FinanceView, finance_view

router = v1_router()


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
