"""The Treasury reviewer's allocation report in headless Chromium: every chart renders from its SVG
endpoint, the four downloads arrive through their links and open, a review comment is added and
listed, the page is screenshotted and prints to an A4 PDF; then an axe-core accessibility check of
the report and the dashboard, as the Treasury reviewer and as the Mission CEO.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from playwright.sync_api import Page, Response, expect
from support import DEMO

from portfolio.services.allocation_report import FundingLine

from .conftest import (
    ARTIFACTS,
    BrowserLog,
    axe_violations,
    csp_violations,
    describe_violations,
    serve_axe,
    sign_in,
)

QUARTER = "2026-27-Q2"
REPORT = f"/missions/{DEMO}/report?quarter={QUARTER}"
DASHBOARD = f"/missions/{DEMO}"
SHEETS = ["Allocation", "Spend by envelope and year", "Flags", "Changes"]
COMMENT = "Browser test: the hydrogen envelope's FY2027-28 headroom looks thin"


def _assert_clean(page: Page, log: BrowserLog) -> None:
    """No CSP violation on the current document, no console error or uncaught exception so far."""
    assert csp_violations(page) == [], page.url
    assert log.console_errors == [], page.url
    assert log.page_errors == [], page.url


def _assert_charts_rendered(page: Page, responses: list[Response]) -> None:
    """Every chart image has loaded, from a non-empty image/svg+xml response."""
    images = page.locator(".app-chart img")
    count = images.count()
    assert count > 0, "the report shows no chart"
    for i in range(count):
        image = images.nth(i)
        expect(image).to_have_attribute("alt", re.compile(r"\S"))
        image.scroll_into_view_if_needed()  # never lazy, but make sure it is decoded
        loaded = image.evaluate(
            "img => img.decode().then(() => img.complete && img.naturalWidth > 0, () => false)"
        )
        src = image.evaluate("img => img.currentSrc || img.src")
        assert loaded, f"chart {src} did not render"
        # the address names the chart's data (v: their key), so a drawing is kept for them
        assert re.search(
            rf"/missions/{DEMO}/report/charts/\w+\.svg\?quarter={QUARTER}&v=[0-9a-f]{{64}}$", src
        ), src
        matching = [r for r in responses if r.url == src]
        assert matching, f"no response seen for {src}"
        response = matching[-1]
        assert response.status == 200, (src, response.status)
        assert response.headers["content-type"].startswith("image/svg+xml"), (
            src,
            response.headers,
        )
        body = response.body()
        assert body.strip(), f"{src} is empty"
        assert b"<svg" in body, src


def _download(page: Page, link_name: str, folder: Path) -> tuple[str, Path]:
    """Click a download link in #downloads; return the suggested file name and the saved file."""
    link = page.locator("#downloads").get_by_role("link", name=link_name, exact=True)
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.failure() is None, (link_name, download.failure())
    path = folder / download.suggested_filename
    download.save_as(path)
    assert path.stat().st_size > 0, link_name
    return download.suggested_filename, path


def test_the_treasury_reviewer_reads_downloads_comments_and_prints_the_report(
    page: Page, browser_log: BrowserLog, tmp_path: Path
) -> None:
    sign_in(page, "treasury")
    responses: list[Response] = []
    page.on("response", lambda r: responses.append(r))
    response = page.goto(REPORT)
    assert response is not None and response.status == 200
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_contain_text("2026-27 Q2")
    expect(page.locator("#funding")).to_be_visible()

    # 1. Every chart renders from a non-empty SVG.
    _assert_charts_rendered(page, responses)
    _assert_clean(page, browser_log)

    # 2. The four downloads, through their links.
    problem_href = page.locator("#downloads").get_by_role("link", name="Problem file (JSON)")
    run_match = re.search(r"/runs/(\d+)/problem\.json$", problem_href.get_attribute("href") or "")
    assert run_match, problem_href.get_attribute("href")
    run_id = int(run_match.group(1))

    name, path = _download(page, "Allocation (CSV)", tmp_path)
    assert name == f"{DEMO}-{QUARTER}-allocation.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[0] == list(FundingLine.model_fields), rows[0]
    assert len(rows) > 1, "the CSV has a header and no allocation rows"

    name, path = _download(page, "Allocation workbook (Excel)", tmp_path)
    assert name == f"{DEMO}-{QUARTER}-allocation.xlsx"
    assert openpyxl.load_workbook(path, read_only=True).sheetnames == SHEETS
    frames = pd.read_excel(path, sheet_name=None)
    assert list(frames) == SHEETS
    assert len(frames["Allocation"]) == len(rows) - 1

    documents: dict[str, Any] = {}
    for kind in ("problem", "result"):
        name, path = _download(page, f"{kind.capitalize()} file (JSON)", tmp_path)
        assert name == f"{DEMO}-run-{run_id}-{kind}.json"
        documents[kind] = json.loads(path.read_text(encoding="utf-8"))
        assert documents[kind]["format"] == f"mission-portfolio/{kind}", documents[kind].get(
            "format"
        )
    _assert_clean(page, browser_log)

    # 3. A review comment, added and listed.
    form = page.locator("#comment-form")
    form.get_by_label("Add a review comment", exact=True).fill(COMMENT)
    form.get_by_role("button", name="Add comment").click()
    page.wait_for_url(re.compile(rf"/report\?quarter={QUARTER}#comments$"))
    comment = page.locator(".app-comment").filter(has_text=COMMENT)
    expect(comment).to_have_count(1)
    expect(comment).to_contain_text("treasury")
    _assert_clean(page, browser_log)

    # 4. A screenshot of the whole report, and the printed A4 version.
    page.wait_for_load_state("load")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"report-{QUARTER}.png"), full_page=True)

    page.emulate_media(media="print")
    expect(page.locator("#downloads")).to_be_hidden()
    expect(page.locator("#comment-form")).to_be_hidden()
    expect(page.locator("#funding")).to_be_visible()
    pdf = ARTIFACTS / "report.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-"), data[:16]
    assert len(data) > 10_000, len(data)
    _assert_clean(page, browser_log)


# ---- Accessibility -----------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["treasury", "ceo"])
def test_axe_finds_no_serious_or_critical_violation_on_the_report_and_dashboard(
    page: Page, browser_log: BrowserLog, username: str
) -> None:
    serve_axe(page)
    sign_in(page, username)
    found: list[str] = []
    for url in (REPORT, DASHBOARD):
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        page.wait_for_load_state("load")
        violations = axe_violations(page)
        if violations:
            found.append(describe_violations(f"{username} {url}", violations))
        _assert_clean(page, browser_log)
    assert not found, "axe-core found serious or critical violations:\n" + "\n".join(found)
