"""Treasury's allocation report: its numbers agree with the stored run, flags are complete, the
downloads carry the same data, comments are kept in the audit trail."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login

Q2 = "2026-27-Q2"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def approved_run(client: TestClient, label: str = "2026-27 Q2") -> dict:
    quarter = client.get(f"/api/v1/missions/{DEMO}/quarters/{label}").json()["quarter"]
    return client.get(f"/api/v1/missions/{DEMO}/runs/{quarter['approved_run']}").json()


def test_the_reports_totals_add_up_to_the_runs_funding_rows(client: TestClient):
    login(client, "treasury")
    run = approved_run(client)
    page = soup(client.get(f"/missions/{DEMO}/report?quarter={Q2}"))
    funding = run["result"]["funding"]
    total = sum(f["amount"] for f in funding)
    shown = float(page.select_one("#funding-total").get_text())
    assert shown == pytest.approx(total, abs=0.05)
    assert total == pytest.approx(run["result"]["spend"]["total"], abs=1e-6)
    rows = page.select("#funding tbody tr")
    assert len(rows) == len({f["candidate"] for f in funding}) + 1  # and the total row
    budgets = page.select("#envelope-budgets tbody tr")
    assert budgets


def test_every_dal_and_ncr_flag_of_the_run_is_listed_first(client: TestClient):
    login(client, "treasury")
    run = approved_run(client)
    page = soup(client.get(f"/missions/{DEMO}/report?quarter={Q2}"))
    above = [f for f in run["result"]["flags"] if f["kind"] == "above_dal"]
    ncr = [f for f in run["result"]["flags"] if f["kind"] == "ncr"]
    above_rows = [r for r in page.select("#above-dal tbody tr") if "None" not in r.get_text()]
    ncr_rows = [r for r in page.select("#ncr tbody tr") if "None" not in r.get_text()]
    assert len(above_rows) == len(above) and len(ncr_rows) == len(ncr)
    headings = [h.get_text() for h in page.select("h2")]
    assert headings.index("For Treasury's attention") < headings.index(
        "Funded candidates by envelope and year"
    )


def test_the_risk_section_compares_with_the_conventional_ranking(client: TestClient):
    login(client, "treasury")
    risk = soup(client.get(f"/missions/{DEMO}/report?quarter={Q2}")).select_one("#risk")
    cells = [td.get_text(strip=True) for td in risk.select("tbody tr")[0].select("td")]
    # each P(target) with its 95 % Monte-Carlo interval: "62.5 %(95 % interval 61.8–63.1 %)"
    assert " %(95 % interval " in cells[0] and " %(95 % interval " in cells[1]
    spend = [td.get_text(strip=True) for td in risk.select("tbody tr")[3].select("td")]
    assert float(spend[1].replace(",", "")) > 0  # the conventional ranking funds something
    assert float(cells[1].split(" %")[0]) < float(cells[0].split(" %")[0])


def test_the_csv_and_excel_downloads_hold_the_same_funding_rows(client: TestClient):
    login(client, "treasury")
    run = approved_run(client)
    csv = client.get(f"/missions/{DEMO}/report/allocation.csv?quarter={Q2}")
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    frame = pd.read_csv(io.StringIO(csv.text))
    assert len(frame) == len(run["result"]["funding"])
    assert frame["amount"].sum() == pytest.approx(run["result"]["spend"]["total"], abs=1e-6)
    xlsx = client.get(f"/missions/{DEMO}/report/allocation.xlsx?quarter={Q2}")
    sheets = pd.read_excel(io.BytesIO(xlsx.content), sheet_name=None)
    assert list(sheets) == ["Allocation", "Spend by envelope and year", "Flags", "Changes"]
    assert sheets["Allocation"]["amount_m"].sum() == pytest.approx(
        run["result"]["spend"]["total"], abs=1e-6
    )
    assert len(sheets["Changes"]) == len(
        client.get(f"/api/v1/missions/{DEMO}/quarters/2026-27 Q2").json()["changes"]
    )


def test_every_chart_is_an_svg_with_a_text_alternative(client: TestClient):
    login(client, "treasury")
    page = soup(client.get(f"/missions/{DEMO}/report?quarter={Q2}"))
    images = page.select(".app-chart img")
    assert len(images) >= 6
    for img in images:
        assert img["alt"].strip()
        svg = client.get(img["src"])
        assert svg.status_code == 200
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert svg.content.lstrip().startswith(b"<?xml") and b"<svg" in svg.content
        assert "script" not in svg.headers["content-security-policy"]


def test_reviewers_comment_the_ceo_replies_and_both_are_audited(client: TestClient):
    csrf = login(client, "treasury")
    response = client.post(
        f"/missions/{DEMO}/report/comments",
        data={"text": "Why is the UKRI headroom so large?", "quarter": Q2, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    csrf = login(client, "ceo")
    page = soup(client.get(f"/missions/{DEMO}/report?quarter={Q2}"))
    action = page.select_one(".app-comment form")["action"]
    client.post(action, data={"reply": "Two UKRI awards slip to next year.", "csrf_token": csrf})
    text = (
        soup(client.get(f"/missions/{DEMO}/report?quarter={Q2}"))
        .select_one("#comments")
        .find_next("div")
        .get_text(" ")
    )
    assert "UKRI headroom" in text and "slip to next year" in text
    audit = client.get(f"/api/v1/missions/{DEMO}/audit").json()[:2]
    assert [(a["entity"], a["action"], a["actor"]) for a in audit] == [
        ("review_comment", "replied", "ceo"),
        ("review_comment", "created", "treasury"),
    ]
    csrf = login(client, "council1")
    refused = client.post(
        f"/missions/{DEMO}/report/comments", data={"text": "x", "quarter": Q2, "csrf_token": csrf}
    )
    assert refused.status_code == 403


def test_a_quarter_without_an_allocation_says_so(client: TestClient, db_url: str):
    login(client, "treasury")
    page = client.get(f"/missions/{DEMO}/report?quarter=2026-27-Q4")
    assert page.status_code == 404


def test_the_frontier_runs_in_the_background_and_its_chart_appears(db_url: str):
    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(database_url=db_url, secret_key="x" * 40, run_jobs_inline=True))
    with TestClient(app) as client:
        csrf = login(client, "treasury")
        run = approved_run(client)
        response = client.post(
            f"/missions/{DEMO}/runs/{run['id']}/analytics/frontier",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert response.status_code == 303
        page = soup(client.get(f"/missions/{DEMO}/report?quarter={Q2}"))
        row = page.select_one('#analytics-table tr[data-kind="frontier"]')
        assert "Done" in row.get_text()  # the status in words (portfolio.domain.display)
        chart = page.select_one("#chart-frontier img")
        assert chart is not None and "This portfolio" in chart["alt"]
        assert client.get(chart["src"]).status_code == 200
        bad = client.post(
            f"/missions/{DEMO}/runs/{run['id']}/analytics/astrology", data={"csrf_token": csrf}
        )
        assert bad.status_code == 422
    app.state.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_report_command_writes_the_same_funding_rows(db_url: str, tmp_path):
    import json

    from typer.testing import CliRunner

    from api.cli import app as cli

    db = db_url.removeprefix("sqlite:///")
    runner = CliRunner()
    as_json = runner.invoke(cli, ["report", DEMO, "--quarter", Q2, "--db", db])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    total = sum(f["amount"] for f in report["funding"])
    assert report["total_spend"] == pytest.approx(total)
    as_csv = runner.invoke(cli, ["report", DEMO, "--quarter", Q2, "--db", db, "--format", "csv"])
    assert len(as_csv.stdout.strip().splitlines()) == len(report["funding"]) + 1
    xlsx = tmp_path / "report.xlsx"
    runner.invoke(cli, ["report", DEMO, "--db", db, "--format", "xlsx", "--output", str(xlsx)])
    assert next(iter(pd.read_excel(xlsx, sheet_name=None))) == "Allocation"
