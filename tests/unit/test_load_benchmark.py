"""The load benchmark's people mode models people: the roles in their proportions, and an open
loop, so a slow server meets the same arrivals instead of slowing its users down."""

from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks import load


def test_fifty_people_are_mostly_council_members_with_one_ceo_at_least() -> None:
    roles = load.roles_of(50)
    assert len(roles) == 50
    assert (roles.count("ceo"), roles.count("treasury"), roles.count("council")) == (5, 10, 35)
    assert load.roles_of(1) == ["ceo"]


def test_every_page_a_person_reads_has_an_address() -> None:
    for pages in load.PEOPLE.values():
        assert set(pages) <= set(load.PEOPLE_PAGES)
        assert abs(sum(pages.values()) - 1.0) < 1e-9


class SlowClient:
    """Answers every page after ``delay`` seconds and counts the requests."""

    def __init__(self, delay: float) -> None:
        self.delay, self.asked = delay, 0

    async def get(self, path: str) -> Any:
        self.asked += 1
        await asyncio.sleep(self.delay)
        return type("Answer", (), {"status_code": 200})()


def test_a_person_asks_for_the_next_page_when_the_think_time_is_up_answered_or_not() -> None:
    async def scenario() -> tuple[int, load.Stats]:
        client, stats = SlowClient(delay=1.0), load.Stats()
        in_flight: set[asyncio.Task[None]] = set()
        deadline = time.monotonic() + 0.5
        await load.person(
            client,  # type: ignore[arg-type]
            "council",
            stats,
            deadline,
            (0.05, 0.05),
            random.Random(1),
            in_flight,
        )
        asked = client.asked
        await asyncio.gather(*list(in_flight))
        return asked, stats

    # a thread of its own: another test on this worker may have left an event loop running here
    with ThreadPoolExecutor(max_workers=1) as pool:
        asked, stats = pool.submit(lambda: asyncio.run(scenario())).result()
    # a closed loop would have asked once in 0.5 s against a server that takes 1 s
    assert asked >= 3
    assert sum(len(v) for v in stats.latencies.values()) == asked
    assert all(x >= 1.0 for v in stats.latencies.values() for x in v)
