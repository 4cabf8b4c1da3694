"""The large generated mission (``portfolio.demo.large``), at a small size: it is the same for the
same seed, it loads through the services by the demo's replay (every past quarter approved,
spent, published and closed), and every page and JSON twin answers the CEO on it. SQLite only:
the page benchmark (``benchmarks/pages.py``) measures it at full size."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support import DEMO_PASSWORD, login
from test_json_twins import TWINS

from api.app import create_app
from api.settings import Settings
from portfolio.adapters import database
from portfolio.adapters.unit_of_work import SqlUnitOfWork, session_factory
from portfolio.demo.large import LARGE_SLUG, LargeSize, large_document, load_large, quarter_labels
from portfolio.domain.model import QuarterState

SECRET = "test-secret-key-that-is-long-enough-0123456789"
SMALL = LargeSize(candidates=30, platforms=5, members=6, quarters=3)


@pytest.fixture(scope="module")
def large_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite database holding the small large mission, loaded as the demo is."""
    url = database.sqlite_url(Path(tmp_path_factory.mktemp("large")) / "large.db")
    engine = database.make_engine(url)
    database.upgrade(engine)
    factory = session_factory(engine, Settings(database_url=url, secret_key=SECRET).history_key())
    load_large(lambda: SqlUnitOfWork(factory), DEMO_PASSWORD, SMALL)
    engine.dispose()
    yield url


def test_the_same_seed_gives_the_same_document_and_another_seed_another() -> None:
    first = large_document(SMALL).model_dump(mode="json")
    assert large_document(SMALL).model_dump(mode="json") == first
    other = large_document(SMALL.model_copy(update={"seed": SMALL.seed + 1}))
    assert other.model_dump(mode="json") != first


def test_the_default_size_is_ten_times_the_demo() -> None:
    document = large_document()
    assert len(document.candidates) == 300
    assert len({c.platform for c in document.candidates}) == 15
    assert {len(c.options) for c in document.candidates} == {1, 2, 3}
    assert len(document.council) == 15
    assert len(document.quarters) == 12
    assert {s.quarter for s in document.scores} == {q.label for q in document.quarters}
    assert len({e.quarter for e in document.evidence}) == 11


def test_the_small_mission_has_what_its_size_asks_for() -> None:
    document = large_document(SMALL)
    assert len(document.candidates) == SMALL.candidates
    assert len({c.platform for c in document.candidates}) == SMALL.platforms
    assert [m.username for m in document.council] == [f"council{i}" for i in range(1, 7)]
    assert [q.label for q in document.quarters] == quarter_labels(SMALL)
    assert {s.quarter for s in document.scores} == set(quarter_labels(SMALL))


def test_it_loads_with_every_past_quarter_approved_spent_and_closed(large_url: str) -> None:
    engine = database.make_engine(large_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            quarters = uow.missions.quarters(LARGE_SLUG)
            spend = uow.spend.all(LARGE_SLUG)
            runs = sorted(uow.runs.all(LARGE_SLUG), key=lambda r: r.id or 0)
    finally:
        engine.dispose()
    *closed, current = quarters
    assert [q.label for q in quarters] == quarter_labels(SMALL)
    assert all(q.state is QuarterState.closed and q.approved_run for q in closed)
    assert current.state is QuarterState.open
    assert {e.quarter for e in spend} == {q.label for q in closed}
    assert [r.status for r in runs] == ["optimal"] * len(quarters)
    assert runs[-1].quarter == current.label and runs[-1].objective == "cvar"


def _sample(client: TestClient) -> dict[str, str]:
    ids = sorted(r["id"] for r in client.get(f"/api/v1/missions/{LARGE_SLUG}/runs").json())
    labels = quarter_labels(SMALL)
    return {
        "slug": LARGE_SLUG,
        "candidate_id": large_document(SMALL).candidates[0].id,
        "username": "council2",
        "run_id": str(ids[-1]),
        "label": labels[-1],
        "quarter": labels[-2].replace(" ", "-"),
        "compare": f"run={ids[0]}&run={ids[-1]}",
    }


def test_every_page_and_twin_answers_the_ceo_or_sends_them_on(large_url: str) -> None:
    app = create_app(Settings(database_url=large_url, secret_key=SECRET, auto_analyses=False))
    failures = []
    try:
        with TestClient(app, base_url="http://testserver") as client:
            login(client, "ceo")
            sample = _sample(client)
            for page, twins in TWINS.items():
                if page.startswith("/admin/"):
                    continue  # the administrator's, not the CEO's
                for template in [page, *twins]:
                    values = (
                        {**sample, "label": quarter_labels(SMALL)[-2]}
                        if template.endswith(".zip")
                        else sample
                    )
                    url = re.sub(r"{(\w+)}", lambda m, v=values: v[m.group(1)], template)
                    if template.endswith("/runs/compare"):
                        url += f"?{sample['compare']}"
                    response = client.get(url, follow_redirects=False)
                    onward = response.headers.get("location", "/login")  # e.g. / → the mission
                    if response.status_code != 200 and not (
                        response.status_code == 303 and not onward.startswith("/login")
                    ):
                        failures.append(f"{url}: {response.status_code}")
    finally:
        app.state.engine.dispose()
    assert failures == []
