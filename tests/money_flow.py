"""Helpers the money-across-quarters tests share: runs, approvals and closing a quarter through
the JSON API as the Mission CEO does them, on the demo mission."""

from __future__ import annotations

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO

CURRENT = "2026-27 Q3"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def api(client: TestClient, csrf: str, method: str, path: str, **kwargs):
    url = f"/api/v1/missions/{DEMO}{path}"
    headers = {"X-CSRF-Token": csrf}
    if method == "PUT" and (etag := client.get(url).headers.get("ETag")):
        headers["If-Match"] = etag  # a versioned resource: change the version just read
    return client.request(method, url, headers=headers, **kwargs)


def live_contracts(client: TestClient) -> list[dict]:
    response = client.get(f"/api/v1/missions/{DEMO}/contracts?state=live")
    assert response.status_code == 200, response.text
    return response.json()


def start_run(client: TestClient, csrf: str, budget_scale: float = 1.0, **policy) -> dict:
    overrides = dict.fromkeys([*policy.get("locks", []), *policy.get("exclusions", [])], "test")
    started = api(
        client,
        csrf,
        "POST",
        "/runs",
        json={
            "policy": {"objective": "expected", "min_platforms": 3, **policy},
            "scenarios": 300,
            "overrides": overrides,
            "budget_scale": budget_scale,
        },
    )
    assert started.status_code == 202, started.text
    return client.get(f"/api/v1/missions/{DEMO}/runs/{started.json()['id']}").json()


def reasons_for(client: TestClient, run_id: int) -> dict[str, str]:
    page = soup(client.get(f"/missions/{DEMO}/runs/{run_id}/approve"))
    return {row["data-candidate"]: "test reason" for row in page.select("#changes tbody tr")}


def approve(client: TestClient, csrf: str, run_id: int, contracted: list[str]):
    return api(
        client,
        csrf,
        "POST",
        f"/runs/{run_id}/approve",
        json={"reasons": reasons_for(client, run_id), "contracted": contracted},
    )


def close_current(client: TestClient, csrf: str) -> None:
    draft = api(client, csrf, "GET", "/quarter/draft-update").json()["body"]
    published = api(client, csrf, "PUT", "/quarter/update", json={"body": draft, "publish": True})
    assert published.status_code == 200, published.text
    closed = api(client, csrf, "POST", "/quarter/close")
    assert closed.status_code == 200, closed.text


def commitments_of(client: TestClient, run: dict) -> list[str]:
    problem = client.get(f"/api/v1/missions/{DEMO}/runs/{run['id']}/problem").json()
    return problem["policy"]["commitments"]


def refs(contract_list: list[dict]) -> list[str]:
    return sorted(f"{c['candidate']}/{c['option']}" for c in contract_list)
