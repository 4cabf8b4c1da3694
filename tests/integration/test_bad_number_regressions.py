"""The bad numbers and avoidable 500s found by the security test, each reproduced: an infinite
seed value that broke the council's pages for good, non-finite TRLs, cost actuals beyond any
budget, a zero diagnosticity turned into 1, evidence dated in year 1 or 9999, a time limit of
1e308, huge integers in URLs, and a candidate name that broke a chart. (Every numeric field of
every form and API body is covered by the property test in ``test_bad_numbers.py``.)"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker
from support import DEMO, app_routes, login
from typer.testing import CliRunner

from api import charts
from api.cli import app as cli
from api.params import MAX_ROW_ID
from api.templating import field_id
from portfolio.adapters import orm
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import AggregationMethod, RunAnalysis
from portfolio.services import council
from portfolio.services import missions as services

ROOT = Path(__file__).resolve().parents[2]
HUGE = "99999999999999999999"


def _uow(client: TestClient) -> SqlUnitOfWork:
    return SqlUnitOfWork(client.app.state.sessionmaker)  # type: ignore[attr-defined]


def _audit_rows(client: TestClient) -> int:
    with _uow(client) as uow:
        return uow.session.scalar(select(func.count()).select_from(orm.AuditRow)) or 0


def _error_links(response: Any) -> list[str]:
    soup = BeautifulSoup(response.text, "html.parser")
    return [str(a["href"]) for a in soup.select(".govuk-error-summary a[href]")]


def _api(client: TestClient, username: str) -> dict[str, str]:
    with _uow(client) as uow:
        token = services.new_api_token(uow, username, username, "regressions")
        uow.commit()
    return {"Authorization": f"Bearer {token}"}


def _council_pages_answer(client: TestClient, headers: dict[str, str]) -> None:
    for path in ("council", "council/seeds", "council/members/council1", "scoring"):
        assert client.get(f"/missions/{DEMO}/{path}").status_code == 200, path
    assert client.get(f"/api/v1/missions/{DEMO}/aggregates", headers=headers).status_code == 200


# -- seed questions ------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["inf", "nan", "-Infinity", "1e400", "1e300"])
def test_a_non_finite_or_huge_seed_value_is_refused_and_the_council_pages_still_answer(
    client: TestClient, db_url: str, typed: str
):
    csrf = login(client, "ceo")
    headers = _api(client, "ceo")
    with _uow(client) as uow:
        council.set_aggregation_method(uow, "ceo", DEMO, AggregationMethod.classical)
        question = uow.seeds.questions(DEMO)[0]
        uow.commit()
    before = _audit_rows(client)
    response = client.post(
        f"/missions/{DEMO}/council/seeds/{question.id}/realization",
        data={"csrf_token": csrf, "realization": typed},
    )
    assert response.status_code == 422
    assert f"#{field_id(question.id + '.realization')}" in _error_links(response)
    assert "True value of" in response.text
    assert _audit_rows(client) == before
    with _uow(client) as uow:
        assert uow.seeds.questions(DEMO)[0].realization == question.realization
    _council_pages_answer(client, headers)
    exported = CliRunner(env={"DATABASE_URL": db_url}).invoke(cli, ["export", DEMO])
    assert exported.exit_code == 0, exported.output


def test_a_seed_value_stored_before_the_check_reads_as_unknown_and_can_be_recorded_again(
    client: TestClient, db_url: str
):
    csrf = login(client, "ceo")
    headers = _api(client, "ceo")
    with _uow(client) as uow:
        council.set_aggregation_method(uow, "ceo", DEMO, AggregationMethod.classical)
        question = uow.seeds.questions(DEMO)[0]
        uow.session.execute(
            update(orm.SeedQuestionRow)
            .where(orm.SeedQuestionRow.key == question.id)
            .values(realization=float("inf"))
        )
        uow.commit()
    with _uow(client) as uow:
        assert uow.seeds.questions(DEMO)[0].realization is None
    _council_pages_answer(client, headers)
    assert CliRunner(env={"DATABASE_URL": db_url}).invoke(cli, ["export", DEMO]).exit_code == 0
    response = client.post(
        f"/missions/{DEMO}/council/seeds/{question.id}/realization",
        data={"csrf_token": csrf, "realization": "12.5"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with _uow(client) as uow:
        assert uow.seeds.questions(DEMO)[0].realization == 12.5


def test_a_log_scale_question_refuses_a_value_not_above_zero(client: TestClient):
    csrf = login(client, "ceo")
    response = client.post(
        f"/missions/{DEMO}/council/seeds",
        data={
            "csrf_token": csrf,
            "id": "log-question",
            "question": "How many?",
            "scale": "log",
            "realization": "-3",
        },
    )
    assert response.status_code == 422
    assert f"#{field_id('realization')}" in _error_links(response)


# -- evidence ------------------------------------------------------------------------------------
def _evidence(client: TestClient, csrf: str, **fields: str) -> Any:
    with _uow(client) as uow:
        candidate = uow.candidates.all(DEMO)[0].id
    return client.post(
        f"/missions/{DEMO}/candidates/{candidate}/evidence",
        data={"csrf_token": csrf, "summary": "regression", **fields},
        follow_redirects=False,
    )


@pytest.mark.parametrize("typed", ["nan", "inf", "1e400", HUGE, "0", "4.5"])
def test_a_trl_that_is_not_a_whole_number_from_1_to_9_is_refused_naming_it(
    client: TestClient, typed: str
):
    csrf = login(client, "ceo")
    before = _audit_rows(client)
    response = _evidence(client, csrf, kind="trl_change", trl=typed)
    assert response.status_code == 422
    assert f"#{field_id('trl')}" in _error_links(response)
    assert _audit_rows(client) == before


def test_a_zero_diagnosticity_is_refused_not_silently_made_1(client: TestClient):
    csrf = login(client, "ceo")
    before = _audit_rows(client)
    response = _evidence(client, csrf, kind="milestone_met", diagnosticity="0")
    assert response.status_code == 422
    assert f"#{field_id('diagnosticity')}" in _error_links(response)
    assert _audit_rows(client) == before


def test_cost_actuals_beyond_any_budget_are_refused_and_the_problem_file_still_builds(
    client: TestClient,
):
    csrf = login(client, "ceo")
    headers = _api(client, "ceo")
    for actual, planned in (("1e308", "1"), ("100000", "0.00001")):
        response = _evidence(
            client, csrf, kind="cost_actuals", cost_actual=actual, cost_planned=planned
        )
        assert response.status_code == 422
        assert f"#{field_id('cost_actual')}" in _error_links(response)
    with _uow(client) as uow:
        candidate = uow.candidates.all(DEMO)[0].id
    refused = client.post(
        f"/api/v1/missions/{DEMO}/candidates/{candidate}/evidence",
        headers=headers,
        json={
            "kind": "cost_actuals",
            "date": "2026-10-01",
            "summary": "x",
            "cost_actual": 1e308,
            "cost_planned": 1,
        },
    )
    assert refused.status_code == 422
    assert "cost_actual" in [e["field"] for e in refused.json()["errors"]]
    assert client.get(f"/api/v1/missions/{DEMO}/problem", headers=headers).status_code == 200


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31", "1999-03-31"])
def test_evidence_dated_outside_the_mission_or_in_the_future_is_refused(
    client: TestClient, date: str
):
    csrf = login(client, "ceo")
    headers = _api(client, "ceo")
    before = _audit_rows(client)
    response = _evidence(client, csrf, kind="milestone_met", date=date)
    assert response.status_code == 422
    assert f"#{field_id('date')}" in _error_links(response)
    with _uow(client) as uow:
        candidate = uow.candidates.all(DEMO)[0].id
    refused = client.post(
        f"/api/v1/missions/{DEMO}/candidates/{candidate}/evidence",
        headers=headers,
        json={"kind": "milestone_met", "date": date, "summary": "regression"},
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["date"]
    assert _audit_rows(client) == before


def test_evidence_dated_today_is_recorded(client: TestClient):
    csrf = login(client, "ceo")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    response = _evidence(client, csrf, kind="milestone_met", date=today)
    assert response.status_code == 303


# -- runs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("limit", [1e308, 3601, 0])
def test_the_api_refuses_a_time_limit_outside_the_forms_limits(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, limit: float
):
    monkeypatch.setattr(client.app.state.jobs, "submit", lambda run_id: None)  # type: ignore[attr-defined]
    headers = _api(client, "ceo")
    before = _audit_rows(client)
    response = client.post(
        f"/api/v1/missions/{DEMO}/runs", headers=headers, json={"policy": {"time_limit_s": limit}}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["policy.time_limit_s"]
    assert _audit_rows(client) == before


@pytest.mark.parametrize("limit", ["1e308", "nan", "inf", "0", "-5"])
def test_the_solve_command_refuses_a_bad_time_limit(tmp_path: Path, limit: str):
    problem = tmp_path / "problem.json"
    problem.write_text(
        json.dumps(
            {
                "mission": {"target": 1},
                "years": ["2026-27"],
                "envelopes": [{"id": "e", "budget": {"2026-27": 10}}],
                "candidates": [],
            }
        )
    )
    result = CliRunner().invoke(cli, ["solve", str(problem), "--time-limit", limit])
    assert result.exit_code == 2
    assert "--time-limit must be above 0 and at most 86,400 seconds" in result.output


@pytest.mark.parametrize("cost", ["nan", "inf", "1e400", "1e308", "-1"])
def test_the_cli_refuses_a_bad_break_cost_naming_the_option(db_url: str, cost: str):
    engine = make_engine(db_url)
    with SqlUnitOfWork(sessionmaker(engine)) as uow:
        live = uow.contracts.live(DEMO)
    engine.dispose()
    assert live, "the demo has a live contract"
    contract = str(live[0].id)
    runner = CliRunner(env={"DATABASE_URL": db_url})
    result = runner.invoke(
        cli,
        ["contracts", "end", DEMO, contract, "--reason", "x", "--as", "ceo", "--break-cost", cost],
    )
    assert result.exit_code == 2, result.output
    assert "--break-cost" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["contracts", "end", DEMO, HUGE, "--reason", "x", "--as", "ceo"],
        ["approvals", "decide", DEMO, HUGE, "approve", "--reason", "x", "--as", "treasury"],
    ],
)
def test_the_cli_refuses_a_huge_id_without_a_traceback(db_url: str, args: list[str]):
    result = CliRunner(env={"DATABASE_URL": db_url}).invoke(cli, args)
    assert result.exit_code == 2
    assert "2147483647" in result.output
    assert not isinstance(result.exception, OverflowError)


# -- huge integers in URLs -----------------------------------------------------------------------
def _int_parameters(app: Any) -> list[tuple[str, str, str, Any]]:
    """(method, path, name, field info) of every whole-number path or query parameter."""
    found = []
    for method, path, route in app_routes(app):
        for param in [*route.dependant.path_params, *route.dependant.query_params]:
            if re.search(r"\bint\b", str(param.field_info.annotation)) or (
                param.field_info.annotation is int
            ):
                found.append((method, path, param.name, param.field_info))
    assert len(found) >= 15, f"only {len(found)} whole-number parameters found"
    return found


def test_every_whole_number_in_a_url_has_an_upper_bound_the_database_can_hold(app: Any):
    unbounded = []
    for method, path, name, info in _int_parameters(app):
        bounds = [m.le for m in info.metadata if hasattr(m, "le")]
        if not bounds or bounds[0] > MAX_ROW_ID:
            # the runs compared (and their chart) are checked in the route
            if not (name == "run" and path.endswith(("/runs/compare", "/runs/compare/chart.svg"))):
                unbounded.append(f"{method} {path} {name}")
    assert not unbounded, f"bound these with api.params (RowId, Page): {unbounded}"


def test_huge_integers_in_urls_are_a_4xx_never_a_500(client: TestClient, app: Any):
    login(client, "ceo")
    headers = _api(client, "ceo")
    tried = 0
    for method, path, name, _ in _int_parameters(app):
        url = re.sub(r"\{slug\}", DEMO, path)
        url = re.sub(r"\{(quarter|label)\}", "2026-27-Q3", url)
        url = re.sub(r"\{[a-z_]+\}", HUGE if "{" + name + "}" in path else "x", url)
        if f"{{{name}}}" not in path:
            url += f"?{name}={HUGE}"
        response = client.request(method, url, headers=headers if "/api/" in url else None)
        assert 400 <= response.status_code < 500, f"{method} {url}: {response.status_code}"
        tried += 1
    assert tried >= 15
    for url in (
        f"/missions/{DEMO}/runs/{HUGE}",
        f"/missions/{DEMO}/audit?page={HUGE}",
        f"/missions/{DEMO}/runs/compare?run={HUGE}&run=1",
    ):
        assert client.get(url).status_code in (404, 422), url


# -- charts --------------------------------------------------------------------------------------
MATHS = "$\\frac{1}{$"


def test_a_dollar_sign_in_a_name_is_drawn_as_text_not_parsed_as_maths():
    chart = charts.bars("Shares", {MATHS: 1.0, "Costs $5m to $7m": 0.5}, "£m")
    svg = chart.svg.decode()
    assert "\\frac{1}{" in svg and "$5m to $7m" in svg


def test_a_candidate_named_with_unbalanced_maths_keeps_its_chart(client: TestClient):
    login(client, "ceo")
    with _uow(client) as uow:
        candidate = uow.candidates.all(DEMO)[0]
        services.update_candidate(uow, "ceo", DEMO, candidate.with_changes(name=MATHS))
        approved = [q for q in uow.missions.quarters(DEMO) if q.approved_run is not None]
        assert approved, "the demo has an approved allocation"
        run_id = approved[-1].approved_run
        assert run_id is not None
        uow.analyses.put(
            RunAnalysis(
                run=run_id,
                kind="core",
                status="done",
                result={
                    "solved": 10,
                    "candidates": [{"name": MATHS, "share": 0.5, "classification": "core"}],
                },
                requested_by="ceo",
                created_at=uow.now(),
                finished_at=uow.now(),
            )
        )
        uow.commit()
    response = client.get(f"/missions/{DEMO}/report/charts/core.svg")
    assert response.status_code == 200
    assert "\\frac{1}{" in response.text
    assert client.get(f"/missions/{DEMO}/report").status_code == 200


# -- one validated path --------------------------------------------------------------------------
def test_no_model_is_copied_with_unvalidated_changes():
    """``model_copy(update=…)`` skips validation: `Strict.with_changes` (or ``model_validate``)
    is used instead. Demo data, written by the product itself, is not user input."""
    found = []
    for folder in ("api", "portfolio"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name.startswith("demo"):
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if re.search(r"\.model_copy\(\s*$|\.model_copy\(.*update", line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
