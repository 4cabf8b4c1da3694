"""The blind rule and a member's progress, each decided once and read the same way by the pages
and the JSON routes: ``council.quarter_view`` / ``council.candidate_view`` (over
``council_round.hidden_candidates``) and ``council_round.progress`` (``my_status``).

Each test goes through two entry points — the web page and its JSON twin, or the two views —
and asserts the same answer. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login

from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import Role
from portfolio.services import council

QUARTER = "2026-27 Q3"  # the demo's open quarter; its scoring round is open
MEMBER = "council6"  # has scored nothing in the open round
CANDIDATE = "northsea-hefa"  # council1 and others have submitted it; council6 has not


def soup(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


Row = tuple[str, str, float | str | None]
"""A member's score of an option: (member's name, option's name, p — or "not competent")."""


def _p(text: str) -> float | str | None:
    if text.startswith("Not competent"):
        return "not competent"
    return None if text == "–" else round(float(text), 2)


def page_scores(client: TestClient, candidate: str) -> set[Row] | None:
    """The candidate's scoring page's "Each member's scores" rows, or None when the page shows
    the blind notice instead."""
    page = soup(client.get(f"/missions/{DEMO}/scoring/{candidate}"))
    table = page.select_one("#member-scores")
    if table is None:
        assert page.select_one("#blind-notice") is not None
        assert page.select_one("#candidate-aggregate") is None
        return None
    assert page.select_one("#blind-notice") is None
    rows = set()
    for row in table.select("tbody tr"):
        cells = row.select("td")
        member = str(cells[0].contents[0]).strip()  # the name; the sector is under it
        rows.add((member, cells[1].get_text(strip=True), _p(cells[2].get_text(strip=True))))
    return rows


def api_scores(client: TestClient, candidate: str) -> set[Row] | None:
    """The same rows from ``GET /api/v1/…/scoring/{candidate}`` (None on its 403), named as the
    page names members and options."""
    response = client.get(f"/api/v1/missions/{DEMO}/scoring/{candidate}")
    if response.status_code == 403:
        return None
    assert response.status_code == 200, response.text
    body = response.json()
    options = {
        o["id"]: o["name"]
        for o in client.get(f"/api/v1/missions/{DEMO}/candidates/{candidate}").json()["options"]
    }
    with SqlUnitOfWork(client.app.state.engine) as uow:  # type: ignore[attr-defined]
        names = council.member_names(uow, {s["member"] for s in body["scores"]})
    return {
        (
            names[s["member"]],
            options[s["option"]],
            "not competent"
            if s["not_competent"]
            else (None if s["p_success"] is None else round(s["p_success"], 2)),
        )
        for s in body["scores"]
    }


def page_aggregate_candidates(client: TestClient) -> set[str]:
    page = soup(client.get(f"/missions/{DEMO}/scoring"))
    return {r["data-candidate"] for r in page.select("#aggregates tr[data-candidate]")}


def api_aggregate_candidates(client: TestClient) -> set[str]:
    return {a["candidate"] for a in client.get(f"/api/v1/missions/{DEMO}/aggregates").json()}


def page_status(client: TestClient, candidate: str) -> tuple[str, str]:
    """The member's status of ``candidate`` on the scoring round's page and on its own page."""
    listing = soup(client.get(f"/missions/{DEMO}/scoring"))
    row = listing.select_one(f'#my-scores tr[data-candidate="{candidate}"]')
    assert row is not None
    on_list = row.select(".govuk-tag")[0].get_text(strip=True)
    own = soup(client.get(f"/missions/{DEMO}/scoring/{candidate}")).select_one(
        "#my-status .govuk-tag"
    )
    assert own is not None
    return on_list, own.get_text(strip=True)


def api_status(client: TestClient, candidate: str) -> tuple[str, str]:
    """The member's status of ``candidate`` from the round route and from their own scores."""
    on_round = client.get(f"/api/v1/missions/{DEMO}/scoring").json()["my_status"][candidate]
    mine = client.get(f"/api/v1/missions/{DEMO}/scoring/{candidate}/mine").json()["status"]
    return str(on_round), str(mine)


def submit_on_the_form(client: TestClient, csrf: str, candidate: str, **extra: str) -> None:
    page = soup(client.get(f"/missions/{DEMO}/scoring/{candidate}"))
    version = page.select_one("input[name=version]")["value"]
    data: dict[str, str] = {"action": "submit", "csrf_token": csrf, "version": version, **extra}
    if "not_competent" not in extra:
        options = client.get(f"/api/v1/missions/{DEMO}/candidates/{candidate}").json()["options"]
        for i, _ in enumerate(options):
            p = f"options.{i}"
            data.update(
                {
                    f"{p}.p_success": "0.35",
                    f"{p}.trl": "4",
                    f"{p}.confidence": "medium",
                    f"{p}.cost.low": "5",
                    f"{p}.cost.most_likely": "7",
                    f"{p}.cost.high": "12",
                    f"{p}.impact.low": "0.1",
                    f"{p}.impact.most_likely": "0.4",
                    f"{p}.impact.high": "1",
                }
            )
    response = client.post(
        f"/missions/{DEMO}/scoring/{candidate}", data=data, follow_redirects=False
    )
    assert response.status_code == 303, response.text[:800]


def test_a_member_sees_the_same_scores_on_the_page_and_through_the_api_before_and_after_submitting(
    client: TestClient,
) -> None:
    csrf = login(client, MEMBER)
    # before: hidden everywhere, the same way
    assert page_scores(client, CANDIDATE) is None
    assert api_scores(client, CANDIDATE) is None
    assert CANDIDATE not in page_aggregate_candidates(client)
    assert page_aggregate_candidates(client) == api_aggregate_candidates(client)
    detail = client.get(f"/api/v1/missions/{DEMO}/scoring/{CANDIDATE}").json()["detail"]
    assert detail == str(
        council.blind_refusal(council.Viewer(MEMBER, frozenset({Role.council_member})))
    )

    submit_on_the_form(client, csrf, CANDIDATE)

    # after: the same scores (the others' submitted ones and the member's own) on both
    on_page, in_api = page_scores(client, CANDIDATE), api_scores(client, CANDIDATE)
    assert on_page is not None and in_api is not None
    assert on_page == in_api
    with SqlUnitOfWork(client.app.state.engine) as uow:  # type: ignore[attr-defined]
        me = council.member_names(uow, [MEMBER])[MEMBER]
    assert {row[0] for row in on_page} > {me}  # others' scores are there, and the member's own
    assert CANDIDATE in page_aggregate_candidates(client)
    assert page_aggregate_candidates(client) == api_aggregate_candidates(client)


def test_a_member_declared_not_competent_has_the_same_status_on_the_pages_and_in_the_api(
    client: TestClient,
) -> None:
    csrf = login(client, MEMBER)
    assert page_status(client, CANDIDATE) == ("Not started", "Not started")
    assert api_status(client, CANDIDATE) == ("not started", "not started")
    submit_on_the_form(client, csrf, CANDIDATE, not_competent="yes")
    assert page_status(client, CANDIDATE) == ("Not competent", "Not competent")
    assert api_status(client, CANDIDATE) == ("not competent", "not competent")
    # "not competent" is done: the blind rule is lifted on the page and in the API alike
    on_page, in_api = page_scores(client, CANDIDATE), api_scores(client, CANDIDATE)
    assert on_page is not None and on_page == in_api


def test_the_quarter_view_and_the_candidate_view_hide_the_same_candidates(
    client: TestClient,
) -> None:
    """Every member's, the CEO's and Treasury's view: a candidate is hidden by the candidate's
    view exactly when the quarter's view hides it, and its progress is the same in both."""
    with SqlUnitOfWork(client.app.state.engine) as uow:  # type: ignore[attr-defined]
        viewers = [
            council.Viewer(m.username, frozenset({Role.council_member}))
            for m in uow.missions.council(DEMO)
        ]
        viewers += [
            council.Viewer("ceo", frozenset({Role.mission_ceo})),
            council.Viewer("treasury", frozenset({Role.treasury_reviewer})),
        ]
        candidates = uow.candidates.all(DEMO)
        some_hidden = False
        for viewer in viewers:
            quarter = council.quarter_view(uow, DEMO, QUARTER, viewer)
            shown = {r.candidate.id for r in quarter.rows}
            assert shown == {c.id for c in candidates} - quarter.hidden
            for candidate in candidates:
                one = council.candidate_view(uow, DEMO, QUARTER, viewer, candidate)
                assert one.hidden == (candidate.id in quarter.hidden)
                assert one.status == quarter.status.get(candidate.id)
                assert (one.aggregate is None) == one.hidden
            some_hidden = some_hidden or quarter.blind
            if viewer.oversees:
                assert not quarter.hidden and not quarter.status
    assert some_hidden, "the demo's open round hides something from someone"
