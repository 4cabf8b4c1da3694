"""Analyses with every run, in headless Chromium: the CEO starts a run; its page refreshes itself
while it solves, then while its frontier, core index and price of policy run in the background
(started by the system, nobody asked), and ends showing each analysis in words with its chart.
The page passes axe-core.

The server is the live uvicorn of the fixtures with automatic analyses on (``settings`` below);
the run solves in the real solver process. The analyses' re-solves (5–20 s each here) are
replaced by results of the same shape (``fast_analyses``, as in
tests/integration/test_run_analyses.py): what is tested is the page, not the optimiser.
"""

from __future__ import annotations

import re

import pytest
from fake_analyses import fake_compute
from playwright.sync_api import Page, expect
from support import DEMO

from api.settings import Settings
from portfolio.services import analytics_jobs

from .conftest import BrowserLog, assert_accessible, csp_violations, serve_axe, sign_in

SECRET = "browser-analyses-secret-key-0123456789-abcdefgh"
WAIT_MS = 120_000  # the solver process starts, solves, then the analyses run


@pytest.fixture
def settings(db_url: str) -> Settings:
    """The live server of this module queues analyses when a run finishes (the product's
    default; the tests' default is off)."""
    return Settings(database_url=db_url, secret_key=SECRET, auto_analyses=True)


@pytest.fixture(autouse=True)
def fast_analyses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analytics_jobs, "compute", fake_compute)


def _start_run(page: Page) -> int:
    """The signed-in CEO starts a quick run through the API, as the optimiser form does."""
    page.goto("/account")
    csrf = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    response = page.request.post(
        f"/api/v1/missions/{DEMO}/runs",
        data={"policy": {"objective": "expected"}, "scenarios": 300, "seed": 3},
        headers={"X-CSRF-Token": str(csrf)},
    )
    assert response.status == 202, response.text()
    return int(response.json()["id"])


def test_the_run_page_shows_its_analyses_as_they_finish(page: Page, browser_log: BrowserLog):
    serve_axe(page)
    sign_in(page, "ceo")
    run_id = _start_run(page)
    page.goto(f"/missions/{DEMO}/runs/{run_id}")
    expect(page.locator(".govuk-breadcrumbs")).to_contain_text(f"Run {run_id}")

    # the page refreshes itself through the solve and the analyses, with nobody clicking
    section = page.locator("#analytics-table")
    for kind in ("frontier", "core", "price"):
        expect(section.locator(f'tr[data-kind="{kind}"]')).to_contain_text("Done", timeout=WAIT_MS)
        expect(section.locator(f'tr[data-kind="{kind}"]')).to_contain_text(
            "started automatically when the run finished"
        )
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_count(0)

    # each analysis in words, the frontier and the core index as charts
    expect(page.locator("#analysis-frontier")).to_contain_text(
        re.compile(r"P\(target\) is 20\.0 % at 50 % of the budget")
    )
    expect(page.locator("#analysis-core")).to_contain_text("funded almost always (core)")
    expect(page.locator("#analysis-price")).to_contain_text("The costliest rule is")
    for name in ("frontier", "core"):
        image = page.locator(f"#chart-{name} img")
        expect(image).to_have_attribute("alt", re.compile(r"\S"))
        loaded = image.evaluate(
            "img => img.decode().then(() => img.complete && img.naturalWidth > 0, () => false)"
        )
        assert loaded, f"the {name} chart did not render"

    # the policy as a table in words, never JSON
    page.locator("#run-policy summary").click()
    expect(page.locator("#policy")).to_contain_text("Largest share of spend on one platform")

    assert_accessible(page)
    assert csp_violations(page) == []
    assert browser_log.console_errors == [] and browser_log.page_errors == []
