"""The CEO's decision, from the optimiser page to the approved allocation: which council scores
a run uses, runs started back on the optimiser page, a comparison of two to four runs that marks
differences within Monte-Carlo error, and an approval that asks a reason only for a start, a
scale or a stop, filled in from the reasons given for locks and exclusions."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, add_solved_run, login

from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain import montecarlo
from portfolio.services import council

CURRENT, PREVIOUS = "2026-27 Q3", "2026-27 Q2"
STOPPED, STARTED, SCALED = "northsea-hefa", "lh2-tank", "hybrid-retrofit-atr"
FORM = {
    "objective": "expected",
    "max_platform_share": "45",
    "min_platforms": "3",
    "min_moonshot_share": "0",
    "min_rising_star_share": "0",
    "max_organisation_share": "100",
    "carry_forward": "on",
    "correlation": "0.5",
    "cvar_alpha": "0.9",
    "cvar_lambda": "1",
    "scenarios": "300",
    "seed": "5",
    "time_limit_s": "30",
    "solver": "highs",
    "budget_scale": "110",
    "note": "decision test",
}


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def api(client: TestClient, csrf: str, method: str, path: str, **kwargs):
    return client.request(
        method, f"/api/v1/missions/{DEMO}{path}", headers={"X-CSRF-Token": csrf}, **kwargs
    )


def names(client: TestClient) -> dict[str, str]:
    return {c["id"]: c["name"] for c in client.get(f"/api/v1/missions/{DEMO}/candidates").json()}


def add_run(
    db_url: str,
    *,
    p_target: float = 0.509,
    scenarios: int = 20_000,
    funding: list[dict[str, Any]] | None = None,
    overrides: dict[str, str] | None = None,
    policy: dict[str, Any] | None = None,
    quarter: str = CURRENT,
) -> int:
    """A finished run of the current quarter stored as if solved: the demo's current problem,
    the stated P(target) on ``scenarios`` out-of-sample scenarios, and ``funding`` (default: the
    demo's current run's)."""

    def with_policy(problem: dict[str, Any]) -> dict[str, Any]:
        return {**problem, "policy": {**problem["policy"], **(policy or {})}}

    def funded(result: dict[str, Any], problem: dict[str, Any]) -> dict[str, Any]:
        rows = funding if funding is not None else result["funding"]
        oos = {**result["metrics"]["out_of_sample"], "p_target": p_target, "scenarios": scenarios}
        by_platform: dict[str, float] = {}
        platform = {c["id"]: c["platform"] for c in problem["candidates"]}
        for row in rows:
            key = platform[row["candidate"]]
            by_platform[key] = by_platform.get(key, 0.0) + row["amount"]
        return {
            **result,
            "funding": rows,
            "selected": {r["candidate"]: r["option"] for r in rows},
            "metrics": {**result["metrics"], "out_of_sample": oos},
            "spend": {
                **result["spend"],
                "total": sum(r["amount"] for r in rows),
                "by_platform": by_platform,
            },
        }

    return add_solved_run(db_url, quarter, funded, problem=with_policy, overrides=overrides or {})


def last_quarters_funding(db_url: str) -> list[dict[str, Any]]:
    """The approved allocation of the previous quarter, row by row."""
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        approved = uow.missions.quarter(DEMO, PREVIOUS).approved_run
        assert approved is not None
        rows = [r.model_dump() for r in uow.runs.get(DEMO, approved).funding]
    engine.dispose()
    return rows


def changed_funding(db_url: str) -> list[dict[str, Any]]:
    """Last quarter's allocation with one stop, one start and one scale-up; the rest continue."""
    rows = [r for r in last_quarters_funding(db_url) if r["candidate"] != STOPPED]
    for r in rows:
        if r["candidate"] == SCALED:
            r["amount"] *= 1.25
    rows.append(
        {
            "candidate": STARTED,
            "option": "explore",
            "envelope": "ukri",
            "year": "2026-27",
            "amount": 2.0,
        }
    )
    return rows


# -- the Monte-Carlo error rule ------------------------------------------------------------------
def test_the_standard_error_of_a_share_and_of_a_mean_are_the_textbook_ones():
    # 50.3 % of 20,000 scenarios: sqrt(0.503 × 0.497 / 20000) = 0.0035355
    assert montecarlo.share_error(0.503, 20_000) == pytest.approx(0.0035355, abs=1e-7)
    assert montecarlo.share_error(0.5, 100) == pytest.approx(0.05)
    assert montecarlo.mean_error(3.0, 900) == pytest.approx(0.1)
    block = {"p_target": 0.5, "expected_impact": 9.0, "scenarios": 100}
    assert montecarlo.standard_error(block, "p_target") == pytest.approx(0.05)
    # a mean needs its sample standard deviation, which the result does not carry yet
    assert montecarlo.standard_error(block, "expected_impact") is None
    with_std = {**block, "expected_impact_std": 3.0, "scenarios": 900}
    assert montecarlo.standard_error(with_std, "expected_impact") == pytest.approx(0.1)
    assert montecarlo.standard_error({"p_target": 0.5}, "p_target") is None  # no n


def test_two_shares_differ_only_beyond_one_point_nine_six_combined_standard_errors():
    # the example: 50.3 % against 50.6 % on 20,000 scenarios each
    a = {"p_target": 0.503, "scenarios": 20_000}
    b = {"p_target": 0.506, "scenarios": 20_000}
    close = montecarlo.compare_metric(a, b, "p_target")
    assert close is not None
    margin = 1.96 * math.sqrt(0.503 * 0.497 / 20_000 + 0.506 * 0.494 / 20_000)
    # each share's error is read off its 95 % (Wilson) interval: the textbook se away from 0
    # and 1, to a fraction of a percent
    assert close.margin == pytest.approx(margin, rel=1e-3) == pytest.approx(0.0098, abs=1e-4)
    assert close.delta == pytest.approx(-0.003) and not close.significant
    far = montecarlo.compare_metric(a, {"p_target": 0.52, "scenarios": 20_000}, "p_target")
    assert far is not None and far.significant  # 1.7 points > ± 0.98 points
    few = montecarlo.compare_metric(
        {"p_target": 0.50, "scenarios": 300}, {"p_target": 0.55, "scenarios": 300}, "p_target"
    )
    assert few is not None and not few.significant  # ± 8 points on 300 scenarios


# -- the optimiser page --------------------------------------------------------------------------
def test_the_optimiser_page_says_which_scores_runs_use_and_warns_while_the_round_is_open(
    client: TestClient, db_url: str
):
    login(client, "ceo")
    page = soup(client.get(f"/missions/{DEMO}/runs"))
    assert PREVIOUS in page.select_one("#scores-used").get_text(" ", strip=True)
    warning = page.select_one("#round-open-warning").get_text(" ", strip=True)
    assert (
        f"The {CURRENT} scoring round is still open: runs use the scores of {PREVIOUS} "
        "until it is closed"
    ) in warning
    assert page.select_one(f'#round-open-warning a[href="/missions/{DEMO}/scoring"]')
    engine = make_engine(db_url)
    with SqlUnitOfWork(engine) as uow:
        council.close_round(uow, "ceo", DEMO)
        uow.commit()
    engine.dispose()
    page = soup(client.get(f"/missions/{DEMO}/runs"))
    assert page.select_one("#round-open-warning") is None
    assert CURRENT in page.select_one("#scores-used").get_text(" ", strip=True)


def test_starting_a_run_returns_to_the_optimiser_page_with_the_run_marked_and_the_settings_kept(
    inline_client: TestClient,
):
    csrf = login(inline_client, "ceo")
    started = inline_client.post(
        f"/missions/{DEMO}/runs", data={**FORM, "csrf_token": csrf}, follow_redirects=False
    )
    assert started.status_code == 303
    location = urlsplit(started.headers["location"])
    assert location.path == f"/missions/{DEMO}/runs"
    run_id = int(parse_qs(location.query)["started"][0])
    page = soup(inline_client.get(started.headers["location"]))
    banner = page.select_one("#success-banner").get_text(" ", strip=True)
    assert f"Run {run_id} started" in banner and "Expected impact" in banner
    row = page.select_one(f'#runs tr[data-run="{run_id}"]')
    assert "Just started" in row.get_text(" ", strip=True)
    assert page.select_one(f'#started-run a[href="/missions/{DEMO}/runs/{run_id}"]')
    # the form keeps what was just used, so a variant is one change away
    form = page.select_one("#run-form")
    assert form.select_one('input[name="objective"][value="expected"]').has_attr("checked")
    assert form.select_one('input[name="max_platform_share"]')["value"] == "45"
    assert form.select_one('input[name="seed"]')["value"] == "5"
    assert form.select_one('input[name="budget_scale"]')["value"] == "110"
    # objectives and platforms by name, never the stored code
    assert "Expected impact (business-case ranking)" in row.get_text(" ", strip=True)
    assert "hefa-saf" not in page.select_one("#overrides").get_text(" ", strip=True)
    # a plain visit marks nothing
    again = soup(inline_client.get(f"/missions/{DEMO}/runs"))
    assert again.select_one("#started-run") is None


def test_ending_a_contract_asks_first_then_says_it_is_done(client: TestClient):
    csrf = login(client, "ceo")
    contract = client.get(f"/api/v1/missions/{DEMO}/contracts?state=live").json()[0]
    action = f"/missions/{DEMO}/contracts/{contract['id']}/end"
    fields = {"csrf_token": csrf, "reason": "Gate failed", "break_cost": "1.5"}
    asked = client.post(action, data=fields)
    assert asked.status_code == 200
    page = soup(asked)
    said = page.select_one("#confirm-consequences").get_text(" ", strip=True)
    assert contract["candidate_name"] in said and contract["option_name"] in said
    assert "£1.5m" in said and "released" in said
    assert page.select_one("#confirm-form")["action"] == action
    assert page.select_one('#confirm-form input[name="break_cost"]')["value"] == "1.5"
    still = client.get(f"/api/v1/missions/{DEMO}/contracts?state=live").json()
    assert contract["id"] in {c["id"] for c in still}
    done = client.post(action, data={**fields, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    banner = soup(client.get(done.headers["location"])).select_one("#success-banner")
    assert f"The contract with {contract['candidate_name']}" in banner.get_text(" ", strip=True)
    assert contract["id"] not in {
        c["id"] for c in client.get(f"/api/v1/missions/{DEMO}/contracts?state=live").json()
    }


# -- the comparison ------------------------------------------------------------------------------
def test_three_runs_compare_side_by_side_with_names_a_chart_and_approval(
    client: TestClient, db_url: str
):
    login(client, "ceo")
    funding = last_quarters_funding(db_url)
    a = add_run(db_url, p_target=0.503)
    b = add_run(db_url, p_target=0.506, policy={"max_platform_share": 0.3})
    c = add_run(db_url, p_target=0.60, funding=changed_funding(db_url))
    assert funding
    response = client.get(f"/missions/{DEMO}/runs/compare?run={a}&run={b}&run={c}")
    assert response.status_code == 200
    page = soup(response)
    assert page.h1.get_text(strip=True) == f"Runs {a}, {b} and {c} side by side"
    heads = [th["data-run"] for th in page.select("#compare-metrics thead th[data-run]")]
    assert heads == [str(a), str(b), str(c)]
    p_row = page.select_one("#metric-p_target")
    assert "P(target)" in p_row.th.get_text()
    # 50.3 % against 50.6 %: within the error; 60 % is beyond it, so the row differs
    assert "app-diff" in p_row["class"]
    pair = page.select_one(f'#compare-noise tr[data-pair="{a}-{b}-p_target"]').get_text(
        " ", strip=True
    )
    assert "within Monte-Carlo error (± 0.98 points)" in pair
    beyond = page.select_one(f'#compare-noise tr[data-pair="{a}-{c}-p_target"]')
    assert "beyond the margin" in beyond.get_text(" ", strip=True)
    # spend by platform, by the display table's names
    platforms = page.select_one("#compare-platforms").get_text(" ", strip=True)
    assert "HEFA sustainable aviation fuel" in platforms and "hefa-saf" not in platforms
    # what each funds, by candidate and option name; the differences marked
    known = names(client)
    stopped = page.select_one(f'#compare-allocation tr[data-candidate="{STOPPED}"]')
    assert stopped.th.get_text(strip=True) == known[STOPPED]
    assert "not funded" in stopped.get_text() and "Differs" in stopped.get_text()
    started = page.select_one(f'#compare-allocation tr[data-candidate="{STARTED}"]')
    assert "Explore" in started.get_text() and "Differs" in started.get_text()
    # the policy as readable rows, never JSON
    policy = page.select_one("#compare-policy").get_text(" ", strip=True)
    assert "Largest share of spend on one platform" in policy and "30 %" in policy
    assert "{" not in policy and "max_platform_share" not in policy
    # every run of the open quarter that found a portfolio can be approved from here
    for run_id in (a, b, c):
        link = page.select_one(f"#approve-run-{run_id}")
        assert link["href"] == f"/missions/{DEMO}/runs/{run_id}/approve"
    # the chart: an SVG of the same runs, with a text alternative naming them
    img = page.select_one("#compare-chart img")
    assert img["src"] == f"/missions/{DEMO}/runs/compare/chart.svg?run={a}&run={b}&run={c}"
    assert f"Run {a} 50.3 %" in img["alt"] and "HEFA sustainable aviation fuel" in img["alt"]
    chart = client.get(img["src"])
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
    assert b"P(target)" in chart.content and b"Spend by platform" in chart.content


def test_two_runs_within_monte_carlo_error_are_marked_so(client: TestClient, db_url: str):
    login(client, "ceo")
    a, b = add_run(db_url, p_target=0.503), add_run(db_url, p_target=0.506)
    page = soup(client.get(f"/missions/{DEMO}/runs/compare?run={a}&run={b}"))
    row = page.select_one("#metric-p_target")
    assert "app-diff" not in row["class"]
    assert "Within Monte-Carlo error (± 0.98 points)" in row.get_text(" ", strip=True)
    # each run's own 95 % interval (Wilson, portfolio.domain.montecarlo)
    assert "50.3 % (95 % interval 49.6–51.0 %)" in row.get_text(" ", strip=True)


def test_a_closed_quarters_run_is_compared_but_not_offered_for_approval(
    client: TestClient, db_url: str
):
    login(client, "ceo")
    runs = client.get(f"/api/v1/missions/{DEMO}/runs").json()
    current = next(r["id"] for r in runs if r["quarter"] == CURRENT)
    old = next(r["id"] for r in runs if r["quarter"] == PREVIOUS)
    page = soup(client.get(f"/missions/{DEMO}/runs/compare?run={current}&run={old}"))
    assert page.select_one(f"#approve-run-{current}") is not None
    assert page.select_one(f"#approve-run-{old}") is None
    assert f"quarter {PREVIOUS} is closed" in page.select_one("#compare-approve").get_text()
    refused = client.get(f"/missions/{DEMO}/runs/{old}/approve")
    assert refused.status_code == 409 and "closed" in refused.text
    with TestClient(client.app) as treasury:
        login(treasury, "treasury")
        seen = soup(treasury.get(f"/missions/{DEMO}/runs/compare?run={current}&run={old}"))
    assert seen.select_one("#compare-approve") is None


@pytest.mark.parametrize("ticked", [1, 5])
def test_too_few_or_too_many_ticked_runs_show_the_optimiser_page_again_with_the_ticks_kept(
    client: TestClient, db_url: str, ticked: int
):
    login(client, "ceo")
    ids = [add_run(db_url) for _ in range(ticked)]
    query = "&".join(f"run={r}" for r in ids)
    response = client.get(f"/missions/{DEMO}/runs/compare?{query}")
    assert response.status_code == 422
    page = soup(response)
    summary = page.select_one(".govuk-error-summary").get_text(" ", strip=True)
    assert "Runs to compare: tick two, three or four runs to compare" in summary
    assert page.select_one(".govuk-error-summary a")["href"] == "#f-run"
    assert page.select_one("#f-run #runs") is not None  # the tick boxes, where the link goes
    assert page.select_one("#run-form") is not None  # the optimiser page, not an error page
    kept = {i["value"] for i in page.select('#runs input[name="run"][checked]')}
    assert kept == {str(r) for r in ids}


# -- approval ------------------------------------------------------------------------------------
def test_the_approval_page_shows_the_key_numbers_and_asks_reasons_only_for_real_changes(
    client: TestClient, db_url: str
):
    login(client, "ceo")
    run_id = add_run(db_url, p_target=0.612, funding=changed_funding(db_url))
    page = soup(client.get(f"/missions/{DEMO}/runs/{run_id}/approve"))
    assert "61.2 %" in page.select_one("#approve-p-target").get_text()
    assert "P(overrun)" in page.select_one("#approve-risk").get_text()
    assert page.select_one("#approve-spend") is not None
    assert "Objective" in page.select_one("#approve-risk").get_text()
    kinds = {tr["data-candidate"]: tr["data-change"] for tr in page.select("#changes tbody tr")}
    assert (kinds[STOPPED], kinds[STARTED], kinds[SCALED]) == ("stop", "start", "scale up")
    asked = {i["name"].removeprefix("reason.") for i in page.select('input[name^="reason."]')}
    assert asked == {c for c, kind in kinds.items() if kind != "continue"}
    assert "continue" in kinds.values()
    for row in page.select('#changes tr[data-change="continue"]'):
        assert "No reason needed" in row.get_text()


def test_a_missing_reason_names_the_candidate_and_keeps_what_was_typed(
    client: TestClient, db_url: str
):
    csrf = login(client, "ceo")
    run_id = add_run(db_url, funding=changed_funding(db_url))
    known = names(client)
    refused = client.post(
        f"/missions/{DEMO}/runs/{run_id}/approve",
        data={
            "csrf_token": csrf,
            "expected_approved": "none",
            f"reason.{STARTED}": "A cheap moonshot worth a look",
        },
    )
    assert refused.status_code == 422
    page = soup(refused)
    summary = page.select_one(".govuk-error-summary").get_text(" ", strip=True)
    assert f"Reason for {known[STOPPED]}: give the reason for this stop" in summary
    assert f"Reason for {known[SCALED]}: give the reason for this scale up" in summary
    assert STOPPED not in summary and known[STARTED] not in summary
    assert page.select_one(f'input[name="reason.{STARTED}"]')["value"] == (
        "A cheap moonshot worth a look"
    )
    done = client.post(
        f"/missions/{DEMO}/runs/{run_id}/approve",
        data={
            "csrf_token": csrf,
            "expected_approved": "none",
            f"reason.{STARTED}": "A cheap moonshot worth a look",
            f"reason.{STOPPED}": "Feedstock contracts fell through",
            f"reason.{SCALED}": "Second aircraft added to the trial",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/missions/{DEMO}/quarters/{quote(CURRENT)}"
    banner = soup(client.get(done.headers["location"])).select_one("#success-banner")
    assert f"Run {run_id} approved as the {CURRENT} allocation." in banner.get_text(strip=True)


def test_the_json_api_applies_the_same_reason_rule(client: TestClient, db_url: str):
    csrf = login(client, "ceo")
    run_id = add_run(db_url, funding=changed_funding(db_url))
    known = names(client)
    refused = api(client, csrf, "POST", f"/runs/{run_id}/approve", json={"reasons": {}})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {
        f"reason.{c}" for c in (STOPPED, STARTED, SCALED)
    }
    not_funded = api(
        client,
        csrf,
        "POST",
        f"/runs/{run_id}/approve",
        json={"reasons": dict.fromkeys((STOPPED, STARTED, SCALED), "why"), "contracted": [STOPPED]},
    )
    assert not_funded.status_code == 422
    assert not_funded.json()["errors"] == [
        {"field": "contracted", "rule": f"{known[STOPPED]} is not funded by this run"}
    ]
    approved = api(
        client,
        csrf,
        "POST",
        f"/runs/{run_id}/approve",
        json={"reasons": dict.fromkeys((STOPPED, STARTED, SCALED), "why")},
    )
    assert approved.status_code == 200, approved.text
    changes = {c["candidate"]: c for c in approved.json()["changes"]}
    assert changes[STARTED]["reason"] == "why"
    assert all(c["reason"] == "" for c in changes.values() if c["kind"] == "continue")


def test_reasons_given_for_locks_and_exclusions_are_filled_in(client: TestClient, db_url: str):
    login(client, "ceo")
    run_id = add_run(
        db_url,
        funding=changed_funding(db_url),
        overrides={STARTED: "Ministerial priority", f"{STOPPED}/scale": "Refinery permit refused"},
        policy={"locks": [STARTED], "exclusions": [f"{STOPPED}/scale"]},
    )
    page = soup(client.get(f"/missions/{DEMO}/runs/{run_id}/approve"))
    assert page.select_one(f'input[name="reason.{STARTED}"]')["value"] == "Ministerial priority"
    assert page.select_one(f'input[name="reason.{STOPPED}"]')["value"] == (
        "Refinery permit refused"
    )
    assert page.select_one(f'input[name="reason.{SCALED}"]')["value"] == ""
    assert page.select_one(f'#changes tr[data-candidate="{STARTED}"] .app-prefilled')
