"""Foundation journeys in headless Chromium: sign in, the dashboard under the CSP, registering and
editing a candidate through the form (and its audit trail), form errors, access refused, sign out.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, Response, expect
from support import DEMO

from .conftest import BrowserLog, csp_violations, sign_in

MISSION_NAME = "Carbon-neutral UK air travel by 2030"
CSS = "/static/govuk/govuk-frontend.min.css"


def test_the_ceo_signs_in_and_sees_the_demo_dashboard(page: Page, browser_log: BrowserLog):
    responses: list[Response] = []
    page.on("response", lambda r: responses.append(r))

    sign_in(page, "ceo")
    page.goto(f"/missions/{DEMO}")

    expect(page.get_by_role("heading", level=1)).to_have_text(MISSION_NAME)
    expect(page.locator("#mission-target")).to_have_text("9 MtCO2e/yr")
    envelopes = page.locator("#envelopes")
    expect(envelopes).to_contain_text("Single business case")
    expect(envelopes).to_contain_text("UKRI envelope")
    platform_rows = page.locator("#platforms tbody tr")
    expect(platform_rows.first).to_be_visible()
    assert platform_rows.count() >= 6

    css = [r for r in responses if r.url.endswith(CSS)]
    assert css, "the GOV.UK Frontend stylesheet was never requested"
    assert all(r.status in (200, 304) for r in css), [r.status for r in css]
    assert css[0].status == 200
    loaded = page.evaluate(
        "(href) => [...document.styleSheets].some(s => s.href && s.href.endsWith(href)"
        " && s.cssRules.length > 0)",
        CSS,
    )
    assert loaded, "the GOV.UK Frontend stylesheet did not load"

    # The nonce'd inline script ran under the CSP, and the module script ran initAll().
    expect(page.locator("body")).to_have_class(re.compile(r"\bgovuk-frontend-supported\b"))
    assert csp_violations(page) == []
    assert browser_log.console_errors == []
    assert browser_log.page_errors == []


def _fill_option(
    page: Page,
    row: int,
    ident: str,
    name: str,
    p: str,
    spend: dict[str, str],
    impact: tuple[str, str, str],
) -> None:
    prefix = f"options.{row}"
    page.locator(f'[name="{prefix}.id"]').fill(ident)
    page.locator(f'[name="{prefix}.name"]').fill(name)
    page.locator(f'[name="{prefix}.p_success"]').fill(p)
    for year, amount in spend.items():
        page.locator(f'[name="{prefix}.cost_profile.{year}"]').fill(amount)
    for key, value in zip(("low", "most_likely", "high"), impact, strict=True):
        page.locator(f'[name="{prefix}.impact.{key}"]').fill(value)


def _fill_candidate(page: Page, p_success: str = "0.6") -> None:
    page.get_by_label("Identifier", exact=True).first.fill("browser-test-fuel")
    page.locator('[name="name"]').fill("Browser test e-fuel plant")
    page.locator('[name="description"]').fill("A candidate registered through the browser.")
    page.locator('[name="organisation"]').fill("Test Fuels Ltd")
    page.get_by_label("Rising star", exact=True).check()
    page.locator('[name="platform"]').fill("synthetic-fuels")
    page.get_by_label("Moonshot", exact=True).check()
    page.get_by_label("Technology readiness level (TRL)").select_option("4")
    page.get_by_label("Single business case", exact=True).check()
    _fill_option(
        page,
        0,
        "explore",
        "Explore",
        p_success,
        {"2026-27": "2", "2027-28": "3"},
        ("0.05", "0.1", "0.2"),
    )
    _fill_option(
        page,
        1,
        "scale",
        "Scale up",
        "0.4",
        {"2028-29": "10", "2029-30": "15"},
        ("0.3", "0.6", "1.2"),
    )


def test_a_council_member_registers_and_edits_a_candidate_and_the_ceo_sees_the_audit(
    page: Page, browser_log: BrowserLog
):
    sign_in(page, "council1")
    page.goto(f"/missions/{DEMO}/candidates/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Register a candidate solution")
    _fill_candidate(page)
    page.get_by_role("button", name="Register candidate").click()

    page.wait_for_url(f"**/missions/{DEMO}/candidates/browser-test-fuel")
    expect(page.get_by_role("heading", level=1)).to_have_text("Browser test e-fuel plant")
    options = page.locator("#options tbody tr")
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text("explore")
    expect(options.nth(1)).to_contain_text("scale")

    page.get_by_role("link", name="Edit candidate").click()
    page.wait_for_url("**/candidates/browser-test-fuel/edit")
    name = page.locator('[name="name"]')
    expect(name).to_have_value("Browser test e-fuel plant")
    name.fill("Browser test e-fuel plant (renamed)")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"**/missions/{DEMO}/candidates/browser-test-fuel")
    expect(page.get_by_role("heading", level=1)).to_have_text("Browser test e-fuel plant (renamed)")
    assert browser_log.page_errors == []

    page.context.clear_cookies()
    sign_in(page, "ceo")
    page.goto(f"/missions/{DEMO}/audit")
    rows = page.locator("#audit tbody tr").filter(has_text="browser-test-fuel")
    expect(rows).to_have_count(2)
    updated, created = rows.nth(0), rows.nth(1)  # newest first
    expect(updated).to_contain_text("council1")
    expect(updated).to_contain_text("updated")
    expect(updated).to_contain_text("Browser test e-fuel plant (renamed)")
    expect(created).to_contain_text("council1")
    expect(created).to_contain_text("created")


def test_a_bad_value_reshows_the_form_with_an_error_summary_and_the_typed_values(page: Page):
    sign_in(page, "council1")
    page.goto(f"/missions/{DEMO}/candidates/new")
    _fill_candidate(page, p_success="1.5")
    page.get_by_role("button", name="Register candidate").click()

    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("There is a problem")
    link = summary.locator('a[href="#f-options-0-p_success"]')
    expect(link).to_have_count(1)
    expect(link).to_contain_text(re.compile(r"p[ _]success|probability of success", re.IGNORECASE))
    expect(page).to_have_title(re.compile(r"^Error: "))
    field = page.locator('[name="options.0.p_success"]')
    expect(field).to_have_value("1.5")
    expect(field).to_have_class(re.compile(r"govuk-input--error"))
    # What was typed is kept.
    expect(page.locator('[name="id"]')).to_have_value("browser-test-fuel")
    expect(page.locator('[name="name"]')).to_have_value("Browser test e-fuel plant")
    expect(page.locator('[name="platform"]')).to_have_value("synthetic-fuels")
    expect(page.get_by_label("Rising star", exact=True)).to_be_checked()
    expect(page.get_by_label("Moonshot", exact=True)).to_be_checked()
    expect(page.get_by_label("Single business case", exact=True)).to_be_checked()
    expect(page.locator('[name="trl"]')).to_have_value("4")
    expect(page.locator('[name="options.0.cost_profile.2027-28"]')).to_have_value("3")
    expect(page.locator('[name="options.1.id"]')).to_have_value("scale")
    expect(page.locator('[name="options.1.impact.high"]')).to_have_value("1.2")

    # The summary's link moves focus to the field it names.
    link.click()
    expect(field).to_be_focused()


def test_treasury_cannot_open_the_mission_edit_page(page: Page):
    sign_in(page, "treasury")
    response = page.goto(f"/missions/{DEMO}/edit")
    assert response is not None and response.status == 403
    expect(page).to_have_title(re.compile("You do not have access"))
    expect(page.get_by_role("heading", level=1)).to_have_text("You do not have access to this")


def test_sign_out_returns_to_login_and_the_dashboard_then_needs_a_sign_in(page: Page):
    sign_in(page, "ceo")
    page.goto(f"/missions/{DEMO}")
    expect(page.get_by_role("heading", level=1)).to_have_text(MISSION_NAME)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    expect(page.get_by_label("Username", exact=True)).to_be_visible()

    page.goto(f"/missions/{DEMO}")
    assert re.search(r"/login\?next=", page.url), page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Mission Portfolio")
