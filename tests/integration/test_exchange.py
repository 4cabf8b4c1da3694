"""Whole-mission export and import: exact round trips, all or nothing, and the CLI around them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine
from support import DEMO, DEMO_PASSWORD
from typer.testing import CliRunner

from api.cli import app
from portfolio.adapters import database
from portfolio.adapters.exchange import MissionDocument
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import Mission, SpendEntry, User
from portfolio.services import ledger, passwords
from portfolio.services import missions as services

runner = CliRunner()


@pytest.fixture
def demo_engine(db_url: str) -> Iterator[Engine]:
    engine = database.make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def empty_engine(empty_db_url: str) -> Iterator[Engine]:
    engine = database.make_engine(empty_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def demo_file(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A SQLite file holding the demo mission, for the CLI's ``--db``."""
    templates = request.getfixturevalue("sqlite_templates")
    url = templates.copy("demo")
    yield Path(url.removeprefix("sqlite:///"))
    templates.drop(url)


def export(engine: Engine, slug: str = DEMO) -> MissionDocument:
    with SqlUnitOfWork(engine) as uow:
        return services.export_mission(uow, slug)


def dump(document: MissionDocument) -> str:
    return json.dumps(document.model_dump(mode="json"), indent=2, ensure_ascii=False)


def everything_in(engine: Engine) -> tuple[list[str], list[str], int]:
    """(mission slugs, usernames, audit entries) stored in the database behind ``engine``."""
    with SqlUnitOfWork(engine) as uow:
        missions = [m.slug for m in uow.missions.all()]
        users = [u.username for u in uow.users.all()]
        audit = sum(uow.audit.count(slug) for slug in missions) + uow.audit.count(None)
    return missions, users, audit


def with_audit_history(engine: Engine) -> None:
    """Change the demo mission through the services, so its audit trail has entries to carry."""
    with SqlUnitOfWork(engine) as uow:
        mission = uow.missions.get(DEMO)
        services.update_mission(uow, "ceo", mission.model_copy(update={"target": 9.5}))
        candidate = uow.candidates.all(DEMO)[0]
        services.update_candidate(
            uow, "council1", DEMO, candidate.model_copy(update={"description": "Revised – “é”"})
        )
        option = candidate.options[0]
        ledger.record_spend(
            uow,
            "ceo",
            DEMO,
            [
                SpendEntry(
                    candidate=candidate.id,
                    option=option.id,
                    envelope=candidate.eligible_envelopes[0],
                    year="2026-27",
                    amount=1.25,
                    quarter="2026-27 Q3",
                    note="Invoice 42",
                )
            ],
        )
        uow.commit()


# -- round trip --------------------------------------------------------------------------------


def test_export_import_export_gives_the_identical_document(
    demo_engine: Engine, empty_engine: Engine
) -> None:
    with_audit_history(demo_engine)
    first = export(demo_engine)
    assert first.candidates and first.scores and first.evidence and first.audit
    assert first.spend and first.contracts  # the money travels with the mission
    with SqlUnitOfWork(empty_engine) as uow:
        services.import_mission(uow, "admin", MissionDocument.model_validate_json(dump(first)))
        uow.commit()
    second = export(empty_engine)
    assert dump(second) == dump(first)
    assert second == first


def test_an_import_is_audited_and_its_new_users_have_no_password_yet(
    demo_engine: Engine, empty_engine: Engine
) -> None:
    document = export(demo_engine)
    with SqlUnitOfWork(empty_engine) as uow:
        services.import_mission(uow, "admin", document)
        uow.commit()
    with SqlUnitOfWork(empty_engine) as uow:
        [entry] = uow.audit.all(None, entity="mission")
        assert {u.username for u in uow.users.all()} == {u.username for u in document.users}
        assert uow.users.password_hash("ceo") is None
        assert services.authenticate(uow, "ceo", DEMO_PASSWORD) is None
    assert (entry.actor, entry.entity_id, entry.action) == ("admin", DEMO, "imported")
    assert entry.after == {
        "candidates": len(document.candidates),
        "scores": len(document.scores),
        "evidence": len(document.evidence),
        "audit_entries": len(document.audit),
    }


# -- all or nothing ----------------------------------------------------------------------------


def with_new_user(document: MissionDocument) -> dict[str, Any]:
    data = document.model_dump(mode="json")
    data["users"].append({"username": "newcomer", "display_name": "A newcomer"})
    return data


def test_a_document_scoring_with_an_unknown_member_imports_nothing(
    demo_engine: Engine, empty_engine: Engine
) -> None:
    data = with_new_user(export(demo_engine))
    data["scores"][0]["member"] = "ghost"
    with pytest.raises(ValueError, match=r"scores\.0\.member: ghost is not in users"):
        MissionDocument.model_validate(data)
    # past validation, a reference the database cannot resolve still writes nothing
    document = MissionDocument.model_construct(
        **MissionDocument.model_validate(with_new_user(export(demo_engine))).__dict__
    )
    document.scores[0] = document.scores[0].model_copy(update={"member": "ghost"})
    with pytest.raises(NotFound, match="ghost"), SqlUnitOfWork(empty_engine) as uow:
        services.import_mission(uow, "admin", document)
        uow.commit()
    assert everything_in(empty_engine) == ([], [], 0)


def test_a_document_with_a_bad_score_reference_is_refused_before_anything_is_written(
    demo_engine: Engine, empty_engine: Engine
) -> None:
    data = export(demo_engine).model_dump(mode="json")
    data["scores"][3]["option"] = "no-such-option"
    with pytest.raises(ValueError, match=r"scores\.3"):
        MissionDocument.model_validate(data)
    assert everything_in(empty_engine) == ([], [], 0)


def test_importing_a_mission_that_already_exists_writes_nothing(demo_engine: Engine) -> None:
    before = everything_in(demo_engine)
    document = MissionDocument.model_validate(with_new_user(export(demo_engine)))
    with pytest.raises(Conflict, match="already exists"), SqlUnitOfWork(demo_engine) as uow:
        services.import_mission(uow, "admin", document)
        uow.commit()
    assert everything_in(demo_engine) == before
    with SqlUnitOfWork(demo_engine) as uow:
        assert uow.users.find("newcomer") is None


def test_a_second_mission_imports_beside_the_first_and_keeps_existing_users(
    demo_engine: Engine,
) -> None:
    data = export(demo_engine).model_dump(mode="json")
    data["mission"]["slug"] = "uk-air-travel-copy"
    data["users"][0]["display_name"] = "Someone else"
    for entry in data["audit"]:
        entry["mission"] = "uk-air-travel-copy"
    with SqlUnitOfWork(demo_engine) as uow:
        services.import_mission(uow, "admin", MissionDocument.model_validate(data))
        uow.commit()
    with SqlUnitOfWork(demo_engine) as uow:
        assert services.authenticate(uow, "ceo", DEMO_PASSWORD) is not None
        assert uow.users.get(data["users"][0]["username"]).display_name != "Someone else"
    copy = export(demo_engine, "uk-air-travel-copy")
    original = export(demo_engine)
    assert copy.candidates == original.candidates
    assert copy.scores == original.scores


# -- the CLI -----------------------------------------------------------------------------------


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_the_cli_exports_a_mission_as_json_on_stdout(demo_file: Path) -> None:
    result = cli("export", DEMO, "--db", str(demo_file))
    assert result.exit_code == 0, result.output
    document = MissionDocument.model_validate_json(result.stdout)
    assert document.mission.slug == DEMO
    assert len(document.candidates) >= 20


def test_the_cli_refuses_to_export_an_unknown_mission(demo_file: Path) -> None:
    result = cli("export", "no-such-mission", "--db", str(demo_file))
    assert result.exit_code == 1
    assert "no mission no-such-mission" in result.stderr
    assert result.stdout == ""


def test_a_file_exported_by_the_cli_imports_and_exports_identically(
    demo_file: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "mission.json"
    exported.write_text(cli("export", DEMO, "--db", str(demo_file)).stdout, encoding="utf-8")
    fresh = tmp_path / "fresh.db"
    result = cli("import", str(exported), "--db", str(fresh))
    assert result.exit_code == 0, result.output
    assert f"Imported mission {DEMO}" in result.stdout
    again = cli("export", DEMO, "--db", str(fresh))
    assert again.exit_code == 0, again.output
    assert again.stdout == exported.read_text(encoding="utf-8")


def test_the_cli_refuses_to_import_a_mission_that_already_exists(
    demo_file: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "mission.json"
    exported.write_text(cli("export", DEMO, "--db", str(demo_file)).stdout, encoding="utf-8")
    result = cli("import", str(exported), "--db", str(demo_file))
    assert result.exit_code == 2
    assert "already exists" in result.stderr


def test_importing_malformed_json_exits_2_naming_the_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"mission": {"slug": "x",\n  oops}', encoding="utf-8")
    fresh = tmp_path / "fresh.db"
    result = cli("import", str(broken), "--db", str(fresh))
    assert result.exit_code == 2
    assert "broken.json is not JSON" in result.stderr
    assert "line 2" in result.stderr


def test_importing_a_missing_file_exits_2_naming_it(tmp_path: Path) -> None:
    result = cli("import", str(tmp_path / "absent.json"), "--db", str(tmp_path / "fresh.db"))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr and "absent.json" in result.stderr


def test_importing_an_invalid_document_exits_2_naming_the_field(
    demo_file: Path, tmp_path: Path
) -> None:
    data = json.loads(cli("export", DEMO, "--db", str(demo_file)).stdout)
    data["candidates"][2]["options"][0]["p_success"] = 1.5
    data["candidates"][4]["trl"] = 0
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(data), encoding="utf-8")
    fresh = tmp_path / "fresh.db"
    result = cli("import", str(invalid), "--db", str(fresh))
    assert result.exit_code == 2
    assert "candidates.2.options.0.p_success" in result.stderr
    assert "candidates.4.trl" in result.stderr


def test_importing_a_document_with_a_bad_reference_exits_2_and_writes_nothing(
    demo_file: Path, tmp_path: Path
) -> None:
    data = json.loads(cli("export", DEMO, "--db", str(demo_file)).stdout)
    data["scores"][0]["member"] = "ghost"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    fresh = tmp_path / "fresh.db"
    result = cli("import", str(bad), "--db", str(fresh))
    assert result.exit_code == 2
    assert "scores.0.member: ghost is not in users" in result.stderr
    assert not fresh.exists()  # refused before the database was even opened


# -- the demo command --------------------------------------------------------------------------

DEMO_USERNAMES = ["ceo", *[f"council{i}" for i in range(1, 8)], "treasury", "admin"]
PASSWORD = "a-demo-password-42"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with the cheapest parameters: each demo hashes eleven passwords."""
    hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(passwords, "_hasher", hasher)


def test_the_demo_command_creates_users_that_can_sign_in(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    result = cli("demo", "--no-serve", "--db", str(path), "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    for username in DEMO_USERNAMES:
        assert username in result.stdout
    assert PASSWORD in result.stdout
    engine = database.make_engine(database.sqlite_url(path))
    try:
        with SqlUnitOfWork(engine) as uow:
            for username in DEMO_USERNAMES:
                user = services.authenticate(uow, username, PASSWORD)
                assert user is not None and user.username == username
            assert services.authenticate(uow, "ceo", "wrong-password-1") is None
            assert uow.missions.get(DEMO).name.startswith("Carbon-neutral UK air travel")
            assert uow.candidates.count(DEMO) >= 20
    finally:
        engine.dispose()


def test_the_demo_command_recreates_an_earlier_demo_database(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    assert cli("demo", "--no-serve", "--db", str(path), "--password", PASSWORD).exit_code == 0
    result = cli("demo", "--no-serve", "--db", str(path), "--password", "another-password-9")
    assert result.exit_code == 0, result.output
    engine = database.make_engine(database.sqlite_url(path))
    try:
        with SqlUnitOfWork(engine) as uow:
            assert services.authenticate(uow, "ceo", "another-password-9") is not None
            assert services.authenticate(uow, "ceo", PASSWORD) is None
    finally:
        engine.dispose()


def test_the_demo_command_refuses_to_overwrite_a_database_with_another_mission(
    tmp_path: Path,
) -> None:
    path = tmp_path / "precious.db"
    engine = database.make_engine(database.sqlite_url(path))
    try:
        database.upgrade(engine)
        with SqlUnitOfWork(engine) as uow:
            services.create_user(uow, "admin", User(username="alice", display_name="Alice"), None)
            services.create_mission(
                uow,
                "alice",
                Mission.model_validate(
                    {
                        "slug": "precious",
                        "name": "A real mission",
                        "target": 1.0,
                        "deadline": dt.date(2030, 3, 31),
                        "years": ["2026-27"],
                        "envelopes": [{"id": "sbc", "name": "SBC", "budget": {"2026-27": 5.0}}],
                    }
                ),
            )
            uow.commit()
    finally:
        engine.dispose()
    result = cli("demo", "--no-serve", "--db", str(path), "--password", PASSWORD)
    assert result.exit_code == 1
    assert "precious" in result.stderr and "choose another --db" in result.stderr
    engine = database.make_engine(database.sqlite_url(path))
    try:
        assert everything_in(engine)[:2] == (["precious"], ["alice"])
    finally:
        engine.dispose()


def test_the_demo_command_leaves_a_file_that_is_not_a_database_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my notes, not a database\n", encoding="utf-8")
    result = cli("demo", "--no-serve", "--db", str(path), "--password", PASSWORD)
    assert result.exit_code == 1
    assert path.read_text(encoding="utf-8") == "my notes, not a database\n"


def test_the_demo_command_refuses_a_password_that_is_too_short(tmp_path: Path) -> None:
    result = cli("demo", "--no-serve", "--db", str(tmp_path / "demo.db"), "--password", "short")
    assert result.exit_code == 1
    assert "password" in result.stderr and "at least 10 characters" in result.stderr
