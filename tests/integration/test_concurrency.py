"""No lost updates: of concurrent editors the second is told, never silently overwritten —
with two browser-like sessions, and with N parallel writers against PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login

from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict
from portfolio.services import missions as services


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


def test_the_same_member_in_two_windows_is_told_before_overwriting_a_draft(app):
    url = f"/missions/{DEMO}/scoring/ev-trainer"
    with TestClient(app) as tab_a, TestClient(app) as tab_b:
        csrf_a, csrf_b = login(tab_a, "council6"), login(tab_b, "council6")
        version_a = BeautifulSoup(tab_a.get(url).text, "html.parser").select_one(
            "input[name=version]"
        )["value"]
        version_b = BeautifulSoup(tab_b.get(url).text, "html.parser").select_one(
            "input[name=version]"
        )["value"]
        first = tab_a.post(
            url,
            data={
                "options.0.p_success": "0.3",
                "action": "draft",
                "version": version_a,
                "csrf_token": csrf_a,
            },
            follow_redirects=False,
        )
        assert first.status_code == 303
        second = tab_b.post(
            url,
            data={
                "options.0.p_success": "0.7",
                "action": "draft",
                "version": version_b,
                "csrf_token": csrf_b,
            },
        )
        assert second.status_code == 422 and "another window" in second.text
        kept = BeautifulSoup(second.text, "html.parser").select_one("#f-options-0-p_success")
        assert kept["value"] == "0.7"


def test_approving_over_someone_elses_approval_is_refused(db_url: str):
    from api.app import create_app
    from api.settings import Settings

    inline = create_app(Settings(database_url=db_url, secret_key="x" * 40, run_jobs_inline=True))
    with TestClient(inline) as client:
        csrf = login(client, "ceo")
        runs = []
        for share in (0.5, 0.4):
            started = client.post(
                f"/api/v1/missions/{DEMO}/runs",
                headers={"X-CSRF-Token": csrf},
                json={
                    "policy": {"objective": "expected", "max_platform_share": share},
                    "scenarios": 200,
                },
            )
            runs.append(started.json()["id"])
        pages = [
            BeautifulSoup(client.get(f"/missions/{DEMO}/runs/{r}/approve").text, "html.parser")
            for r in runs
        ]

        def submit(page: BeautifulSoup, run_id: int):
            data = {i["name"]: "reason" for i in page.select("#changes input[type=text]")}
            data["expected_approved"] = page.select_one("input[name=expected_approved]")["value"]
            data["csrf_token"] = csrf
            return client.post(
                f"/missions/{DEMO}/runs/{run_id}/approve", data=data, follow_redirects=False
            )

        assert submit(pages[0], runs[0]).status_code == 303
        late = submit(pages[1], runs[1])
        assert late.status_code == 422 and "approved another allocation" in late.text
    inline.state.engine.dispose()
