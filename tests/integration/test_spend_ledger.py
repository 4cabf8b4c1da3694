"""The spend ledger through the web form, the CSV import, the JSON API and the CLI: what is
recorded is audited, bad input names its field (by row and column in a file) and writes nothing,
and only the Mission CEO records while Treasury and the council read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login
from typer.testing import CliRunner

from api.cli import app as cli_app
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.services import ledger, ledger_io

# the demo mission is in 2026-27 Q3: 2025-26 and 2026-27 have started, 2027-28 has not; the demo
# recorded spend in each of its four closed quarters, so the tests look at what they record now
OPEN = "2026-27 Q3"
NOW = "2026-27"
LATER = "2027-28"
AI = "ai-atc-sequencing"  # "AI arrival sequencing": options explore, demonstrate; sbc and ukri
FREE_ROUTE = "free-route-airspace"  # "Free-route upper airspace": sbc only
GOOD = {
    "candidate": AI,
    "option": "explore",
    "envelope": "sbc",
    "year": NOW,
    "amount": "2.5",
    "note": "INV-0042",
}


def stored(db_url: str) -> tuple[list[Any], list[Any]]:
    """The ledger's entries recorded in the open quarter and their audit entries, read from the
    database itself (the demo's past quarters recorded theirs)."""
    engine = make_engine(db_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            audit = [
                a
                for a in uow.audit.all(DEMO, limit=100_000)
                if a.entity == "spend" and (a.after or {}).get("quarter") == OPEN
            ]
            return [e for e in uow.spend.all(DEMO) if e.quarter == OPEN], audit
    finally:
        engine.dispose()


def demo_spent(db_url: str) -> ledger.Spent:
    """What the demo's past quarters spent, before a test records anything."""
    engine = make_engine(db_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            return ledger.spent(uow, DEMO)
    finally:
        engine.dispose()


def post_form(client: TestClient, csrf: str, **fields: str) -> Any:
    data = {**GOOD, **fields}
    data["option"] = f"{data['candidate']}/{data['option']}" if data["option"] else ""
    return client.post(
        f"/missions/{DEMO}/spend", data={"csrf_token": csrf, **data}, follow_redirects=False
    )


def error_summary(response: Any) -> str:
    summary = BeautifulSoup(response.text, "html.parser").select_one(".govuk-error-summary")
    assert summary is not None, "the page shows no error summary"
    return " ".join(summary.get_text(" ").split())


def csv_text(*rows: str, header: str = "candidate,option,envelope,year,amount,note") -> str:
    return "\n".join([header, *rows]) + "\n"


def upload(client: TestClient, csrf: str, text: str) -> Any:
    return client.post(
        f"/missions/{DEMO}/spend/import",
        data={"csrf_token": csrf},
        files={"file": ("spend.csv", text.encode(), "text/csv")},
    )


# -- the form ------------------------------------------------------------------------------------
def test_the_ceo_records_spend_through_the_form_and_it_is_audited(client: TestClient, db_url: str):
    csrf = login(client, "ceo")
    page = BeautifulSoup(client.get(f"/missions/{DEMO}/spend").text, "html.parser")
    assert page.select_one("h1").get_text(strip=True) == "Spend"
    years = [o["value"] for o in page.select("#f-year option") if o["value"]]
    assert years == ["2025-26", NOW]
    assert page.select_one(f'#f-option option[value="{AI}/explore"]')

    response = post_form(client, csrf)
    assert response.status_code == 303
    shown = client.get(response.headers["location"])
    banner = BeautifulSoup(shown.text, "html.parser").select_one(
        "#success-banner .govuk-notification-banner__heading"
    )
    assert banner is not None
    assert banner.get_text(" ", strip=True) == (
        "Spend recorded: £2.50m on AI arrival sequencing (Explore: shadow-mode trial) "
        "from Single business case in 2026-27."
    )
    rows = BeautifulSoup(shown.text, "html.parser").select("#entries tbody tr")
    (cells,) = [
        [td.get_text(strip=True) for td in row.select("td")]
        for row in rows
        if "INV-0042" in row.get_text()
    ]
    assert cells[:5] == [
        "AI arrival sequencing",
        "Explore: shadow-mode trial",
        "Single business case",
        NOW,
        "2.5",
    ]
    assert "2026-27 Q3" in cells and "ceo" in cells and "INV-0042" in cells

    entries, audit = stored(db_url)
    assert [(e.candidate, e.option, e.envelope, e.year, e.amount) for e in entries] == [
        (AI, "explore", "sbc", NOW, 2.5)
    ]
    assert entries[0].quarter == "2026-27 Q3" and entries[0].recorded_by == "ceo"
    assert [(a.actor, a.action, a.after["source"]) for a in audit] == [("ceo", "recorded", "form")]


def test_the_summary_shows_budget_spent_and_left_per_envelope_and_year(
    client: TestClient, db_url: str
):
    before = demo_spent(db_url)
    csrf = login(client, "ceo")
    assert post_form(client, csrf, amount="30").status_code == 303
    page = BeautifulSoup(client.get(f"/missions/{DEMO}/spend").text, "html.parser")
    row = page.select_one(f'#summary tr[data-envelope="sbc"][data-year="{NOW}"]')
    spent = before.by_envelope_year[("sbc", NOW)] + 30
    assert [td.get_text(strip=True) for td in row.select("td")] == [
        "80",
        f"{spent:,.2f}".rstrip("0").rstrip("."),
        f"{80 - spent:,.2f}".rstrip("0").rstrip("."),
    ]
    assert row.select_one("th").get_text(strip=True) == f"Single business case, {NOW}"
    total = f"{before.total + 30:,.2f}".rstrip("0").rstrip(".")
    assert page.select_one("#spend-total").get_text(strip=True) == total


BAD_FORMS: list[tuple[dict[str, str], str]] = [
    ({"option": "scale"}, "Funding option: scale is not an option of AI arrival sequencing"),
    (
        {"candidate": FREE_ROUTE, "option": "demonstrate", "envelope": "ukri"},
        "Envelope: Free-route upper airspace may not draw on UKRI envelope",
    ),
    ({"year": LATER}, f"Financial year: {LATER} has not started"),
    ({"year": "2026-28"}, "Financial year: must be a financial year such as 2026-27"),
    ({"amount": "-1"}, f"Amount (£m): {ledger_io.AMOUNT_RANGE}"),
    ({"amount": "100001"}, f"Amount (£m): {ledger_io.AMOUNT_RANGE}"),
    ({"amount": "1e400"}, "Amount (£m): must be a finite number"),
    ({"amount": "inf"}, "Amount (£m): must be a finite number"),
    ({"amount": "nan"}, "Amount (£m): must be a finite number"),
    ({"amount": "two"}, "Amount (£m): must be a number in £ million"),
    ({"amount": ""}, "Amount (£m): enter the amount in £ million"),
    ({"candidate": "no-such-thing"}, "Candidate: no-such-thing is not a candidate of this mission"),
]


def test_bad_input_on_the_form_names_the_field_by_its_label_and_writes_nothing(
    client: TestClient, db_url: str
):
    csrf = login(client, "ceo")
    failures = []
    for fields, expected in BAD_FORMS:
        response = post_form(client, csrf, **fields)
        if response.status_code != 422 or expected not in error_summary(response):
            failures.append(f"{fields}: {response.status_code} {error_summary(response)!r}")
    assert failures == []
    assert stored(db_url) == ([], [])


def test_an_empty_form_asks_for_every_field_and_keeps_nothing(client: TestClient, db_url: str):
    csrf = login(client, "ceo")
    empty = dict.fromkeys(ledger_io.FIELDS, "")
    response = client.post(f"/missions/{DEMO}/spend", data={"csrf_token": csrf, **empty})
    assert response.status_code == 422
    text = error_summary(response)
    for label, rule in [
        ("Candidate", "choose a candidate"),
        ("Funding option", "choose a funding option"),
        ("Envelope", "choose an envelope"),
        ("Financial year", "choose a financial year"),
        ("Amount (£m)", "enter the amount in £ million"),
    ]:
        assert f"{label}: {rule}" in text
    page = BeautifulSoup(response.text, "html.parser")
    assert page.select_one("#f-amount-error") is not None
    assert stored(db_url) == ([], [])


def test_an_option_chosen_under_another_candidate_is_refused(client: TestClient, db_url: str):
    csrf = login(client, "ceo")
    data = {**GOOD, "candidate": FREE_ROUTE, "option": f"{AI}/demonstrate", "csrf_token": csrf}
    response = client.post(f"/missions/{DEMO}/spend", data={**data, "amount": "-1"})
    assert response.status_code == 422
    summary = error_summary(response)
    assert (
        "Funding option: the option chosen is one of AI arrival sequencing's: choose one of "
        "Free-route upper airspace's options"
    ) in summary
    assert f"Amount (£m): {ledger_io.AMOUNT_RANGE}" in summary
    page = BeautifulSoup(response.text, "html.parser")
    assert page.select_one(f'#f-option option[value="{AI}/demonstrate"]').has_attr("selected")
    assert stored(db_url) == ([], [])


def test_the_form_needs_its_csrf_token(client: TestClient, db_url: str):
    login(client, "ceo")
    response = client.post(f"/missions/{DEMO}/spend", data={**GOOD, "option": f"{AI}/explore"})
    assert response.status_code == 403
    assert stored(db_url) == ([], [])


# -- the CSV import ------------------------------------------------------------------------------
def test_a_finance_csv_is_recorded_row_by_row_and_audited(client: TestClient, db_url: str):
    csrf = login(client, "ceo")
    text = csv_text(
        f"{AI},explore,sbc,{NOW},2.5,INV-1",
        f'{FREE_ROUTE},demonstrate,sbc,{NOW},"1,200",',
    )
    response = upload(client, csrf, text)
    assert response.status_code == 200, error_summary(response)
    assert response.url.path == f"/missions/{DEMO}/spend"  # redirected to the ledger
    done = BeautifulSoup(response.text, "html.parser").select_one("#success-banner")
    assert "Imported 2 entries of actual spend, £1,202.50m in all." in done.get_text(" ")
    entries, audit = stored(db_url)
    assert [(e.candidate, e.amount) for e in entries] == [(AI, 2.5), (FREE_ROUTE, 1200.0)]
    assert [a.after["source"] for a in audit] == ["csv", "csv"]


def test_a_csv_with_bad_rows_names_each_by_row_and_column_and_records_nothing(
    client: TestClient, db_url: str
):
    csrf = login(client, "ceo")
    text = csv_text(
        f"{AI},explore,sbc,{NOW},2.5,fine",
        f"{AI},explore,sbc,{NOW},-3,negative",
        f"{FREE_ROUTE},demonstrate,ukri,{LATER},1,ineligible and not started",
        f"{AI},teleport,sbc,{NOW},nan,",
    )
    response = upload(client, csrf, text)
    assert response.status_code == 422
    summary = error_summary(response)
    for expected in [
        f"Row 3, column amount: {ledger_io.AMOUNT_RANGE}",
        "Row 4, column envelope: Free-route upper airspace may not draw on UKRI envelope",
        f"Row 4, column year: {LATER} has not started",
        "Row 5, column amount: must be a finite number",
        "Row 5, column option: teleport is not an option of AI arrival sequencing",
    ]:
        assert expected in summary
    assert "Row 2" not in summary
    assert stored(db_url) == ([], [])


def test_a_csv_without_the_note_column_is_fine_but_a_missing_column_is_named(
    client: TestClient, db_url: str
):
    csrf = login(client, "ceo")
    header = "candidate,option,envelope,year,amount"
    ok = upload(client, csrf, csv_text(f"{AI},explore,ukri,{NOW},4", header=header))
    assert ok.status_code == 200
    missing = upload(
        client, csrf, csv_text(f"{AI},explore,ukri,{NOW}", header="candidate,option,envelope,year")
    )
    assert missing.status_code == 422
    assert "Row 1, column amount: missing column" in error_summary(missing)
    assert len(stored(db_url)[0]) == 1


def test_the_template_downloads_and_imports_as_it_is(client: TestClient, db_url: str):
    csrf = login(client, "ceo")
    template = client.get(f"/missions/{DEMO}/spend/template.csv")
    assert template.status_code == 200
    assert template.headers["content-type"].startswith("text/csv")
    assert template.text.splitlines()[0].split(",") == ledger_io.COLUMNS
    assert upload(client, csrf, template.text).status_code == 200
    assert len(stored(db_url)[0]) == 1


def test_an_import_without_a_file_says_so(client: TestClient):
    csrf = login(client, "ceo")
    response = client.post(f"/missions/{DEMO}/spend/import", data={"csrf_token": csrf})
    assert response.status_code == 422
    assert "choose a CSV file to upload" in error_summary(response)


# -- the JSON API --------------------------------------------------------------------------------
def test_the_api_records_one_entry_and_lists_it_with_names_and_the_summary(
    client: TestClient, db_url: str
):
    before = demo_spent(db_url)
    csrf = login(client, "ceo")
    headers = {"X-CSRF-Token": csrf}
    body = {**GOOD, "amount": 2.5}
    created = client.post(f"/api/v1/missions/{DEMO}/spend", json=body, headers=headers)
    assert created.status_code == 201, created.text
    (line,) = created.json()
    assert line["candidate_name"] == "AI arrival sequencing"
    assert line["envelope_name"] == "Single business case"
    assert line["quarter"] == "2026-27 Q3" and line["recorded_by"] == "ceo"
    assert line["recorded_at"].endswith("+00:00")

    ledger = client.get(f"/api/v1/missions/{DEMO}/spend").json()
    assert [e["id"] for e in ledger["entries"] if e["quarter"] == OPEN] == [line["id"]]
    assert ledger["total"] == pytest.approx(before.total + 2.5) and ledger["year"] == NOW
    sbc = {(r["envelope"], r["year"]): r for r in ledger["by_envelope_year"]}
    spent = before.by_envelope_year[("sbc", NOW)] + 2.5
    assert sbc[("sbc", NOW)]["spent"] == pytest.approx(spent)
    assert sbc[("sbc", NOW)]["left"] == pytest.approx(80 - spent)
    assert sbc[("sbc", NOW)]["budget"] == 80.0
    by_candidate = {c["candidate"]: c for c in ledger["by_candidate"]}
    assert by_candidate[AI]["candidate_name"] == "AI arrival sequencing"
    assert by_candidate[AI]["spent"] == pytest.approx(before.by_candidate[AI] + 2.5)
    assert [a.after["source"] for a in stored(db_url)[1]] == ["api"]


def test_an_api_list_is_all_or_nothing_and_names_each_row(client: TestClient, db_url: str):
    csrf = login(client, "ceo")
    body = [
        {**GOOD, "amount": 1},
        {**GOOD, "amount": 1e6},
        {**GOOD, "candidate": FREE_ROUTE, "option": "demonstrate", "envelope": "ukri"},
    ]
    response = client.post(
        f"/api/v1/missions/{DEMO}/spend", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 422
    errors = {(e["field"], e["rule"]) for e in response.json()["errors"]}
    assert errors == {
        ("row 2.amount", ledger_io.AMOUNT_RANGE),
        ("row 3.envelope", "Free-route upper airspace may not draw on UKRI envelope"),
    }
    assert stored(db_url) == ([], [])


ENTRY = f'"candidate": "{AI}", "option": "explore", "envelope": "sbc", "year": "{NOW}"'
MALFORMED = [
    ("{" + ENTRY + ', "amount": NaN}', "amount"),
    ("{" + ENTRY + ', "amount": Infinity}', "amount"),
    ("{" + ENTRY + ', "amount": true}', "amount"),
    ("{" + ENTRY + ', "amount": 1, "recorded_by": "someone"}', "recorded_by"),
    ("{" + ENTRY + "}", "amount"),
    ("[]", "entries"),
    ("[1, 2]", "body"),
    ("not json", "body"),
]


def test_the_api_refuses_malformed_entries_naming_the_field(client: TestClient, db_url: str):
    csrf = login(client, "ceo")
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    failures = []
    for raw, field in MALFORMED:
        response = client.post(f"/api/v1/missions/{DEMO}/spend", content=raw, headers=headers)
        fields = [e["field"] for e in response.json().get("errors", [])]
        if response.status_code != 422 or field not in fields:
            failures.append(f"{raw}: {response.status_code} {response.text}")
    assert failures == []
    for path in ("spend", "spend/import"):  # a form is not what either reads
        as_form = client.post(
            f"/api/v1/missions/{DEMO}/{path}", data=GOOD, headers={"X-CSRF-Token": csrf}
        )
        assert as_form.status_code == 422
        assert as_form.json()["errors"][0]["field"] == "body"
    assert stored(db_url) == ([], [])


def test_the_api_imports_csv_text_or_an_upload(client: TestClient, db_url: str):
    csrf = login(client, "ceo")
    headers = {"X-CSRF-Token": csrf}
    as_text = client.post(
        f"/api/v1/missions/{DEMO}/spend/import",
        content=csv_text(f"{AI},explore,sbc,{NOW},1,").encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert as_text.status_code == 201, as_text.text
    as_file = client.post(
        f"/api/v1/missions/{DEMO}/spend/import",
        files={"file": ("spend.csv", csv_text(f"{AI},demonstrate,ukri,{NOW},2,").encode())},
        headers=headers,
    )
    assert as_file.status_code == 201, as_file.text
    assert [line["option"] for line in as_file.json()] == ["demonstrate"]
    bad = client.post(
        f"/api/v1/missions/{DEMO}/spend/import",
        content=csv_text(f"{AI},explore,sbc,{NOW},lots,").encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["row 2, column amount"]
    assert len(stored(db_url)[0]) == 2


# -- who may record ------------------------------------------------------------------------------
@pytest.mark.parametrize("username", ["council1", "treasury"])
def test_the_council_and_treasury_read_the_ledger_but_cannot_record(
    client: TestClient, db_url: str, username: str
):
    csrf = login(client, username)
    page = client.get(f"/missions/{DEMO}/spend")
    assert page.status_code == 200
    html = BeautifulSoup(page.text, "html.parser")
    assert html.select_one("#summary") is not None
    assert html.select_one("#spend-form") is None
    assert client.get(f"/api/v1/missions/{DEMO}/spend").status_code == 200
    headers = {"X-CSRF-Token": csrf}
    assert post_form(client, csrf).status_code == 403
    assert upload(client, csrf, csv_text(f"{AI},explore,sbc,{NOW},1,")).status_code == 403
    assert client.get(f"/missions/{DEMO}/spend/import").status_code == 403
    api = client.post(f"/api/v1/missions/{DEMO}/spend", json=GOOD, headers=headers)
    assert api.status_code == 403
    api_import = client.post(
        f"/api/v1/missions/{DEMO}/spend/import",
        content=b"candidate,option,envelope,year,amount\n",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert api_import.status_code == 403
    assert stored(db_url) == ([], [])


def test_the_mission_navigation_links_to_the_spend_page(client: TestClient):
    login(client, "treasury")
    page = BeautifulSoup(client.get(f"/missions/{DEMO}").text, "html.parser")
    links = {a.get_text(strip=True): a["href"] for a in page.select("#navigation a")}
    assert links["Spend"] == f"/missions/{DEMO}/spend"


# -- the command line (SQLite) -------------------------------------------------------------------
runner = CliRunner()


@pytest.fixture
def demo_file(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A SQLite file holding the demo mission, for the CLI's ``--db``."""
    templates = request.getfixturevalue("sqlite_templates")
    url = templates.copy("demo")
    yield Path(url.removeprefix("sqlite:///"))
    templates.drop(url)


def cli(*args: str) -> Any:
    return runner.invoke(cli_app, list(args))


def record_args(demo_file: Path, actor: str = "ceo", **fields: str) -> list[str]:
    given = {**GOOD, **fields}
    args = ["spend", "record", DEMO, "--as", actor, "--db", str(demo_file)]
    for name in ledger_io.FIELDS:
        args += [f"--{name}", given[name]]
    return args


def test_the_cli_records_and_lists_spend(demo_file: Path):
    before = demo_spent(f"sqlite:///{demo_file}")
    result = cli(*record_args(demo_file))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "Spend recorded: £2.50m on AI arrival sequencing (Explore: shadow-mode trial) "
        "from Single business case in 2026-27"
    )
    listed = cli("spend", "list", DEMO, "--db", str(demo_file))
    assert listed.exit_code == 0, listed.output
    assert "AI arrival sequencing (Explore: shadow-mode trial)" in listed.stdout
    assert f"Total spent: £{before.total + 2.5:,.2f}m" in listed.stdout
    spent = before.by_envelope_year[("sbc", NOW)] + 2.5
    assert f"Single business case, {NOW}: 80.00, {spent:.2f}, {80 - spent:.2f}" in listed.stdout
    _, audit = stored(f"sqlite:///{demo_file}")
    assert [(a.actor, a.after["source"]) for a in audit] == [("ceo", "cli")]


def test_the_cli_names_the_field_and_rule_of_bad_input_and_writes_nothing(demo_file: Path):
    result = cli(*record_args(demo_file, amount="-5", year=LATER))
    assert result.exit_code == 2
    assert f"error: --amount: {ledger_io.AMOUNT_RANGE}" in result.stderr
    assert stored(f"sqlite:///{demo_file}") == ([], [])


def test_only_the_mission_ceo_records_spend_from_the_cli(demo_file: Path):
    result = cli(*record_args(demo_file, actor="treasury"))
    assert result.exit_code == 2
    assert "treasury may not do this on uk-air-travel: only the Mission CEO may" in result.stderr
    assert stored(f"sqlite:///{demo_file}") == ([], [])


def test_the_cli_imports_a_csv_all_or_nothing(demo_file: Path, tmp_path: Path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(csv_text(f"{AI},explore,sbc,{NOW},1,", f"{AI},explore,ukri,{NOW},2,"))
    bad.write_text(csv_text(f"{AI},explore,sbc,{NOW},1,", f"{AI},explore,xyz,{NOW},2,"))
    refused = cli("spend", "import", DEMO, str(bad), "--as", "ceo", "--db", str(demo_file))
    assert refused.exit_code == 2
    assert "error: row 3, column envelope: xyz is not an envelope of this mission" in (
        refused.stderr
    )
    assert stored(f"sqlite:///{demo_file}") == ([], [])
    done = cli("spend", "import", DEMO, str(good), "--as", "ceo", "--db", str(demo_file))
    assert done.exit_code == 0, done.output
    assert "Imported 2 entries of actual spend, £3.00m in all." in done.stdout
    assert len(stored(f"sqlite:///{demo_file}")[0]) == 2


# -- what a person types, read by the one model (no database) -------------------------------------
@pytest.mark.parametrize(
    ("typed", "amount"),
    [("2.5", 2.5), (" £1,200 ", 1200.0), ("0", 0.0), ("1e2", 100.0), (7, 7.0)],
)
def test_an_amount_may_be_typed_with_a_pound_sign_and_thousands_separators(
    typed: Any, amount: float
):
    entry, errors = ledger_io.parse_entry({**GOOD, "amount": typed}, "2026-27 Q3")
    assert errors == [] and entry is not None and entry.amount == amount


@pytest.mark.parametrize("typed", [True, "-0.01", "100000.01", "Infinity", "NaN", "2,5m", None])
def test_an_amount_that_is_not_a_finite_sum_of_0_to_100000_is_refused(typed: Any):
    entry, errors = ledger_io.parse_entry({**GOOD, "amount": typed}, "2026-27 Q3")
    assert entry is None and [field for field, _ in errors] == ["amount"]
