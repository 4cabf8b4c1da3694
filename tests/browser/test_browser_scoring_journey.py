"""Scoring that respects the council's time, in headless Chromium: a council member's form in the
second quarter starts from their own scores of the quarter before, "no change" submits them in one
click, and closing the round asks first. axe-core checks every page visited."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from support import DEMO

from .conftest import BrowserLog, assert_accessible, csp_violations, serve_axe, sign_in

MEMBER = "council6"  # submitted everything in 2026-27 Q2, nothing yet in the open round
CURRENT, PREVIOUS = "2026-27 Q3", "2026-27 Q2"


def _row(page: Page, name: str):
    return page.locator("#my-scores tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )


def _assert_clean(page: Page, browser_log: BrowserLog) -> None:
    assert csp_violations(page) == []
    assert browser_log.console_errors == []
    assert browser_log.page_errors == []


def test_a_council_members_second_quarter_form_starts_filled_and_no_change_is_one_click(
    page: Page, browser_log: BrowserLog
):
    serve_axe(page)
    sign_in(page, MEMBER)
    candidates = page.request.get(f"/api/v1/missions/{DEMO}/candidates").json()
    first, second = candidates[0], candidates[1]
    previous = page.request.get(
        f"/api/v1/missions/{DEMO}/scoring/{first['id']}", params={"quarter": PREVIOUS}
    ).json()
    mine = {s["option"]: s for s in previous["scores"] if s["member"] == MEMBER}

    page.goto(f"/missions/{DEMO}/scoring")
    expect(page.locator("#import-link")).to_contain_text("Import scores from a CSV file")
    expect(_row(page, first["name"])).to_contain_text("Not started")
    assert_accessible(page)

    # The form starts from the member's own 2026-27 Q2 scores, clearly labelled.
    _row(page, first["name"]).get_by_role("link", name=first["name"], exact=True).click()
    page.wait_for_url(re.compile(rf"/missions/{DEMO}/scoring/{first['id']}\b"))
    expect(page.locator("#prefilled")).to_contain_text(f"Your scores from {PREVIOUS}")
    for i, option in enumerate(first["options"]):
        score = mine[option["id"]]
        field = page.locator(f'[name="options.{i}.p_success"]')
        assert float(field.input_value()) == score["p_success"]
        expect(page.locator(f'select[name="options.{i}.trl"]')).to_have_value(str(score["trl"]))
        expect(page.locator(f'[name="options.{i}.rationale"]')).to_have_value(score["rationale"])
    expect(page.locator("#blind-notice")).to_be_visible()  # still blind until submitted
    assert_accessible(page)

    # "No change" for the second candidate: one click, a banner naming it, submitted.
    page.goto(f"/missions/{DEMO}/scoring")
    _row(page, second["name"]).get_by_role(
        "button", name=f"No change — submit my last scores for {second['name']}"
    ).click()
    page.wait_for_url(re.compile(rf"/missions/{DEMO}/scoring$"))
    expect(page.locator("#success-banner")).to_contain_text(
        f"No change for {second['name']}: your {PREVIOUS} scores are submitted for {CURRENT}."
    )
    expect(_row(page, second["name"])).to_contain_text("Submitted")
    expect(_row(page, first["name"])).to_contain_text("Not started")  # the pre-fill saved nothing
    assert_accessible(page)
    _assert_clean(page, browser_log)


def test_closing_the_scoring_round_asks_first(page: Page, browser_log: BrowserLog):
    serve_axe(page)
    sign_in(page, "ceo")
    page.goto(f"/missions/{DEMO}/scoring")
    page.get_by_role("button", name="Close the round", exact=True).click()

    expect(page.locator("#confirm-title")).to_have_text(f"Close the scoring round for {CURRENT}?")
    expect(page.locator("#confirm-consequences")).to_contain_text("have not submitted")
    expect(page.locator(".govuk-warning-text")).to_contain_text("cannot be undone")
    assert page.request.get(f"/api/v1/missions/{DEMO}/scoring").json()["state"] == "open"
    assert_accessible(page)

    page.get_by_role("button", name="Close the scoring round", exact=True).click()
    page.wait_for_url(re.compile(rf"/missions/{DEMO}/scoring$"))
    expect(page.locator("#success-banner")).to_contain_text(f"Scoring round for {CURRENT} closed")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Council scoring round, {CURRENT}")
    assert page.request.get(f"/api/v1/missions/{DEMO}/scoring").json()["state"] == "closed"
    assert_accessible(page)
    _assert_clean(page, browser_log)
