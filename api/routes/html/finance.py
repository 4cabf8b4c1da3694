"""Treasury's programme finance page and its downloads: per envelope and year the budget, spent,
contracted, forecast and headroom, the approved allocation's overrun risk, and the history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import UowDep, ViewFinance
from api.downloads import CSV, XLSX, attachment
from api.templating import render
from portfolio.services import finance

router = APIRouter(include_in_schema=False)


@router.get("/missions/{slug}/finance")
def finance_page(request: Request, ctx: ViewFinance, uow: UowDep) -> Response:
    view = finance.finance_view(uow, ctx.slug)
    context = {"mission": uow.missions.get(ctx.slug), "ctx": ctx, "view": view}
    return render(request, "finance/finance.html", context)


@router.get("/missions/{slug}/finance.csv")
def finance_csv(ctx: ViewFinance, uow: UowDep, table: finance.Table = "envelopes") -> Response:
    """One table as CSV: by envelope and year (the default), or the history."""
    view = finance.finance_view(uow, ctx.slug)
    return attachment(
        finance.csv_text(view, table),
        CSV,
        f"{ctx.slug}-finance{'-history' if table == 'history' else ''}.csv",
    )


@router.get("/missions/{slug}/finance.xlsx")
def finance_xlsx(ctx: ViewFinance, uow: UowDep) -> Response:
    view = finance.finance_view(uow, ctx.slug)
    return attachment(finance.workbook(view), XLSX, f"{ctx.slug}-finance.xlsx")
