"""Request-size limit (issue 16, finding 10): every body is limited before authentication and
before it is read, whether its length is declared or it is streamed (chunked); uploads keep
their larger limit. The ASGI-level tests count how much of the body the app pulled."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
from fastapi.testclient import TestClient
from support import DEMO, login

from api.body_limit import is_upload

CHUNK = 64 * 1024


def _send_body(
    app: Any, path: str, *, declared: int | None, budget: int = 200 * 1024 * 1024
) -> tuple[int, bytes, int]:
    """POST an endless JSON body to ``path`` straight into the ASGI app, anonymously: (status,
    body of the answer, bytes the app pulled). ``declared`` is the Content-Length sent, or None
    for a chunked body."""
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if declared is not None:
        headers.append((b"content-length", str(declared).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("203.0.113.9", 50000),
        "server": ("testserver", 80),
    }
    pulled = 0
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= budget:
            return {"type": "http.disconnect"}
        pulled += CHUNK
        return {"type": "http.request", "body": b" " * CHUNK, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    # in a thread of its own: a browser test in the same worker may leave an event loop running
    # in this one (Playwright's sync API)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, app, scope, receive, send).result()
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], body, pulled


def test_a_declared_100_mb_anonymous_body_is_refused_unread_before_authentication(app: Any):
    status, body, pulled = _send_body(
        app, f"/api/v1/missions/{DEMO}/candidates", declared=100_000_000
    )
    assert status == 413  # not 401: the caller is anonymous, and it did not matter
    assert pulled == 0
    assert b"the request body is larger than the limit of 1,000,000 bytes" in body


def test_a_streamed_anonymous_body_is_cut_off_at_the_limit(app: Any):
    limit = app.state.settings.max_body_bytes
    status, body, pulled = _send_body(app, f"/api/v1/missions/{DEMO}/candidates", declared=None)
    assert status == 413
    assert pulled <= limit + CHUNK  # read no further than the chunk that crossed the limit
    assert b"larger than the limit" in body


def test_a_body_declared_small_but_sent_large_is_cut_off_too(app: Any):
    status, _, pulled = _send_body(app, f"/api/v1/missions/{DEMO}/candidates", declared=500)
    assert status == 413 and pulled <= app.state.settings.max_body_bytes + CHUNK


def test_a_large_body_to_a_page_gets_a_413_page_with_the_security_headers(client: TestClient):
    limit = client.app.state.settings.max_body_bytes
    response = client.post(
        "/login",
        content=b"username=" + b"a" * limit,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert "What was sent is too large" in response.text
    assert "larger than the limit of 1,000,000 bytes" in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_an_api_answer_to_a_large_body_is_json_naming_the_body(client: TestClient):
    limit = client.app.state.settings.max_body_bytes
    response = client.put(
        f"/api/v1/missions/{DEMO}",
        content=b"[" + b"1," * limit + b"1]",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"] == [
        {"field": "body", "rule": "the request body is larger than the limit of 1,000,000 bytes"}
    ]


def test_uploads_keep_their_larger_limit(client: TestClient):
    settings = client.app.state.settings
    assert settings.max_upload_bytes > settings.max_body_bytes
    for path in (
        f"/missions/{DEMO}/import/candidates",
        f"/missions/{DEMO}/import/scores",
        f"/missions/{DEMO}/spend/import",
        f"/api/v1/missions/{DEMO}/spend/import",
        f"/api/v1/missions/{DEMO}/spend",
    ):
        assert is_upload(path), path
    assert not is_upload(f"/missions/{DEMO}/candidates/new")
    csrf = login(client, "ceo")
    big = b"id,name\n" + b"x" * (settings.max_body_bytes + 100)  # over the body limit only
    response = client.post(
        f"/missions/{DEMO}/import/candidates",
        data={"csrf_token": csrf},
        files={"file": ("big.csv", big, "text/csv")},
    )
    assert response.status_code != 413  # read, and judged by the CSV rules instead
    over = client.post(
        f"/missions/{DEMO}/import/candidates",
        data={"csrf_token": csrf},
        files={"file": ("big.csv", b"x" * (settings.max_upload_bytes + 10), "text/csv")},
    )
    assert over.status_code == 413
    assert "the upload is larger than the limit of 5,000,000 bytes" in over.text
