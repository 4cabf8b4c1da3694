"""The in-memory unit of work answers as the SQL one does: the same services, called the same
way on both, leave the same stored state — the same models, in the same order, with the same
ids, and the same audit trail down to its chain hashes — on SQLite and PostgreSQL. So the fast
service tests on the fake (tests/unit/portfolio/test_services_fake_uow.py) test what the
product does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from small_mission import (
    ANNA,
    BEN,
    CEO,
    NOW,
    QUARTER,
    SLUG,
    TREASURY,
    a_candidate,
    a_run,
    a_score,
    seed_mission,
)
from sqlalchemy import Engine

from portfolio.adapters import database
from portfolio.adapters.memory import FakeUnitOfWork, MemoryStore
from portfolio.adapters.ports import UnitOfWork
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import PortfolioError
from portfolio.domain.model import OptimiserRun, Role, SeedAnswer, SeedQuestion, TrajectoryPoint
from portfolio.domain.rag import Rag
from portfolio.services import approvals, council, cycle, history_checks, publication
from portfolio.services import missions as services


@pytest.fixture
def engine(empty_db_url: str) -> Iterator[Engine]:
    engine = database.make_engine(empty_db_url)
    yield engine
    engine.dispose()


def the_quarter(uow: UnitOfWork) -> None:
    """A quarter's work through the services: scoring, seeds, a challenge, an approved
    allocation with a contract, a rating override, the letter, Treasury's approval."""
    services.register_candidate(uow, CEO, SLUG, a_candidate("beta"))
    council.open_round(uow, CEO, SLUG)
    for member in (ANNA, BEN):
        entries = [a_score(member, "base"), a_score(member, "big", p_success=0.3)]
        council.save_scores(uow, member, SLUG, "alpha", entries, submit=True, not_competent=False)
    council.save_scores(
        uow,
        ANNA,
        SLUG,
        "beta",
        [a_score(ANNA, "base", candidate="beta")],
        submit=False,
        not_competent=False,
    )
    council.add_seed_question(
        uow, CEO, SLUG, SeedQuestion(id="jet-price", question="Jet fuel price?", unit="£/t")
    )
    council.answer_seed(
        uow, SLUG, SeedAnswer(question="jet-price", member=BEN, q5=500, q50=700, q95=900)
    )
    challenge = council.add_challenge(uow, ANNA, SLUG, "alpha", "Is the feedstock secured?")
    council.reply_challenge(uow, CEO, SLUG, challenge, "Contracts for 80 % are signed.")
    council.close_round(uow, CEO, SLUG)
    run_id = a_run(uow, 0.55)
    cycle.approve_run(uow, CEO, SLUG, run_id, reasons={"alpha": "best value"}, contracted={"alpha"})
    cycle.override_rag(uow, CEO, SLUG, Rag.red, "the feedstock is at risk")
    cycle.set_trajectory(uow, CEO, SLUG, [TrajectoryPoint(quarter=QUARTER, planned_p_target=0.5)])
    publication.save_update(uow, CEO, SLUG, "Dear all, the quarter went well.", publish=True)
    roles = uow.missions.roles_of(SLUG, CEO)
    request = approvals.request_approval(uow, CEO, roles, SLUG, "beta", "the big option")
    approvals.decide_approval(
        uow,
        TREASURY,
        {*uow.missions.roles_of(SLUG, TREASURY)},
        SLUG,
        request,
        approve=False,
        reason="not yet",
    )


def refusals(uow: UnitOfWork) -> list[str]:
    """Calls that break a rule: the kind of refusal each gets."""
    calls: list[Callable[[], object]] = [
        lambda: services.register_candidate(uow, CEO, SLUG, a_candidate("alpha")),
        lambda: services.assign_role(uow, CEO, SLUG, ANNA, Role.mission_ceo),
        lambda: council.save_scores(uow, ANNA, SLUG, "alpha", [], submit=False, not_competent=True),
        lambda: uow.candidates.get(SLUG, "nobody"),
        lambda: uow.missions.quarter(SLUG, "2030-31 Q1"),
    ]
    out = []
    for call in calls:
        try:
            call()
            out.append("done")
        except PortfolioError as exc:
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def stored(uow: UnitOfWork) -> dict[str, Any]:
    """Everything the services wrote, as JSON."""

    def dump(models: list[Any]) -> list[Any]:
        return [m.model_dump(mode="json") for m in models]

    return {
        "users": dump(uow.users.all()),
        "mission": uow.missions.get(SLUG).model_dump(mode="json"),
        "roles": dump(uow.missions.roles(SLUG)),
        "council": dump(uow.missions.council(SLUG)),
        "quarters": dump(uow.missions.quarters(SLUG)),
        "candidates": dump(uow.candidates.all(SLUG)),
        "scores": dump(uow.scores.all(SLUG)),
        "one member's scores": dump(uow.scores.all(SLUG, member=ANNA)),
        "one candidate's scores": dump(uow.scores.all(SLUG, candidates={"alpha"})),
        "submitted p": [list(s) for s in uow.scores.submitted_p(SLUG, {"alpha", "beta"})],
        "who submitted": [
            uow.scores.submitted_members(SLUG, q.label) for q in uow.missions.quarters(SLUG)
        ],
        "aggregates": dump(uow.aggregates.all(SLUG)),
        "latest aggregates": dump(uow.aggregates.latest(SLUG)),
        "quarters that froze aggregates": uow.aggregates.quarters(SLUG),
        "seeds": dump(uow.seeds.questions(SLUG)) + dump(uow.seeds.answers(SLUG)),
        "challenges": [(i, c.model_dump(mode="json")) for i, c in uow.challenges.all(SLUG)],
        "runs": dump(uow.runs.all(SLUG)),
        "one quarter's runs": dump(uow.runs.all(SLUG, QUARTER)),
        "run records": dump(uow.runs.records(SLUG)),
        "some run records": dump(
            uow.runs.records(SLUG, [r.id for r in uow.runs.all(SLUG) if r.id][:1])
        ),
        "runs' policies": uow.runs.policies(SLUG, [r.id for r in uow.runs.all(SLUG) if r.id]),
        "runs' P(target)": uow.runs.p_targets(SLUG, [r.id for r in uow.runs.all(SLUG) if r.id]),
        "changes": dump(uow.cycle.changes(SLUG)),
        "updates": dump(uow.cycle.updates(SLUG)),
        "trajectory": dump(uow.cycle.trajectory(SLUG)),
        "contracts": dump(uow.contracts.all(SLUG)),
        "approvals": dump(uow.approvals.all(SLUG)),
        "audit": dump(uow.audit.all(SLUG)) + dump(uow.audit.all(None)),
        "heads": [uow.audit.head(SLUG), uow.audit.head(None)],
    }


def run_on(make: Callable[[], Any]) -> tuple[dict[str, Any], list[str]]:
    """Seed, commit, work the quarter, commit; then what is stored and the refusals."""
    for step in (seed_mission, the_quarter):
        with make() as uow:
            uow.now = lambda: NOW  # one clock for both
            step(uow)
            uow.commit()
    with make() as uow:
        uow.now = lambda: NOW
        answers = refusals(uow)
        return stored(uow), answers


def test_the_fake_stores_what_the_database_stores(engine: Engine) -> None:
    fake_store = MemoryStore(clock=lambda: NOW)
    fake, fake_refusals = run_on(lambda: FakeUnitOfWork(fake_store))
    sql, sql_refusals = run_on(lambda: SqlUnitOfWork(engine))
    assert fake_refusals == sql_refusals
    for table in sql:
        assert fake[table] == sql[table], table


def test_a_rollback_leaves_both_as_they_were(engine: Engine) -> None:
    fake_store = MemoryStore(clock=lambda: NOW)
    for make in (lambda: FakeUnitOfWork(fake_store), lambda: SqlUnitOfWork(engine)):
        with make() as uow:
            seed_mission(uow)
            uow.commit()
        with make() as uow:
            services.register_candidate(uow, CEO, SLUG, a_candidate("beta"))
            uow.rollback()
            assert [c.id for c in uow.candidates.all(SLUG)] == ["alpha"]
            services.register_candidate(uow, CEO, SLUG, a_candidate("gamma"))
        with make() as uow:
            assert [c.id for c in uow.candidates.all(SLUG)] == ["alpha"]
            assert [e.entity_id for e in uow.audit.all(SLUG, entity="candidate")] == ["alpha"]


def the_run_queue(uow: UnitOfWork) -> list[Any]:
    """Three queued runs claimed by two server processes, one heartbeat, one run put back,
    and the runs of a process gone quiet failed: what each call answers."""
    for _ in range(3):
        uow.runs.add(
            SLUG,
            OptimiserRun(
                mission=SLUG,
                quarter=QUARTER,
                objective="expected",
                started_by=CEO,
                created_at=NOW,
                problem={},
            ),
        )
    later = NOW + dt.timedelta(minutes=5)
    return [
        uow.runs.claim("host:1:a", NOW),  # the oldest
        uow.runs.claim("host:2:b", NOW),  # the next, never the same
        uow.runs.claim("host:2:b", NOW, run_id=1),  # taken already: nothing
        uow.runs.release(2, "host:1:a"),  # not host 1's to put back
        uow.runs.release(2, "host:2:b"),  # back in the queue
        uow.runs.claim("host:2:b", later, run_id=2),  # claimed again
        uow.runs.heartbeat("host:2:b", later),
        uow.runs.heartbeat("host:9:z", later),  # owns nothing
        uow.runs.fail_abandoned(later - dt.timedelta(minutes=1), "its server stopped", later),
        uow.runs.fail_abandoned(later - dt.timedelta(minutes=1), "its server stopped", later),
        uow.runs.claim("host:1:a", later),  # the third, still queued
        uow.runs.claim("host:1:a", later),  # none left
    ]


def test_the_fake_and_the_database_share_out_queued_runs_alike(engine: Engine) -> None:
    answers, runs = [], []
    for make in (
        lambda: FakeUnitOfWork(MemoryStore(clock=lambda: NOW)),
        lambda: SqlUnitOfWork(engine),
    ):
        uow = make()
        with uow:
            seed_mission(uow)
            uow.commit()
        with uow:
            answers.append(the_run_queue(uow))
            uow.commit()
        with uow:
            runs.append([r.model_dump(mode="json") for r in uow.runs.all(SLUG)])
    assert answers[0] == answers[1]
    assert answers[0] == [1, 2, None, False, True, 2, [2], [], [1], [], 3, None]
    assert runs[0] == runs[1]
    assert [r["status"] for r in runs[0]] == ["running", "running", "failed"]


def the_history_checks(uow: UnitOfWork) -> list[Any]:
    """A check asked for twice (the second gets the pending one), a second pending check
    refused, the check finished, one more asked for and failed as a stopped server's."""
    first, started = history_checks.request(uow, CEO, SLUG)
    again, started_again = history_checks.request(uow, TREASURY, SLUG)
    try:
        uow.history_checks.add(first.with_changes(id=None))
        refused = "added"
    except PortfolioError as exc:
        refused = f"{type(exc).__name__}: {exc}"
    assert first.id is not None
    uow.history_checks.update(
        first.with_changes(status="done", report={"intact": True}, finished_at=NOW)
    )
    second, _ = history_checks.request(uow, TREASURY, SLUG)
    return [
        first.model_dump(mode="json"),
        started,
        again.model_dump(mode="json"),
        started_again,
        refused,
        uow.history_checks.unfinished(),
        history_checks.fail_interrupted(uow),
        uow.history_checks.latest(SLUG, finished=True),
        uow.history_checks.pending(SLUG),
        second.id,
    ]


def test_the_fake_and_the_database_keep_history_checks_alike(engine: Engine) -> None:
    answers, kept = [], []
    fake_store = MemoryStore(clock=lambda: NOW)
    for make in (lambda: FakeUnitOfWork(fake_store), lambda: SqlUnitOfWork(engine)):
        with make() as uow:
            seed_mission(uow)
            uow.commit()
        with make() as uow:
            uow.now = lambda: NOW
            answers.append(the_history_checks(uow))
            uow.commit()
        with make() as uow:
            kept.append(
                [uow.history_checks.get(i).model_dump(mode="json") for i in (1, 2)]
                + [e.model_dump(mode="json") for e in uow.audit.all(SLUG, entity="history_check")]
            )
    assert answers[0] == answers[1]
    assert answers[0][1:2] == [True] and answers[0][3] is False
    assert (
        answers[0][4] == "Conflict: a check of this mission's history is already queued or running"
    )
    assert answers[0][5:7] == [[2], [2]]
    assert answers[0][8] is None and answers[0][9] == 2
    assert kept[0] == kept[1]
    assert [c["status"] for c in kept[0][:2]] == ["done", "failed"]
