"""Beliefs read each option's latest frozen aggregate straight from storage
(``Aggregates.latest``); on the demo's four closed rounds it is the same as reading every round
and keeping the newest, on SQLite and PostgreSQL."""

from __future__ import annotations

from support import DEMO

from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork


def test_the_latest_aggregates_are_the_newest_of_every_round(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            every = uow.aggregates.all(DEMO)
            latest = uow.aggregates.latest(DEMO)
    finally:
        engine.dispose()
    assert len({a.quarter for a in every}) > 1, "the demo froze more than one round"
    newest = {(a.candidate, a.option): a for a in every}
    assert {(a.candidate, a.option): a for a in latest} == newest
    assert len(latest) == len(newest)
    assert [a.quarter for a in latest] == sorted(a.quarter for a in latest)
