"""A closed quarter's audit-pack zip is made once per server process and kept under everything
it is made of, yet shows a pack changed in the database at once: on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from support import DEMO, login

from api.app import create_app
from api.settings import Settings
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import QuarterState


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url, secret_key="x" * 40))
    with TestClient(app) as client:
        login(client, "ceo")
        yield client
    app.state.engine.dispose()


def _closed(client: TestClient) -> str:
    with SqlUnitOfWork(client.app.state.engine) as uow:  # type: ignore[attr-defined]
        quarters = uow.missions.quarters(DEMO)
    return next(q.label for q in quarters if q.state is QuarterState.closed)


def _pack_json(client: TestClient, label: str) -> dict[str, object]:
    response = client.get(f"/missions/{DEMO}/quarters/{label}/audit-pack.zip")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return json.loads(archive.read("pack.json"))  # type: ignore[no-any-return]


def test_the_zip_is_made_once_and_then_kept(client: TestClient) -> None:
    label = _closed(client)
    first = client.get(f"/missions/{DEMO}/quarters/{label}/audit-pack.zip").content
    packs_read: list[str] = []

    def seen(*args: object) -> None:
        statement = str(args[2])
        if "quarter_packs" in statement and "CAST" not in statement.upper():
            packs_read.append(statement)

    event.listen(client.app.state.engine, "before_cursor_execute", seen)  # type: ignore[attr-defined]
    again = client.get(f"/api/v1/missions/{DEMO}/quarters/{label}/audit-pack.zip").content
    assert again == first
    assert packs_read == []  # only the pack's digest was read


def test_a_pack_changed_in_the_database_shows_in_the_download(client: TestClient) -> None:
    label = _closed(client)
    assert "tampered" not in _pack_json(client, label)
    with SqlUnitOfWork(client.app.state.engine) as uow:  # type: ignore[attr-defined]
        row = uow.missions.quarter_row(DEMO, label)
        row.pack = {**(row.pack or {}), "tampered": True}  # behind the product's back
        uow.commit()
    assert _pack_json(client, label)["tampered"] is True
