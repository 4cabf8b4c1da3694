"""The public front door, validation messages in words, and what people see after a form: a
success banner after each action, and a form shown again with its input after an error
(issue 17)."""

from __future__ import annotations

from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError
from support import DEMO, login

from api.templating import error_labels, field_label
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import validation_errors
from portfolio.domain.model import QuarterlyUpdate
from portfolio.services import publication, quarters

DRAFT = "This draft letter must never be read by the public."

CANDIDATE = {
    "id": "h2-glider-tug",
    "name": "Hydrogen glider tug",
    "description": "A small hydrogen fuel-cell tug for gliding clubs.",
    "organisation": "Ridge Lift Ltd (fictional)",
    "organisation_type": "rising_star",
    "platform": "hydrogen-fuel-cell",
    "tier": "conventional",
    "trl": "4",
    "eligible_envelopes": ["sbc"],
    "options.0.id": "explore",
    "options.0.name": "Explore",
    "options.0.p_success": "0.5",
    "options.0.cost_profile.2026-27": "2",
    "options.0.impact.low": "0.01",
    "options.0.impact.most_likely": "0.02",
    "options.0.impact.high": "0.05",
}


def soup(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def summary_of(response: Any) -> str:
    summary = soup(response).select_one(".govuk-error-summary")
    assert summary is not None, "the page shows no error summary"
    return " ".join(summary.get_text(" ").split())


def banner_of(response: Any) -> str | None:
    banner = soup(response).select_one("#success-banner .govuk-notification-banner__heading")
    return " ".join(banner.get_text(" ").split()) if banner else None


def followed(client: TestClient, response: Any) -> Any:
    """The page a successful form redirected to (where its banner shows)."""
    assert response.status_code == 303, response.text[-1500:]
    return client.get(response.headers["location"])


# -- the public front door -----------------------------------------------------------------------
def save_draft(db_url: str) -> str:
    """A draft update of the current quarter, as a CEO's unpublished work: its label."""
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        label = quarters.current(uow, DEMO).label
        uow.cycle.set_update(DEMO, QuarterlyUpdate(quarter=label, body=DRAFT))
        uow.commit()
        published = [u.quarter for u in publication.published_quarters(uow, DEMO)]
    engine.dispose()
    assert published and label not in published
    return label


def test_the_public_front_door_lists_published_updates_only_with_their_open_data(
    client: TestClient, db_url: str
):
    draft = save_draft(db_url)
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        published = [u.quarter for u in publication.published_quarters(uow, DEMO)]
        name = uow.missions.get(DEMO).name
    engine.dispose()

    response = client.get("/public")  # nobody is signed in
    assert response.status_code == 200 and "/login" not in str(response.url)
    page = soup(response)
    table = page.select_one(f"#updates-{DEMO}")
    assert table is not None and name in page.select_one(f"#mission-{DEMO}").get_text()
    rows = table.select("tbody tr")
    assert [r["data-quarter"] for r in rows] == list(reversed(published)), "newest first"
    assert draft not in page.get_text() and DRAFT not in response.text
    for row in rows:
        url = f"/missions/{DEMO}/updates/{row['data-quarter'].replace(' ', '-')}"
        hrefs = [a["href"] for a in row.select("a")]
        assert hrefs == [url, f"{url}/allocation.csv", f"{url}/allocation.json"]
    newest = rows[0].select("a")
    assert client.get(newest[0]["href"]).status_code == 200
    csv = client.get(newest[1]["href"])
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    data = client.get(newest[2]["href"])
    assert data.status_code == 200 and data.json()["quarter"] == published[-1]
    # the draft's quarter has no public page either
    assert client.get(f"/missions/{DEMO}/updates/{draft.replace(' ', '-')}").status_code == 404


def test_the_sign_in_page_and_the_header_lead_the_public_to_the_updates(client: TestClient):
    page = soup(client.get("/login"))
    link = page.select_one("#public-link")
    assert link is not None and link["href"] == "/public"
    assert link.get_text(strip=True) == "Read the published quarterly updates"
    assert page.select_one(".govuk-header a[href='/public']") is not None
    front_door = soup(client.get("/public"))
    assert front_door.select_one("main a[href='/login']") is not None


def test_the_public_pages_lead_back_to_the_front_door(client: TestClient, db_url: str):
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        newest = publication.published_quarters(uow, DEMO)[-1].quarter
    engine.dispose()
    for path in (
        f"/missions/{DEMO}/updates",
        f"/missions/{DEMO}/updates/{newest.replace(' ', '-')}",
    ):
        crumbs = soup(client.get(path)).select(".govuk-breadcrumbs a")
        assert crumbs and crumbs[0]["href"] == "/public", path
    last = soup(client.get(f"/missions/{DEMO}/updates/{newest.replace(' ', '-')}"))
    assert last.select(".govuk-breadcrumbs li")[-1].get_text(strip=True) == newest


# -- validation messages in words ----------------------------------------------------------------
class Shares(BaseModel):
    max_platform_share: float = Field(ge=0, le=1)
    p_success: float = Field(ge=0.01, le=0.99)
    name: str = Field(min_length=1, max_length=5)
    trl: int


@pytest.mark.parametrize(
    ("data", "percent", "expected"),
    [
        (
            {"max_platform_share": 1.5, "p_success": 1.2, "name": "abc", "trl": 1},
            {"max_platform_share", "p_success"},
            [
                ("max_platform_share", "must be at most 100 %"),
                ("p_success", "must be at most 99 %"),
            ],
        ),
        (
            {"max_platform_share": -1, "p_success": 0, "name": "abc", "trl": 1},
            set(),
            [("max_platform_share", "must be at least 0"), ("p_success", "must be at least 0.01")],
        ),
        (
            {"max_platform_share": 0.5, "p_success": 0.5, "name": "", "trl": "four"},
            set(),
            [("name", "is required"), ("trl", "must be a whole number")],
        ),
        (
            {"max_platform_share": "x", "p_success": 0.5, "name": "abcdefg"},
            set(),
            [
                ("max_platform_share", "must be a number"),
                ("name", "is too long: at most 5 characters"),
                ("trl", "is required"),
            ],
        ),
    ],
)
def test_pydantic_rules_are_said_in_the_products_words(
    data: dict[str, Any], percent: set[str], expected: list[tuple[str, str]]
):
    with pytest.raises(ValidationError) as caught:
        Shares.model_validate(data)
    assert validation_errors(caught.value, percent_fields=percent) == expected


def test_a_probability_over_099_on_the_candidate_form_is_said_in_words(client: TestClient):
    csrf = login(client, "ceo")
    bad = {**CANDIDATE, "options.0.p_success": "1.5", "trl": "", "csrf_token": csrf}
    response = client.post(f"/missions/{DEMO}/candidates/new", data=bad)
    assert response.status_code == 422
    summary = summary_of(response)
    assert "Option 1 probability of success: must be at most 0.99" in summary
    assert "Technology readiness level (TRL): enter a number" in summary
    assert "Input should" not in summary and "p_success" not in summary
    page = soup(response)  # the form again, with what was typed
    assert page.select_one("#f-options-0-p_success")["value"] == "1.5"
    assert page.select_one("#f-name")["value"] == CANDIDATE["name"]


def test_a_percentage_over_100_on_the_optimiser_form_is_named_as_labelled(client: TestClient):
    csrf = login(client, "ceo")
    response = client.post(
        f"/missions/{DEMO}/runs", data={"csrf_token": csrf, "max_platform_share": "150"}
    )
    assert response.status_code == 422
    summary = summary_of(response)
    assert "Largest share of spend on one platform (%): must be a percentage from 0 to 100" in (
        summary
    )
    assert soup(response).select_one("#f-max_platform_share")["value"] == "150"


def test_a_field_named_by_a_candidate_names_the_candidate():
    names = {"atj-teesside": "Teesside alcohol-to-jet plant"}
    assert field_label("override_reason.atj-teesside", names) == (
        "Reason for the override of Teesside alcohol-to-jet plant"
    )
    assert field_label("reason.atj-teesside", names) == (
        "Reason for the change to Teesside alcohol-to-jet plant"
    )
    assert field_label("rag_reason") == "Justification (published)"
    assert field_label("options.1.cost_profile.2027-28") == "Option 2 spend in 2027-28"
    labels = error_labels(
        [("override.atj-teesside", "choose lock, exclude or neither"), ("note", "too long")],
        names,
        {"note": "Note (optional)"},
    )
    assert labels == {
        "note": "Note (optional)",
        "override.atj-teesside": "Override for Teesside alcohol-to-jet plant",
    }


# -- success banners -----------------------------------------------------------------------------
def test_registering_and_editing_a_candidate_say_so(client: TestClient):
    csrf = login(client, "ceo")
    done = client.post(
        f"/missions/{DEMO}/candidates/new",
        data={**CANDIDATE, "csrf_token": csrf},
        follow_redirects=False,
    )
    page = followed(client, done)
    assert banner_of(page) == "Hydrogen glider tug registered."
    assert banner_of(client.get(done.headers["location"])) is None, "shown once"
    crumbs = [a.get_text(strip=True) for a in soup(page).select(".govuk-breadcrumbs li")]
    assert crumbs[-2:] == ["Candidates", "Hydrogen glider tug"]

    form = soup(client.get(f"/missions/{DEMO}/candidates/{CANDIDATE['id']}/edit"))
    version = form.select_one("input[name=version]")["value"]
    edited = client.post(
        f"/missions/{DEMO}/candidates/{CANDIDATE['id']}/edit",
        data={
            **CANDIDATE,
            "name": "Hydrogen glider tug II",
            "version": version,
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert banner_of(followed(client, edited)) == "Changes to Hydrogen glider tug II saved."


def test_treasury_decisions_and_requests_say_so_and_a_missing_decision_keeps_the_reason(
    client: TestClient,
):
    csrf = login(client, "ceo")
    dal = client.get(f"/api/v1/missions/{DEMO}").json()["dal"]
    candidate = next(
        c
        for c in client.get(f"/api/v1/missions/{DEMO}/candidates").json()
        if not c["treasury_approved"]
        and any(sum(o["cost_profile"].values()) > dal for o in c["options"])
    )
    asked = client.post(
        f"/missions/{DEMO}/candidates/{candidate['id']}/treasury-approval",
        data={"csrf_token": csrf, "reason": "Only the scale tranche reaches the target"},
        follow_redirects=False,
    )
    assert banner_of(followed(client, asked)) == (
        f"Treasury approval requested for {candidate['name']}."
    )

    csrf = login(client, "treasury")
    (request,) = client.get(f"/api/v1/missions/{DEMO}/approvals").json()
    decide = f"/missions/{DEMO}/approvals/{request['id']}/decide"
    undecided = client.post(decide, data={"csrf_token": csrf, "reason": "Value for money shown"})
    assert undecided.status_code == 422
    assert "Decision: choose approve or refuse" in summary_of(undecided)
    assert "Value for money shown" in soup(undecided).select_one(".app-decide textarea").text
    decided = client.post(
        decide,
        data={"csrf_token": csrf, "decision": "approve", "reason": "Value for money shown"},
        follow_redirects=False,
    )
    assert banner_of(followed(client, decided)) == (
        f"Treasury approval approved for {candidate['name']}."
    )


def test_account_and_user_actions_say_so(client: TestClient):
    csrf = login(client, "admin")
    created = client.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf,
            "username": "new.reviewer",
            "display_name": "Nia Reviewer",
            "password": "a-long-enough-password-7",
        },
        follow_redirects=False,
    )
    assert banner_of(followed(client, created)) == "User Nia Reviewer (new.reviewer) added."
    bad = client.post(
        "/admin/users/new",
        data={"csrf_token": csrf, "username": "Bad Name", "display_name": "Bo Bad"},
    )
    assert bad.status_code == 422
    assert "Username: use lower-case letters" in summary_of(bad)
    assert soup(bad).select_one("#f-display_name")["value"] == "Bo Bad"

    token = client.post(
        "/account/tokens", data={"csrf_token": csrf, "name": "notebook", "expires_in_days": "7"}
    )
    assert token.status_code == 200 and banner_of(token) == (
        "API token “notebook” created. Copy it now: it is not shown again."
    )
    token_id = next(t["id"] for t in client.get("/api/v1/me/tokens").json())
    revoked = client.post(
        f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert banner_of(followed(client, revoked)) == "API token “notebook” revoked."


def test_recording_spend_says_what_was_recorded(client: TestClient):
    csrf = login(client, "ceo")
    page = soup(client.get(f"/missions/{DEMO}/spend"))
    year = [o["value"] for o in page.select("#f-year option") if o["value"]][-1]
    candidate = client.get(f"/api/v1/missions/{DEMO}/candidates").json()[0]
    option = candidate["options"][0]
    form = {
        "csrf_token": csrf,
        "candidate": candidate["id"],
        "option": f"{candidate['id']}/{option['id']}",
        "envelope": candidate["eligible_envelopes"][0],
        "year": year,
        "amount": "1.25",
    }
    done = client.post(f"/missions/{DEMO}/spend", data=form, follow_redirects=False)
    message = banner_of(followed(client, done))
    assert message is not None
    assert message.startswith(f"Spend recorded: £1.25m on {candidate['name']} ({option['name']})")
    again = client.post(f"/missions/{DEMO}/spend", data={**form, "amount": "lots"})
    assert again.status_code == 422
    assert "must be a number" in summary_of(again)
    assert soup(again).select_one("#f-amount")["value"] == "lots"
