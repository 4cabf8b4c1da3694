"""The Mission CEO's CSV import of a member's scores (issue 16, finding 4).

It used to write the scores as the member: the audit entry named the member as the actor, and
scores imported as "submitted" were final, so the member could never change their own judgement.
Now the CEO imports *drafts* on the member's behalf, audited with the CEO as the actor ("imported
on behalf", on_behalf_of the member); the member reviews, changes and submits them. Runs on
SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import DEMO, login

from portfolio.adapters import database
from portfolio.adapters.csv.scores import SCORE_COLUMNS
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import PermissionDenied
from portfolio.domain.model import Score, ScoreStatus
from portfolio.services import council

QUARTER = "2026-27 Q3"
CANDIDATE = "northsea-hefa"  # two options: demonstrate, scale
MEMBER = "council7"  # has not scored the open round in the demo


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = database.make_engine(db_url)
    yield engine
    engine.dispose()


def scores_file(member: str, status: str = "") -> str:
    header = ",".join(SCORE_COLUMNS)
    estimates = {
        "demonstrate": "0.75,40,45,60,0.8,1.2,1.6,7,high",
        "scale": "0.6,150,170,230,3,4.5,5.5,6,medium",
    }
    rows = [
        f"{member},{CANDIDATE},{option},no,{values},From the call.,{status}"
        for option, values in estimates.items()
    ]
    return "\r\n".join([header, *rows]) + "\r\n"


def upload(client: TestClient, csrf: str, text: str) -> Any:
    return client.post(
        f"/missions/{DEMO}/import/scores",
        data={"csrf_token": csrf},
        files={"file": ("scores.csv", text.encode(), "text/csv")},
    )


def scores_of(engine: Engine, member: str) -> dict[str, Score]:
    with SqlUnitOfWork(engine) as uow:
        return {
            option: s
            for (_, option), s in council.member_scores(
                uow, DEMO, QUARTER, member, CANDIDATE
            ).items()
        }


def score_audit(client: TestClient) -> list[dict[str, Any]]:
    """The score entries of the candidate, newest first (read as the CEO)."""
    return [
        e
        for e in client.get(f"/api/v1/missions/{DEMO}/audit", params={"limit": 200}).json()
        if e["entity"] == "score" and e["entity_id"] == f"{QUARTER}:{CANDIDATE}"
    ]


def counts(engine: Engine) -> tuple[int, int]:
    with SqlUnitOfWork(engine) as uow:
        return len(uow.scores.all(DEMO)), uow.audit.count(DEMO)


def test_the_ceos_import_is_audited_as_the_ceo_on_behalf_of_the_member_as_drafts(
    client: TestClient, engine: Engine
) -> None:
    csrf = login(client, "ceo")
    response = upload(client, csrf, scores_file(MEMBER))
    assert response.status_code == 200, response.text[-2000:]
    imported = scores_of(engine, MEMBER)
    assert set(imported) == {"demonstrate", "scale"}
    assert all(s.status is ScoreStatus.draft for s in imported.values())
    (entry, *_) = score_audit(client)
    assert (entry["actor"], entry["action"]) == ("ceo", "imported on behalf")
    assert entry["after"]["on_behalf_of"] == MEMBER
    assert entry["after"]["status"] == "draft"
    assert not [e for e in score_audit(client) if e["actor"] == MEMBER]
    summary = next(
        e
        for e in client.get(f"/api/v1/missions/{DEMO}/audit").json()
        if e["entity"] == "score_import"
    )
    assert summary["actor"] == "ceo" and summary["after"]["on_behalf_of"] == [MEMBER]


def test_the_member_then_reviews_changes_and_submits_the_imported_drafts(
    client: TestClient, engine: Engine
) -> None:
    csrf = login(client, "ceo")
    assert upload(client, csrf, scores_file(MEMBER)).status_code == 200

    csrf = login(client, MEMBER)
    page = BeautifulSoup(client.get(f"/missions/{DEMO}/scoring/{CANDIDATE}").text, "html.parser")
    notice = page.select_one("#imported-draft")
    assert notice is not None and "ceo imported these scores on your behalf" in notice.get_text()
    form = page.select_one("#score-form")
    assert form is not None, "the member can still change their scores"
    p_field, version = (
        form.select_one(f'[name="{n}"]') for n in ("options.0.p_success", "version")
    )
    assert p_field is not None and p_field["value"] == "0.75", "the imported draft is prefilled"
    assert version is not None
    data = {"csrf_token": csrf, "version": str(version["value"]), "action": "submit"}
    for i, (p, cost, impact, trl, confidence) in enumerate(
        [
            ("0.55", ("42", "50", "70"), ("0.7", "1.1", "1.5"), "6", "medium"),
            ("0.6", ("150", "170", "230"), ("3", "4.5", "5.5"), "6", "medium"),
        ]
    ):
        prefix = f"options.{i}"
        data |= {f"{prefix}.p_success": p, f"{prefix}.trl": trl, f"{prefix}.confidence": confidence}
        data |= {f"{prefix}.rationale": "Checked the imported figures."}
        for part, values in (("cost", cost), ("impact", impact)):
            for key, value in zip(("low", "most_likely", "high"), values, strict=True):
                data[f"{prefix}.{part}.{key}"] = value
    response = client.post(
        f"/missions/{DEMO}/scoring/{CANDIDATE}", data=data, follow_redirects=False
    )
    assert response.status_code == 303, response.text[-2000:]

    mine = scores_of(engine, MEMBER)
    assert all(s.status is ScoreStatus.submitted for s in mine.values())
    assert mine["demonstrate"].p_success == 0.55
    page = client.get(f"/missions/{DEMO}/scoring/{CANDIDATE}").text
    assert 'id="imported-draft"' not in page and 'id="score-form"' not in page
    login(client, "ceo")
    (entry, *_) = score_audit(client)
    assert (entry["actor"], entry["action"]) == (MEMBER, "submitted")


def test_the_ceo_cannot_submit_a_members_scores(client: TestClient, engine: Engine) -> None:
    before = counts(engine)
    csrf = login(client, "ceo")
    response = upload(client, csrf, scores_file(MEMBER, "submitted"))
    assert response.status_code == 422
    summary = BeautifulSoup(response.text, "html.parser").select_one(".govuk-error-summary")
    assert summary is not None
    text = re.sub(r"\s+", " ", summary.get_text(" "))
    assert "Row 2, column status: only council7 can submit council7's scores" in text
    assert counts(engine) == before

    # the service refuses it too, whoever calls it
    with SqlUnitOfWork(engine) as uow, pytest.raises(PermissionDenied, match="only council7"):
        council.save_scores(
            uow,
            MEMBER,
            DEMO,
            CANDIDATE,
            [],
            submit=True,
            not_competent=True,
            imported_by="ceo",
        )
    assert counts(engine) == before


def test_a_member_importing_their_own_scores_may_still_submit_them(
    client: TestClient, engine: Engine
) -> None:
    csrf = login(client, MEMBER)
    response = upload(client, csrf, scores_file("", "submitted"))
    assert response.status_code == 200, response.text[-2000:]
    assert all(s.status is ScoreStatus.submitted for s in scores_of(engine, MEMBER).values())
    login(client, "ceo")
    (entry, *_) = score_audit(client)
    assert (entry["actor"], entry["action"]) == (MEMBER, "submitted")
