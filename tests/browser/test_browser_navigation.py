"""The menu: one line at 1280 px however many items a role sees, the current page marked, and
the signed-in person with "Sign out" in the header."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from support import DEMO

from .conftest import assert_accessible, serve_axe, sign_in


@pytest.mark.parametrize("username", ["ceo", "admin", "treasury"])
def test_the_menu_fits_one_line_at_1280_px_and_marks_the_current_page(
    page: Page, username: str
) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    serve_axe(page)
    sign_in(page, username)
    for path, current in (
        (f"/missions/{DEMO}", "Dashboard"),
        (f"/missions/{DEMO}/candidates", "Candidates"),
        (f"/missions/{DEMO}/runs", "Optimiser"),
        (f"/missions/{DEMO}/report", "Report"),
    ):
        page.goto(path)
        items = page.locator("#navigation > li")
        tops = {
            round(box["y"])
            for box in (items.nth(i).bounding_box() for i in range(items.count()))
            if box
        }
        assert len(tops) == 1, f"the menu wraps onto {len(tops)} lines on {path}"
        marked = page.locator('#navigation a[aria-current="page"]')
        expect(marked).to_have_count(1)
        expect(marked).to_have_text(current)
        assert_accessible(page)
    header = page.locator(".govuk-header")
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()
    expect(header.locator(".app-header__link")).to_have_attribute("href", "/account")
