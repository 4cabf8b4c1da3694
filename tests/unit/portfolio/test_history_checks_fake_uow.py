"""The full history check as a background job (``portfolio.services.history_checks``), on the
in-memory unit of work: a check asked for is run and its report kept, a failure is kept with its
reason, a mission never has two pending checks, and a stopped server's checks are failed. The
seal from a published update is checked at once without rebuilding any quarter."""

from __future__ import annotations

import pytest
from small_mission import CEO, NOW, SLUG, TREASURY, seed_mission

from portfolio.adapters.memory import FakeUnitOfWork, MemoryStore
from portfolio.domain.errors import InvalidInput, NotFound
from portfolio.services import history, history_checks


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore(clock=lambda: NOW, history_key=b"k" * 32)
    with FakeUnitOfWork(store) as uow:
        seed_mission(uow)
        uow.commit()
    return store


def ask(store: MemoryStore, actor: str = CEO) -> tuple[int, bool]:
    with FakeUnitOfWork(store) as uow:
        check, started = history_checks.request(uow, actor, SLUG)
        uow.commit()
    assert check.id is not None
    return check.id, started


def test_a_check_asked_for_is_run_and_its_report_kept(store: MemoryStore) -> None:
    check_id, started = ask(store)
    assert started
    assert history_checks.execute(lambda: FakeUnitOfWork(store), check_id) == "done"
    with FakeUnitOfWork(store) as uow:
        kept = uow.history_checks.latest(SLUG, finished=True)
        assert uow.history_checks.pending(SLUG) is None
        asked = uow.audit.all(SLUG, entity="history_check")
    assert kept is not None and kept.id == check_id
    assert (kept.status, kept.requested_by, kept.error) == ("done", CEO, None)
    assert kept.requested_at == kept.started_at == kept.finished_at == NOW
    report = history_checks.report_of(kept)
    assert report is not None and report.mission == SLUG and report.intact and report.keyed
    assert [(e.actor, e.entity_id, e.action) for e in asked] == [(CEO, str(check_id), "requested")]


def test_the_kept_report_is_the_one_the_check_gives(store: MemoryStore) -> None:
    check_id, _ = ask(store)
    history_checks.execute(lambda: FakeUnitOfWork(store), check_id)
    with FakeUnitOfWork(store) as uow:
        kept = history_checks.report_of(uow.history_checks.get(check_id))
        assert kept == history.check(uow, SLUG)


def test_a_check_that_fails_is_kept_failed_with_its_reason(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> history.HistoryReport:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(history, "check", broken)
    check_id, _ = ask(store)
    assert history_checks.execute(lambda: FakeUnitOfWork(store), check_id) == "failed"
    with FakeUnitOfWork(store) as uow:
        kept = uow.history_checks.get(check_id)
        assert uow.history_checks.pending(SLUG) is None
    assert kept.status == "failed" and kept.report is None and kept.finished_at == NOW
    assert kept.error == "the check could not finish: the database went away"
    assert history_checks.report_of(kept) is None


def test_asking_again_while_a_check_is_pending_gives_the_pending_one(store: MemoryStore) -> None:
    first, _ = ask(store, CEO)
    again, started = ask(store, TREASURY)
    assert (again, started) == (first, False)
    with FakeUnitOfWork(store) as uow:
        assert len(uow.audit.all(SLUG, entity="history_check")) == 1
        assert uow.history_checks.get(first).requested_by == CEO
    history_checks.execute(lambda: FakeUnitOfWork(store), first)
    after, started = ask(store, TREASURY)
    assert started and after != first


def test_a_check_already_run_is_not_run_again(store: MemoryStore) -> None:
    check_id, _ = ask(store)
    history_checks.execute(lambda: FakeUnitOfWork(store), check_id)
    with FakeUnitOfWork(store) as uow:
        finished_at = uow.history_checks.get(check_id).finished_at
    store.clock = lambda: NOW.replace(hour=NOW.hour + 1)
    assert history_checks.execute(lambda: FakeUnitOfWork(store), check_id) == "done"
    with FakeUnitOfWork(store) as uow:
        assert uow.history_checks.get(check_id).finished_at == finished_at


def test_checks_a_stopped_server_left_unfinished_are_failed_with_the_reason(
    store: MemoryStore,
) -> None:
    check_id, _ = ask(store)
    with FakeUnitOfWork(store) as uow:
        running = uow.history_checks.get(check_id).with_changes(status="running", started_at=NOW)
        uow.history_checks.update(running)
        assert history_checks.fail_interrupted(uow) == [check_id]
        assert history_checks.fail_interrupted(uow) == []
        failed = uow.history_checks.get(check_id)
    assert failed.status == "failed" and failed.error == history_checks.INTERRUPTED
    assert "the server stopped before the check finished" in failed.error


def test_a_check_of_a_mission_that_does_not_exist_is_refused(store: MemoryStore) -> None:
    with FakeUnitOfWork(store) as uow, pytest.raises(NotFound):
        history_checks.request(uow, CEO, "no-such-mission")


def test_a_published_seal_is_checked_without_rebuilding_a_quarter(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def rebuilt(*args: object) -> list[str]:
        raise AssertionError("the seal check rebuilt a quarter")

    monkeypatch.setattr(history, "live_differences", rebuilt)
    with FakeUnitOfWork(store) as uow:
        found = history.check_published(uow, SLUG, [history.PublishedSeal(seal="0123456789ab")])
        assert found.confirmed == []
        assert found.problems == [
            "the published seal 0123456789ab… is not the seal of any closed quarter of "
            f"{SLUG}: the history it vouched for was rewritten (or it is another mission's)"
        ]
        with pytest.raises(InvalidInput) as refused:
            history.check_published(uow, SLUG, [history.PublishedSeal(seal="zz")])
    assert refused.value.errors[0][0] == "seal"
