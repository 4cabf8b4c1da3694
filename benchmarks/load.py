"""Load benchmark: signed-in users against the running app on loopback, while the optimiser
solves in the background. Two modes:

    python -m benchmarks.load --clients 50 --seconds 30          # capacity: no think time
    python -m benchmarks.load --people 50 --seconds 120          # people: think time, open loop
    python -m benchmarks.load --database-url postgresql+psycopg://app@127.0.0.1:5432/portfolio
    python -m benchmarks.load --database-url postgresql+psycopg://… --workers 2   # two processes

The app is started with uvicorn in a subprocess on a free loopback port — against PostgreSQL when
``--database-url`` (or ``DATABASE_URL``) is given (the demo mission is loaded into it when it is
not there yet), else against a temporary SQLite demo database made with
``mission-portfolio demo --no-serve``. Each client signs in through the /login form with its own
cookie jar and then, with no think time, requests the dashboard, the quarterly report, the scoring
page and the candidate list at random until the time is up: that measures capacity, not what
people feel. With ``--people N`` it models people instead: N users, each a Mission CEO, a council
member or a Treasury reviewer (``MIX``), each reading the pages people in that role read
(``PEOPLE``) with a think time drawn between ``--think`` seconds (5–10) between one page and the
next. The load is open loop: a person's next page is requested when its think time is up, whether
or not the last one has come back, so a slow server meets the same arrivals and its queue
shows in the latencies (a closed loop would slow its users down instead). Throughout, ONE
optimiser run (cvar, 2,000 scenarios) is solving: the Mission CEO starts one through the JSON API
and, when it ends, the next. The table gives requests, throughput and p50 / p95 / p99 latency
per page and overall, the errors, and whether the p95 target (under 200 ms for pages) is met.
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from benchmarks.table import header, line, machine

SLUG = "uk-air-travel"
QUARTER = "2026-27-Q2"
PASSWORD = "load-benchmark-password-1"
USERS = ["ceo", *(f"council{i}" for i in range(1, 8)), "treasury"]
TARGET_P95_MS = 200.0
CAPACITY_GOAL = 40.0  # requests/s, issue 20: 2 cores, PostgreSQL, two server processes
PAGES: dict[str, tuple[str, float]] = {  # name -> (path, share of requests)
    "dashboard": (f"/missions/{SLUG}", 0.35),
    "report": (f"/missions/{SLUG}/report?quarter={QUARTER}", 0.25),
    "scoring": (f"/missions/{SLUG}/scoring", 0.20),
    "candidates": (f"/missions/{SLUG}/candidates", 0.20),
}
SECRET = "load-benchmark-secret-key-0123456789-abcdefghijkl"

CURRENT = "2026-27%20Q3"  # the demo's open quarter, as its home page's address writes it
CANDIDATE = "northsea-hefa"
#: people mode: every page a person may read -> its path
PEOPLE_PAGES: dict[str, str] = {
    "dashboard": f"/missions/{SLUG}",
    "quarter home": f"/missions/{SLUG}/quarters/{CURRENT}",
    "runs": f"/missions/{SLUG}/runs",
    "candidates": f"/missions/{SLUG}/candidates",
    "candidate": f"/missions/{SLUG}/candidates/{CANDIDATE}",
    "report": f"/missions/{SLUG}/report?quarter={QUARTER}",
    "finance": f"/missions/{SLUG}/finance",
    "approvals": f"/missions/{SLUG}/approvals",
    "scoring": f"/missions/{SLUG}/scoring",
    "scoring a candidate": f"/missions/{SLUG}/scoring/{CANDIDATE}",
    "council": f"/missions/{SLUG}/council",
}
#: people mode: what a person in each role reads, and how often (shares of their page views)
PEOPLE: dict[str, dict[str, float]] = {
    "ceo": {
        "dashboard": 0.25,
        "quarter home": 0.20,
        "runs": 0.15,
        "candidates": 0.10,
        "candidate": 0.10,
        "report": 0.10,
        "finance": 0.10,
    },
    "council": {"scoring": 0.35, "scoring a candidate": 0.35, "candidate": 0.15, "council": 0.15},
    "treasury": {"report": 0.40, "finance": 0.30, "approvals": 0.20, "dashboard": 0.10},
}
#: people mode: the share of the users in each role (the council is most of the people)
MIX: dict[str, float] = {"ceo": 0.1, "council": 0.7, "treasury": 0.2}


# -- the server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from api.cli import main; main()", *args]


def _prepare_postgres(url: str, password: str) -> None:
    """Migrate; load the demo mission (users with ``password``) unless it is there already."""
    from api.cli import load_demo
    from api.settings import Settings
    from portfolio.adapters import database
    from portfolio.adapters.unit_of_work import SqlUnitOfWork

    engine = database.make_engine(url)
    try:
        database.upgrade(engine)
        with SqlUnitOfWork(engine) as uow:
            present = uow.missions.exists(SLUG)
    finally:
        engine.dispose()
    if not present:
        load_demo(Settings(database_url=url, secret_key=SECRET), password)


@contextlib.contextmanager
def running_app(
    database_url: str | None, password: str, workers: int = 1
) -> Iterator[tuple[str, str, Path]]:
    """Start the app (``workers`` server processes: PostgreSQL only); yields (base URL, a
    description of the database, the server's log)."""
    folder = Path(tempfile.mkdtemp(prefix="mp-load-"))
    # the pages under load, not the analyses a fresh server starts for the demo's runs (they
    # would share the two cores for the first minutes: MP_AUTO_ANALYSES in the README)
    env = {**os.environ, "MP_SECRET_KEY": SECRET, "MP_AUTO_ANALYSES": "0"}
    env.pop("DATABASE_URL", None)
    try:
        if database_url:
            _prepare_postgres(database_url, password)
            env["DATABASE_URL"] = database_url
            db_args: list[str] = []
            described = "PostgreSQL " + database_url.rsplit("@", 1)[-1]
        else:
            db = folder / "demo.db"
            load_demo_database(db, password, env)
            db_args = ["--db", str(db)]
            described = "SQLite (temporary demo database)"
        if workers > 1:
            db_args += ["--workers", str(workers)]
            described += f", {workers} server processes"
        with serving(db_args, env, folder / "server.log") as (base, _):
            yield base, described, folder / "server.log"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def load_demo_database(db: Path, password: str, env: dict[str, str]) -> None:
    """A SQLite demo database at `db` (its users' password `password`), as
    ``mission-portfolio demo --no-serve`` makes it."""
    subprocess.run(
        _cli("demo", "--no-serve", "--db", str(db), "--password", password),
        check=True,
        capture_output=True,
        env=env,
    )


@contextlib.contextmanager
def serving(
    db_args: list[str], env: dict[str, str], log_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``mission-portfolio serve`` on a free loopback port, its output in `log_path`; yields
    (base URL, the server's process) once it answers, and stops it afterwards."""
    port = _free_port()
    with log_path.open("w") as log:
        server = subprocess.Popen(
            _cli("serve", "--host", "127.0.0.1", "--port", str(port), *db_args),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_up(base, server, log_path)
            yield base, server
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped (exit {server.returncode}):\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"the server did not start within 60 s:\n{log.read_text()}")


# -- clients -------------------------------------------------------------------------------------


def hidden_field(html: str, name: str) -> str | None:
    """The value of the form's hidden field `name` on the page, if there is one."""
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    return match.group(1) if match else None


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> str:
    """Sign in through the login form; returns the session's CSRF token (from /account)."""
    page = await client.get("/login")
    token = hidden_field(page.text, "login_token")
    if token is None:
        raise RuntimeError("the login page has no login_token")
    response = await client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "login_token": token,
            "next": "/",
            "csrf_token": hidden_field(page.text, "csrf_token") or "",
        },
    )
    if response.status_code != 303:
        raise RuntimeError(f"signing in as {username} gave HTTP {response.status_code}")
    csrf = hidden_field((await client.get("/account")).text, "csrf_token")
    if csrf is None:
        raise RuntimeError("no csrf_token on the account page")
    return csrf


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_kinds: dict[str, int] = field(default_factory=lambda: defaultdict(int))


async def user(
    client: httpx.AsyncClient, stats: Stats, deadline: float, rng: random.Random
) -> None:
    names = list(PAGES)
    weights = [share for _, share in PAGES.values()]
    while time.monotonic() < deadline:
        name = rng.choices(names, weights)[0]
        started = time.perf_counter()
        try:
            response = await client.get(PAGES[name][0])
            ok, kind = response.status_code == 200, f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            ok, kind = False, type(exc).__name__
        elapsed = time.perf_counter() - started
        stats.latencies[name].append(elapsed)
        if not ok:
            stats.errors[name] += 1
            stats.error_kinds[kind] += 1


def roles_of(people: int) -> list[str]:
    """The role of each of ``people`` users, in the proportions of ``MIX`` (at least one CEO)."""
    roles = ["ceo"] * max(1, round(people * MIX["ceo"]))
    roles += ["treasury"] * round(people * MIX["treasury"])
    return (roles + ["council"] * people)[:people]


def username_for(role: str, n: int) -> str:
    """The demo user a person of ``role`` signs in as (the council members in turn)."""
    return f"council{n % 7 + 1}" if role == "council" else role


async def fetch(client: httpx.AsyncClient, name: str, stats: Stats) -> None:
    """One page view, timed from the request to the whole answer."""
    started = time.perf_counter()
    try:
        response = await client.get(PEOPLE_PAGES[name])
        ok, kind = response.status_code == 200, f"HTTP {response.status_code} on {name}"
    except httpx.HTTPError as exc:
        ok, kind = False, type(exc).__name__
    stats.latencies[name].append(time.perf_counter() - started)
    if not ok:
        stats.errors[name] += 1
        stats.error_kinds[kind] += 1


async def person(
    client: httpx.AsyncClient,
    role: str,
    stats: Stats,
    deadline: float,
    think: tuple[float, float],
    rng: random.Random,
    in_flight: set[asyncio.Task[None]],
) -> None:
    """A person in ``role`` reading pages until ``deadline``, open loop: each page is asked for
    when the think time since the last request is up, answered or not."""
    pages = PEOPLE[role]
    names, weights = list(pages), list(pages.values())
    next_at = time.monotonic() + rng.uniform(0.0, think[1])  # people do not arrive together
    while True:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if time.monotonic() >= deadline:
            return
        task = asyncio.create_task(fetch(client, rng.choices(names, weights)[0], stats))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        next_at += rng.uniform(*think)


@dataclass
class Solves:
    started: int = 0
    finished: list[tuple[str, float]] = field(default_factory=list)  # (status, seconds)
    failures: list[str] = field(default_factory=list)
    busy: float = 0.0  # seconds of the measurement during which a run was queued or running


async def keep_one_solve_running(
    ceo: httpx.AsyncClient, csrf: str, scenarios: int, stop: asyncio.Event, solves: Solves
) -> None:
    """Start a cvar run; when it ends start the next, so one is always solving until ``stop``."""
    while not stop.is_set():
        began = time.monotonic()
        response = await ceo.post(
            f"/api/v1/missions/{SLUG}/runs",
            headers={"X-CSRF-Token": csrf},
            json={"policy": {"objective": "cvar"}, "scenarios": scenarios, "note": "load test"},
        )
        if response.status_code != 202:
            solves.failures.append(f"starting a run gave HTTP {response.status_code}")
            return
        run_id, status = response.json()["id"], "queued"
        solves.started += 1
        while not stop.is_set() and status in ("queued", "running"):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            run = await ceo.get(f"/api/v1/missions/{SLUG}/runs/{run_id}")
            status = run.json()["status"] if run.status_code == 200 else "unknown"
        solves.busy += time.monotonic() - began
        if status not in ("queued", "running"):
            solves.finished.append((status, time.monotonic() - began))


# -- the benchmark -------------------------------------------------------------------------------


@dataclass
class Load:
    """What to put on the server: ``clients`` without think time (capacity), or ``people``
    with think time (people); for ``seconds``, with one solve of ``scenarios`` running."""

    seconds: float
    scenarios: int
    password: str
    clients: int = 0
    people: int = 0
    think: tuple[float, float] = (5.0, 10.0)
    drained_s: float = 0.0  # people: how long the last answers took to come after the end

    def describe(self, elapsed: float, sign_in_s: float) -> str:
        if self.people:
            low, high = self.think
            offered = self.people / ((low + high) / 2)
            return (
                f"{self.people} people ({_mix(self.people)}) for {elapsed:.1f} s (signed in in "
                f"{sign_in_s:.1f} s), open loop, {low:g}–{high:g} s between one person's pages: "
                f"{offered:.1f} page views/s offered; the last answers came "
                f"{self.drained_s:.1f} s after the end."
            )
        return (
            f"{self.clients} clients for {elapsed:.1f} s (signed in in {sign_in_s:.1f} s), "
            "no think time."
        )


def _mix(people: int) -> str:
    roles = roles_of(people)
    return ", ".join(f"{roles.count(r)} {r}" for r in MIX if roles.count(r))


async def _sign_in_all(pool: list[httpx.AsyncClient], usernames: list[str], password: str) -> None:
    for i in range(0, len(pool), 10):  # sign in ten at a time
        await asyncio.gather(
            *(sign_in(c, usernames[i + j], password) for j, c in enumerate(pool[i : i + 10]))
        )


async def drive(base: str, load: Load) -> str:
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    timeout = httpx.Timeout(60.0)
    size = load.people or load.clients
    pool = [httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) for _ in range(size)]
    roles = roles_of(load.people) if load.people else []
    usernames = (
        [username_for(r, n) for n, r in enumerate(roles)]
        if load.people
        else [USERS[i % len(USERS)] for i in range(size)]
    )
    ceo = httpx.AsyncClient(base_url=base, timeout=timeout)
    try:
        started = time.perf_counter()
        await _sign_in_all(pool, usernames, load.password)
        sign_in_s = time.perf_counter() - started
        csrf = await sign_in(ceo, "ceo", load.password)

        stats, solves, stop = Stats(), Solves(), asyncio.Event()
        solver = None
        if load.scenarios:
            solver = asyncio.create_task(
                keep_one_solve_running(ceo, csrf, load.scenarios, stop, solves)
            )
            await asyncio.sleep(1.0)  # let the first run get going
        began = time.perf_counter()
        deadline = time.monotonic() + load.seconds
        if load.people:
            in_flight: set[asyncio.Task[None]] = set()
            await asyncio.gather(
                *(
                    person(c, roles[n], stats, deadline, load.think, random.Random(n), in_flight)
                    for n, c in enumerate(pool)
                )
            )
            drain = time.perf_counter()
            await asyncio.gather(*list(in_flight))  # the answers still on their way
            load.drained_s = time.perf_counter() - drain
        else:
            await asyncio.gather(
                *(user(c, stats, deadline, random.Random(n)) for n, c in enumerate(pool))
            )
        elapsed = time.perf_counter() - began - load.drained_s
        stop.set()
        if solver is not None:
            await solver
    finally:
        for c in [*pool, ceo]:
            await c.aclose()
    pages = list(PEOPLE_PAGES) if load.people else list(PAGES)
    return report(stats, solves, load.describe(elapsed, sign_in_s), pages, elapsed)


def _row(name: str, samples: list[float], errors: int, elapsed: float) -> str:
    if not samples:
        return line(name, 0, 0, "–", "–", "–", errors, "–")
    ms = np.array(samples) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    met = "yes" if p95 < TARGET_P95_MS else "**no**"
    rate = f"{len(ms) / elapsed:.1f}"
    return line(name, len(ms), rate, f"{p50:.0f}", f"{p95:.0f}", f"{p99:.0f}", errors, met)


def report(stats: Stats, solves: Solves, described: str, pages: list[str], elapsed: float) -> str:
    lines = [
        described,
        "",
        header(
            "page",
            "requests",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            f"p95 < {TARGET_P95_MS:.0f} ms",
            right=range(1, 7),
        ),
    ]
    for name in pages:
        lines.append(_row(name, stats.latencies[name], stats.errors[name], elapsed))
    every = [x for name in pages for x in stats.latencies[name]]
    lines.append(_row("**all pages**", every, sum(stats.errors.values()), elapsed))
    lines.append("")
    if pages == list(PAGES):  # capacity: no think time
        rate = len(every) / elapsed if elapsed > 0 else 0.0
        met = "met" if rate >= CAPACITY_GOAL else "not met"
        lines.append(
            f"Capacity: {rate:.1f} requests/s answered (goal: at least {CAPACITY_GOAL:.0f} on 2 "
            f"cores with PostgreSQL and two server processes: {met} on this setup)."
        )
    if stats.error_kinds:
        kinds = ", ".join(f"{k} × {n}" for k, n in sorted(stats.error_kinds.items()))
        lines.append(f"Errors: {kinds}.")
    finished = ", ".join(f"{status} in {s:.1f} s" for status, s in solves.finished)
    if not solves.started and not solves.failures:
        lines.append("No background solve (--no-solve).")
        return "\n".join(lines)
    lines.append(
        f"Background solves (cvar): {solves.started} started, a run in progress for "
        f"{min(solves.busy, elapsed + 1) / (elapsed + 1):.0%} of the time; "
        f"finished: {finished or 'none (still solving when the load stopped)'}."
    )
    for failure in solves.failures:
        lines.append(f"Background solve problem: {failure}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--clients", type=int, help="capacity: this many users without think time (default 50)"
    )
    mode.add_argument(
        "--people", type=int, help="people: this many users with think time, open loop"
    )
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(5.0, 10.0),
        metavar=("LOW", "HIGH"),
        help="people: seconds between one person's pages, drawn uniformly (5 10)",
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="duration of the load (30; people: 120)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL URL (default: DATABASE_URL, else a temporary SQLite demo database)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (serve --workers; more than one needs --database-url)",
    )
    parser.add_argument(
        "--password",
        default=PASSWORD,
        help="password of the demo users (set when the demo is loaded by this benchmark)",
    )
    parser.add_argument(
        "--scenarios", type=int, default=2000, help="scenarios of the background run"
    )
    parser.add_argument(
        "--no-solve", action="store_true", help="no background run (a baseline to compare)"
    )
    args = parser.parse_args(argv)
    if not 0 < args.think[0] <= args.think[1]:
        parser.error("--think: LOW must be above 0 and at most HIGH")
    if (args.people is not None and args.people < 1) or (
        args.clients is not None and args.clients < 1
    ):
        parser.error("--clients and --people: at least 1")
    if args.workers < 1 or (args.workers > 1 and not args.database_url):
        parser.error("--workers: at least 1, and more than one needs PostgreSQL (--database-url)")
    load = Load(
        seconds=args.seconds or (120.0 if args.people else 30.0),
        scenarios=0 if args.no_solve else args.scenarios,
        password=args.password,
        clients=0 if args.people else (args.clients or 50),
        people=args.people or 0,
        think=(args.think[0], args.think[1]),
    )
    with running_app(args.database_url, args.password, args.workers) as (base, described, log):
        print(f"Mission Portfolio at {base} on {described}; {machine()}.", flush=True)
        table = asyncio.run(drive(base, load))
        server_errors = _server_errors(log.read_text(errors="replace"))
    print(table)
    if server_errors:
        print("\nServer errors (from its log):\n" + server_errors)


def _server_errors(log: str, limit: int = 60) -> str:
    """The tracebacks and error lines of the server log, shortened."""
    lines = log.splitlines()
    starts = [i for i, line in enumerate(lines) if "Traceback" in line or " ERROR" in line]
    if not starts:
        return ""
    first = starts[0]
    shown = lines[first : first + limit]
    return "\n".join(shown) + (f"\n… ({len(starts)} error lines in all)" if starts else "")


if __name__ == "__main__":
    main()
