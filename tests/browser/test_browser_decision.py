"""The CEO's decision in Chromium: two runs started from the optimiser page (each start comes
back to it, the form keeping its settings), the two compared side by side with their chart, and
one approved from the comparison with reasons asked only for real changes; every page passes
axe-core."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect
from support import DEMO

from .conftest import BrowserLog, assert_accessible, csp_violations, serve_axe, sign_in

QUARTER = "2026-27 Q3"
SOLVE_TIMEOUT_S = 120
FINAL = {"optimal", "feasible", "infeasible", "error", "failed"}


def _start(page: Page, objective: str, note: str) -> int:
    """Submit the optimiser form with ``objective``; back on the optimiser page, the new run's
    id from the address (the page marks it)."""
    form = page.locator("#run-form")
    form.locator(f'[name="objective"][value="{objective}"]').check()
    form.get_by_text("Risk appetite, scenarios and solver", exact=True).click()
    form.get_by_label("Scenarios", exact=True).fill("300")
    form.get_by_label("Note (optional)", exact=True).fill(note)
    form.get_by_role("button", name="Run the optimiser").click()
    page.wait_for_url(re.compile(rf"/missions/{DEMO}/runs\?started=\d+"))
    run_id = int(page.url.split("started=", 1)[1].split("#")[0])
    expect(page.locator("#success-banner")).to_contain_text(f"Run {run_id} started")
    expect(page.locator(f'#runs tr[data-run="{run_id}"]')).to_contain_text("Just started")
    return run_id


def _wait_for(page: Page, run_id: int) -> None:
    deadline = time.monotonic() + SOLVE_TIMEOUT_S
    while time.monotonic() < deadline:
        status = page.request.get(f"/api/v1/missions/{DEMO}/runs/{run_id}").json()["status"]
        if status in FINAL:
            assert status in ("optimal", "feasible"), status
            return
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {SOLVE_TIMEOUT_S} s")


def test_the_ceo_compares_two_runs_with_a_chart_and_approves_one_from_the_comparison(
    page: Page, browser_log: BrowserLog
) -> None:
    serve_axe(page)
    sign_in(page, "ceo")
    page.goto(f"/missions/{DEMO}/runs")
    expect(page.locator("#round-open-warning")).to_contain_text(
        f"The {QUARTER} scoring round is still open"
    )
    assert_accessible(page)

    first = _start(page, "expected", "Browser test: expected impact")
    # the form kept the settings: only the objective changes for the variant
    expect(page.get_by_label("Scenarios", exact=True)).to_have_value("300")
    second = _start(page, "capped", "Browser test: capped impact")
    assert_accessible(page)
    _wait_for(page, first)
    _wait_for(page, second)

    page.goto(f"/missions/{DEMO}/runs")
    page.locator(f"#cmp-{first}").check()
    page.locator(f"#cmp-{second}").check()
    page.get_by_role("button", name="Compare the ticked runs").click()
    page.wait_for_url(re.compile(r"/runs/compare\?"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(rf"Run ({first}|{second}) and run ({first}|{second}) side by side")
    )
    chart = page.locator("#compare-chart img")
    expect(chart).to_be_visible()
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=chart.element_handle()
    )
    expect(page.locator("#metric-p_target")).to_contain_text("%")
    expect(page.locator("#compare-platforms")).to_contain_text("HEFA sustainable aviation fuel")
    assert_accessible(page)

    page.get_by_role("link", name=f"Approve run {first}").click()
    page.wait_for_url(re.compile(rf"/runs/{first}/approve$"))
    expect(page.locator("#approve-p-target")).to_contain_text("%")
    expect(page.locator("#approve-spend")).to_contain_text("£")
    assert_accessible(page)
    rows = page.locator("#changes tbody tr")
    for i in range(rows.count()):
        row = rows.nth(i)
        reason = row.locator('input[name^="reason."]')
        if row.get_attribute("data-change") == "continue":
            expect(reason).to_have_count(0)
        elif not reason.input_value():
            reason.fill(f"Browser test reason {i + 1}")
    page.get_by_role("button", name="Approve this allocation").click()
    page.wait_for_url(re.compile(r"/quarters/2026-27(%20| )Q3$"))
    expect(page.locator("#success-banner")).to_contain_text(
        f"Run {first} approved as the {QUARTER} allocation."
    )
    assert csp_violations(page) == []
    assert browser_log.console_errors == [] and browser_log.page_errors == []
