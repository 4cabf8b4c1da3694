"""A whole quarter as the Mission CEO in headless Chromium: record evidence on a candidate,
rebalance with a lock and a tighter platform share (the solve runs in the background and the run
page refreshes itself), run a second variant, compare the two, approve one with a reason for every
change, publish the drafted update, then open the public page signed out.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect
from support import DEMO

from .conftest import ARTIFACTS, BrowserLog, assert_accessible, csp_violations, serve_axe, sign_in

QUARTER = "2026-27 Q3"
PUBLIC_QUARTER = "2026-27-Q3"
LOCKED = "lh2-tank"  # a cheap moonshot the demo's existing Q3 run does not fund
SOLVE_TIMEOUT_MS = 120_000
LOCK_REASON = "Browser test: the tank demonstrator is a ministerial commitment"
FINAL = re.compile(r"^\s*(Optimal|Feasible|Infeasible|Error|Failed)\s*$")


def _assert_clean(page: Page, log: BrowserLog) -> None:
    """axe-core finds no serious or critical violation and no CSP violation on the current
    document; no console error or uncaught exception so far."""
    assert csp_violations(page) == [], page.url
    assert log.console_errors == [], page.url
    assert log.page_errors == [], page.url
    assert_accessible(page)


def _posterior(page: Page) -> float:
    return float(page.locator(".app-posterior").first.inner_text())


def _start_run(
    page: Page, *, platform_share: str, note: str, lock: dict[str, Any] | None = None
) -> int:
    """Fill the rebalancing form on the runs page, submit it, and wait for a final status."""
    page.goto(f"/missions/{DEMO}/runs")
    form = page.locator("#run-form")
    form.locator('[name="objective"][value="expected"]').check()
    form.get_by_label("Largest share of spend on one platform (%)", exact=True).fill(platform_share)
    if lock is not None:
        form.get_by_text("Lock or exclude candidates", exact=True).click()
        form.get_by_label(f"Override for {lock['name']}", exact=True).select_option(
            label="Lock (must fund)"
        )
        form.get_by_label(f"Reason for the override of {lock['name']}", exact=True).fill(
            LOCK_REASON
        )
    form.get_by_text("Risk appetite, scenarios and solver", exact=True).click()
    form.get_by_label("Scenarios", exact=True).fill("300")
    form.get_by_label("Note (optional)", exact=True).fill(note)
    form.get_by_role("button", name="Run the optimiser").click()

    # back on the optimiser page, the new run marked; its own page shows the solve
    page.wait_for_url(re.compile(rf"/missions/{DEMO}/runs\?started=\d+"))
    run_id = int(page.url.split("started=", 1)[1].split("#")[0])
    expect(page.locator("#success-banner")).to_contain_text(f"Run {run_id} started")
    page.goto(f"/missions/{DEMO}/runs/{run_id}")
    # The run page refreshes itself (meta refresh every 2 s) until the background solve ends.
    status = page.locator("h1 .govuk-tag")
    expect(status).to_have_text(FINAL, timeout=SOLVE_TIMEOUT_MS)
    expect(status).to_have_text(re.compile(r"Optimal|Feasible"))
    expect(page.locator("#progress")).to_have_count(0)
    expect(page.locator("#allocation")).to_be_visible()
    # how close to the best the solve proved its portfolio, in words (optimiser.optimality)
    expect(page.locator("#optimality")).to_contain_text(re.compile(r"^(Not p|P)roven best"))
    expect(page.locator("#assumptions")).to_contain_text(
        f"at most {platform_share} % on one platform"
    )
    expect(page.locator("#assumptions")).to_contain_text("Scenarios300")
    return run_id


def test_the_ceo_walks_a_whole_quarter_and_the_public_sees_the_update(
    page: Page, browser_log: BrowserLog
):
    serve_axe(page)
    sign_in(page, "ceo")
    response = page.request.get(f"/api/v1/missions/{DEMO}/candidates")
    assert response.status == 200, response.text()
    candidates = {c["id"]: c for c in response.json()}
    locked = candidates[LOCKED]
    sensitive = [c["name"] for c in candidates.values() if c.get("commercially_sensitive")]

    # 1. Evidence: a milestone met raises the candidate's posterior p.
    page.goto(f"/missions/{DEMO}/candidates/{LOCKED}")
    expect(page.get_by_role("heading", level=1)).to_have_text(locked["name"])
    before = _posterior(page)
    page.get_by_text(f"Record evidence ({QUARTER})", exact=True).click()
    evidence = page.locator("#evidence-form")
    evidence.get_by_label("Milestone met", exact=True).check()
    evidence.get_by_label("Summary", exact=True).fill("Browser test: tank passed its burst test")
    evidence.get_by_label("Diagnosticity (milestones)", exact=True).fill("2")
    evidence.get_by_role("button", name="Record evidence").click()
    page.wait_for_url(re.compile(rf"/candidates/{LOCKED}#belief$"))
    expect(page.locator("#evidence")).to_contain_text("Browser test: tank passed its burst test")
    expect(page.locator("#evidence")).to_contain_text(QUARTER)
    after = _posterior(page)
    assert after > before, (before, after)
    _assert_clean(page, browser_log)

    # 2. Rebalance with a lock and a tighter platform share; then a second, tighter variant.
    first = _start_run(page, platform_share="35", note="Browser test: lock, 35 %", lock=locked)
    expect(page.locator("#allocation")).to_contain_text(locked["name"])
    _assert_clean(page, browser_log)

    page.goto(f"/missions/{DEMO}/runs")
    # The form starts from the last run: the lock and its reason are kept.
    expect(page.locator(f'[name="override.{LOCKED}"]')).to_have_value("lock")
    expect(page.locator(f'[name="override_reason.{LOCKED}"]')).to_have_value(LOCK_REASON)
    second = _start_run(page, platform_share="30", note="Browser test: lock, 30 %")
    expect(page.locator("#allocation")).to_contain_text(locked["name"])
    _assert_clean(page, browser_log)

    # 3. Compare the two runs from the list.
    page.goto(f"/missions/{DEMO}/runs")
    runs = page.locator("#runs tbody tr")
    for run_id in (first, second):
        expect(runs.filter(has_text=f"Run {run_id}")).to_contain_text(QUARTER)
        page.locator(f"#cmp-{run_id}").check()
    page.get_by_role("button", name="Compare the ticked runs").click()
    page.wait_for_url(re.compile(r"/runs/compare\?"))
    # The list is newest first, so the newer run is ticked first and shown on the left.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Run {second} and run {first} side by side"
    )
    allocation = page.locator("#compare-allocation")
    expect(allocation).to_be_visible()
    assert allocation.locator("tbody tr").count() > 0
    locked_row = allocation.locator(f'tr[data-candidate="{LOCKED}"]')
    expect(locked_row).to_have_count(1)
    expect(locked_row).not_to_contain_text("not funded")
    expect(page.locator("#compare-metrics")).to_contain_text("P(target), out of sample")
    for run_id in (first, second):  # how close to the best each solve is, in a few words
        expect(page.locator(f'#compare-optimality td[data-run="{run_id}"]')).to_have_text(
            re.compile(r"^(Not p|P)roven best")
        )
    policy = page.locator("#compare-policy")
    expect(policy).to_contain_text("35 %")
    expect(policy).to_contain_text("30 %")
    _assert_clean(page, browser_log)

    # 4. Approve the first run, with a reason for every change.
    page.goto(f"/missions/{DEMO}/runs/{first}")
    page.get_by_role("link", name="Approve as the quarter's allocation").click()
    page.wait_for_url(re.compile(rf"/runs/{first}/approve$"))
    reasons = page.locator('#approve-form input[name^="reason."]')
    assert reasons.count() > 0
    for i in range(reasons.count()):
        reasons.nth(i).fill(f"Browser test reason {i + 1}")
    expect(page.locator(f'#changes tr[data-candidate="{LOCKED}"]')).to_contain_text("Start")
    page.get_by_role("button", name="Approve this allocation").click()
    page.wait_for_url(re.compile(r"/quarters/2026-27(%20| )Q3$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Quarter {QUARTER}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Approved")
    expect(page.locator("#approved")).to_contain_text(f"Run {first}")
    changes = page.locator("#quarter-changes")
    expect(changes.locator("tbody tr").filter(has_text=locked["name"])).to_contain_text(
        re.compile(r"Start.*Browser test reason \d+", re.DOTALL)
    )
    expect(page.locator("#rag-wording")).to_be_visible()
    _assert_clean(page, browser_log)

    # 5. Publish the drafted update (publishing asks first: it is public at once).
    body = page.locator("#update-form textarea[name='body']")
    expect(body).not_to_be_empty()
    page.locator("#update-form").get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Publish the update for {QUARTER}?")
    page.get_by_role("button", name="Publish the update", exact=True).click()
    page.wait_for_url(re.compile(r"#update$"))
    expect(page.get_by_text(re.compile(r"Published .* by ceo"))).to_be_visible()
    expect(page.locator("#update-form")).to_have_count(0)
    expect(page.get_by_role("link", name="public page")).to_have_attribute(
        "href", f"/missions/{DEMO}/updates/{PUBLIC_QUARTER}"
    )
    _assert_clean(page, browser_log)

    # 6. Sign out and read the update as the public.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    response = page.goto(f"/missions/{DEMO}/updates/{PUBLIC_QUARTER}")
    assert response is not None and response.status == 200
    assert "/login" not in page.url
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text(QUARTER)
    letter = page.locator("#letter")
    expect(letter).to_be_visible()
    assert len(letter.inner_text().split()) > 50
    expect(page.locator("#public-rag")).to_be_visible()
    expect(page.locator("#public-rag")).to_contain_text("Delivery confidence")
    expect(page.locator("#public-platforms tbody tr").first).to_be_visible()
    for name in sensitive:
        expect(page.locator("main")).not_to_contain_text(name)

    for text, kind in (("CSV", "text/csv"), ("JSON", "application/json")):
        href = page.get_by_role("link", name=text, exact=True).get_attribute("href")
        assert href == f"/missions/{DEMO}/updates/{PUBLIC_QUARTER}/allocation.{text.lower()}"
        data = page.request.get(href)
        assert data.status == 200, (href, data.status)
        assert data.headers["content-type"].startswith(kind), data.headers
        assert locked["name"] in data.text(), href
        for name in sensitive:
            assert name not in data.text(), (href, name)

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"public-update-{PUBLIC_QUARTER}.png"), full_page=True)
    _assert_clean(page, browser_log)
