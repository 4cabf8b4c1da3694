"""No lost updates: of concurrent editors the second is told, never silently overwritten —
with two browser-like sessions, and with N parallel writers against PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login

from portfolio import services
from portfolio.database import make_engine
from portfolio.errors import Conflict
from portfolio.unit_of_work import SqlUnitOfWork


def form_values(page: BeautifulSoup) -> dict[str, object]:
    data: dict[str, object] = {
        i["name"]: i.get("value", "")
        for i in page.select("form#main-form input, form input")
        if i.get("type") not in ("checkbox", "radio") and i.get("name")
    }
    data.update({t["name"]: t.get_text() for t in page.select("form textarea")})
    for box in page.select("form input[type=checkbox][checked]"):
        data.setdefault(box["name"], [])
        data[box["name"]].append(box["value"])  # type: ignore[union-attr]
    for radio in page.select("form input[type=radio][checked]"):
        data[radio["name"]] = radio["value"]
    selected = page.select("form select option[selected]")
    for option in selected:
        data[option.find_parent("select")["name"]] = option["value"]
    return data


def test_the_second_of_two_editors_is_told_and_keeps_their_input(app):
    with TestClient(app) as first, TestClient(app) as second:
        login(first, "council1")
        login(second, "council2")
        url = f"/missions/{DEMO}/candidates/lh2-tank/edit"
        a = form_values(BeautifulSoup(first.get(url).text, "html.parser"))
        b = form_values(BeautifulSoup(second.get(url).text, "html.parser"))
        a["name"], b["name"] = "Renamed by the first", "Renamed by the second"
        assert first.post(url, data=a, follow_redirects=False).status_code == 303
        refused = second.post(url, data=b)
        assert refused.status_code == 422
        assert "changed by someone else" in refused.text
        page = BeautifulSoup(refused.text, "html.parser")
        assert page.select_one("#f-name")["value"] == "Renamed by the second"
        stored = second.get(f"/api/v1/missions/{DEMO}/candidates/lh2-tank").json()
        assert stored["name"] == "Renamed by the first"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_parallel_writers_on_postgresql_lose_no_update(db_url: str):
    engine = make_engine(db_url, pool_size=10)
    with SqlUnitOfWork(engine) as uow:
        base = uow.candidates.get(DEMO, "lh2-tank")
        version = uow.candidates.version(DEMO, "lh2-tank")
    writers = 8
    barrier = threading.Barrier(writers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        with SqlUnitOfWork(engine) as uow:
            candidate = base.model_copy(update={"name": f"Writer {n}"})
            barrier.wait()
            try:
                services.update_candidate(uow, "ceo", DEMO, candidate, expected_version=version)
                uow.commit()
                result = f"ok {n}"
            except Conflict:
                result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o.startswith("ok")]
    assert len(winners) == 1 and outcomes.count("conflict") == writers - 1
    with SqlUnitOfWork(engine) as uow:
        assert uow.candidates.get(DEMO, "lh2-tank").name == f"Writer {winners[0][3:]}"
        assert uow.candidates.version(DEMO, "lh2-tank") == version + 1
        updates = [
            e
            for e in uow.audit.all(DEMO, entity="candidate", entity_id="lh2-tank")
            if e.action == "updated"
        ]
        assert len(updates) == 1  # the losers wrote nothing, not even an audit entry
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_parallel_writers_without_a_version_still_serialise(db_url: str):
    """Even writers that send no version cannot interleave: the row's version column makes the
    slower transaction fail rather than overwrite."""
    engine = make_engine(db_url, pool_size=10)
    with SqlUnitOfWork(engine) as uow:
        base = uow.candidates.get(DEMO, "ev-trainer")
    writers = 6
    barrier = threading.Barrier(writers)
    results: list[bool] = []

    def write(n: int) -> None:
        with SqlUnitOfWork(engine) as uow:
            row = uow.candidates.row(DEMO, "ev-trainer")  # read (version v)
            barrier.wait()
            try:
                changed = base.model_copy(update={"description": f"Rewritten by writer {n}"})
                uow.candidates.update(DEMO, changed, None)
                uow.commit()
                results.append(True)
            except Conflict:
                results.append(False)
            del row

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) >= 1
    with SqlUnitOfWork(engine) as uow:
        final = uow.candidates.version(DEMO, "ev-trainer")
    assert final - 1 == results.count(True)  # every success is one version step, none lost
    engine.dispose()
