"""Two people edit the same candidate in two browsers: the second is told, with their input kept,
and nothing is silently overwritten."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from .conftest import sign_in


def test_the_second_of_two_browsers_editing_a_candidate_is_told(
    browser: Browser, live_server: str
) -> None:
    first = browser.new_context(base_url=live_server)
    second = browser.new_context(base_url=live_server)
    try:
        a, b = first.new_page(), second.new_page()
        sign_in(a, "council1")
        sign_in(b, "council2")
        url = "/missions/uk-air-travel/candidates/lh2-tank/edit"
        a.goto(url)
        b.goto(url)
        a.locator("#f-name").fill("Tank renamed in the first browser")
        b.locator("#f-name").fill("Tank renamed in the second browser")
        a.get_by_role("button", name="Save changes").click()
        expect(a.locator("h1")).to_have_text("Tank renamed in the first browser")
        b.get_by_role("button", name="Save changes").click()
        expect(b.locator(".govuk-error-summary")).to_contain_text("changed by someone else")
        expect(b.locator("#f-name")).to_have_value("Tank renamed in the second browser")
        b.goto("/missions/uk-air-travel/candidates/lh2-tank")
        expect(b.locator("h1")).to_have_text("Tank renamed in the first browser")
    finally:
        first.close()
        second.close()
