"""The Mission CEO's whole quarter in headless Chromium, counted: from opening the product to a
closed quarter — evidence, closing the council's round, two runs, comparing them, approving one
from the comparison, the delivery-confidence rating, the update letter published after a
confirmation, the quarter closed after a confirmation — in at most 16 page steps.

A step is a page the browser loads: a link followed, an address opened or a form submitted
(a redirect after a submit is part of that submit). Waiting for the optimiser's background solves
is done through the API, which loads no page. axe-core checks every page on the way.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, Request, expect
from support import DEMO

from .conftest import BrowserLog, assert_accessible, csp_violations, serve_axe, sign_in

QUARTER = "2026-27 Q3"
NEXT = "2026-27 Q4"
HOME = re.compile(rf"/missions/{DEMO}/quarters/2026-27(%20| )Q3(#[\w-]+)?$")
MAX_STEPS = 16
SOLVE_TIMEOUT_S = 180
FINAL = {"optimal", "feasible", "infeasible", "error", "failed"}


class Steps:
    """Every page load of the tab's main frame (not a redirect's second leg, not an API call)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.loads: list[str] = []
        page.on("request", self._on_request)

    def _on_request(self, request: Request) -> None:
        if (
            request.is_navigation_request()
            and request.frame == self.page.main_frame
            and request.redirected_from is None
        ):
            self.loads.append(f"{request.method} {request.url}")


def _clean(page: Page, log: BrowserLog) -> None:
    assert csp_violations(page) == [], page.url
    assert log.console_errors == [], (page.url, log.console_errors)
    assert log.page_errors == [], page.url


def _banner(page: Page, text: str) -> None:
    expect(page.locator("#success-banner")).to_contain_text(text)


def _wait_for_run(page: Page, run_id: int) -> None:
    deadline = time.monotonic() + SOLVE_TIMEOUT_S
    while time.monotonic() < deadline:
        status = page.request.get(f"/api/v1/missions/{DEMO}/runs/{run_id}").json()["status"]
        if status in FINAL:
            assert status in ("optimal", "feasible"), status
            return
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {SOLVE_TIMEOUT_S} s")


def _start(page: Page, objective: str, note: str) -> int:
    form = page.locator("#run-form")
    form.locator(f'[name="objective"][value="{objective}"]').check()
    form.get_by_text("Risk appetite, scenarios and solver", exact=True).click()
    form.get_by_label("Scenarios", exact=True).fill("300")
    form.get_by_label("Note (optional)", exact=True).fill(note)
    form.get_by_role("button", name="Run the optimiser").click()
    page.wait_for_url(re.compile(rf"/missions/{DEMO}/runs\?started=\d+"))
    run_id = int(page.url.split("started=", 1)[1].split("#")[0])
    _banner(page, f"Run {run_id} started")
    return run_id


def test_the_ceos_whole_quarter_takes_at_most_16_page_steps(
    page: Page, browser_log: BrowserLog
) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    serve_axe(page)
    sign_in(page, "ceo")
    steps = Steps(page)

    # 1. Open the product: the current quarter's home, its tasks first.
    page.goto("/")
    page.wait_for_url(HOME)
    expect(page.locator("ul.govuk-task-list > li")).to_have_count(9)
    assert_accessible(page)

    # 2-3. Evidence for a candidate chosen by name, from the quarter's evidence page.
    page.locator("#task-evidence").get_by_role("link").first.click()
    page.wait_for_url(re.compile(r"/evidence$"))
    assert_accessible(page)
    form = page.locator("#evidence-form")
    form.get_by_label("Candidate", exact=True).select_option(index=1)
    name = form.locator('select[name="candidate"] option:checked').inner_text()
    form.get_by_label("Milestone met", exact=True).check()
    form.get_by_label("Summary", exact=True).fill("Walk: the rig test passed")
    form.get_by_role("button", name="Record evidence").click()
    page.wait_for_url(HOME)
    _banner(page, f"Evidence recorded for {name}.")
    assert_accessible(page)

    # 4-5. Close the council's scoring round: asked first, then back home.
    page.locator("#close-round-form").get_by_role("button", name="Close the scoring round").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Close the scoring round for {QUARTER}?"
    )
    assert_accessible(page)
    page.locator("#confirm-form").get_by_role("button").click()
    page.wait_for_url(HOME)
    _banner(page, "closed")
    expect(page.locator("#task-scoring")).to_have_attribute("data-status", "completed")

    # 6-8. Two runs from the optimiser page; each start comes back to it.
    page.locator("#task-runs").get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf"/missions/{DEMO}/runs$"))
    expect(page.locator("#round-open-warning")).to_have_count(0)  # the round is closed now
    assert_accessible(page)
    first = _start(page, "expected", "Walk: expected impact")
    second = _start(page, "capped", "Walk: capped impact")
    assert_accessible(page)
    _wait_for_run(page, first)
    _wait_for_run(page, second)

    # 9. Compare the two.
    page.locator(f"#cmp-{first}").check()
    page.locator(f"#cmp-{second}").check()
    page.get_by_role("button", name="Compare the ticked runs").click()
    page.wait_for_url(re.compile(r"/runs/compare\?"))
    expect(page.locator("#compare-chart img")).to_be_visible()
    assert_accessible(page)

    # 10-11. Approve the first from the comparison: reasons only where something changes.
    page.get_by_role("link", name=f"Approve run {first}").click()
    page.wait_for_url(re.compile(rf"/runs/{first}/approve$"))
    assert_accessible(page)
    rows = page.locator("#changes tbody tr")
    for i in range(rows.count()):
        reason = rows.nth(i).locator('input[name^="reason."]')
        if reason.count() and not reason.input_value():
            reason.fill(f"Walk reason {i + 1}")
    page.get_by_role("button", name="Approve this allocation").click()
    page.wait_for_url(HOME)
    _banner(page, f"Run {first} approved as the {QUARTER} allocation.")

    # 12. Delivery confidence: an override with its published justification.
    rag = page.locator("#rag-form")
    rag.get_by_label("Amber", exact=True).check()
    rag.get_by_label("Justification (published)", exact=True).fill(
        "Walk: two first-of-a-kind plants are late"
    )
    rag.get_by_role("button", name="Save rating").click()
    page.wait_for_url(HOME)
    _banner(page, "Delivery confidence")
    assert_accessible(page)

    # 13-14. Publish the drafted letter: asked first.
    page.locator("#update-form").get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Publish the update for {QUARTER}?")
    assert_accessible(page)
    page.locator("#confirm-form").get_by_role("button").click()
    page.wait_for_url(HOME)
    _banner(page, "published")

    # 15-16. Close the quarter: asked first.
    page.get_by_role("button", name=f"Close {QUARTER}", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Close {QUARTER}?")
    assert_accessible(page)
    page.locator("#confirm-form").get_by_role("button").click()
    page.wait_for_url(HOME)
    _banner(page, f"{QUARTER} is closed")
    expect(page.locator("#task-close")).to_have_attribute("data-status", "completed")
    expect(page.locator("#next-quarter")).to_contain_text(NEXT)
    assert_accessible(page)
    _clean(page, browser_log)

    counted = "\n".join([f"{len(steps.loads)} page steps:", *steps.loads])
    assert steps.loads[0].startswith("GET ") and steps.loads[0].endswith("/"), counted
    assert sum(load.startswith("POST ") for load in steps.loads) >= 10, counted  # it counts
    assert len(steps.loads) <= MAX_STEPS, counted
