"""A tamper-evident history (issue 16, finding 5), on SQLite and PostgreSQL.

Each attack an insider with database access could make is reproduced with raw SQL: a forged audit
entry, edits to audit entries and to a closed quarter's RAG rating, run note and dissent after
dropping the append-only triggers, and an audit pack rewritten with recomputed SHA-256 hashes.
``verify`` (service, CLI, web, JSON API) must now name each one; an honest history, the demo's
included, must verify clean; a seal printed on a public update must catch a rewrite even by
someone holding the key."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from support import DEMO, login
from typer.testing import CliRunner

from api.cli import app as cli
from api.settings import Settings
from portfolio.adapters import auditpack, database
from portfolio.adapters.auditpack import canonical_json, pack_hash, verify_chain
from portfolio.adapters.exchange import MissionDocument
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict
from portfolio.domain.model import Envelope, Mission
from portfolio.services import history
from portfolio.services import missions as services
from portfolio.services.history import HistoryReport, PublishedSeal


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = database.make_engine(db_url)
    yield engine
    engine.dispose()


def check(
    engine: Engine, key: bytes | None, published: list[PublishedSeal] | None = None
) -> HistoryReport:
    with SqlUnitOfWork(engine, key) as uow:
        return history.check(uow, DEMO, published or [])


def sql(engine: Engine, *statements: str, **params: Any) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)


def one(engine: Engine, statement: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(statement), params).one()


def drop_triggers(engine: Engine) -> None:
    """What an insider with the database's owner rights does first."""
    if engine.dialect.name == "postgresql":
        sql(engine, "DROP TRIGGER audit_entries_append_only ON audit_entries")
    else:
        sql(engine, "DROP TRIGGER audit_entries_no_update", "DROP TRIGGER audit_entries_no_delete")


def closed_quarters(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT q.label FROM quarters q JOIN missions m ON q.mission_id = m.id "
                    "WHERE m.slug = :slug AND q.state = 'closed' ORDER BY q.label"
                ),
                {"slug": DEMO},
            ).scalars()
        )


def cli_env(db_url: str, secret: str | None) -> dict[str, str]:
    env = {"DATABASE_URL": db_url}
    if secret is not None:
        env["MP_SECRET_KEY"] = secret
    return env


# -- an honest history -------------------------------------------------------------------------


def test_the_demo_history_verifies_clean(engine: Engine, settings: Settings, db_url: str) -> None:
    report = check(engine, settings.history_key())
    assert report.problems == [] and report.intact and report.keyed
    assert report.notes == []
    closed = closed_quarters(engine)
    assert len(closed) >= 4, "the demo has closed quarters to check"
    assert [q.quarter for q in report.quarters] == closed
    assert all(q.seal and q.audit_entries for q in report.quarters)
    assert report.audit_entries > 0 and report.audit_head
    assert cli_verify(db_url, settings.secret_key).exit_code == 0


def cli_verify(db_url: str, secret: str | None, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["verify", DEMO, *args], env=cli_env(db_url, secret))
    return result


def test_the_cli_says_the_history_is_intact(db_url: str, settings: Settings) -> None:
    result = cli_verify(db_url, settings.secret_key)
    assert result.exit_code == 0, result.output
    assert f"The history of {DEMO} is intact" in result.stdout


def test_the_key_comes_from_the_secret_key_and_is_none_without_one() -> None:
    keyed = Settings(database_url="sqlite://", secret_key="k" * 40)
    assert keyed.history_key() is not None and keyed.history_key() != b"k" * 40
    assert (
        keyed.history_key() == Settings(database_url="sqlite://", secret_key="k" * 40).history_key()
    )
    assert Settings(database_url="sqlite://").history_key() is None  # random per process


# -- the attacks -------------------------------------------------------------------------------


def test_a_forged_audit_entry_inserted_with_sql_is_found(
    engine: Engine, settings: Settings
) -> None:
    # the old finding: a plain INSERT passed; it is now outside the chain
    sql(
        engine,
        "INSERT INTO audit_entries (at, actor, mission, entity, entity_id, action) "
        "VALUES ('2026-11-01 09:00:00', 'ceo', :slug, 'quarter', '2026-27 Q2', 'RAG overridden')",
        slug=DEMO,
    )
    report = check(engine, settings.history_key())
    assert not report.intact
    assert any(
        "ceo: quarter 2026-27 Q2 RAG overridden) was inserted after the chain began" in p
        for p in report.problems
    ), report.problems


def test_a_forged_entry_given_a_place_in_the_chain_is_found(
    engine: Engine, settings: Settings
) -> None:
    """The insider appends an entry with the next number, chained to the head, hashed as well as
    they can without the key (plain, or with a key of their own)."""
    seq, head = one(
        engine,
        "SELECT seq, entry_hash FROM audit_entries WHERE mission = :slug ORDER BY seq DESC LIMIT 1",
        slug=DEMO,
    )
    content = {
        "at": "2026-11-02 10:00:00",
        "actor": "treasury",
        "mission": DEMO,
        "entity": "quarter",
        "entity_id": "2026-27 Q3",
        "action": "approved by Treasury",
        "before": None,
        "after": None,
    }
    for n, key in ((seq + 1, None), (seq + 2, b"a key of the insider's own")):
        previous = head
        at = dt.datetime(2026, 11, 2, 10, 0, n % 60)
        head = auditpack.entry_hash(key, n, previous, {**content, "at": at})
        sql(
            engine,
            "INSERT INTO audit_entries (at, actor, mission, entity, entity_id, action, seq, "
            "previous_hash, entry_hash) VALUES (:at, 'treasury', :slug, 'quarter', '2026-27 Q3', "
            "'approved by Treasury', :seq, :previous, :hash)",
            at=at,
            slug=DEMO,
            seq=n,
            previous=previous,
            hash=head,
        )
    problems = check(engine, settings.history_key()).problems
    assert any(
        f"entry #{seq + 1}" in p and "is not sealed with the server's key" in p for p in problems
    ), problems
    assert any(f"entry #{seq + 2}" in p and "does not match its seal" in p for p in problems)


def test_with_the_triggers_dropped_edited_and_deleted_audit_entries_are_found(
    engine: Engine, settings: Settings
) -> None:
    drop_triggers(engine)
    sql(
        engine,
        "UPDATE audit_entries SET actor = 'council7' WHERE mission = :slug AND seq = 5",
        "DELETE FROM audit_entries WHERE mission = :slug AND seq IN (20, 21)",
        slug=DEMO,
    )
    problems = check(engine, settings.history_key()).problems
    assert any(
        p.startswith("entry #5 (") and "council7" in p and "does not match its seal" in p
        for p in problems
    ), problems
    assert any(p.startswith("audit entries #20–#21 are missing") for p in problems), problems


def test_a_closed_quarters_rag_rating_edited_in_the_database_is_found(
    engine: Engine, settings: Settings
) -> None:
    label = closed_quarters(engine)[-1]
    (rag,) = one(engine, "SELECT rag FROM quarters WHERE label = :label", label=label)
    forged = "green" if rag != "green" else "red"
    sql(engine, "UPDATE quarters SET rag = :rag WHERE label = :label", rag=forged, label=label)
    problems = check(engine, settings.history_key()).problems
    assert f"{label}: the RAG rating differs from the sealed pack: {forged} now, {rag} sealed" in (
        problems
    ), problems


def test_a_closed_quarters_run_note_and_dissent_edited_with_sql_are_found(
    engine: Engine, settings: Settings
) -> None:
    label, author = one(
        engine,
        "SELECT q.label, d.author FROM dissents d JOIN quarters q ON d.quarter_id = q.id "
        "WHERE q.state = 'closed' ORDER BY d.id LIMIT 1",
    )
    sql(
        engine,
        "UPDATE dissents SET text = 'No objection.' WHERE id = (SELECT d.id FROM dissents d "
        "JOIN quarters q ON d.quarter_id = q.id WHERE q.state = 'closed' ORDER BY d.id LIMIT 1)",
        "UPDATE optimiser_runs SET note = 'as agreed' WHERE id = "
        "(SELECT approved_run_id FROM quarters WHERE label = :label)",
        label=label,
    )
    problems = check(engine, settings.history_key()).problems
    assert (
        f"{label}: the dissent by {author} differs from the sealed pack: text “No objection.” now"
        in problems
    ), problems
    assert any(
        p.startswith(f"{label}: the approved run's note differs from the sealed pack: “as agreed”")
        for p in problems
    ), problems


def test_a_pack_rewritten_with_recomputed_sha256_hashes_is_found(
    engine: Engine, settings: Settings
) -> None:
    """The old finding: rewrite a pack (here the RAG rating it sealed, to match an edited row)
    and recompute the plain SHA-256 chain from it on; the plain chain checks out."""
    labels = closed_quarters(engine)
    first = labels[0]
    with SqlUnitOfWork(engine) as uow:
        rows = {q: uow.missions.quarter_row(DEMO, q) for q in labels}
        packs = {q: dict(rows[q].pack or {}) for q in labels}
        sealed_rag = packs[first]["rag"]["computed"]
        forged = "green" if sealed_rag != "green" else "red"
        packs[first]["rag"] = {**packs[first]["rag"], "computed": forged}
        previous = rows[first].pack_previous_hash
        for q in labels:
            content = json.loads(canonical_json(packs[q]))
            rows[q].pack = content
            rows[q].pack_previous_hash = previous
            rows[q].pack_hash = previous = pack_hash(content, previous)
        rows[first].rag = forged
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        plain = [
            (
                q.label,
                uow.missions.pack(DEMO, q.label) or {},
                q.pack_hash or "",
                q.pack_previous_hash,
            )
            for q in uow.missions.quarters(DEMO)
            if q.label in labels
        ]
    assert verify_chain(plain) == []  # what `verify` checked before: it passed
    problems = check(engine, settings.history_key()).problems
    assert any(p.startswith(f"{first}: its seal does not match") for p in problems), problems
    assert any(
        p.startswith(f"{first}: its pack hash") and "the pack was replaced" in p for p in problems
    )


# -- published seals ---------------------------------------------------------------------------


def test_the_public_update_prints_the_seal_and_verify_checks_a_kept_copy(
    client: TestClient, engine: Engine, settings: Settings, db_url: str, tmp_path: Path
) -> None:
    label = closed_quarters(engine)[-1]
    (seal,) = one(engine, "SELECT pack_seal FROM quarters WHERE label = :label", label=label)
    page = client.get(f"/missions/{DEMO}/updates/{label.replace(' ', '-')}")
    assert page.status_code == 200
    assert f'data-history-quarter="{label}" data-history-seal="{seal}"' in page.text
    assert f"{seal[:16]}…" in page.text and f">{seal}</code>" in page.text  # short, and in full
    data = client.get(f"/missions/{DEMO}/updates/{label.replace(' ', '-')}/allocation.json")
    assert data.json()["history_seal"]["seal"] == seal
    kept_page, kept_data = tmp_path / "update.html", tmp_path / "allocation.json"
    kept_page.write_text(page.text, encoding="utf-8")
    kept_data.write_text(data.text, encoding="utf-8")

    ok = cli_verify(
        db_url,
        settings.secret_key,
        "--against-published",
        str(kept_page),
        "--against-published",
        str(kept_data),
        "--head",
        seal[:12],
    )
    assert ok.exit_code == 0, ok.output
    assert f"{label}: the history still holds the published seal" in ok.stdout

    # someone holding the key rewrites the quarter's RAG reason, its pack, hash and seal
    key = settings.history_key()
    with SqlUnitOfWork(engine) as uow:
        row = uow.missions.quarter_row(DEMO, label)
        row.rag_reason = "rewritten"
        pack = dict(row.pack or {})
        pack["rag"] = {**pack["rag"], "reason": "rewritten"}
        row.pack = content = json.loads(canonical_json(pack))
        row.pack_hash = pack_hash(content, row.pack_previous_hash)
        before = [q for q in uow.missions.quarters(DEMO) if q.label < label][-1]
        row.pack_seal = auditpack.pack_seal(key, before.pack_seal, row.pack_hash)
        uow.commit()
    caught = cli_verify(db_url, settings.secret_key, "--against-published", str(kept_data))
    assert caught.exit_code == 1
    assert (
        f"{label}: the seal published for it ({seal[:12]}…) is not its seal now" in caught.stderr
    ), caught.stderr


def test_a_seal_that_is_not_hexadecimal_is_refused_naming_the_option(
    db_url: str, settings: Settings
) -> None:
    result = cli_verify(db_url, settings.secret_key, "--head", "not-a-seal")
    assert result.exit_code == 2
    assert "--head" in result.stderr and "hexadecimal" in result.stderr


def test_a_seal_the_history_never_held_is_reported(db_url: str, settings: Settings) -> None:
    result = cli_verify(db_url, settings.secret_key, "--head", "0123456789abcdef")
    assert result.exit_code == 1
    assert "the published seal 0123456789ab… is not the seal of any closed quarter" in (
        result.stderr
    )


# -- the web and the JSON API ------------------------------------------------------------------


def check_now(client: TestClient, csrf: str) -> Any:
    """Ask for a check of the history on its page, wait for the server's job runner to finish it,
    and read the page again."""
    asked = client.post(
        f"/missions/{DEMO}/audit/checks", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert asked.status_code == 303
    assert asked.headers["location"] == f"/missions/{DEMO}/audit/verify"
    with SqlUnitOfWork(client.app.state.sessionmaker) as uow:
        check = uow.history_checks.latest(DEMO)
    assert check is not None and check.id is not None
    assert client.app.state.jobs.wait_history_check(check.id, timeout=120) == "done"
    return client.get(f"/missions/{DEMO}/audit/verify")


def test_the_ceo_checks_the_history_in_the_web_and_the_api(
    client: TestClient, engine: Engine
) -> None:
    csrf = login(client, "ceo")
    never = client.get(f"/missions/{DEMO}/audit/verify")
    assert never.status_code == 200 and "has not been checked yet" in never.text
    page = check_now(client, csrf)
    assert page.status_code == 200 and "The history is intact" in page.text
    assert "asked for by ceo" in page.text
    assert f'href="/missions/{DEMO}/audit/verify"' in client.get(f"/missions/{DEMO}/audit").text
    api = client.get(f"/api/v1/missions/{DEMO}/audit/verify")
    assert api.status_code == 200 and api.json()["intact"] is True and api.json()["keyed"]
    seal = api.json()["quarters"][-1]["seal"]
    confirmed = client.get(f"/api/v1/missions/{DEMO}/audit/verify", params={"seal": seal[:20]})
    assert confirmed.json()["confirmed"] and confirmed.json()["intact"]
    on_page = client.get(f"/missions/{DEMO}/audit/verify", params={"seal": seal[:20]})
    assert on_page.status_code == 200
    assert f"the history still holds the published seal {seal[:12]}…" in on_page.text
    refused = client.get(f"/missions/{DEMO}/audit/verify", params={"seal": "zz"})
    assert refused.status_code == 422 and "Seal from a published update" in refused.text
    assert client.get(f"/api/v1/missions/{DEMO}/audit/verify?seal=zz").status_code == 422

    label = closed_quarters(engine)[0]
    sql(engine, "UPDATE quarters SET rag_reason = 'forged' WHERE label = :label", label=label)
    kept = client.get(f"/missions/{DEMO}/audit/verify")
    assert "The history is intact" in kept.text  # the last check's report: no check on a view
    page = check_now(client, csrf)
    assert "The history was changed" in page.text
    assert f"{label}: the reason given for the RAG override differs from the sealed pack" in (
        page.text
    )
    assert client.get(f"/api/v1/missions/{DEMO}/audit/verify").json()["intact"] is False


def test_a_council_member_cannot_run_the_check(client: TestClient) -> None:
    login(client, "council1")
    assert client.get(f"/api/v1/missions/{DEMO}/audit/verify").status_code == 403


# -- writers, keys and entries from before the chain ---------------------------------------------


def test_concurrent_writers_never_fork_the_chain(engine: Engine, settings: Settings) -> None:
    key = settings.history_key()
    before = check(engine, key).audit_entries
    barrier = threading.Barrier(8)
    written: list[int] = []

    def write(n: int) -> None:
        barrier.wait()
        try:
            with SqlUnitOfWork(engine, key) as uow:
                services.record(uow, "ceo", DEMO, "note", str(n), "written")
                uow.commit()
            written.append(n)
        except Conflict:  # never expected: the unique index would refuse a second entry n
            pass

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = check(engine, key)
    assert report.problems == []
    assert report.audit_entries == before + len(written)
    assert sorted(written) == list(range(8))  # the chain's lock queues the writers


def test_an_entry_written_without_the_key_after_sealed_ones_is_reported(
    engine: Engine, settings: Settings
) -> None:
    with SqlUnitOfWork(engine, None) as uow:  # a process started without MP_SECRET_KEY
        services.record(uow, "ceo", DEMO, "note", "x", "written")
        uow.commit()
    problems = check(engine, settings.history_key()).problems
    assert len(problems) == 1 and "is not sealed with the server's key" in problems[0]


def test_without_the_key_verify_checks_what_it_can_and_says_so(engine: Engine, db_url: str) -> None:
    report = check(engine, None)
    assert report.intact and not report.keyed
    assert "MP_SECRET_KEY is not set" in report.notes[0]
    result = cli_verify(db_url, None)
    assert result.exit_code == 0
    assert "consistent, but its seals were not checked" in result.stdout
    # a structural rewrite is found even without the key
    label = closed_quarters(engine)[0]
    sql(engine, "UPDATE quarters SET rag_reason = 'forged' WHERE label = :label", label=label)
    assert not check(engine, None).intact


def a_mission(slug: str) -> Mission:
    return Mission(
        slug=slug,
        name="Chained mission",
        target=10.0,
        unit="Mt CO2e",
        deadline=dt.date(2030, 3, 31),
        years=["2026-27", "2027-28"],
        dal=10.0,
        envelopes=[Envelope(id="grants", name="Grants", budget={"2026-27": 5.0})],
    )


def test_entries_from_before_the_chain_are_vouched_for_by_the_first_chained_entry(
    empty_db_url: str,
) -> None:
    """Rows written before migration 0010 have no place in the chain; the first entry written
    after it seals them, so changing them later is found."""
    key = Settings(database_url=empty_db_url, secret_key="s" * 40).history_key()
    engine = database.make_engine(empty_db_url)
    try:
        slug = "chained"
        for n in range(3):
            sql(
                engine,
                "INSERT INTO audit_entries (at, actor, mission, entity, entity_id, action) "
                "VALUES (:at, 'ceo', :slug, 'note', :n, 'written before the chain')",
                at=f"2026-10-0{n + 1} 12:00:00",
                slug=slug,
                n=str(n),
            )
        with SqlUnitOfWork(engine, key) as uow:
            services.create_mission(uow, "ceo", a_mission(slug))
            uow.commit()
        with SqlUnitOfWork(engine, key) as uow:
            report = history.check(uow, slug)
        assert report.intact and report.audit_entries == 1
        assert any(
            "3 audit entries were written before the history was chained" in n for n in report.notes
        )
        drop_triggers(engine)
        sql(engine, "UPDATE audit_entries SET actor = 'admin' WHERE entity_id = '1'")
        with SqlUnitOfWork(engine, key) as uow:
            problems = history.check(uow, slug).problems
        assert problems == [
            "the 3 audit entries written before the chain began were changed, added or removed "
            "since entry #1 vouched for them"
        ]
    finally:
        engine.dispose()


def test_a_restore_under_the_same_key_keeps_every_seal(
    engine: Engine, empty_db_url: str, settings: Settings
) -> None:
    key = settings.history_key()
    with SqlUnitOfWork(engine, key) as uow:
        document = services.export_mission(uow, DEMO)
    assert all(e.entry_hash for e in document.audit)
    target = database.make_engine(empty_db_url)
    try:
        with SqlUnitOfWork(target, key) as uow:
            services.import_mission(
                uow, "admin", MissionDocument.model_validate_json(document.model_dump_json())
            )
            uow.commit()
        restored = check(target, key)
        assert restored.problems == [] and restored.keyed
        assert restored.quarters == check(engine, key).quarters
    finally:
        target.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_solver_process_seals_its_entries_with_the_servers_key(
    app: Any, client: TestClient, engine: Engine, settings: Settings
) -> None:
    """A run is solved in a separate process, which records the run's end in the audit trail:
    it must get the server's key, or its entry would be unsealed."""
    csrf = login(client, "ceo")
    started = client.post(
        f"/api/v1/missions/{DEMO}/runs",
        headers={"X-CSRF-Token": csrf},
        json={"policy": {"objective": "expected"}, "scenarios": 100},
    )
    assert started.status_code == 202, started.text
    app.state.jobs.wait(started.json()["id"], timeout=300)
    finished = one(
        engine,
        "SELECT count(*) FROM audit_entries WHERE mission = :slug AND entity = 'optimiser_run' "
        "AND entity_id = :run AND action = 'finished'",
        slug=DEMO,
        run=str(started.json()["id"]),
    )
    assert finished == (1,)
    assert check(engine, settings.history_key()).problems == []
