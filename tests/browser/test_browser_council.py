"""The Expert Council's blind scoring round in headless Chromium: a member who has not scored yet
saves a draft, then scores two candidates through the real form, and sees the other members'
scores and the council's aggregate for a candidate only once they have submitted theirs.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect
from support import DEMO

from api.templating import field_id

from .conftest import BrowserLog, csp_violations, sign_in

MEMBER = "council6"  # has scored nothing in the open round of 2026-27 Q3
MEMBER_NAME = "Dr Kwame Asante-Boateng (public sector)"  # as the pages name council6


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _estimates(option: dict[str, Any], shift: float) -> dict[str, str]:
    """Plausible scores for an option, near what was registered (keys are the form's suffixes)."""
    cost = sum(option["cost_profile"].values())
    impact = option["impact"]
    p = min(max(option["p_success"] + shift, 0.05), 0.95)
    return {
        "p_success": _fmt(round(p, 2)),
        "cost.low": _fmt(round(cost * 0.8, 2)),
        "cost.most_likely": _fmt(round(cost, 2)),
        "cost.high": _fmt(round(cost * 1.5, 2)),
        "impact.low": _fmt(impact["low"]),
        "impact.most_likely": _fmt(impact["most_likely"]),
        "impact.high": _fmt(impact["high"]),
        "trl": "5",
        "rationale": f"Browser test: {option['name']} looks {'better' if shift > 0 else 'harder'}"
        " than registered.",
    }


def _fill_scores(page: Page, candidate: dict[str, Any], shift: float) -> list[dict[str, str]]:
    filled = []
    for i, option in enumerate(candidate["options"]):
        prefix = f"options.{i}"
        values = _estimates(option, shift)
        for key in (
            "p_success",
            "cost.low",
            "cost.most_likely",
            "cost.high",
            "impact.low",
            "impact.most_likely",
            "impact.high",
        ):
            page.locator(f'[name="{prefix}.{key}"]').fill(values[key])
        page.locator(f'select[name="{prefix}.trl"]').select_option(values["trl"])
        page.locator(f"#score-form fieldset#{field_id(prefix)}").get_by_label(
            "Medium", exact=True
        ).check()
        page.locator(f'[name="{prefix}.rationale"]').fill(values["rationale"])
        filled.append(values)
    return filled


def _expect_kept(page: Page, filled: list[dict[str, str]]) -> None:
    for i, values in enumerate(filled):
        prefix = f"options.{i}"
        for key, value in values.items():
            field = page.locator(f'[name="{prefix}.{key}"]')
            if key == "trl":
                field = page.locator(f'select[name="{prefix}.trl"]')
            expect(field).to_have_value(value)
        expect(page.locator(f'[name="{prefix}.confidence"][value="medium"]')).to_be_checked()


def _expect_blind(page: Page) -> None:
    expect(page.locator("#blind-notice")).to_be_visible()
    expect(page.locator("#member-scores")).to_have_count(0)
    expect(page.locator("#candidate-aggregate")).to_have_count(0)


def _submitted_status(page: Page, candidate: dict[str, Any]) -> Any:
    return page.locator("#my-scores tbody tr").filter(
        has=page.get_by_role("link", name=candidate["name"], exact=True)
    )


def test_a_member_scores_two_candidates_and_sees_the_aggregate_only_after_submitting(
    page: Page, browser_log: BrowserLog
):
    sign_in(page, MEMBER)

    # Two candidates with one or two options each, from the JSON API in the browser's session.
    response = page.request.get(f"/api/v1/missions/{DEMO}/candidates")
    assert response.status == 200, response.text()
    small = [c for c in response.json() if 1 <= len(c["options"]) <= 2]
    assert len(small) >= 2, [c["id"] for c in response.json()]
    first, second = small[0], small[1]

    # The round page: open, both candidates not started, neither's aggregate shown to this member.
    page.goto(f"/missions/{DEMO}/scoring")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"Council scoring round, 2026-27 Q3")
    )
    for candidate in (first, second):
        expect(_submitted_status(page, candidate)).to_contain_text("Not started")
        expect(page.locator(f'#aggregates tr[data-candidate="{candidate["id"]}"]')).to_have_count(0)

    # A draft keeps the typed values and shows nothing of the others.
    _submitted_status(page, first).get_by_role("link", name=first["name"], exact=True).click()
    page.wait_for_url(re.compile(rf"/missions/{DEMO}/scoring/{first['id']}\b"))
    expect(page.get_by_role("heading", level=1)).to_have_text(first["name"])
    _expect_blind(page)
    filled = _fill_scores(page, first, shift=0.05)
    page.get_by_role("button", name="Save draft", exact=True).click()
    page.wait_for_url(re.compile(rf"/scoring/{first['id']}$"))  # the banner, not ?saved=1
    expect(page.locator("#success-banner")).to_contain_text("Draft saved")
    _expect_kept(page, filled)
    _expect_blind(page)
    page.goto(f"/missions/{DEMO}/scoring")
    expect(_submitted_status(page, first)).to_contain_text("Draft")
    expect(page.locator(f'#aggregates tr[data-candidate="{first["id"]}"]')).to_have_count(0)

    # Submitting the first (from the kept draft) reveals its aggregate and the others' scores.
    page.goto(f"/missions/{DEMO}/scoring/{first['id']}")
    _expect_kept(page, filled)
    page.get_by_role("button", name="Submit scores", exact=True).click()
    page.wait_for_url(re.compile(rf"/scoring/{first['id']}$"))
    _expect_revealed(page, first, filled)

    # The second candidate: blind before, revealed after.
    page.goto(f"/missions/{DEMO}/scoring/{second['id']}")
    _expect_blind(page)
    filled_second = _fill_scores(page, second, shift=-0.05)
    page.get_by_role("button", name="Submit scores", exact=True).click()
    page.wait_for_url(re.compile(rf"/scoring/{second['id']}$"))
    _expect_revealed(page, second, filled_second)

    # Back on the round page both are submitted and their aggregates are listed.
    page.goto(f"/missions/{DEMO}/scoring")
    for candidate in (first, second):
        expect(_submitted_status(page, candidate)).to_contain_text("Submitted")
        rows = page.locator(f'#aggregates tr[data-candidate="{candidate["id"]}"]')
        expect(rows).to_have_count(len(candidate["options"]))
        expect(rows.first).not_to_contain_text("No submitted scores")

    assert csp_violations(page) == []
    assert browser_log.console_errors == []
    assert browser_log.page_errors == []


def _expect_revealed(page: Page, candidate: dict[str, Any], filled: list[dict[str, str]]) -> None:
    expect(page.locator("#blind-notice")).to_have_count(0)
    expect(page.locator("#score-form")).to_have_count(0)  # submitted scores are final
    aggregate = page.locator("#candidate-aggregate")
    expect(aggregate).to_be_visible()
    rows = aggregate.locator("tbody tr")
    expect(rows).to_have_count(len(candidate["options"]))
    for i, option in enumerate(candidate["options"]):
        expect(rows.nth(i)).to_contain_text(option["name"])
        expect(rows.nth(i)).not_to_contain_text("No submitted scores")
    scores = page.locator("#member-scores")
    expect(scores).to_be_visible()
    # The others' scores (council1, Dr Asha Patel, submitted everything) and this member's own,
    # with rationales, each under the member's name.
    expect(scores.locator("tbody tr").filter(has_text="Dr Asha Patel").first).to_be_visible()
    mine = scores.locator("tbody tr").filter(has_text=MEMBER_NAME)
    expect(mine).to_have_count(len(candidate["options"]))
    for i, values in enumerate(filled):
        expect(mine.nth(i)).to_contain_text(values["rationale"])
