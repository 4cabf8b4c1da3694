"""Ending a contract is irreversible: in Chromium, the CEO's "End contract" shows a page that
says what will happen and changes nothing until its own button is pressed; then a banner says it
is done. axe-core checks both pages."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from support import DEMO

from .conftest import BrowserLog, assert_accessible, csp_violations, serve_axe, sign_in


def _live(page: Page) -> dict[int, dict[str, object]]:
    contracts = page.request.get(f"/api/v1/missions/{DEMO}/contracts").json()
    return {c["id"]: c for c in contracts if c["state"] == "live"}


def test_ending_a_contract_asks_first_then_says_it_is_done(
    page: Page, browser_log: BrowserLog
) -> None:
    serve_axe(page)
    sign_in(page, "ceo")
    live = _live(page)
    assert live, "the demo has live contracts"
    contract_id, contract = next(iter(live.items()))
    name = str(contract["candidate_name"])

    page.goto(f"/missions/{DEMO}/runs#contracts")
    page.get_by_text(f"End the contract with {name}", exact=True).click()
    form = page.locator(f'form[action="/missions/{DEMO}/contracts/{contract_id}/end"]')
    form.get_by_label("Reason for ending the contract").fill("Browser test: the trial ended early")
    form.get_by_label("Break cost, £ million (optional)").fill("0.2")
    form.get_by_role("button", name="End contract").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"End the contract with {name}?")
    expect(page.locator(".govuk-warning-text")).to_be_visible()
    expect(page.locator("main")).to_contain_text("0.2")
    assert_accessible(page)
    assert contract_id in _live(page), "nothing is ended before the confirmation"

    page.locator("#confirm-form").get_by_role("button", name="End the contract").click()
    expect(page.locator("#success-banner")).to_contain_text(name)
    assert contract_id not in _live(page)
    assert_accessible(page)
    assert csp_violations(page) == []
    assert browser_log.console_errors == [] and browser_log.page_errors == []
