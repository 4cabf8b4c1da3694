"""The typed optimiser result across the boundary (issue 19): runs store and load
``optimiser.result.Result``, and every reader takes a run's numbers from it
(``OptimiserRun.out_of_sample``, ``p_target``, ``funding``, ``result.spend``), never from raw
JSON. So a run's key numbers, P(target) out of sample and its planned spend, read the same on the
run page, through the JSON API, in the allocation report and on the quarter home; and a result
stored by an older version, without the fields added since, reads back key for key."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login

from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain import montecarlo

APPROVED, CURRENT = "2026-27 Q2", "2026-27 Q3"


def soup(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def text(page: BeautifulSoup, selector: str) -> str:
    found = page.select_one(selector)
    assert found is not None, f"no {selector}"
    return found.get_text(" ", strip=True)


def number(written: str) -> float:
    """A number as a page writes it: "£1,234.5m", "1,234.5", "50.9 %"."""
    return float(written.strip().removeprefix("£").split("m")[0].split(" ")[0].replace(",", ""))


def approved_run_id(db_url: str, label: str) -> int:
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        run_id = uow.missions.quarter(DEMO, label).approved_run
    engine.dispose()
    assert run_id is not None
    return run_id


def test_a_runs_key_numbers_are_the_same_on_its_page_in_the_json_api_and_in_the_report(
    client: TestClient, db_url: str
) -> None:
    login(client, "ceo")
    run_id = approved_run_id(db_url, APPROVED)
    api = client.get(f"/api/v1/missions/{DEMO}/runs/{run_id}").json()
    oos = api["result"]["metrics"]["out_of_sample"]
    p_target, spend = oos["p_target"], api["result"]["spend"]["total"]
    iv = montecarlo.share_interval(p_target, oos["scenarios"])
    assert api["intervals"]["out_of_sample"]["p_target"]["value"] == p_target

    run_page = soup(client.get(f"/missions/{DEMO}/runs/{run_id}"))
    shown = text(run_page, "#oos-p_target")
    assert shown == montecarlo.interval_text(iv)
    span = run_page.select_one("#oos-p_target .app-interval")
    assert span is not None
    assert float(str(span["data-low"])) == round(
        api["intervals"]["out_of_sample"]["p_target"]["low"], 6
    )
    assert number(text(run_page, "#money-planned")) == round(spend, 1)

    report = soup(client.get(f"/missions/{DEMO}/report?quarter={APPROVED.replace(' ', '-')}"))
    assert text(report, "#risk-p") == shown
    assert number(text(report, "#risk-spend")) == round(spend, 1)
    trajectory = {
        row.select_one("th").get_text(strip=True): row.select("td")[1].get_text(strip=True)
        for row in report.select("#data-trajectory tbody tr")
    }
    assert number(trajectory[APPROVED]) == round(p_target * 100, 1)

    home = soup(client.get(f"/missions/{DEMO}/quarters/{quote(APPROVED)}"))
    assert text(home, "#quarter-p-target") == shown


def test_a_result_stored_by_an_older_version_reads_back_key_for_key(
    client: TestClient, db_url: str
) -> None:
    login(client, "ceo")
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        template = next(r for r in uow.runs.all(DEMO) if r.quarter == CURRENT)  # open
        older = template.result_document()
        assert older is not None
        # version 1: before P(overrun), the expected overspend and the solver's environment
        older["version"] = 1
        for block in older["metrics"].values():
            del block["p_overrun"], block["expected_overspend"]
        del older["solver"]["environment"]
        run_id = uow.runs.add(DEMO, template.with_changes(id=None, status="queued", result=None))
        uow.runs.update(run_id, status="optimal", result=older)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        stored = uow.runs.get(DEMO, run_id)
    engine.dispose()
    assert stored.result is not None and stored.result.version == 1
    assert stored.out_of_sample is not None and stored.out_of_sample.p_overrun is None
    # the stored form, the exchange format and the result file: the same document, key for key
    assert stored.result_document() == older
    assert stored.model_dump(mode="json")["result"] == older
    assert client.get(f"/missions/{DEMO}/runs/{run_id}/result.json").json() == older
    page = soup(client.get(f"/missions/{DEMO}/runs/{run_id}"))
    assert page.select_one("#p-overrun") is None  # it states no P(overrun): no row of dashes
    oos = older["metrics"]["out_of_sample"]
    assert text(page, "#oos-p_target") == montecarlo.interval_text(
        montecarlo.share_interval(oos["p_target"], oos["scenarios"])
    )
    api = client.get(f"/api/v1/missions/{DEMO}/runs/{run_id}").json()
    assert api["result"]["metrics"]["out_of_sample"]["p_target"] == oos["p_target"]
    assert api["result"]["metrics"]["out_of_sample"]["p_overrun"] is None
