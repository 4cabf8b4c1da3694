"""Sign-in throttling (issue 16, finding 6): atomic under concurrency, per account *and*
address, with exponential delays that an attacker cannot turn into a lockout of everyone.

The concurrency test runs a real server (uvicorn in a thread) and 30 client threads released at
once by a barrier; the address tests give the in-process client the address to come from."""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from support import DEMO_PASSWORD

from portfolio.adapters import throttle
from portfolio.adapters.database import make_engine
from portfolio.adapters.orm import LoginThrottleRow
from portfolio.adapters.security_log import SecurityEventKind
from portfolio.adapters.unit_of_work import SqlUnitOfWork

WRONG = "not-the-password-9"


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port in a thread; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _token(page: str) -> str:
    match = re.search(r'name="login_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def sign_in(client: TestClient | httpx.Client, username: str, password: str) -> httpx.Response:
    token = _token(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "login_token": token, "next": "/"},
        follow_redirects=False,
    )


def from_address(app: Any, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


def events(db_url: str, kind: SecurityEventKind) -> list[Any]:
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        found = uow.security.recent(event=kind, limit=1000)
    engine.dispose()
    return found


def test_thirty_concurrent_attempts_let_only_the_free_five_reach_the_password_check(
    live_server: str, db_url: str
):
    attempts = 30
    barrier = threading.Barrier(attempts)
    statuses: list[int] = []
    lock = threading.Lock()

    def attack() -> None:
        with httpx.Client(base_url=live_server, timeout=120) as client:
            token = _token(client.get("/login").text)
            barrier.wait()
            response = client.post(
                "/login",
                data={"username": "ceo", "password": WRONG, "login_token": token, "next": "/"},
                follow_redirects=False,
            )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=attack) for _ in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 401 = the password was checked (and wrong); 429 = refused before any check
    assert sorted(set(statuses)) == [401, 429]
    assert statuses.count(401) == throttle.PAIR.free
    assert len(events(db_url, SecurityEventKind.sign_in_failed)) == throttle.PAIR.free

    # the attacker's pair now waits, even with the right password ...
    with httpx.Client(base_url=live_server) as same_place:
        assert sign_in(same_place, "ceo", DEMO_PASSWORD).status_code == 429
    # ... but the real user, from another address, is not kept out at all
    elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=live_server, transport=elsewhere) as real_user:
        response = sign_in(real_user, "ceo", DEMO_PASSWORD)
        assert response.status_code == 303
        assert real_user.get("/api/v1/me").json()["user"]["username"] == "ceo"


def test_the_delay_doubles_with_each_further_failure(app: Any, db_url: str):
    client = from_address(app, "192.0.2.10")
    engine = make_engine(db_url)

    def imposed() -> dt.timedelta:
        with engine.connect() as conn:
            blocked, last = conn.execute(
                select(LoginThrottleRow.blocked_until, LoginThrottleRow.last_failure_at).where(
                    LoginThrottleRow.key == "pair:192.0.2.10|council3"
                )
            ).one()
        return blocked - last  # type: ignore[no-any-return]

    for _ in range(throttle.PAIR.free):
        assert sign_in(client, "council3", WRONG).status_code == 401
    assert imposed() == dt.timedelta(minutes=1)
    refused = sign_in(client, "council3", WRONG)
    assert refused.status_code == 429 and "try again in" in refused.text
    for minutes in (2, 4, 8, 16, 32, 60, 60):
        with engine.begin() as conn:  # the wait is over
            conn.execute(text("UPDATE login_throttle SET blocked_until = NULL"))
        assert sign_in(client, "council3", WRONG).status_code == 401  # checked, and wrong
        assert imposed() == dt.timedelta(minutes=minutes)
        assert sign_in(client, "council3", WRONG).status_code == 429
    engine.dispose()
    delays = events(db_url, SecurityEventKind.sign_in_delayed)
    assert len(delays) == 8 and "this account from this address" in delays[0].detail


def test_many_addresses_against_one_account_cannot_keep_the_real_user_out_for_long(
    app: Any, db_url: str
):
    home = from_address(app, "198.51.100.7")
    assert sign_in(home, "council2", DEMO_PASSWORD).status_code == 303  # a known place
    for n in range(throttle.ACCOUNT.free):  # a distributed guess: one try per address
        response = sign_in(from_address(app, f"203.0.113.{n + 1}"), "council2", WRONG)
        assert response.status_code == 401
    # the account now makes new addresses wait, briefly
    new_place = sign_in(from_address(app, "192.0.2.99"), "council2", DEMO_PASSWORD)
    assert new_place.status_code == 429
    wait = re.search(r"try again in (\d+) (second|minute)", new_place.text)
    assert wait is not None
    assert int(wait.group(1)) * (60 if wait.group(2) == "minute" else 1) <= 5 * 60
    # from where the user signed in before, the attacker's failures change nothing
    assert sign_in(from_address(app, "198.51.100.7"), "council2", DEMO_PASSWORD).status_code == 303


def test_one_address_trying_many_accounts_does_not_lock_out_colleagues_behind_it(
    app: Any, db_url: str
):
    office = "192.0.2.50"
    assert sign_in(from_address(app, office), "council4", DEMO_PASSWORD).status_code == 303
    sprayer = from_address(app, office)
    for n in range(throttle.ADDRESS.free):
        assert sign_in(sprayer, f"guess{n}", WRONG).status_code == 401
    assert sign_in(sprayer, "council5", WRONG).status_code == 429  # the address now waits
    # a colleague who signs in from this office is not held to the address's counter
    colleague = from_address(app, office)
    assert sign_in(colleague, "council4", DEMO_PASSWORD).status_code == 303


def test_a_success_clears_the_pair_and_gives_back_the_shared_reservations(app: Any, db_url: str):
    client = from_address(app, "192.0.2.77")
    for _ in range(3):
        assert sign_in(client, "council6", WRONG).status_code == 401
    assert sign_in(client, "council6", DEMO_PASSWORD).status_code == 303
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT key, failures FROM login_throttle")).all())
    engine.dispose()
    assert rows["pair:192.0.2.77|council6"] == 0
    assert rows["account:council6"] == 3 and rows["address:192.0.2.77"] == 3


def test_wrong_second_factor_codes_are_reserved_atomically_too(app: Any, db_url: str):
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        now = uow.now()
        outcomes = [
            uow.throttle.attempt([("mfa:ceo", throttle.SECOND_FACTOR)], now).allowed
            for _ in range(throttle.SECOND_FACTOR.free + 3)
        ]
        uow.commit()
    engine.dispose()
    assert outcomes == [True] * throttle.SECOND_FACTOR.free + [False] * 3


def test_a_counter_forgets_failures_long_past(app: Any, db_url: str):
    client = from_address(app, "192.0.2.88")
    for _ in range(throttle.PAIR.free - 1):
        assert sign_in(client, "council7", WRONG).status_code == 401
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE login_throttle SET last_failure_at = :t"),
            {"t": dt.datetime(2000, 1, 1)},
        )
    engine.dispose()
    for _ in range(throttle.PAIR.free - 1):  # a fresh start: no delay yet
        assert sign_in(client, "council7", WRONG).status_code == 401
