"""Browser tests: headless Debian Chromium driven by Playwright against a live uvicorn server.

Every test in this folder is marked ``browser`` and grouped onto one xdist worker, and runs on
SQLite only (the storage backends are covered by the other suites).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright
from support import DEMO_PASSWORD

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parents[1] / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000

# Records Content-Security-Policy violations (init scripts are not subject to the page's CSP).
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist registers this marker itself; register it too so --strict-markers accepts it
    # when xdist is disabled (-p no:xdist).
    config.addinivalue_line("markers", "xdist_group(name): run on the same xdist worker")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_REPORT] = report
    return report


_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.fixture
def backend() -> str:
    """Browser tests run on SQLite only (overrides the parametrised fixture of tests/)."""
    return "sqlite"


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (scripts/install-test-deps.sh, "
            "or apt-get install -y chromium); `playwright install` cannot download here",
            pytrace=False,
        )
    browser = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port in a daemon thread; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            pytest.fail("the live server did not start", pytrace=False)
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class BrowserLog:
    """What the page reported: console errors, uncaught exceptions, failed requests."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error: Exception) -> None:
        self.page_errors.append(str(error))


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser: Browser, live_server: str, browser_log: BrowserLog
) -> Iterator[Page]:
    """A fresh browser context (own cookies) per test, pointed at the live server."""
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    page.on("console", browser_log.on_console)
    page.on("pageerror", browser_log.on_page_error)
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        yield page
    finally:
        report = request.node.stash.get(_REPORT, None)
        if report is not None and report.failed and not page.is_closed():
            ARTIFACTS.mkdir(exist_ok=True)
            name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception:  # a screenshot is a convenience: never mask the failure
                pass
        context.close()


def sign_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the real /login form and wait until the browser has left it."""
    page.goto("/login")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.wait_for_load_state()


def csp_violations(page: Page) -> list[str]:
    return list(page.evaluate("window.__cspViolations || []"))


# ---- Accessibility: axe-core on the pages a test visits ------------------------------------------
AXE = HERE / "vendor" / "axe.min.js"
AXE_URL = "/__axe__.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}


def serve_axe(page: Page) -> None:
    """Serve the vendored axe-core at a same-origin URL (call once per page, before axe_check):
    the page loads it as an ordinary 'self' script, so its CSP stays in force."""
    page.route(
        f"**{AXE_URL}",
        lambda route: route.fulfill(path=str(AXE), content_type="application/javascript"),
    )


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run the vendored axe-core on the current document; its serious and critical violations.
    Needs ``serve_axe(page)`` first."""
    page.add_script_tag(url=AXE_URL)
    page.wait_for_function("() => typeof window.axe !== 'undefined'")
    results = page.evaluate(
        """(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(r =>
          r.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map(n => ({
              impact: n.impact, target: n.target, html: n.html, summary: n.failureSummary,
            })),
          })))""",
        AXE_TAGS,
    )
    return [v for v in results if v["impact"] in BLOCKING]


def describe_violations(where: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{where}: [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:10]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:200]}")
            lines.append("      " + (node["summary"] or "").replace("\n", "\n      "))
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation on the current page (``serve_axe`` first)."""
    page.wait_for_load_state("load")
    violations = axe_violations(page)
    assert not violations, describe_violations(page.url, violations)
