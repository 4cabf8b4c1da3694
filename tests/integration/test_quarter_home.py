"""The quarter home: the quarter's tasks (``portfolio.services.guide``) through a whole quarter, in
the
page, the JSON API and the command line; the quarter's evidence page; confirmation before
publishing and closing; success banners; errors that name the field as labelled and keep what
was typed."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings

CURRENT = "2026-27 Q3"
NEXT = "2026-27 Q4"
HOME = f"/missions/{DEMO}/quarters/{quote(CURRENT)}"
ORDER = [
    "evidence",
    "scoring",
    "runs",
    "comparison",
    "approval",
    "rag",
    "letter",
    "publish",
    "close",
]


@pytest.fixture
def inline_client(db_url: str):
    app = create_app(Settings(database_url=db_url, secret_key="x" * 40, run_jobs_inline=True))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def api(client: TestClient, csrf: str, method: str, path: str, **kwargs):
    return client.request(
        method, f"/api/v1/missions/{DEMO}{path}", headers={"X-CSRF-Token": csrf}, **kwargs
    )


def statuses(client: TestClient, label: str = CURRENT) -> dict[str, str]:
    """Task key -> status, from the JSON API."""
    response = client.get(f"/api/v1/missions/{DEMO}/quarters/{quote(label)}/tasks")
    assert response.status_code == 200, response.text
    return {t["key"]: t["status"] for t in response.json()["tasks"]}


def page_statuses(page: BeautifulSoup) -> dict[str, str]:
    """Task key -> status, as the quarter home's task list shows them."""
    return {
        li["id"].removeprefix("task-"): li["data-status"]
        for li in page.select("ul.govuk-task-list > li")
    }


def banner(page: BeautifulSoup) -> str:
    found = page.select_one("#success-banner")
    return found.get_text(" ", strip=True) if found else ""


def error_summary(page: BeautifulSoup) -> str:
    found = page.select_one(".govuk-error-summary")
    return found.get_text(" ", strip=True) if found else ""


def start_run(client: TestClient, csrf: str, objective: str) -> int:
    started = api(
        client,
        csrf,
        "POST",
        "/runs",
        json={"policy": {"objective": objective, "min_platforms": 3}, "scenarios": 300},
    )
    assert started.status_code == 202, started.text
    return int(started.json()["id"])


# -- the task list through a quarter ------------------------------------------------------------
def test_the_tasks_follow_the_quarter_from_open_to_closed(inline_client: TestClient):
    csrf = login(inline_client, "ceo")
    # the demo's open quarter: one run, the round open, nothing approved yet
    start = statuses(inline_client)
    assert list(start) == ORDER
    assert start == {
        "evidence": "not_started",
        "scoring": "in_progress",
        "runs": "completed",
        "comparison": "cannot_start",
        "approval": "not_started",
        "rag": "cannot_start",
        "letter": "cannot_start",
        "publish": "cannot_start",
        "close": "cannot_start",
    }
    page = soup(inline_client.get(HOME))
    assert page_statuses(page) == start
    assert "Needs at least two finished runs" in page.select_one("#task-comparison").get_text()
    assert "Cannot start yet" in page.select_one("#task-close").get_text()

    # evidence, from the quarter's evidence page, back to the home with a banner
    recorded = inline_client.post(
        f"{HOME}/evidence",
        data={
            "candidate": "ev-trainer",
            "kind": "milestone_met",
            "summary": "Battery pack passed its thermal test",
            "date": "2026-11-10",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert recorded.status_code == 303, recorded.text
    assert recorded.headers["location"] == HOME
    home = soup(inline_client.get(HOME))
    trainer = inline_client.get(f"/api/v1/missions/{DEMO}/candidates/ev-trainer").json()["name"]
    assert banner(home) == f"Success Evidence recorded for {trainer}."
    assert page_statuses(home)["evidence"] == "completed"
    assert "1 piece of evidence recorded this quarter" in home.select_one("#task-evidence").text

    # the scoring round: the home offers to close it, coming back here afterwards
    form = home.select_one("#close-round-form")
    assert form is not None and form["action"] == f"/missions/{DEMO}/scoring/close"
    assert form.select_one('input[name="next"]')["value"] == HOME
    assert api(inline_client, csrf, "POST", "/scoring/close").status_code == 200
    assert statuses(inline_client)["scoring"] == "completed"
    assert soup(inline_client.get(HOME)).select_one("#close-round-form") is None

    # two runs: the comparison can start, linking to the two latest
    first = start_run(inline_client, csrf, "expected")
    second = start_run(inline_client, csrf, "p_target")
    now = statuses(inline_client)
    assert (now["runs"], now["comparison"], now["approval"]) == (
        "completed",
        "not_started",
        "not_started",
    )
    link = soup(inline_client.get(HOME)).select_one("#task-comparison a")["href"]
    assert link == f"/missions/{DEMO}/runs/compare?run={second}&run={first}"

    # approval: the rating, the letter and publishing can start; closing still cannot
    candidates = [c["id"] for c in inline_client.get(f"/api/v1/missions/{DEMO}/candidates").json()]
    approved = api(
        inline_client,
        csrf,
        "POST",
        f"/runs/{first}/approve",
        json={"reasons": dict.fromkeys(candidates, "test reason")},
    )
    assert approved.status_code == 200, approved.text
    now = statuses(inline_client)
    assert now["comparison"] == now["approval"] == "completed"
    assert now["rag"] == now["letter"] == now["publish"] == "not_started"
    assert now["close"] == "cannot_start"
    tasks = inline_client.get(f"/api/v1/missions/{DEMO}/quarters/2026-27-Q3/tasks").json()
    close = next(t for t in tasks["tasks"] if t["key"] == "close")
    assert close["reason"] == "Publish the quarter's update before closing it"

    # the rating, saved as computed: a banner says so
    rag = inline_client.post(f"{HOME}/rag", data={"rag": "", "rag_reason": "", "csrf_token": csrf})
    assert rag.status_code == 200 and rag.url.fragment == "rag"
    assert "Delivery confidence for 2026-27 Q3 saved" in banner(soup(rag))
    assert statuses(inline_client)["rag"] == "completed"

    # a draft needs no confirmation
    letter = soup(inline_client.get(HOME)).select_one('#update-form textarea[name="body"]').text
    draft = inline_client.post(
        f"{HOME}/update", data={"body": letter, "action": "draft", "csrf_token": csrf}
    )
    assert "Draft of the 2026-27 Q3 update saved." in banner(soup(draft))
    assert statuses(inline_client)["letter"] == "in_progress"

    # publishing asks first, carrying the letter; nothing is published until confirmed
    asked = inline_client.post(
        f"{HOME}/update",
        data={"body": letter + "\n\nOne more line.", "action": "publish", "csrf_token": csrf},
    )
    assert asked.status_code == 200
    confirm = soup(asked)
    assert confirm.select_one("h1").get_text(strip=True) == "Publish the update for 2026-27 Q3?"
    public = f"/missions/{DEMO}/updates/2026-27-Q3"
    assert f"The update becomes public at {public} at once" in confirm.get_text()
    form = confirm.select_one("#confirm-form")
    carried = {i["name"]: i.get("value", "") for i in form.select("input[type=hidden]")}
    assert carried["confirm"] == "yes" and carried["action"] == "publish"
    assert carried["body"].endswith("One more line.")
    assert statuses(inline_client)["publish"] == "not_started"
    assert inline_client.get(public).status_code == 404
    published = inline_client.post(form["action"], data=carried)
    assert published.status_code == 200
    assert f"The update for 2026-27 Q3 is published at {public}." in banner(soup(published))
    assert inline_client.get(public).status_code == 200
    now = statuses(inline_client)
    assert now["letter"] == now["publish"] == "completed" and now["close"] == "not_started"

    # closing asks first too; nothing is closed until confirmed
    asked = inline_client.post(f"{HOME}/close", data={"csrf_token": csrf})
    assert asked.status_code == 200
    confirm = soup(asked)
    assert confirm.select_one("h1").get_text(strip=True) == "Close 2026-27 Q3?"
    text = confirm.get_text(" ", strip=True)
    assert "frozen into an audit pack" in text and f"{NEXT} opens" in text
    assert statuses(inline_client)["close"] == "not_started"
    form = confirm.select_one("#confirm-form")
    carried = {i["name"]: i.get("value", "") for i in form.select("input[type=hidden]")}
    closed = inline_client.post(form["action"], data=carried)
    assert closed.status_code == 200
    page = soup(closed)
    assert f"2026-27 Q3 is closed and its audit pack sealed; {NEXT} is now open." in banner(page)
    assert set(page_statuses(page).values()) == {"completed"}
    assert page.select_one("#next-quarter a")["href"] == (
        f"/missions/{DEMO}/quarters/{quote(NEXT)}"
    )
    # the menu's "This quarter" now leads to the next quarter's home
    moved = inline_client.get(f"/missions/{DEMO}/quarter", follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/missions/{DEMO}/quarters/{quote(NEXT)}"
    assert statuses(inline_client, NEXT)["evidence"] == "not_started"


# -- landing and reading --------------------------------------------------------------------------
def test_a_person_with_one_mission_lands_on_its_quarter_home(client: TestClient):
    login(client, "ceo")
    landing = client.get("/", follow_redirects=False)
    assert landing.status_code == 303 and landing.headers["location"] == HOME
    moved = client.get(f"/missions/{DEMO}/quarter", follow_redirects=False)
    assert moved.headers["location"] == HOME
    dashboard = soup(client.get(f"/missions/{DEMO}"))
    assert dashboard.select_one("#this-quarter")["href"] == HOME


def test_an_administrator_without_a_role_sees_the_list_with_a_link_to_each_quarter_home(
    client: TestClient,
):
    login(client, "admin")
    page = client.get("/")
    assert page.status_code == 200
    links = [a["href"] for a in soup(page).select("table a")]
    assert HOME in links


def test_the_quarter_home_is_read_only_for_treasury(client: TestClient):
    login(client, "treasury")
    page = soup(client.get(HOME))
    assert page_statuses(page)["comparison"] == "cannot_start"
    for form in ("#close-round-form", "#rag-form", "#update-form", "#close-form"):
        assert page.select_one(form) is None, form
    crumbs = [a.get_text(strip=True) for a in page.select(".govuk-breadcrumbs__list-item")]
    assert crumbs[-1] == f"Quarter {CURRENT}"


def test_the_tasks_api_answers_404_for_an_unknown_quarter(client: TestClient):
    login(client, "council1")
    response = client.get(f"/api/v1/missions/{DEMO}/quarters/2031-32-Q1/tasks")
    assert response.status_code == 404


def test_the_command_line_prints_the_task_list(db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(cli, ["quarter", "tasks", DEMO])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith(f"quarter {CURRENT} (open): 1 of 9 tasks completed.")
    assert any("Compare runs" in line and "Cannot start yet" in line for line in lines)
    assert "Needs at least two finished runs of this quarter (1 so far)" in result.output
    closed = CliRunner().invoke(cli, ["quarter", "tasks", DEMO, "--quarter", "2026-27-Q2"])
    assert closed.exit_code == 0 and "9 of 9 tasks completed" in closed.output
    unknown = CliRunner().invoke(cli, ["quarter", "tasks", DEMO, "--quarter", "2040-41-Q1"])
    assert unknown.exit_code == 1 and "no quarter 2040-41 Q1" in unknown.output


# -- the evidence page ----------------------------------------------------------------------------
def test_the_evidence_page_lists_the_quarters_evidence_by_candidate_name(client: TestClient):
    login(client, "ceo")
    page = soup(client.get(f"/missions/{DEMO}/quarters/{quote('2026-27 Q2')}/evidence"))
    rows = page.select("#evidence tbody tr")
    assert rows, "the demo recorded evidence in 2026-27 Q2"
    kinds = {r.select("td")[2].get_text(strip=True).split(" (")[0] for r in rows}
    assert kinds <= {
        "Milestone met",
        "Milestone missed",
        "TRL change",
        "Cost actuals to date",
        "Stage-gate outcome",
    }
    names = {c["name"] for c in client.get(f"/api/v1/missions/{DEMO}/candidates").json()}
    assert {r.select("td")[1].get_text(strip=True) for r in rows} <= names
    # a closed quarter's evidence is frozen: no form
    assert page.select_one("#evidence-form") is None
    crumbs = [a.get_text(strip=True) for a in page.select(".govuk-breadcrumbs__list-item")]
    assert crumbs[-2:] == ["Quarter 2026-27 Q2", "Evidence"]


def test_an_evidence_error_names_the_field_as_labelled_and_keeps_the_input(client: TestClient):
    csrf = login(client, "council2")
    missing = client.post(
        f"{HOME}/evidence",
        data={"kind": "milestone_met", "summary": "Kept summary", "csrf_token": csrf},
    )
    assert missing.status_code == 422
    page = soup(missing)
    assert "Candidate: choose the candidate the evidence is about" in error_summary(page)
    assert page.select_one('input[name="summary"]')["value"] == "Kept summary"
    assert page.select_one('input[name="kind"][value="milestone_met"]').has_attr("checked")

    no_kind = soup(
        client.post(
            f"{HOME}/evidence",
            data={"candidate": "ev-trainer", "summary": "Kept", "csrf_token": csrf},
        )
    )
    assert "What happened:" in error_summary(no_kind)
    assert no_kind.select_one('select[name="candidate"] option[selected]')["value"] == "ev-trainer"

    candidates = {c["id"]: c for c in client.get(f"/api/v1/missions/{DEMO}/candidates").json()}
    other = next(c for c in candidates.values() if c["id"] != "ev-trainer")
    wrong = soup(
        client.post(
            f"{HOME}/evidence",
            data={
                "candidate": "ev-trainer",
                "kind": "stage_gate",
                "outcome": "succeeded",
                "summary": "Gate passed",
                "option": f"{other['id']}/{other['options'][0]['id']}",
                "csrf_token": csrf,
            },
        )
    )
    summary = error_summary(wrong)
    assert "Option the stage gate concerns:" in summary and other["name"] in summary


def test_evidence_posted_to_a_closed_quarter_is_refused(client: TestClient):
    csrf = login(client, "ceo")
    response = client.post(
        f"/missions/{DEMO}/quarters/{quote('2026-27 Q2')}/evidence",
        data={
            "candidate": "ev-trainer",
            "kind": "milestone_met",
            "summary": "Too late",
            "csrf_token": csrf,
        },
    )
    assert response.status_code == 422
    assert "closed" in error_summary(soup(response))


def test_the_candidate_page_evidence_form_ends_with_a_banner(client: TestClient):
    csrf = login(client, "council2")
    response = client.post(
        f"/missions/{DEMO}/candidates/ev-trainer/evidence",
        data={"kind": "milestone_missed", "summary": "Failed test", "csrf_token": csrf},
    )
    assert response.status_code == 200
    assert banner(soup(response)).startswith("Success Evidence recorded for ")


# -- names and kept input on the quarter home ------------------------------------------------------
def _approve_latest(client: TestClient, csrf: str) -> None:
    run = client.get(f"/api/v1/missions/{DEMO}/runs").json()[0]["id"]
    candidates = [c["id"] for c in client.get(f"/api/v1/missions/{DEMO}/candidates").json()]
    approved = api(
        client,
        csrf,
        "POST",
        f"/runs/{run}/approve",
        json={"reasons": dict.fromkeys(candidates, "test reason")},
    )
    assert approved.status_code == 200, approved.text


def test_rag_errors_name_the_justification_and_keep_the_choice(client: TestClient):
    csrf = login(client, "ceo")
    _approve_latest(client, csrf)
    response = client.post(
        f"{HOME}/rag", data={"rag": "red", "rag_reason": "  ", "csrf_token": csrf}
    )
    assert response.status_code == 422
    page = soup(response)
    assert "Justification (published): justify the override" in error_summary(page)
    assert "Rag reason" not in error_summary(page)
    assert page.select_one('input[name="rag"][value="red"]').has_attr("checked")


def test_a_dissent_error_names_the_dissent_and_keeps_its_text(client: TestClient):
    csrf = login(client, "council3")
    # nothing is approved yet: the dissent is refused, and its text is kept
    response = client.post(
        f"{HOME}/dissent", data={"text": "Too little on contrails.", "csrf_token": csrf}
    )
    assert response.status_code == 422
    page = soup(response)
    assert error_summary(page).startswith("There is a problem Dissent:")
    assert "text:" not in error_summary(page)


def test_a_dissent_is_attached_with_a_banner_and_an_empty_one_is_named(client: TestClient):
    csrf = login(client, "ceo")
    _approve_latest(client, csrf)
    csrf = login(client, "council3")
    empty = soup(client.post(f"{HOME}/dissent", data={"text": " ", "csrf_token": csrf}))
    assert "Dissent: write your dissent" in error_summary(empty)
    long = "Too long. " * 600
    too_long = client.post(f"{HOME}/dissent", data={"text": long, "csrf_token": csrf})
    assert too_long.status_code == 422
    page = soup(too_long)
    assert error_summary(page).startswith("There is a problem Dissent:")
    assert page.select_one('textarea[name="text"]').text.strip() == long.strip()
    attached = client.post(
        f"{HOME}/dissent", data={"text": "Too little on contrails.", "csrf_token": csrf}
    )
    assert attached.status_code == 200 and attached.url.fragment == "dissent"
    assert "Your dissent is attached to 2026-27 Q3" in banner(soup(attached))


def test_publishing_an_empty_letter_shows_the_error_not_a_confirmation(client: TestClient):
    csrf = login(client, "ceo")
    _approve_latest(client, csrf)
    response = client.post(
        f"{HOME}/update", data={"body": "  ", "action": "publish", "csrf_token": csrf}
    )
    assert response.status_code == 422
    assert "Update letter: the update is empty" in error_summary(soup(response))


def test_closing_before_publishing_is_refused_without_a_confirmation(client: TestClient):
    csrf = login(client, "ceo")
    _approve_latest(client, csrf)
    response = client.post(f"{HOME}/close", data={"csrf_token": csrf})
    assert response.status_code == 409
    page = soup(response)
    assert "publish the quarter's update before closing it" in error_summary(page)
    assert page.select_one("#confirm-form") is None
    assert page.select_one("#close-form") is None
    assert "Publish the quarter's update" in page.select_one("#close-blocked").get_text()


def test_the_trajectory_page_has_breadcrumbs_and_saves_with_a_banner(client: TestClient):
    csrf = login(client, "ceo")
    page = soup(client.get(f"/missions/{DEMO}/trajectory"))
    crumbs = [a.get_text(strip=True) for a in page.select(".govuk-breadcrumbs__list-item")]
    assert crumbs[-1] == "Planned trajectory"
    values = {i["name"]: i.get("value", "") for i in page.select("#trajectory-form input[name]")}
    values["csrf_token"] = csrf
    saved = client.post(f"/missions/{DEMO}/trajectory", data=values)
    assert "Planned trajectory saved." in banner(soup(saved))
    last = [name for name in values if name.startswith("planned.")][-1]
    values[last] = "150"
    bad = client.post(f"/missions/{DEMO}/trajectory", data=values)
    assert bad.status_code == 422
    label = last.removeprefix("planned.")
    assert f"Planned P(target) in {label}: must be a percentage" in error_summary(soup(bad))
    assert soup(bad).select_one(f'input[name="{last}"]')["value"] == "150"
