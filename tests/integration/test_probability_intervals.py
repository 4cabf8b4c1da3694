"""Every probability with its error: the run page, the report, the quarter home, the comparison,
the update letter and the JSON API give P(target), P(at least one success) and P(overrun) with
their 95 % Monte-Carlo interval (``portfolio.domain.montecarlo``); the run page says in words when
in
sample and out of sample disagree beyond that error, and names a CVaR run of the quarter that
beats a P(target) run out of sample (``portfolio.domain.sample_fit``)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, add_solved_run, login
from typer.testing import CliRunner

from api.cli import app as cli
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain import montecarlo

CURRENT, APPROVED = "2026-27 Q3", "2026-27 Q2"
SHARES = ("p_target", "p_any_success", "p_overrun")


def soup(response) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def text(page: BeautifulSoup, selector: str) -> str:
    found = page.select_one(selector)
    assert found is not None, f"no {selector}"
    return found.get_text(" ", strip=True)


def written(metrics: dict[str, Any], name: str) -> str:
    """How the pages write share ``name`` of a metrics block: the one rule."""
    iv = montecarlo.interval(metrics, name)
    assert iv is not None
    return montecarlo.interval_text(iv)


def demo_runs(client: TestClient) -> list[dict[str, Any]]:
    return client.get(f"/api/v1/missions/{DEMO}/runs").json()  # type: ignore[no-any-return]


def demo_run(client: TestClient, quarter: str = CURRENT) -> dict[str, Any]:
    run_id = next(r["id"] for r in demo_runs(client) if r["quarter"] == quarter)
    return client.get(f"/api/v1/missions/{DEMO}/runs/{run_id}").json()  # type: ignore[no-any-return]


def add_run(
    db_url: str,
    *,
    objective: str = "cvar",
    oos: float,
    ins: float | None = None,
    n_out: int = 20_000,
    n_in: int = 300,
) -> int:
    """A finished run of the current quarter stored as if solved: the demo's current problem and
    portfolio with ``objective``, P(target) ``oos`` on ``n_out`` fresh scenarios and ``ins`` (by
    default the same) on ``n_in`` optimisation scenarios."""

    def rescaled(problem: dict[str, Any]) -> dict[str, Any]:
        policy = {**problem["policy"], "objective": objective}
        return {**problem, "policy": policy, "scenarios": {"count": n_in, "seed": 11}}

    def measured(result: dict[str, Any], problem: dict[str, Any]) -> dict[str, Any]:
        metrics = result["metrics"]
        ins_metrics = {
            **metrics["in_sample"],
            "p_target": oos if ins is None else ins,
            "scenarios": n_in,
        }
        oos_metrics = {**metrics["out_of_sample"], "p_target": oos, "scenarios": n_out}
        return {**result, "metrics": {"in_sample": ins_metrics, "out_of_sample": oos_metrics}}

    return add_solved_run(db_url, CURRENT, measured, problem=rescaled, objective=objective)


# -- the demo's runs carry their intervals --------------------------------------------------------
def test_the_run_page_gives_each_probability_with_its_interval_in_and_out_of_sample(
    client: TestClient,
):
    login(client, "ceo")
    run = demo_run(client)
    metrics = run["result"]["metrics"]
    page = soup(client.get(f"/missions/{DEMO}/runs/{run['id']}"))
    for name in SHARES:
        assert text(page, f"#oos-{name}") == written(metrics["out_of_sample"], name)
        assert text(page, f"#ins-{name}") == written(metrics["in_sample"], name)
    # the demo's in-sample P(target) (300 scenarios) agrees with out of sample within the error
    assert page.select_one("#sample-gap") is None
    span = page.select_one("#oos-p_target .app-interval")
    iv = montecarlo.interval(metrics["out_of_sample"], "p_target")
    assert iv is not None and float(span["data-low"]) == round(iv.low, 6)
    assert int(span["data-scenarios"]) == 20_000


def test_the_json_api_adds_the_intervals_beside_an_unchanged_result(client: TestClient, db_url):
    login(client, "ceo")
    run = demo_run(client)
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        stored = uow.runs.get(DEMO, run["id"]).result_document()
    engine.dispose()
    assert run["result"] == stored  # the result document itself is untouched
    for block in ("in_sample", "out_of_sample"):
        metrics = stored["metrics"][block]  # type: ignore[index]
        for name in SHARES:
            iv = montecarlo.share_interval(metrics[name], metrics["scenarios"])
            assert run["intervals"][block][name] == {
                "value": iv.value,
                "low": iv.low,
                "high": iv.high,
                "scenarios": iv.scenarios,
            }
    # the list of runs carries neither results nor intervals
    assert all(r["intervals"] is None for r in demo_runs(client))


def test_the_report_gives_its_risk_probabilities_with_intervals(client: TestClient):
    login(client, "ceo")
    run = demo_run(client, APPROVED)
    oos = run["result"]["metrics"]["out_of_sample"]
    ins = run["result"]["metrics"]["in_sample"]
    page = soup(client.get(f"/missions/{DEMO}/report?quarter={APPROVED.replace(' ', '-')}"))
    assert text(page, "#risk-p") == written(oos, "p_target")
    assert text(page, "#risk-p-in-sample") == written(ins, "p_target")
    assert text(page, "#risk-overrun-oos") == written(oos, "p_overrun")
    # the conventional ranking, evaluated on the same 20,000 scenarios, has one too
    assert "95 % interval" in text(page, "#risk-p-baseline")
    assert page.select_one("#sample-gap") is None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_report_as_json_carries_the_intervals_and_the_in_out_comparison(db_url: str):
    db = db_url.removeprefix("sqlite:///")
    as_json = CliRunner().invoke(cli, ["report", DEMO, "--quarter", APPROVED, "--db", db])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    oos = report["metrics"]["out_of_sample"]
    iv = montecarlo.share_interval(oos["p_target"], oos["scenarios"])
    assert report["intervals"]["out_of_sample"]["p_target"] == {
        "value": iv.value,
        "low": iv.low,
        "high": iv.high,
        "scenarios": 20_000,
    }
    assert set(report["intervals"]) == {"in_sample", "out_of_sample", "baseline"}
    gap = next(g for g in report["sample_gaps"] if g["metric"] == "p_target")
    assert gap["in_sample"]["scenarios"] == 300 and gap["difference"]["margin"] > 0


def test_the_quarter_home_and_the_letter_give_p_target_with_its_interval(client: TestClient):
    csrf = login(client, "ceo")
    approved = demo_run(client, APPROVED)
    home = soup(client.get(f"/missions/{DEMO}/quarters/{quote(APPROVED)}"))
    oos = approved["result"]["metrics"]["out_of_sample"]
    assert text(home, "#quarter-p-target") == written(oos, "p_target")
    assert written(oos, "p_overrun") in text(home, "#quarter-overrun")

    # approve the current quarter's run: its home and its draft letter state the interval
    current = demo_run(client)
    candidates = [c["id"] for c in client.get(f"/api/v1/missions/{DEMO}/candidates").json()]
    response = client.post(
        f"/api/v1/missions/{DEMO}/runs/{current['id']}/approve",
        json={"reasons": dict.fromkeys(candidates, "test reason")},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    home = soup(client.get(f"/missions/{DEMO}/quarters/{quote(CURRENT)}"))
    oos = current["result"]["metrics"]["out_of_sample"]
    assert text(home, "#quarter-p-target") == written(oos, "p_target")
    letter = client.get(f"/api/v1/missions/{DEMO}/quarter/draft-update").json()["body"]
    iv = montecarlo.share_interval(oos["p_target"], oos["scenarios"])
    assert montecarlo.interval_text(iv, digits=0, percent="%") in letter
    assert "tested on 20,000 scenarios the optimiser did not see" in letter


def test_the_comparison_shows_each_runs_interval_and_draws_it(client: TestClient, db_url):
    login(client, "ceo")
    a, b = add_run(db_url, oos=0.503), add_run(db_url, oos=0.60)
    page = soup(client.get(f"/missions/{DEMO}/runs/compare?run={a}&run={b}"))
    row = text(page, "#metric-p_target")
    assert "50.3 % (95 % interval 49.6–51.0 %)" in row
    assert "60.0 % (95 % interval 59.3–60.7 %)" in row
    alt = page.select_one("#compare-chart img")["alt"]
    assert f"Run {a} 50.3 % (95 % interval 49.6–51.0 %)" in alt


# -- in sample against out of sample --------------------------------------------------------------
def test_the_run_page_explains_in_and_out_of_sample_disagreeing_beyond_the_error(
    client: TestClient, db_url
):
    login(client, "ceo")
    fitted = add_run(db_url, ins=0.80, oos=0.60)  # 20 points apart, margin about 4.6 points
    page = soup(client.get(f"/missions/{DEMO}/runs/{fitted}"))
    gap = page.select_one('#sample-gap p[data-metric="p_target"]')
    assert gap is not None
    words = gap.get_text(" ", strip=True)
    assert "80.0 % (95 % interval" in words and "60.0 % (95 % interval" in words
    assert "The gap of 20 points is more than Monte-Carlo error explains" in words
    assert "fitted its own scenarios" in words and "out-of-sample figure is the honest one" in words
    assert "More optimisation scenarios narrow the gap" in text(page, "#sample-gap")
    # the report of the quarter (its latest run, none approved yet) says so too
    report = soup(client.get(f"/missions/{DEMO}/report?quarter={CURRENT.replace(' ', '-')}"))
    assert report.select_one('#sample-gap p[data-metric="p_target"]') is not None


def test_in_and_out_of_sample_within_the_error_get_no_explanation(client: TestClient, db_url):
    login(client, "ceo")
    close = add_run(db_url, ins=0.62, oos=0.60)  # 2 points apart on 300 scenarios: noise
    page = soup(client.get(f"/missions/{DEMO}/runs/{close}"))
    assert page.select_one("#sample-gap") is None
    assert "95 % interval" in text(page, "#ins-p_target")


def test_a_p_target_run_beaten_by_a_cvar_run_out_of_sample_is_told_why_and_what_to_do(
    client: TestClient, db_url
):
    login(client, "ceo")
    cvar = add_run(db_url, objective="cvar", oos=0.52)
    p_run = add_run(db_url, objective="p_target", ins=0.62, oos=0.48)
    page = soup(client.get(f"/missions/{DEMO}/runs/{p_run}"))
    check = page.select_one(f"#objective-check-{cvar}")
    assert check is not None and check["data-beyond-error"] == "yes"
    words = check.get_text(" ", strip=True)
    assert f"Run {cvar} (Expected impact with a shortfall penalty (CVaR))" in words
    assert "52.0 % (95 % interval" in words and "48.0 % (95 % interval" in words
    assert "4 points more, beyond Monte-Carlo error" in words
    assert "overfitting to the optimisation scenarios" in words
    assert "more optimisation scenarios (2,000 or more)" in words
    assert f"prefer run {cvar}" in words
    compare = check.select_one("a[href*='/runs/compare']")
    assert compare["href"] == f"/missions/{DEMO}/runs/compare?run={p_run}&run={cvar}"
    # the CVaR run's page names the P(target) run it beats
    other = soup(client.get(f"/missions/{DEMO}/runs/{cvar}")).select_one(
        f"#objective-check-{p_run}"
    )
    assert other is not None and other.a.get_text(strip=True) == f"Run {p_run}"
    words = other.get_text(" ", strip=True)
    assert "which maximises P(target), reaches the target in fewer fresh scenarios" in words
    assert "or prefer this run." in words


def test_a_cvar_run_ahead_only_within_the_error_is_called_as_good(client: TestClient, db_url):
    login(client, "ceo")
    cvar = add_run(db_url, objective="cvar", oos=0.509)
    p_run = add_run(db_url, objective="p_target", oos=0.505)
    page = soup(client.get(f"/missions/{DEMO}/runs/{p_run}"))
    check = page.select_one(f"#objective-check-{cvar}")
    assert check is not None and check["data-beyond-error"] == "no"
    words = check.get_text(" ", strip=True)
    assert "within Monte-Carlo error" in words and "the two are as good" in words
    assert "overfitting" not in words
    # a P(target) run ahead of every CVaR run gets no advice
    ahead = add_run(db_url, objective="p_target", oos=0.70)
    assert (
        soup(client.get(f"/missions/{DEMO}/runs/{ahead}")).select_one(".app-objective-check")
        is None
    )
