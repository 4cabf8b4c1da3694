"""The full check of a mission's history (:func:`portfolio.services.history.check`) as a job in
the background, with its report kept.

The full check rebuilds every closed quarter from the live rows and compares it with its pack:
seconds of work at the size of a large programme, too slow for a page. It is never answered from
a cache keyed on the audit trail: rewriting the database behind the server's back writes no audit
entry, so only a check run again sees it. A person asks for one (:func:`request`), the server's
job runner runs it (:func:`execute`), and the pages show the last finished one with who asked
and when. A mission has at most one check queued or running: asking again meanwhile gives the
pending one. A check a stopped server left unfinished is failed with the reason at the next
start-up (:func:`fail_interrupted`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import NotFound
from portfolio.domain.model import HistoryCheck
from portfolio.services import history
from portfolio.services.missions import record

INTERRUPTED = "the server stopped before the check finished; check the history again"

NewUow = Callable[[], AbstractContextManager[UnitOfWork]]


def request(uow: UnitOfWork, actor: str, slug: str) -> tuple[HistoryCheck, bool]:
    """Queue a full check of mission ``slug``'s history asked for by ``actor`` (an audit entry
    says so), or give the check already queued or running; and whether it is new."""
    if not uow.missions.exists(slug):
        raise NotFound(f"there is no mission {slug}")
    pending = uow.history_checks.pending(slug)
    if pending is not None:
        return pending, False
    check = HistoryCheck(mission=slug, requested_by=actor, requested_at=uow.now())
    check_id = uow.history_checks.add(check)
    record(uow, actor, slug, "history_check", str(check_id), "requested")
    return check.with_changes(id=check_id), True


def execute(new_uow: NewUow, check_id: int) -> str:
    """Run the queued check ``check_id`` and keep its report; a check that fails is kept failed
    with the reason, never left running. Returns its status."""
    with new_uow() as uow:
        check = uow.history_checks.get(check_id)
        if check.status != "queued":
            return check.status
        uow.history_checks.update(check.with_changes(status="running", started_at=uow.now()))
        uow.commit()
    try:
        with new_uow() as uow:
            report = history.check(uow, check.mission)
        status, kept, error = "done", report.model_dump(mode="json"), None
    except Exception as exc:  # kept and shown, never left "running"
        status, kept, error = "failed", None, f"the check could not finish: {exc}"
    with new_uow() as uow:
        current = uow.history_checks.get(check_id)
        uow.history_checks.update(
            current.with_changes(status=status, report=kept, error=error, finished_at=uow.now())
        )
        uow.commit()
    return status


def fail_interrupted(uow: UnitOfWork) -> list[int]:
    """Fail every check left queued or running (by a server that stopped): the ids failed."""
    failed = uow.history_checks.unfinished()
    for check_id in failed:
        check = uow.history_checks.get(check_id)
        uow.history_checks.update(
            check.with_changes(status="failed", error=INTERRUPTED, finished_at=uow.now())
        )
    return failed


def report_of(check: HistoryCheck | None) -> history.HistoryReport | None:
    """The report a finished check kept (None when it has none: not done, or failed)."""
    if check is None or check.report is None:
        return None
    return history.HistoryReport.model_validate(check.report)
