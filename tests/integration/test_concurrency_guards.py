"""Races the database settles, on SQLite and PostgreSQL: a final submission stays final however
many arrive at once, no run lands in (or is approved in) a closed quarter however a close and run
starts interleave, and a change through the API or a web form always states the version it was
made on, so no update is lost."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from support import DEMO, login

from api.app import create_app
from optimiser.problem import Policy
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict
from portfolio.services import cycle, publication, runs
from portfolio.services import missions as services
from portfolio.services.quarters import current_quarter

MEMBER = "council6"  # has not scored the current quarter in the demo
POLICY = Policy(objective="expected", min_platforms=3)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url, pool_size=12, max_overflow=4)
    yield engine
    engine.dispose()


def together(*jobs: Callable[[], Any]) -> list[Any]:
    """Run the jobs on threads released at the same moment; each one's result or exception."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except Exception as exc:  # the test inspects what each got
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def token_for(engine: Engine, username: str) -> str:
    with SqlUnitOfWork(engine) as uow:
        token = services.new_api_token(uow, username, username, "concurrency test")
        uow.commit()
    return token


# -- finding 3: a final submission is final --------------------------------------------------------
def full_scores(options: list[str], p: float) -> dict[str, Any]:
    return {
        o: {
            "p_success": p,
            "cost": {"low": 5, "most_likely": 7, "high": 12},
            "impact": {"low": 0.1, "most_likely": 0.4, "high": 1},
            "trl": 4,
            "confidence": "medium",
            "rationale": f"submission with p = {p}",
        }
        for o in options
    }


@pytest.mark.parametrize("draft_first", [False, True], ids=["first-save", "over-a-draft"])
def test_of_eight_simultaneous_submissions_exactly_one_wins_and_the_others_get_409(
    app, engine: Engine, draft_first: bool
):
    auth = {"Authorization": f"Bearer {token_for(engine, MEMBER)}"}
    client = TestClient(app)
    status = client.get(f"/api/v1/missions/{DEMO}/scoring", headers=auth).json()["my_status"]
    candidate = next(c for c, s in status.items() if s == "not started")
    options = [
        o["id"]
        for o in client.get(f"/api/v1/missions/{DEMO}/candidates/{candidate}", headers=auth).json()[
            "options"
        ]
    ]
    url = f"/api/v1/missions/{DEMO}/scoring/{candidate}"
    if draft_first:
        etag = client.get(f"{url}/mine", headers=auth).headers["ETag"]
        draft = {"options": {options[0]: {"p_success": 0.5}}}
        assert client.put(url, json=draft, headers={**auth, "If-Match": etag}).status_code == 200
    etag = client.get(f"{url}/mine", headers=auth).headers["ETag"]

    def submit(p: float) -> tuple[int, str, float]:
        response = TestClient(app).put(
            url,
            json={"submit": True, "options": full_scores(options, p)},
            headers={**auth, "If-Match": etag},
        )
        return response.status_code, response.json().get("detail", ""), p

    answers = together(*[lambda p=0.1 + 0.1 * n: submit(p) for n in range(8)])
    assert not [a for a in answers if isinstance(a, Exception)], answers
    codes = sorted(code for code, _, _ in answers)
    assert codes == [200] + [409] * 7, answers
    assert all(detail for code, detail, _ in answers if code == 409)
    winner = next(p for code, _, p in answers if code == 200)
    mine = client.get(f"{url}/mine", headers=auth).json()
    assert mine["status"] == "submitted"
    assert {s["p_success"] for s in mine["scores"]} == {winner}  # never overwritten since
    with SqlUnitOfWork(engine) as uow:
        quarter = current_quarter(uow, DEMO)
        submitted = [
            e
            for e in uow.audit.all(DEMO, entity="score", entity_id=f"{quarter}:{candidate}")
            if e.action == "submitted"
        ]
    assert len(submitted) == 1


def test_the_database_itself_refuses_to_change_a_submitted_score(engine: Engine):
    with engine.connect() as connection:
        submitted = connection.execute(
            text("SELECT id FROM scores WHERE status = 'submitted' LIMIT 1")
        ).scalar_one()
    with pytest.raises(IntegrityError, match="final"), engine.begin() as connection:
        connection.execute(
            text("UPDATE scores SET p_success = 0.99 WHERE id = :id"), {"id": submitted}
        )


# -- finding 8: no lost update through the API or a form ------------------------------------------
def test_the_second_of_two_api_clients_that_read_then_write_a_candidate_gets_412(
    app, engine: Engine
):
    auth = {"Authorization": f"Bearer {token_for(engine, 'ceo')}"}
    first, second = TestClient(app), TestClient(app)
    url = f"/api/v1/missions/{DEMO}/candidates/lh2-tank"
    read_a, read_b = first.get(url, headers=auth), second.get(url, headers=auth)
    assert read_a.headers["ETag"] == read_b.headers["ETag"]
    a = {**read_a.json(), "name": "Renamed by the first"}
    b = {**read_b.json(), "description": "Rewritten by the second"}
    written = first.put(url, json=a, headers={**auth, "If-Match": read_a.headers["ETag"]})
    assert written.status_code == 200
    assert written.headers["ETag"] != read_a.headers["ETag"]
    late = second.put(url, json=b, headers={**auth, "If-Match": read_b.headers["ETag"]})
    assert late.status_code == 412
    assert "changed since you read it" in late.json()["detail"]
    stored = first.get(url, headers=auth).json()
    assert stored["name"] == "Renamed by the first"  # the first change is not lost
    assert stored["description"] == read_a.json()["description"]


@pytest.mark.parametrize("if_match", [None, "*", "", "garbage"])
def test_an_api_change_without_the_version_it_was_made_on_is_refused(
    app, engine: Engine, if_match: str | None
):
    auth = {"Authorization": f"Bearer {token_for(engine, 'ceo')}"}
    member = {"Authorization": f"Bearer {token_for(engine, MEMBER)}"}
    client = TestClient(app)
    headers = {} if if_match is None else {"If-Match": if_match}
    wanted = 412 if if_match == "garbage" else 428
    mission = client.get(f"/api/v1/missions/{DEMO}", headers=auth).json()
    candidate = client.get(f"/api/v1/missions/{DEMO}/candidates/lh2-tank", headers=auth).json()
    changes = [
        (auth, f"/missions/{DEMO}", {**mission, "target": 1.0}),
        (auth, f"/missions/{DEMO}/candidates/lh2-tank", {**candidate, "name": "Renamed"}),
        (member, f"/missions/{DEMO}/scoring/lh2-tank", {"options": {}}),
    ]
    for who, path, body in changes:
        response = client.put(f"/api/v1{path}", json=body, headers={**who, **headers})
        assert response.status_code == wanted, (path, response.text)
        assert "If-Match" in response.json()["detail"] or "changed" in response.json()["detail"]
    assert client.get(f"/api/v1/missions/{DEMO}", headers=auth).json() == mission
    assert client.get(f"/api/v1/missions/{DEMO}/candidates/lh2-tank", headers=auth).json() == (
        candidate
    )
    mine = client.get(f"/api/v1/missions/{DEMO}/scoring/lh2-tank/mine", headers=member).json()
    assert mine["scores"] == []


def test_the_openapi_document_states_the_etag_and_the_required_if_match(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/missions/{slug}",
        "/api/v1/missions/{slug}/candidates/{candidate_id}",
        "/api/v1/missions/{slug}/scoring/{candidate_id}",
    ):
        put = paths[path]["put"]
        if_match = [p for p in put["parameters"] if p["name"] == "If-Match"]
        assert if_match and if_match[0]["required"] and if_match[0]["in"] == "header"
        assert {"412", "428"} <= set(put["responses"])
    for path in (
        "/api/v1/missions/{slug}",
        "/api/v1/missions/{slug}/candidates/{candidate_id}",
        "/api/v1/missions/{slug}/scoring/{candidate_id}/mine",
    ):
        assert "ETag" in paths[path]["get"]["responses"]["200"]["headers"]


def form_values(page: BeautifulSoup) -> dict[str, Any]:
    data: dict[str, Any] = {
        i["name"]: i.get("value", "")
        for i in page.select("form input")
        if i.get("type") not in ("checkbox", "radio") and i.get("name")
    }
    data.update({t["name"]: t.get_text() for t in page.select("form textarea")})
    for box in page.select("form input[type=checkbox][checked]"):
        data.setdefault(box["name"], []).append(box["value"])
    for radio in page.select("form input[type=radio][checked]"):
        data[radio["name"]] = radio["value"]
    for option in page.select("form select option[selected]"):
        data[option.find_parent("select")["name"]] = option["value"]
    return data


@pytest.mark.parametrize(
    ("user", "url", "field", "value"),
    [
        ("ceo", f"/missions/{DEMO}/candidates/lh2-tank/edit", "name", "Renamed without a version"),
        ("ceo", f"/missions/{DEMO}/edit", "name", "Renamed without a version"),
        (MEMBER, f"/missions/{DEMO}/scoring/lh2-tank", "options.0.p_success", "0.4242"),
    ],
    ids=["candidate", "mission", "scores"],
)
def test_a_web_form_whose_version_was_removed_is_refused_and_changes_nothing(
    client: TestClient, user: str, url: str, field: str, value: str
):
    csrf = login(client, user)
    before = client.get(url).text
    data = form_values(BeautifulSoup(before, "html.parser"))
    assert "version" in data
    del data["version"]
    data.update({field: value, "csrf_token": csrf, "action": "draft"})
    refused = client.post(url, data=data, follow_redirects=False)
    assert refused.status_code == 422
    summary = BeautifulSoup(refused.text, "html.parser").select_one(".govuk-error-summary")
    assert "reload the page" in summary.get_text()
    assert value not in client.get(url).text  # nothing was saved


# -- finding 9: no run in a closed quarter ---------------------------------------------------------
def ready_to_close(engine: Engine) -> str:
    """Approve a run as the current quarter's allocation and publish its update; the label."""
    with SqlUnitOfWork(engine) as uow:
        run_id = runs.start_run(uow, "ceo", DEMO, POLICY, scenarios=200)
        uow.commit()
    assert runs.execute_run(lambda: SqlUnitOfWork(engine), run_id) in ("optimal", "feasible")
    with SqlUnitOfWork(engine) as uow:
        reasons = {c.candidate: "test reason" for c in cycle.proposed_changes(uow, DEMO, run_id)}
        cycle.approve_run(uow, "ceo", DEMO, run_id, reasons=reasons, contracted=set())
        label = current_quarter(uow, DEMO)
        publication.save_update(uow, "ceo", DEMO, "The quarter's update.", publish=True)
        uow.commit()
    return label


def start(engine: Engine) -> int:
    with SqlUnitOfWork(engine) as uow:
        run_id = runs.start_run(uow, "ceo", DEMO, POLICY, scenarios=100)
        uow.commit()
    return run_id


def runs_in(engine: Engine, label: str) -> set[int]:
    with SqlUnitOfWork(engine) as uow:
        return {r.id or 0 for r in uow.runs.all(DEMO) if r.quarter == label}


def test_a_close_and_six_run_starts_fired_together_record_no_run_in_the_closed_quarter(
    engine: Engine,
):
    label = ready_to_close(engine)
    at_close: set[int] = set()

    def close() -> str:
        with SqlUnitOfWork(engine) as uow:
            cycle.close_quarter(uow, "ceo", DEMO)
            uow.commit()
        at_close.update(runs_in(engine, label))  # the quarter's runs the moment it closed
        return "closed"

    results = together(close, *[lambda: start(engine) for _ in range(6)])
    assert results[0] == "closed", results
    assert all(isinstance(r, int | Conflict) for r in results[1:]), results
    assert runs_in(engine, label) == at_close  # nothing was recorded in it once closed
    started = [r for r in results[1:] if isinstance(r, int)]
    assert started  # the lock makes them queue, not fail
    with SqlUnitOfWork(engine) as uow:
        assert uow.missions.quarter(DEMO, label).state.value == "closed"
        later = current_quarter(uow, DEMO)
        assert {uow.runs.get(DEMO, r).quarter for r in started} <= {label, later}


def test_a_close_waits_for_a_run_start_already_under_way(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    label = ready_to_close(engine)
    starting, closing = threading.Event(), threading.Event()
    export = runs.export_problem

    def slow_export(*args: Any, **kwargs: Any) -> dict[str, Any]:
        starting.set()  # the start has read the current quarter (and holds its lock)
        closing.wait(10)
        threading.Event().wait(1.0)  # the close runs meanwhile
        return export(*args, **kwargs)

    monkeypatch.setattr(runs, "export_problem", slow_export)
    at_close: set[int] = set()

    def close() -> None:
        starting.wait(10)
        closing.set()
        with SqlUnitOfWork(engine) as uow:
            cycle.close_quarter(uow, "ceo", DEMO)
            uow.commit()
        at_close.update(runs_in(engine, label))

    closer = threading.Thread(target=close)
    closer.start()
    run_id = start(engine)
    closer.join(60)
    assert run_id in at_close  # recorded (in the open quarter) before the close committed
    assert runs_in(engine, label) == at_close


def test_a_run_started_while_a_close_is_under_way_lands_in_the_next_quarter(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    label = ready_to_close(engine)
    locked, started = threading.Event(), threading.Event()
    pack = cycle.pack_content

    def slow_pack(*args: Any, **kwargs: Any) -> Any:
        locked.set()  # the close holds the quarter's lock
        started.wait(10)
        threading.Event().wait(1.0)  # the run start waits meanwhile
        return pack(*args, **kwargs)

    monkeypatch.setattr(cycle, "pack_content", slow_pack)

    def close() -> None:
        with SqlUnitOfWork(engine) as uow:
            cycle.close_quarter(uow, "ceo", DEMO)
            uow.commit()

    closer = threading.Thread(target=close)
    closer.start()
    locked.wait(10)
    started.set()
    run_id = start(engine)
    closer.join(60)
    with SqlUnitOfWork(engine) as uow:
        assert uow.missions.quarter(DEMO, label).state.value == "closed"
        assert uow.runs.get(DEMO, run_id).quarter == current_quarter(uow, DEMO) != label


def test_a_run_finished_after_its_quarter_closed_is_kept_but_can_never_be_approved(
    engine: Engine, settings
):
    label = ready_to_close(engine)
    late = start(engine)  # queued in the open quarter
    with SqlUnitOfWork(engine) as uow:
        cycle.close_quarter(uow, "ceo", DEMO)
        uow.commit()
        later = current_quarter(uow, DEMO)
    assert runs.execute_run(lambda: SqlUnitOfWork(engine), late) in ("optimal", "feasible")
    with SqlUnitOfWork(engine) as uow:
        kept = uow.runs.get(DEMO, late)
        assert kept.quarter == label and kept.found_portfolio
        with pytest.raises(Conflict, match="closed"):
            cycle.approve_run(uow, "ceo", DEMO, late, reasons={}, contracted=set())
    with SqlUnitOfWork(engine) as uow, pytest.raises(Conflict, match="closed"):
        runs.rerun(uow, "ceo", DEMO, late)
    # the database refuses it too, whatever the application does: in its own closed quarter
    # or in the open one, and no new run in the closed quarter
    with engine.connect() as connection:
        ids = dict(connection.execute(text("SELECT label, id FROM quarters")).all())
    for where in (label, later):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text("UPDATE quarters SET approved_run_id = :run WHERE id = :quarter"),
                {"run": late, "quarter": ids[where]},
            )
    with pytest.raises(IntegrityError, match="closed"), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO optimiser_runs (mission_id, quarter, objective, solver, status, "
                "started_by, note, created_at, problem, budget_scale) SELECT mission_id, quarter, "
                "objective, solver, 'queued', started_by, note, created_at, problem, 1.0 "
                "FROM optimiser_runs WHERE id = :run"
            ),
            {"run": late},
        )
    app = create_app(settings)
    with TestClient(app) as client:
        csrf = login(client, "ceo")
        approve = client.post(
            f"/api/v1/missions/{DEMO}/runs/{late}/approve",
            json={"reasons": {}},
            headers={"X-CSRF-Token": csrf},
        )
        assert approve.status_code == 409 and "closed" in approve.json()["detail"]
        page = BeautifulSoup(client.get(f"/missions/{DEMO}/runs/{late}").text, "html.parser")
        assert page.select_one("#approve-link") is None
    app.state.engine.dispose()
