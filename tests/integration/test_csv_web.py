"""CSV import from the web: templates to download, every row error by row and column, all or
nothing."""

from __future__ import annotations

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login

from portfolio.adapters.csv import candidates as candidates_file

YEARS = ["2025-26", "2026-27", "2027-28", "2028-29", "2029-30"]  # the demo mission's


def upload(client: TestClient, kind: str, text: str, csrf: str):
    return client.post(
        f"/missions/{DEMO}/import/{kind}",
        data={"csrf_token": csrf},
        files={"file": (f"{kind}.csv", text.encode(), "text/csv")},
    )


def test_the_templates_download_with_the_missions_year_columns(client: TestClient):
    login(client, "council1")
    template = client.get(f"/missions/{DEMO}/import/candidates-template.csv")
    assert template.status_code == 200
    header = template.text.splitlines()[0].lstrip("\ufeff").split(",")
    assert header == candidates_file.candidate_columns(YEARS)
    page = BeautifulSoup(client.get(f"/missions/{DEMO}/import").text, "html.parser")
    assert page.select_one("#candidate-columns") and page.select_one("#score-columns")


def test_a_file_with_a_bad_row_is_refused_with_row_and_column_and_writes_nothing(
    client: TestClient,
):
    csrf = login(client, "council1")
    before = len(client.get(f"/api/v1/missions/{DEMO}/candidates").json())
    lines = candidates_file.candidates_template(YEARS).splitlines()
    bad = lines[2].replace("0.35", "1.7") if "0.35" in lines[2] else lines[2]
    cells = bad.split(",")
    cells[candidates_file.candidate_columns(YEARS).index("p_success")] = "1.7"
    response = upload(client, "candidates", "\n".join([lines[0], lines[1], ",".join(cells)]), csrf)
    assert response.status_code == 422
    summary = BeautifulSoup(response.text, "html.parser").select_one(".govuk-error-summary")
    assert "Row 3, column p_success: must be at most 0.99" in summary.get_text(" ")
    assert len(client.get(f"/api/v1/missions/{DEMO}/candidates").json()) == before


def test_the_template_itself_imports_as_a_new_candidate(client: TestClient):
    csrf = login(client, "council1")
    response = upload(client, "candidates", candidates_file.candidates_template(YEARS), csrf)
    assert response.status_code == 200, response.text[-2000:]
    assert response.url.path == f"/missions/{DEMO}/candidates"  # redirected to the list
    assert BeautifulSoup(response.text, "html.parser").select_one("#success-banner")
    audit_actor = None
    login(client, "ceo")
    for entry in client.get(f"/api/v1/missions/{DEMO}/audit").json():
        if entry["entity"] == "candidate":
            audit_actor = entry["actor"]
            break
    assert audit_actor == "council1"


def test_no_file_is_a_clear_error(client: TestClient):
    csrf = login(client, "council1")
    response = client.post(f"/missions/{DEMO}/import/scores", data={"csrf_token": csrf})
    assert response.status_code == 422
    assert "choose a CSV file to upload" in response.text


def test_treasury_cannot_import(client: TestClient):
    csrf = login(client, "treasury")
    assert upload(client, "candidates", "x", csrf).status_code == 403
    assert upload(client, "scores", "x", csrf).status_code == 403
