"""Report benchmark: the quarterly report page with all its charts, cold and warm.

    python -m benchmarks.report                  # demo loaded, analyses run, 20 warm views
    python -m benchmarks.report --views 50       # more warm views
    python -m benchmarks.report --no-analyses    # the six spend and trajectory charts only
    python -m benchmarks.report --db demo.db     # reuse a demo database (copied, not changed)

The app runs with uvicorn in a subprocess on a free loopback port (as ``mission-portfolio serve``
ships it), on a temporary SQLite demo database (``mission-portfolio demo --no-serve``). Unless
``--no-analyses``, Treasury first starts the report run's efficient frontier, risk frontier and
core index (the three analyses drawn as charts) through the report's buttons and waits for them,
so the report has all nine charts. Then Treasury views the report: once cold (nothing drawn yet),
then ``--views`` times warm with the charts fetched six at a time (as a browser does over its six
connections) and ``--views`` times one after another. A view is timed at the client from asking
for the page to the last chart received; the target is 300 ms for the page with all its charts
after the first view (issue 17). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from pathlib import Path

import httpx
import numpy as np

from benchmarks.load import hidden_field, load_demo_database, serving
from benchmarks.table import header, line, machine

SLUG = "uk-air-travel"
QUARTER = "2026-27-Q2"
REPORT = f"/missions/{SLUG}/report?quarter={QUARTER}"
PASSWORD = "report-benchmark-password-1"
SECRET = "report-benchmark-secret-key-0123456789-abcdefghijkl"
TARGET_MS = 300.0
CHARTED = ("frontier", "risk_frontier", "core")  # the analyses the report draws


@contextlib.contextmanager
def running_app(db: Path | None) -> Iterator[tuple[str, float, int]]:
    """Serve a demo database (a copy of ``db``, or a new one); yields (base URL, load seconds,
    the server's process id)."""
    folder = Path(tempfile.mkdtemp(prefix="mp-report-"))
    env = {**os.environ, "MP_SECRET_KEY": SECRET, "MP_AUTO_ANALYSES": "0"}
    env.pop("DATABASE_URL", None)
    target = folder / "demo.db"
    began = time.perf_counter()
    try:
        if db is not None:
            shutil.copyfile(db, target)
        else:
            load_demo_database(target, PASSWORD, env)
        loaded = time.perf_counter() - began
        with serving(["--db", str(target)], env, folder / "server.log") as (base, server):
            yield base, loaded, server.pid
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _hidden(html: str, name: str, *, required: bool = True) -> str:
    value = hidden_field(html, name)
    if value is None and required:
        raise RuntimeError(f"no {name} on the page")
    return value or ""


def sign_in(client: httpx.Client, username: str, password: str) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "login_token": _hidden(page.text, "login_token"),
            "next": "/",
            "csrf_token": _hidden(page.text, "csrf_token", required=False),
        },
    )
    if response.status_code != 303:
        raise RuntimeError(f"signing in as {username} gave HTTP {response.status_code}")
    return _hidden(client.get("/account").text, "csrf_token")


def run_analyses(client: httpx.Client, csrf: str) -> float:
    """Start the charted analyses of the report's run and wait for them; returns seconds."""
    page = client.get(REPORT).text
    run = re.search(rf"/missions/{SLUG}/runs/(\d+)/problem\.json", page)
    if run is None:
        raise RuntimeError("the report names no run")
    began = time.perf_counter()
    for kind in CHARTED:
        response = client.post(
            f"/missions/{SLUG}/runs/{run.group(1)}/analytics/{kind}", data={"csrf_token": csrf}
        )
        if response.status_code != 303:
            raise RuntimeError(f"starting the {kind} analysis gave HTTP {response.status_code}")
    while True:
        page = client.get(REPORT).text
        statuses = {
            kind: match.group(1) if match else ""
            for kind in CHARTED
            for match in [re.search(rf'data-kind="{kind}">(.*?)</tr>', page, re.S)]
        }
        if any("failed" in status.lower() for status in statuses.values()):
            raise RuntimeError(f"an analysis failed: {statuses}")
        if all("done" in status.lower() for status in statuses.values()):
            return time.perf_counter() - began
        if time.perf_counter() - began > 600:
            raise RuntimeError("the analyses did not finish within 10 minutes")
        time.sleep(1.0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc), NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def view(client: httpx.Client, pool: ThreadPoolExecutor | None = None) -> tuple[float, int]:
    """The report and every chart it shows: (ms from asking for the page to the last chart,
    charts). The charts one after another, or with ``pool`` six at a time, as a browser does."""
    began = time.perf_counter()
    page = client.get(REPORT)
    if page.status_code != 200:
        raise RuntimeError(f"the report gave HTTP {page.status_code}")
    sources = [unescape(s) for s in re.findall(r'<img src="([^"]+\.svg[^"]*)"', page.text)]
    for svg in pool.map(client.get, sources) if pool else map(client.get, sources):
        if svg.status_code != 200 or b"<svg" not in svg.content:
            raise RuntimeError(f"chart {svg.url} gave HTTP {svg.status_code}")
    return (time.perf_counter() - began) * 1000, len(sources)


Timing = tuple[list[float], float]  # the views' ms, and the server's CPU ms per view


def table(cold: Timing, charts: int, six: Timing, one: Timing) -> str:
    lines = [
        header(
            f"report page with its {charts} charts",
            "views",
            "ms (p50)",
            "ms (p95)",
            "server CPU ms per view",
            f"p95 < {TARGET_MS:.0f} ms",
            right=range(1, 5),
        )
    ]
    for name, (samples, cpu) in (
        ("cold: the first view (every chart drawn)", cold),
        ("warm, charts six at a time (as a browser)", six),
        ("warm, charts one after another", one),
    ):
        p50, p95 = np.percentile(samples, [50, 95])
        met = "–" if len(samples) == 1 else "yes" if p95 < TARGET_MS else "**no**"
        lines.append(line(name, len(samples), f"{p50:.0f}", f"{p95:.0f}", f"{cpu:.0f}", met))
    return "\n".join(lines)


def timed(pid: int, views: int, once: Callable[[], tuple[float, int]]) -> tuple[Timing, int]:
    """``views`` views by ``once``: their times, the server's CPU ms per view, and charts."""
    before = cpu_seconds(pid)
    results = [once() for _ in range(views)]
    cpu = (cpu_seconds(pid) - before) * 1000 / views
    return ([ms for ms, _ in results], cpu), results[-1][1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--views", type=int, default=20, help="warm views of each kind (20)")
    parser.add_argument("--no-analyses", action="store_true", help="no analyses: six charts")
    parser.add_argument("--db", type=Path, help="a demo database to copy instead of loading one")
    parser.add_argument("--password", default=PASSWORD, help="the demo users' password (--db)")
    args = parser.parse_args(argv)
    with running_app(args.db) as (base, loaded, pid):
        with httpx.Client(base_url=base, timeout=120.0) as client:
            csrf = sign_in(client, "treasury", args.password)
            setup = "" if args.no_analyses else f"; analyses {run_analyses(client, csrf):.1f} s"
            start_load = os.getloadavg()[0]
            cold, charts = timed(pid, 1, lambda: view(client))
            with ThreadPoolExecutor(max_workers=6) as pool:
                six, _ = timed(pid, args.views, lambda: view(client, pool))
            one, _ = timed(pid, args.views, lambda: view(client))
    print(f"Report of {QUARTER} on a SQLite demo database; {machine()}.")
    print(f"Set-up: demo {'copied' if args.db else 'loaded'} in {loaded:.1f} s{setup}.")
    print(
        f"Load average (1 min) {start_load:.1f} before the views, {os.getloadavg()[0]:.1f} after.\n"
    )
    print(table(cold, charts, six, one))


if __name__ == "__main__":
    main()
