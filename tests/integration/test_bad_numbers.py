"""Bad numbers are refused on every path a person can type one: NaN, ±infinity, huge and
negative values in every numeric field of every web form and of every JSON API request body get
a 4xx that names the field, and nothing is written.

Nothing is listed by hand that can be found: the JSON bodies are walked from the app's own
OpenAPI document (every number or integer inside every request body), and the web forms are
found by crawling the mission's pages as the CEO, a council member and an administrator (every
``<form method="post">`` with a numeric input, ``inputmode`` decimal or numeric). A new field is
therefore covered the day it appears; a new JSON operation with numbers fails
`test_every_json_body_with_numbers_has_a_valid_example` until it is given a valid example body
here (the bad value is then put in each of its numeric fields in turn).

"Nothing written" is checked by counting the rows of every table of the domain (the audit trail
included) before and after each request.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlparse

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from support import DEMO, login

from api.templating import field_id
from portfolio.adapters import orm
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import MAX_QUANTITY, quarter_of
from portfolio.domain.run_policy import RunPolicy
from portfolio.services import csvio
from portfolio.services import missions as services

pytestmark = pytest.mark.slow

#: tables that change on every request whatever it carries (sign-in state, security log)
NOT_DOMAIN = {"sessions", "login_throttle", "security_events", "api_tokens"}

#: canonical bad values, as typed in a form (each is tried on every field) ...
TYPED = ["nan", "inf", "-Infinity", "1e400", "1e308", "99999999999999999999", "-1"]
#: ... and as JSON number tokens (Python's and Starlette's JSON readers accept NaN/Infinity)
TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "1e308", "-1e308", "99999999999999999999", "-1"]

#: fields where a negative number is a real answer (a seed quantity may be below zero), so
#: only the non-finite and the huge are bad there
NEGATIVE_OK = re.compile(r"(^|\.)(realization|q5|q50|q95)$")

SETTINGS = settings(
    max_examples=2,  # on top of the explicit examples: two generated bad values per field
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def bad_floats(negative_ok: bool) -> st.SearchStrategy[float]:
    """Non-finite, huge (beyond any bound a person may type) and, unless allowed, negative."""
    huge = st.floats(min_value=MAX_QUANTITY * 10, allow_infinity=False, allow_nan=False)
    choices = [st.sampled_from([math.nan, math.inf, -math.inf]), huge, huge.map(lambda x: -x)]
    if not negative_ok:
        choices.append(st.floats(max_value=-1e-6, min_value=-1e6))
    return st.one_of(choices)


def _text(value: float) -> str:
    return repr(value)


def _token(value: float) -> str:
    return json.dumps(value)  # NaN, Infinity, -Infinity or a plain number


# -- counting what is stored ---------------------------------------------------------------------
def _counts(app: Any) -> dict[str, int]:
    with SqlUnitOfWork(app.state.sessionmaker) as uow:
        return {
            table.name: uow.session.scalar(select(func.count()).select_from(table)) or 0
            for table in orm.Base.metadata.sorted_tables
            if table.name not in NOT_DOMAIN
        }


@pytest.fixture
def quiet_app(app: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app with its job runner stubbed: a run wrongly accepted is queued, never solved."""
    monkeypatch.setattr(app.state.jobs, "submit", lambda run_id: None)
    return app


# -- the JSON API --------------------------------------------------------------------------------
Path = tuple[str | int, ...]
ANY_KEY = "*"  # an additionalProperties key: the example body's first key is used


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def numeric_paths(schema: dict[str, Any], spec: dict[str, Any], path: Path = ()) -> list[Path]:
    """Every path in ``schema`` that holds a number or an integer."""
    schema = _resolve(schema, spec)
    found: list[Path] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            found += numeric_paths(part, spec, path)
    kind = schema.get("type")
    if kind in ("number", "integer"):
        found.append(path)
    for name, sub in (schema.get("properties") or {}).items():
        found += numeric_paths(sub, spec, (*path, name))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        found += numeric_paths(extra, spec, (*path, ANY_KEY))
    if kind == "array" and isinstance(schema.get("items"), dict):
        found += numeric_paths(schema["items"], spec, (*path, 0))
    return list(dict.fromkeys(found))


def json_operations(app: Any) -> Iterator[tuple[str, str, list[Path]]]:
    """(method, path, numeric paths) of every JSON API operation whose body holds numbers."""
    spec = app.openapi()
    for route, operations in spec["paths"].items():
        if not route.startswith("/api/"):
            continue
        for method, op in operations.items():
            content = (op.get("requestBody") or {}).get("content", {})
            if "application/json" not in content:
                continue
            paths = numeric_paths(content["application/json"]["schema"], spec)
            if paths:
                yield method.upper(), route, paths


def _concrete(body: Any, path: Path) -> tuple[Any, list[str | int]] | None:
    """The example body's container of the path's last step, and the path with its keys
    filled in from the example; None when the example has no such place."""
    steps: list[str | int] = []
    node = body
    for i, step in enumerate(path):
        if step == ANY_KEY:
            if not isinstance(node, dict) or not node:
                return None
            step = next(iter(node))
        steps.append(step)
        if i == len(path) - 1:
            return node, steps
        if isinstance(step, int):
            if not isinstance(node, list) or len(node) <= step:
                return None
        elif not isinstance(node, dict) or node.get(step) is None:
            return None
        node = node[step]
    return None


SENTINEL = "__bad_number__"


def _with_bad(body: Any, path: Path, token: str) -> tuple[str, str] | None:
    """The example body as JSON text with ``token`` at ``path``, and the field's dotted name."""
    copy = json.loads(json.dumps(body))
    place = _concrete(copy, path)
    if place is None:
        return None
    container, steps = place
    container[steps[-1]] = SENTINEL
    text = json.dumps(copy).replace(json.dumps(SENTINEL), token)
    return text, ".".join(str(s) for s in steps)


def _examples(client: TestClient, ceo: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid body (and the caller) for each JSON operation that takes numbers."""
    base = f"/api/v1/missions/{DEMO}"
    mission = client.get(base, headers=ceo).json()
    candidates = client.get(f"{base}/candidates", headers=ceo).json()
    candidate = candidates[0]
    option = candidate["options"][0]
    quarter = client.get(f"{base}/scoring", headers=ceo).json()["quarter"]
    ledger = client.get(f"{base}/spend", headers=ceo).json()
    new = {**candidate, "id": "bad-numbers-new", "treasury_approved": False}
    three = {"low": 1.0, "most_likely": 2.0, "high": 3.0}
    entry = {
        "candidate": candidate["id"],
        "option": option["id"],
        "envelope": candidate["eligible_envelopes"][0],
        "year": ledger["years"][0] if ledger.get("years") else mission["years"][0],
        "amount": 1.0,
    }
    return {
        ("PUT", "/api/v1/missions/{slug}"): {"body": mission},
        ("POST", "/api/v1/missions/{slug}/candidates"): {"body": new},
        ("PUT", "/api/v1/missions/{slug}/candidates/{candidate_id}"): {"body": candidate},
        ("POST", "/api/v1/missions/{slug}/runs"): {
            "body": {
                "policy": {
                    **RunPolicy().model_dump(mode="json"),
                    "min_p_any_success": 0.1,
                    "max_overrun_probability": 0.5,
                },
                "scenarios": 200,
                "seed": 1,
                "budget_scale": 1.0,
                "switching_loss": 0.1,
            }
        },
        ("PUT", "/api/v1/missions/{slug}/scoring/{candidate_id}"): {
            "user": "council1",
            "body": {
                "options": {
                    option["id"]: {
                        "p_success": 0.5,
                        "cost": three,
                        "impact": three,
                        "trl": 5,
                        "confidence": "medium",
                        "rationale": "bad numbers",
                    }
                }
            },
        },
        ("POST", "/api/v1/missions/{slug}/candidates/{candidate_id}/evidence"): {
            "body": {
                "kind": "cost_actuals",
                "date": "2026-10-01",
                "summary": "bad numbers",
                "diagnosticity": 1.0,
                "trl": 5,
                "cost_actual": 1.0,
                "cost_planned": 1.0,
            }
        },
        ("PUT", "/api/v1/missions/{slug}/trajectory"): {
            "body": [{"quarter": quarter, "planned_p_target": 0.5}]
        },
        ("POST", "/api/v1/missions/{slug}/contracts/{contract_id}/end"): {
            "body": {"reason": "bad numbers", "break_cost": 1.0}
        },
        ("POST", "/api/v1/me/tokens"): {"body": {"name": "bad numbers", "expires_in_days": 30}},
        ("POST", "/api/v1/missions/{slug}/spend"): {"body": entry, "list": [entry, entry]},
    }


def _token_for(app: Any, username: str) -> dict[str, str]:
    with SqlUnitOfWork(app.state.sessionmaker) as uow:
        token = services.new_api_token(uow, username, username, "bad numbers")
        uow.commit()
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _path_parameters(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    base = f"/api/v1/missions/{DEMO}"
    candidate = client.get(f"{base}/candidates", headers=headers).json()[0]["id"]
    contracts = client.get(f"{base}/contracts", headers=headers).json()
    return {
        "slug": DEMO,
        "candidate_id": candidate,
        "contract_id": str(contracts[0]["id"]) if contracts else "1",
    }


def _json_search(
    app: Any,
    client: TestClient,
    method: str,
    url: str,
    headers: dict[str, str],
    body: Any,
    path: Path,
    negative_ok: bool,
) -> Any:
    """A Hypothesis search putting bad numbers at ``path`` of ``body``."""

    @SETTINGS
    @given(value=bad_floats(negative_ok))
    def search(value: float | str) -> None:
        token = value if isinstance(value, str) else _token(value)
        made = _with_bad(body, path, token)
        assert made is not None
        text, field = made
        before = _counts(app)
        response = client.request(method, url, content=text, headers=headers)
        assert 400 <= response.status_code < 500, (
            f"{method} {url} {field}={token}: {response.status_code} {response.text[:300]}"
        )
        named = [e["field"] for e in response.json().get("errors", [])]
        # an item of a list body is named by its index or, in the spend ledger, its row
        row = re.sub(r"^(\d+)\.", lambda m: f"row {int(m.group(1)) + 1}.", field)
        assert field in named or row in named, f"{method} {url} {field}={token}: named {named}"
        assert _counts(app) == before, f"{method} {url} {field}={token} wrote"

    for token in TOKENS if not negative_ok else TOKENS[:-1]:
        search = example(value=token)(search)
    return search


def test_every_json_body_with_numbers_has_a_valid_example(quiet_app: Any) -> None:
    with TestClient(quiet_app) as client:
        examples = _examples(client, _token_for(quiet_app, "ceo"))
    missing = [(m, r) for m, r, _ in json_operations(quiet_app) if (m, r) not in examples]
    assert not missing, f"give these operations a valid example body in this test: {missing}"


def test_bad_numbers_in_json_bodies_are_refused_naming_the_field(quiet_app: Any) -> None:
    with TestClient(quiet_app) as client:
        callers = {u: _token_for(quiet_app, u) for u in ("ceo", "council1")}
        examples = _examples(client, callers["ceo"])
        params = _path_parameters(client, callers["ceo"])
        failures: list[str] = []
        tried = 0
        for method, route, paths in json_operations(quiet_app):
            spec = examples[(method, route)]
            url = route.format(**params)
            headers = callers[spec.get("user", "ceo")]
            for path in paths:
                negative_ok = bool(NEGATIVE_OK.search(".".join(map(str, path))))
                # a body that may be one item or a list of them has an example of each
                bodies = [spec["body"], spec.get("list")]
                body = next((b for b in bodies if b and _with_bad(b, path, "0")), None)
                if body is None:
                    failures.append(f"{method} {route}: the example has no place for {path}")
                    continue
                search = _json_search(
                    quiet_app, client, method, url, headers, body, path, negative_ok
                )
                try:
                    search()
                    tried += 1
                except AssertionError as exc:
                    failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)
    assert tried >= 40, f"only {tried} numeric fields found in the JSON request bodies"


# -- the web forms -------------------------------------------------------------------------------
SKIP_LINK = re.compile(
    r"(logout|\.csv|\.json|\.zip|\.svg|/export|/problem|/result|/download|/pack|\?quarter=)"
)


def _template(url: str) -> str:
    """A page's kind: ids and quarters replaced, so one page of each kind is crawled."""
    path = urlparse(url).path
    path = re.sub(r"/candidates/(?!new\b)[a-z0-9-]+", "/candidates/*", path)
    path = re.sub(r"/members/[a-z0-9._-]+", "/members/*", path)
    path = re.sub(r"/\d+", "/#", path)
    return re.sub(r"/\d{4}-\d{2}[- ]Q\d", "/Q", path)


def crawl_forms(client: TestClient, start: list[str], limit: int = 60) -> dict[str, Any]:
    """Every post form with a numeric input on the pages reachable from ``start`` (one page
    of each kind), keyed by its action and its inputs' names."""
    seen: set[str] = set()
    queue = list(start)
    forms: dict[str, Any] = {}
    pages = 0
    while queue and pages < limit:
        url = queue.pop(0)
        kind = _template(url)
        if kind in seen:
            continue
        seen.add(kind)
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.headers["content-type"]:
            continue
        pages += 1
        soup = BeautifulSoup(response.text, "html.parser")
        for link in soup.select("a[href]"):
            href = urljoin(url, str(link["href"])).split("#")[0]
            if href.startswith(("/missions/", "/admin")) and not SKIP_LINK.search(href):
                queue.append(href)
        for form in soup.select("form"):
            if str(form.get("method", "get")).lower() != "post":
                continue
            numeric = [
                str(i["name"])
                for i in form.select("input[name]")
                if i.get("inputmode") in ("decimal", "numeric") or i.get("type") == "number"
            ]
            if numeric:
                action = urljoin(url, str(form.get("action") or url))
                forms.setdefault(f"{_template(action)} {sorted(numeric)}", (action, form, numeric))
    return forms


def _form_values(form: Any) -> dict[str, Any]:
    """What the browser would send for the form as shown."""
    data: dict[str, Any] = {}
    for field in form.select("input[name], textarea[name], select[name]"):
        name = str(field["name"])
        kind = str(field.get("type", "text")).lower()
        if field.name == "textarea":
            value: Any = field.get_text()
        elif field.name == "select":
            chosen = field.select_one("option[selected]") or field.select_one("option")
            value = str(chosen.get("value", chosen.get_text())) if chosen else ""
        elif kind in ("checkbox", "radio"):
            if not field.has_attr("checked"):
                continue
            value = str(field.get("value", "on"))
        elif kind in ("submit", "button", "file"):
            continue
        else:
            value = str(field.get("value", ""))
        if name in data:
            data[name] = [*(data[name] if isinstance(data[name], list) else [data[name]]), value]
        else:
            data[name] = value
    return data


def _shape(name: str) -> str:
    """One field of each shape: option rows, years and question ids collapse."""
    name = re.sub(r"\.\d+\.", ".#.", name)
    name = re.sub(r"\d{4}-\d{2}( Q\d)?", "Y", name)
    return re.sub(r"^[a-z0-9-]+\.(q5|q50|q95|realization)$", r"?.\1", name)


def _form_search(
    app: Any, client: TestClient, action: str, shown: dict[str, Any], name: str, negative_ok: bool
) -> Any:
    """A Hypothesis search typing bad numbers into field ``name`` of a form as shown."""

    @SETTINGS
    @given(value=bad_floats(negative_ok))
    def search(value: float | str) -> None:
        typed = value if isinstance(value, str) else _text(value)
        before = _counts(app)
        response = client.post(action, data={**shown, name: typed}, follow_redirects=False)
        assert 400 <= response.status_code < 500, f"{action} {name}={typed}: {response.status_code}"
        soup = BeautifulSoup(response.text, "html.parser")
        links = [str(a["href"]) for a in soup.select(".govuk-error-summary a[href]")]
        assert f"#{field_id(name)}" in links, f"{action} {name}={typed}: {links}"
        assert _counts(app) == before, f"{action} {name}={typed} wrote"

    for typed in TYPED if not negative_ok else TYPED[:-1]:
        search = example(value=typed)(search)
    return search


WEB_START = {
    "ceo": [f"/missions/{DEMO}", f"/missions/{DEMO}/edit", f"/missions/{DEMO}/candidates/new"],
    "council1": [f"/missions/{DEMO}", f"/missions/{DEMO}/scoring"],
    "admin": ["/admin/missions/new", f"/missions/{DEMO}"],
}


@pytest.mark.parametrize("user", list(WEB_START))
def test_bad_numbers_in_web_forms_are_refused_naming_the_field(quiet_app: Any, user: str) -> None:
    with TestClient(quiet_app) as client:
        login(client, user)
        forms = crawl_forms(client, WEB_START[user])
        failures: list[str] = []
        tried = 0
        for action, form, numeric in forms.values():
            shown = _form_values(form)
            for name in dict.fromkeys(numeric):
                if _shape(name) in {_shape(n) for n in numeric[: numeric.index(name)]}:
                    continue
                negative_ok = bool(NEGATIVE_OK.search(name))

                search = _form_search(quiet_app, client, action, shown, name, negative_ok)
                try:
                    search()
                    tried += 1
                except AssertionError as exc:
                    failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)
    assert tried >= 3, f"only {tried} numeric fields found in {user}'s forms"


# -- CSV files -----------------------------------------------------------------------------------
def _csv_files(app: Any) -> dict[str, tuple[str, str, list[dict[str, str]]]]:
    """A valid file of each kind people upload (kind -> upload URL, user, rows)."""
    with SqlUnitOfWork(app.state.sessionmaker) as uow:
        mission = uow.missions.get(DEMO)
        candidate = uow.candidates.all(DEMO)[0]
    candidates = list(
        csv.DictReader(io.StringIO(csvio.candidates_to_csv([candidate], mission.years)))
    )
    scores = [
        {
            "candidate": candidate.id,
            "option": option.id,
            "not_competent": "no",
            "p_success": "0.5",
            "trl": "5",
            "confidence": "medium",
            "cost_low": "1",
            "cost_most_likely": "2",
            "cost_high": "3",
            "impact_low": "1",
            "impact_most_likely": "2",
            "impact_high": "3",
            "rationale": "bad numbers",
        }
        for option in candidate.options
    ]
    header = next(csv.reader(io.StringIO(csvio.scores_template())))
    scores = [{k: row.get(k, "") for k in header} for row in scores]
    spend = [
        {
            "candidate": candidate.id,
            "option": candidate.options[0].id,
            "envelope": candidate.eligible_envelopes[0],
            "year": quarter_of(dt.datetime.now(dt.UTC).date())[:7],
            "amount": "1.5",
            "note": "bad numbers",
        }
    ]
    return {
        "candidates": (f"/missions/{DEMO}/import/candidates", "ceo", candidates),
        "scores": (f"/missions/{DEMO}/import/scores", "council1", scores),
        "spend": (f"/missions/{DEMO}/spend/import", "ceo", spend),
    }


def _csv_text(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _csv_search(
    app: Any,
    client: TestClient,
    url: str,
    csrf: str,
    kind: str,
    rows: list[dict[str, str]],
    column: str,
) -> Any:
    """A Hypothesis search typing bad numbers into ``column`` of a file's first row."""

    @SETTINGS
    @given(value=bad_floats(negative_ok=False))
    def search(value: float | str) -> None:
        typed = value if isinstance(value, str) else _text(value)
        data = _csv_text([{**rows[0], column: typed}, *rows[1:]])
        before = _counts(app)
        response = client.post(
            url, data={"csrf_token": csrf}, files={"file": (f"{kind}.csv", data, "text/csv")}
        )
        assert response.status_code == 422, f"{kind} {column}={typed}: {response.status_code}"
        assert f"row 2, column {column}" in response.text.lower(), f"{kind} {column}={typed}"
        assert _counts(app) == before, f"{kind} {column}={typed} wrote"

    for typed in TYPED:
        search = example(value=typed)(search)
    return search


@pytest.mark.parametrize("kind", ["candidates", "scores", "spend"])
def test_bad_numbers_in_csv_files_are_refused_naming_the_cell(quiet_app: Any, kind: str) -> None:
    url, user, rows = _csv_files(quiet_app)[kind]
    numeric = [c for c in rows[0] if csvio.is_plain_number(rows[0][c])]
    assert numeric, f"no numeric column found in the {kind} file"
    failures: list[str] = []
    with TestClient(quiet_app) as client:
        csrf = login(client, user)
        for column in numeric:
            search = _csv_search(quiet_app, client, url, csrf, kind, rows, column)
            try:
                search()
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)
