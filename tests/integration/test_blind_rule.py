"""The blind rule holds on every page and route that can show a score (issue 16, finding 1).

The attack: a council member who has not scored a candidate records a stage-gate outcome on it
(council members may record evidence) and opens another member's calibration page; the Brier
column used to give that member's probability for the candidate in the *open* round. The same
happened without any trick whenever the CEO recorded a stage gate during an open round. Now the
forecasting record counts only forecasts of rounds that are over, resolved by an outcome recorded
after them, and the scoring pages and the API decide visibility with one function
(``council.hidden_candidates``). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import DEMO, login

from portfolio.adapters import database
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import Evidence, EvidenceKind, Quarter, Role, ScoreStatus
from portfolio.services import council

QUARTER = "2026-27 Q3"  # the demo's open quarter; its scoring round is open
TARGET = "northsea-hefa"  # council1 has submitted it this quarter; council6 has not scored


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = database.make_engine(db_url)
    yield engine
    engine.dispose()


def soup(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def open_round_p(engine: Engine, member: str, candidate: str) -> float:
    """``member``'s submitted p for the first option of ``candidate`` in the open round: the
    secret the attack was after."""
    with SqlUnitOfWork(engine) as uow:
        first = uow.candidates.get(DEMO, candidate).options[0].id
        (score,) = [
            s
            for s in uow.scores.all(DEMO, QUARTER)
            if s.member == member and s.candidate == candidate and s.option == first
        ]
    assert score.status is ScoreStatus.submitted and score.p_success is not None
    return score.p_success


def page_forecasts(client: TestClient, member: str) -> list[list[str]]:
    """The rows of the "Forecasts and outcomes" table of ``member``'s calibration page."""
    page = soup(client.get(f"/missions/{DEMO}/council/members/{member}"))
    rows = [
        [td.get_text(" ", strip=True) for td in r.select("td")]
        for r in page.select("#forecasts tr")
    ]
    return [r for r in rows if len(r) == 5]


def record_stage_gate(client: TestClient, csrf: str, candidate: str, outcome: str) -> None:
    response = client.post(
        f"/missions/{DEMO}/candidates/{candidate}/evidence",
        data={
            "kind": "stage_gate",
            "summary": "Gate 2 decided",
            "outcome": outcome,
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]


def name_of(client: TestClient, candidate: str) -> str:
    return str(client.get(f"/api/v1/missions/{DEMO}/candidates/{candidate}").json()["name"])


def assert_no_open_round_forecast(client: TestClient, member: str, p: float) -> None:
    rows = page_forecasts(client, member)
    assert rows, "the demo's closed rounds give every member resolved forecasts"
    assert all(row[1] != QUARTER for row in rows), rows
    target = [row for row in rows if row[0].startswith(name_of(client, TARGET))]
    # the open round's p and its squared error are nowhere in the candidate's rows
    assert all(row[1] < QUARTER for row in target)
    record = client.get(f"/api/v1/missions/{DEMO}/council/members/{member}").json()
    assert all(f["quarter"] != QUARTER for f in record["forecasts"])
    assert not any(
        f["candidate"] == TARGET and f["p"] == p and f["quarter"] == QUARTER
        for f in record["forecasts"]
    )


def test_a_member_recording_a_stage_gate_cannot_read_an_open_round_score_on_a_member_page(
    client: TestClient, engine: Engine
) -> None:
    secret = open_round_p(engine, "council1", TARGET)
    csrf = login(client, "council6")
    assert client.get(f"/api/v1/missions/{DEMO}/scoring/{TARGET}").status_code == 403
    record_stage_gate(client, csrf, TARGET, "succeeded")  # the trick
    assert_no_open_round_forecast(client, "council1", secret)
    brier = soup(client.get(f"/missions/{DEMO}/council/members/council1")).select_one("#brier")
    assert brier is not None
    record = client.get(f"/api/v1/missions/{DEMO}/council/members/council1").json()
    # the Brier score is exactly the mean over the listed (closed-round) forecasts
    listed = [(f["p"] - (1 if f["outcome"] else 0)) ** 2 for f in record["forecasts"]]
    assert record["calibration"]["brier"] == pytest.approx(sum(listed) / len(listed))
    assert float(brier.get_text(strip=True)) == round(record["calibration"]["brier"], 3)
    # and the blind rule still refuses the scores themselves
    assert client.get(f"/api/v1/missions/{DEMO}/scoring/{TARGET}").status_code == 403


def test_a_ceo_stage_gate_in_an_open_round_reveals_nothing_and_resolves_only_later(
    client: TestClient, engine: Engine
) -> None:
    secret = open_round_p(engine, "council1", TARGET)
    csrf = login(client, "ceo")
    record_stage_gate(client, csrf, TARGET, "failed")
    login(client, "council6")
    assert_no_open_round_forecast(client, "council1", secret)

    # closing the round lifts the blind rule, but an outcome recorded in the forecast's own
    # quarter may have been known when it was made: it still does not resolve it
    csrf = login(client, "ceo")
    closed = client.post(  # confirm=yes: the button of the confirmation page closing asks for
        f"/missions/{DEMO}/scoring/close",
        data={"csrf_token": csrf, "confirm": "yes"},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    login(client, "council6")
    assert client.get(f"/api/v1/missions/{DEMO}/scoring/{TARGET}").status_code == 200
    assert all(row[1] != QUARTER for row in page_forecasts(client, "council1"))

    # an outcome recorded in a later quarter resolves the closed round's forecast
    later = "2026-27 Q4"
    with SqlUnitOfWork(engine) as uow:
        uow.missions.set_quarter(DEMO, QUARTER, state="closed")
        uow.missions.add_quarter(DEMO, Quarter(label=later))
        uow.flush()
        uow.evidence.add(
            DEMO,
            Evidence(
                candidate=TARGET,
                quarter=later,
                kind=EvidenceKind.stage_gate,
                date=uow.now().date(),
                summary="Gate 3 failed",
                outcome=False,
            ),
        )
        uow.commit()
    rows = page_forecasts(client, "council1")
    resolved = [row for row in rows if row[1] == QUARTER]
    assert len(resolved) == 1 and resolved[0][0].startswith(name_of(client, TARGET))
    assert float(resolved[0][2]) == round(secret, 2)
    assert float(resolved[0][4]) == round(secret**2, 3)


def test_the_member_pages_and_the_json_routes_agree(client: TestClient) -> None:
    csrf = login(client, "council6")
    record_stage_gate(client, csrf, TARGET, "succeeded")
    names = {c["id"]: c["name"] for c in client.get(f"/api/v1/missions/{DEMO}/candidates").json()}
    records = client.get(f"/api/v1/missions/{DEMO}/council").json()
    assert [r["username"] for r in records] == [f"council{i}" for i in range(1, 8)]
    table = soup(client.get(f"/missions/{DEMO}/council")).select("#council-records tbody tr")
    for row, record in zip(table, records, strict=True):
        cells = [c.get_text(strip=True) for c in row.select("td")]
        # issue 18: the table names members as people read them, linking to their record
        link = f"/missions/{DEMO}/council/members/{record['username']}"
        assert row.select_one("a")["href"] == link
        assert cells[0] != record["username"]
        assert int(cells[2]) == record["calibration"]["n_resolved"] == len(record["forecasts"])
        brier = record["calibration"]["brier"]
        assert cells[3] == "–" if brier is None else float(cells[3]) == round(brier, 3)
        one = client.get(f"/api/v1/missions/{DEMO}/council/members/{record['username']}").json()
        assert one == record
        page = page_forecasts(client, record["username"])
        assert [(r[0], r[1], float(r[2])) for r in page] == [
            (f"{names[f['candidate']]} ({f['option']})", f["quarter"], round(f["p"], 2))
            for f in record["forecasts"]
        ]
    assert client.get(f"/api/v1/missions/{DEMO}/council/members/ceo").status_code == 404


@pytest.mark.parametrize("member", ["council4", "council5"])
def test_every_scoring_page_and_route_hides_the_same_candidates(
    client: TestClient, engine: Engine, member: str
) -> None:
    """council4 has submitted all but two candidates and council5 has only drafts: the scoring
    page, the candidate pages and the API hide the same candidates, those ``my_status`` says the
    member has not submitted (council6, who has not scored, is covered above)."""
    with SqlUnitOfWork(engine) as uow:
        status = council.my_status(
            uow, DEMO, QUARTER, council.Viewer(member, frozenset({Role.council_member}))
        )
    expected = {c for c, s in status.items() if s in council.DONE}
    login(client, member)
    page = soup(client.get(f"/missions/{DEMO}/scoring"))
    on_page = {r["data-candidate"] for r in page.select("#aggregates tr[data-candidate]")}
    in_api = {a["candidate"] for a in client.get(f"/api/v1/missions/{DEMO}/aggregates").json()}
    by_route = set()
    by_page = set()
    for candidate in status:
        code = client.get(f"/api/v1/missions/{DEMO}/scoring/{candidate}").status_code
        assert code in (200, 403)
        if code == 200:
            by_route.add(candidate)
        score_page = soup(client.get(f"/missions/{DEMO}/scoring/{candidate}"))
        if score_page.select_one("#blind-notice") is None:
            by_page.add(candidate)
    assert on_page == in_api == by_route == by_page == expected
    api_status = client.get(f"/api/v1/missions/{DEMO}/scoring").json()["my_status"]
    assert api_status == status
