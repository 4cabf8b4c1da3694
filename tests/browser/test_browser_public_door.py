"""The public's way in (issue 17): someone who is not signed in finds a published quarterly
update from the sign-in page, reads it, and finds the way back, on pages axe-core passes."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from support import DEMO

from .conftest import BrowserLog, assert_accessible, csp_violations, serve_axe, sign_in


def test_the_public_finds_an_update_from_the_sign_in_page(
    page: Page, browser_log: BrowserLog
) -> None:
    serve_axe(page)
    page.goto("/")  # nobody is signed in: the service starts at the sign-in page
    page.wait_for_url(re.compile(r"/login"))
    assert_accessible(page)

    page.get_by_role("link", name="Read the published quarterly updates").click()
    page.wait_for_url(re.compile(r"/public$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Published quarterly updates")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    updates = page.locator(f"#updates-{DEMO} tbody tr")
    expect(updates.first).to_be_visible()
    newest = updates.first.get_attribute("data-quarter")
    assert newest
    open_data = updates.first.get_by_role("link", name=re.compile(r"^(CSV|JSON) of the"))
    expect(open_data).to_have_count(2)
    assert_accessible(page)

    updates.first.get_by_role("link", name=f"Update for {newest}").click()
    page.wait_for_url(
        re.compile(rf"/missions/{DEMO}/updates/{re.escape(newest.replace(' ', '-'))}$")
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(newest)
    expect(page.locator("#letter")).to_be_visible()
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs.locator("li").last).to_have_text(newest)
    assert_accessible(page)

    crumbs.get_by_role("link", name="Published updates").click()
    page.wait_for_url(re.compile(r"/public$"))
    assert browser_log.page_errors == [] and browser_log.console_errors == []
    assert csp_violations(page) == []


def test_the_pages_of_this_slice_have_breadcrumbs_and_pass_axe(page: Page) -> None:
    serve_axe(page)
    sign_in(page, "ceo")
    for path in (
        f"/missions/{DEMO}/candidates",
        f"/missions/{DEMO}/candidates/new",
        f"/missions/{DEMO}/spend",
        f"/missions/{DEMO}/import",
        f"/missions/{DEMO}/audit",
        "/account",
    ):
        page.goto(path)
        expect(page.get_by_role("navigation", name="Breadcrumb")).to_be_visible()
        assert_accessible(page)
    # an error keeps what was typed, names the field as labelled, and passes axe too
    page.goto(f"/missions/{DEMO}/candidates/new")
    page.locator("#f-name").fill("Half-typed candidate")
    page.get_by_role("button", name="Register candidate").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Identifier: ")
    expect(page.locator("#f-name")).to_have_value("Half-typed candidate")
    assert_accessible(page)
