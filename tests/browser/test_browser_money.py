"""Money across quarters in headless Chromium (issue 15): the CEO records actual spend, runs the
optimiser with 15 % over-programming and an overrun limit, sees P(overrun) on the run and in the
comparison, approves; a Treasury reviewer then reads the programme finance view."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect
from support import DEMO

from .conftest import BrowserLog, assert_accessible, csp_violations, serve_axe, sign_in

YEAR = "2026-27"
SOLVE_TIMEOUT_MS = 120_000
FINAL = re.compile(r"^\s*(Optimal|Feasible|Infeasible|Error|Failed)\s*$")


def _assert_clean(page: Page, log: BrowserLog) -> None:
    assert csp_violations(page) == [], page.url
    assert log.console_errors == [], page.url
    assert log.page_errors == [], page.url
    assert_accessible(page)


def _spent_on(page: Page) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A candidate with an option planned this year, and an envelope it may draw on."""
    response = page.request.get(f"/api/v1/missions/{DEMO}/candidates")
    assert response.status == 200, response.text()
    for cand in response.json():
        for option in cand["options"]:
            if option["cost_profile"].get(YEAR, 0) > 1:
                return cand, option, cand["eligible_envelopes"][0]
    raise AssertionError("no demo candidate is planned this year")


def _run(page: Page, *, limit: str, note: str) -> int:
    page.goto(f"/missions/{DEMO}/runs")
    form = page.locator("#run-form")
    form.locator('[name="objective"][value="expected"]').check()
    form.get_by_label("Over-programming (% above the budgets)", exact=True).fill("15")
    form.get_by_label("Highest chance of overrunning the money available (%)", exact=True).fill(
        limit
    )
    form.get_by_text("Risk appetite, scenarios and solver", exact=True).click()
    form.get_by_label("Scenarios", exact=True).fill("300")
    form.get_by_label("Note (optional)", exact=True).fill(note)
    form.get_by_role("button", name="Run the optimiser").click()
    # back on the optimiser page, the new run marked; its own page shows the solve
    page.wait_for_url(re.compile(rf"/missions/{DEMO}/runs\?started=\d+"))
    run_id = int(page.url.split("started=", 1)[1].split("#")[0])
    page.goto(f"/missions/{DEMO}/runs/{run_id}")
    status = page.locator("h1 .govuk-tag")
    expect(status).to_have_text(FINAL, timeout=SOLVE_TIMEOUT_MS)
    expect(status).to_have_text(re.compile(r"Optimal|Feasible"))
    return run_id


def test_spend_overrun_risk_approval_and_treasurys_finance_view(
    page: Page, browser_log: BrowserLog
) -> None:
    serve_axe(page)
    sign_in(page, "ceo")
    cand, option, envelope = _spent_on(page)

    # 1. Record actual spend through the form.
    page.goto(f"/missions/{DEMO}/spend")
    form = page.locator("form").filter(has=page.get_by_role("button", name="Record spend"))
    form.locator('select[name="candidate"]').select_option(cand["id"])
    form.locator('select[name="option"]').select_option(f"{cand['id']}/{option['id']}")
    form.locator('select[name="envelope"]').select_option(envelope)
    form.locator('select[name="year"]').select_option(YEAR)
    form.locator('[name="amount"]').fill("2.5")
    form.get_by_role("button", name="Record spend").click()
    expect(page.locator("body")).to_contain_text("Spend recorded")
    expect(page.locator("body")).to_contain_text(cand["name"])
    _assert_clean(page, browser_log)

    # 2. Two runs over-programmed by 15 %, with a 20 % and a 50 % overrun limit.
    first = _run(page, limit="20", note="Browser test: overrun limit 20 %")
    overrun = page.locator("#p-overrun")
    expect(overrun).to_be_visible()
    expect(overrun).to_contain_text(re.compile(r"limit 20(\.0)? % in sample"))
    expect(overrun).to_contain_text(re.compile(r"\d+(\.\d)? %"))
    expect(page.locator("#expected-overspend")).to_be_visible()
    expect(page.locator("#money")).to_contain_text(
        re.compile(r"over-programmed by up to 15(\.0)? %")
    )
    expect(page.locator("#money")).to_contain_text("Already spent (sunk)")
    _assert_clean(page, browser_log)
    second = _run(page, limit="50", note="Browser test: overrun limit 50 %")

    # 3. The comparison shows P(overrun) for both.
    page.goto(f"/missions/{DEMO}/runs/compare?run={first}&run={second}")
    metrics = page.locator("#compare-metrics")
    expect(metrics).to_contain_text("P(overrun), out of sample")
    expect(metrics).to_contain_text("Expected overspend (£m)")
    _assert_clean(page, browser_log)

    # 4. Approve the first run, with a reason for every change.
    page.goto(f"/missions/{DEMO}/runs/{first}")
    page.get_by_role("link", name="Approve as the quarter's allocation").click()
    page.wait_for_url(re.compile(rf"/runs/{first}/approve$"))
    expect(page.locator("body")).to_contain_text("P(overrun)")
    reasons = page.locator('#approve-form input[name^="reason."]')
    for i in range(reasons.count()):
        reasons.nth(i).fill(f"Browser test reason {i + 1}")
    page.get_by_role("button", name="Approve this allocation").click()
    page.wait_for_url(re.compile(r"/quarters/2026-27(%20| )Q3$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Approved")
    _assert_clean(page, browser_log)

    # 5. Treasury reads the programme finance view.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "treasury")
    page.goto(f"/missions/{DEMO}/finance")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Programme finance")
    body = page.locator("main")
    expect(body).to_contain_text("Headroom")
    expect(body).to_contain_text("P(overrun)")
    expect(page.locator("#allocation-source")).to_contain_text(f"run {first}")
    _assert_clean(page, browser_log)
