"""Checking the history in the browser (issue 20): the CEO asks for a check with the button, the
page says it is under way and refreshes itself until the server has finished it, then shows the
history intact and who asked, on pages axe-core passes."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from support import DEMO

from .conftest import BrowserLog, assert_accessible, csp_violations, serve_axe, sign_in


def test_the_ceo_checks_the_history_with_the_button(page: Page, browser_log: BrowserLog) -> None:
    serve_axe(page)
    sign_in(page, "ceo")
    page.goto(f"/missions/{DEMO}/audit/verify")
    expect(page.locator("#history-never")).to_contain_text("has not been checked yet")
    assert_accessible(page)

    page.get_by_role("button", name="Check the history now").click()
    page.wait_for_url(re.compile(rf"/missions/{DEMO}/audit/verify$"))
    # the page refreshes itself (every 3 s) while the check is under way
    expect(page.locator("#history-result")).to_contain_text("The history is intact", timeout=60_000)
    expect(page.locator("#history-checked")).to_contain_text("asked for by ceo")
    expect(page.locator("#history-pending")).to_have_count(0)
    expect(page.get_by_role("button", name="Check the history now")).to_be_visible()
    assert_accessible(page)
    assert csp_violations(page) == []
