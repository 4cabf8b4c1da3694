"""The foundation's forms as a user meets them: register and edit candidates, edit the mission,
administer users — each change in the audit trail, bad input re-shown with the field named."""

from __future__ import annotations

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login

NEW_CANDIDATE = {
    "id": "h2-blended-wing",
    "name": "Hydrogen blended-wing demonstrator",
    "description": "A blended-wing airframe with liquid hydrogen tanks.",
    "organisation": "Wingspan Labs (fictional)",
    "organisation_type": "rising_star",
    "platform": "hydrogen-combustion",
    "tier": "moonshot",
    "trl": "3",
    "eligible_envelopes": ["sbc", "ukri"],
    "options.0.id": "explore",
    "options.0.name": "Explore",
    "options.0.p_success": "0.4",
    "options.0.cost_profile.2026-27": "3",
    "options.0.cost_profile.2027-28": "4",
    "options.0.impact.low": "0.1",
    "options.0.impact.most_likely": "0.3",
    "options.0.impact.high": "0.8",
    "options.1.id": "demonstrate",
    "options.1.name": "Demonstrate",
    "options.1.p_success": "0.25",
    "options.1.cost_profile.2027-28": "20",
    "options.1.cost_profile.2028-29": "40",
    "options.1.cost_range.low": "55",
    "options.1.cost_range.most_likely": "60",
    "options.1.cost_range.high": "90",
    "options.1.impact.low": "0.5",
    "options.1.impact.most_likely": "1.5",
    "options.1.impact.high": "3",
}


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def form_values(page: BeautifulSoup) -> dict[str, str]:
    """What a browser would submit for the text inputs and text areas of the page's form."""
    data = {
        i["name"]: i.get("value", "")
        for i in page.select("form input")
        if i.get("type") not in ("checkbox", "radio") and i.get("name")
    }
    data.update({t["name"]: t.get_text() for t in page.select("form textarea")})
    return data


def audit_rows(client: TestClient) -> list[dict]:
    return client.get(f"/api/v1/missions/{DEMO}/audit").json()


def test_a_council_member_registers_a_candidate_with_options_and_it_is_audited(
    client: TestClient,
):
    csrf = login(client, "council1")
    response = client.post(
        f"/missions/{DEMO}/candidates/new",
        data={**NEW_CANDIDATE, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/missions/{DEMO}/candidates/h2-blended-wing"
    stored = client.get(f"/api/v1/missions/{DEMO}/candidates/h2-blended-wing").json()
    assert stored["registered_by"] == "council1"
    assert [o["id"] for o in stored["options"]] == ["explore", "demonstrate"]
    assert stored["options"][1]["cost_profile"] == {"2027-28": 20.0, "2028-29": 40.0}
    assert stored["options"][1]["cost_range"] == {"low": 55.0, "most_likely": 60.0, "high": 90.0}
    assert stored["options"][0]["cost_range"] is None
    page = soup(client.get(f"/missions/{DEMO}/candidates/h2-blended-wing"))
    assert page.h1.get_text(strip=True) == "Hydrogen blended-wing demonstrator"
    assert len(page.select("#options tbody tr")) == 2
    # the CEO reads the audit trail
    login(client, "ceo")
    entry = audit_rows(client)[0]
    assert (entry["actor"], entry["entity"], entry["entity_id"], entry["action"]) == (
        "council1",
        "candidate",
        "h2-blended-wing",
        "created",
    )
    assert entry["after"]["name"] == "Hydrogen blended-wing demonstrator"


def test_editing_a_candidate_records_only_what_changed_before_and_after(client: TestClient):
    csrf = login(client, "council2")
    client.post(f"/missions/{DEMO}/candidates/new", data={**NEW_CANDIDATE, "csrf_token": csrf})
    data = form_values(soup(client.get(f"/missions/{DEMO}/candidates/h2-blended-wing/edit")))
    data.update(
        {
            "organisation_type": "rising_star",
            "tier": "moonshot",
            "trl": "4",
            "eligible_envelopes": ["sbc", "ukri"],
            "name": "Renamed demonstrator",
        }
    )
    response = client.post(
        f"/missions/{DEMO}/candidates/h2-blended-wing/edit", data=data, follow_redirects=False
    )
    assert response.status_code == 303
    login(client, "treasury")
    entry = audit_rows(client)[0]
    assert entry["action"] == "updated" and entry["actor"] == "council2"
    assert entry["before"] == {"name": "Hydrogen blended-wing demonstrator", "trl": 3}
    assert entry["after"] == {"name": "Renamed demonstrator", "trl": 4}
    page = soup(client.get(f"/missions/{DEMO}/audit"))
    assert "Renamed demonstrator" in page.select_one("#audit").get_text()


def test_a_bad_probability_reshows_the_form_with_the_field_named_and_nothing_written(
    client: TestClient,
):
    csrf = login(client, "council1")
    before = len(audit_rows_as(client, "ceo"))
    csrf = login(client, "council1")
    bad = {
        **NEW_CANDIDATE,
        "options.0.p_success": "1.5",
        "options.1.impact.low": "9",
        "csrf_token": csrf,
    }
    response = client.post(f"/missions/{DEMO}/candidates/new", data=bad)
    assert response.status_code == 422
    page = soup(response)
    summary = page.select_one(".govuk-error-summary").get_text(" ", strip=True)
    assert "Option 1 probability of success: must be at most 0.99" in summary
    assert "Option 2 impact: low, most likely and high must be in that order" in summary
    assert page.select_one("#f-options-0-p_success")["value"] == "1.5"
    assert page.select_one("#f-name")["value"] == NEW_CANDIDATE["name"]
    assert client.get(f"/api/v1/missions/{DEMO}/candidates/h2-blended-wing").status_code == 404
    assert len(audit_rows_as(client, "ceo")) == before


def audit_rows_as(client: TestClient, username: str) -> list[dict]:
    login(client, username)
    return audit_rows(client)


def test_a_council_member_cannot_mark_a_candidate_treasury_approved(client: TestClient):
    csrf = login(client, "council1")
    client.post(
        f"/missions/{DEMO}/candidates/new",
        data={**NEW_CANDIDATE, "treasury_approved": "on", "csrf_token": csrf},
    )
    stored = client.get(f"/api/v1/missions/{DEMO}/candidates/h2-blended-wing").json()
    assert stored["treasury_approved"] is False


def test_the_ceo_edits_target_deadline_and_envelopes_and_the_dashboard_shows_them(
    client: TestClient,
):
    csrf = login(client, "ceo")
    data = form_values(soup(client.get(f"/missions/{DEMO}/edit")))
    data.update(
        {
            "target": "11.5",
            "deadline": "2030-12-31",
            "dal_mode": "cap",
            "envelopes.0.budget.2026-27": "95",
            "csrf_token": csrf,
            "envelopes.2.id": "private",
            "envelopes.2.name": "Private co-investment",
            "envelopes.2.budget.2027-28": "25",
        }
    )
    response = client.post(f"/missions/{DEMO}/edit", data=data, follow_redirects=False)
    assert response.status_code == 303
    page = soup(client.get(f"/missions/{DEMO}"))
    assert page.select_one("#mission-target").get_text(strip=True) == "11.5 MtCO2e/yr"
    assert page.select_one("#mission-deadline").get_text(strip=True) == "31 December 2030"
    rows = page.select("#envelopes tbody tr")
    assert len(rows) == 4  # three envelopes and the total
    assert "Private co-investment" in rows[2].get_text()
    entry = audit_rows(client)[0]
    assert entry["actor"] == "ceo" and entry["action"] == "updated"
    assert entry["before"]["target"] == 9.0 and entry["after"]["target"] == 11.5
    assert entry["before"]["deadline"] == "2030-03-31"
    assert entry["after"]["deadline"] == "2030-12-31"
    assert entry["after"]["envelopes"][0]["budget"]["2026-27"] == 95.0


def test_a_mission_edit_with_a_bad_deadline_and_year_names_both_fields(client: TestClient):
    csrf = login(client, "ceo")
    response = client.post(
        f"/missions/{DEMO}/edit",
        data={
            "csrf_token": csrf,
            "name": "x",
            "target": "-1",
            "unit": "t",
            "deadline": "soon",
            "years": "2026-27 2027-29",
            "dal": "50",
            "envelopes.0.id": "sbc",
            "envelopes.0.name": "SBC",
        },
    )
    assert response.status_code == 422
    summary = soup(response).select_one(".govuk-error-summary").get_text(" ", strip=True)
    assert "Deadline: must be a date" in summary


def test_a_stale_edit_is_refused_and_the_users_input_is_kept(client: TestClient):
    login(client, "ceo")
    data = form_values(soup(client.get(f"/missions/{DEMO}/edit")))
    data["dal_mode"] = "flag"
    first = {**data, "target": "10"}
    second = {**data, "target": "12"}
    assert (
        client.post(f"/missions/{DEMO}/edit", data=first, follow_redirects=False).status_code == 303
    )
    response = client.post(f"/missions/{DEMO}/edit", data=second)
    assert response.status_code == 422
    assert "changed by someone else" in response.text
    assert soup(response).select_one("#f-target")["value"] == "12"
    assert client.get(f"/api/v1/missions/{DEMO}").json()["target"] == 10.0


def test_an_administrator_adds_a_user_and_gives_a_council_role(client: TestClient):
    csrf = login(client, "admin")
    response = client.post(
        "/admin/users/new",
        data={
            "username": "newmember",
            "display_name": "New Member",
            "password": "long-enough-pw",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    response = client.post(
        "/admin/users/newmember/roles",
        data={
            "mission": DEMO,
            "role": "council_member",
            "sector": "civil_society",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    login(client, "newmember", "long-enough-pw")
    assert client.get(f"/missions/{DEMO}").status_code == 200
    login(client, "ceo")
    entry = audit_rows(client)[0]
    assert entry["entity"] == "council_member" and entry["actor"] == "admin"


def test_a_short_password_is_refused_with_the_rule(client: TestClient):
    csrf = login(client, "admin")
    response = client.post(
        "/admin/users/new",
        data={
            "username": "shorty",
            "display_name": "Short",
            "password": "short",
            "csrf_token": csrf,
        },
    )
    assert response.status_code == 422
    assert "at least 10 characters" in response.text


def test_the_api_rejects_a_bad_candidate_naming_the_field(client: TestClient):
    csrf = login(client, "council1")
    body = {
        "id": "Bad Id",
        "name": "x",
        "organisation": "o",
        "organisation_type": "incumbent",
        "platform": "hydrogen",
        "tier": "moonshot",
        "trl": 12,
        "eligible_envelopes": ["sbc"],
        "options": [
            {
                "id": "a",
                "name": "A",
                "cost_profile": {"2026-27": -1},
                "p_success": 0.5,
                "impact": {"low": 1, "most_likely": 2, "high": 3},
            }
        ],
    }
    response = client.post(
        f"/api/v1/missions/{DEMO}/candidates", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"id", "trl", "options.0.cost_profile.2026-27"} <= fields


def test_the_api_registers_a_candidate_for_a_council_member(client: TestClient):
    csrf = login(client, "council3")
    body = {
        "id": "api-made",
        "name": "Made via API",
        "organisation": "o",
        "organisation_type": "incumbent",
        "platform": "contrails",
        "tier": "conventional",
        "trl": 5,
        "eligible_envelopes": ["sbc"],
        "options": [
            {
                "id": "explore",
                "name": "Explore",
                "cost_profile": {"2026-27": 2},
                "p_success": 0.5,
                "impact": {"low": 0, "most_likely": 0.2, "high": 0.4},
            }
        ],
    }
    response = client.post(
        f"/api/v1/missions/{DEMO}/candidates", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 201
    assert response.json()["registered_by"] == "council3"
    unknown_envelope = {**body, "id": "api-made-2", "eligible_envelopes": ["nope"]}
    response = client.post(
        f"/api/v1/missions/{DEMO}/candidates", json=unknown_envelope, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "eligible_envelopes"


def test_pages_for_things_that_do_not_exist_are_404_pages(client: TestClient):
    login(client, "ceo")
    response = client.get(f"/missions/{DEMO}/candidates/no-such-thing")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert client.get("/missions/no-such-mission").status_code == 404
    assert client.get("/api/v1/missions/no-such-mission").status_code == 404
