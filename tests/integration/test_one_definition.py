"""One rule, one place: delivery confidence (RAG), the text and letter limits, and PERT give the
same answer through every entry point that shows or checks them — the web page, the JSON API,
the update letter and the problem file."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from support import DEMO, login

from optimiser.pert import ThreePoint
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import InvalidInput
from portfolio.domain.limits import (
    LETTER_WORD_LIMIT,
    TEXT_LIMIT,
    TOO_LONG,
    count_words,
    letter_rule,
)
from portfolio.domain.rag import RAG_LABELS, Rag, rag_from_p
from portfolio.services import allocation_report
from portfolio.services.guide import quarter_url

CURRENT = "2026-27 Q3"
HOME = quarter_url(DEMO, CURRENT)
OVER_LONG = "x" * (TEXT_LIMIT + 1)
TOO_LONG_RULE = f"{TOO_LONG} (it has {TEXT_LIMIT + 1:,})"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def api(client: TestClient, csrf: str, method: str, path: str, **kwargs):
    return client.request(
        method, f"/api/v1/missions/{DEMO}{path}", headers={"X-CSRF-Token": csrf}, **kwargs
    )


def summary(response) -> list[str]:
    """The GOV.UK error summary's entries ("Field label: rule")."""
    return [li.get_text(" ", strip=True) for li in soup(response).select(".govuk-error-summary li")]


def approve_a_run(client: TestClient, csrf: str) -> None:
    started = api(
        client,
        csrf,
        "POST",
        "/runs",
        json={"policy": {"objective": "expected", "min_platforms": 3}, "scenarios": 300},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    page = soup(client.get(f"/missions/{DEMO}/runs/{run_id}/approve"))
    reasons = {row["data-candidate"]: "test reason" for row in page.select("#changes tbody tr")}
    approved = api(
        client, csrf, "POST", f"/runs/{run_id}/approve", json={"reasons": reasons, "contracted": []}
    )
    assert approved.status_code == 200, approved.text


def quarter_json(client: TestClient) -> dict:
    return client.get(f"/api/v1/missions/{DEMO}/quarters/{CURRENT}").json()["quarter"]


def page_rating(client: TestClient) -> tuple[str, str]:
    """The quarter page's rating tag and the words after it."""
    line = soup(client.get(HOME)).select_one("#rag + p")
    return line.select_one(".govuk-tag").get_text(strip=True), line.get_text(" ", strip=True)


def letter(client: TestClient, csrf: str) -> str:
    return api(client, csrf, "GET", "/quarter/draft-update").json()["body"]


# -- RAG -----------------------------------------------------------------------------------------


def test_the_page_the_api_and_the_letter_give_the_rating_of_the_one_rule(inline_client):
    csrf = login(inline_client, "ceo")
    approve_a_run(inline_client, csrf)
    quarter = quarter_json(inline_client)
    run = inline_client.get(f"/api/v1/missions/{DEMO}/runs/{quarter['approved_run']}").json()
    mission = inline_client.get(f"/api/v1/missions/{DEMO}").json()
    p = run["result"]["metrics"]["out_of_sample"]["p_target"]
    computed = rag_from_p(p, mission["rag_green"], mission["rag_amber"])
    assert quarter["rag"] == computed.value and quarter["rag_override"] is None
    tag, words = page_rating(inline_client)
    assert tag == RAG_LABELS[computed] and "computed from P(target)" in words
    assert f"We rate delivery confidence {RAG_LABELS[computed]}." in letter(inline_client, csrf)

    other = Rag.red if computed is not Rag.red else Rag.green
    saved = api(
        inline_client,
        csrf,
        "POST",
        "/quarter/rag",
        json={"rag": other.value, "reason": "Supply chain risk not in the model"},
    )
    assert saved.status_code == 200 and saved.json()["quarter"]["rag_override"] == other.value
    tag, words = page_rating(inline_client)
    assert tag == RAG_LABELS[other] and f"computed: {RAG_LABELS[computed]}" in words
    assert (
        f"The Mission CEO has rated it {RAG_LABELS[other]} rather than {RAG_LABELS[computed]}"
        in letter(inline_client, csrf)
    )


def test_an_override_equal_to_the_computed_rating_is_no_override_on_the_form_and_the_api(
    inline_client,
):
    csrf = login(inline_client, "ceo")
    approve_a_run(inline_client, csrf)
    computed = quarter_json(inline_client)["rag"]
    other = "red" if computed != "red" else "green"
    for how in ("form", "api"):
        # an override that differs is stored first, so "no override" is a change each time
        api(inline_client, csrf, "POST", "/quarter/rag", json={"rag": other, "reason": "Risk"})
        assert quarter_json(inline_client)["rag_override"] == other
        if how == "form":
            response = inline_client.post(
                f"{HOME}/rag",
                data={"rag": computed, "rag_reason": "The same as computed", "csrf_token": csrf},
            )
            assert response.status_code == 200
            assert "as computed from P(target)" in soup(response).get_text()
        else:
            response = api(
                inline_client,
                csrf,
                "POST",
                "/quarter/rag",
                json={"rag": computed, "reason": "The same as computed"},
            )
            assert response.status_code == 200
        quarter = quarter_json(inline_client)
        assert (quarter["rag"], quarter["rag_override"], quarter["rag_reason"]) == (
            computed,
            None,
            "",
        ), how
        tag, words = page_rating(inline_client)
        assert tag == RAG_LABELS[Rag(computed)] and "overridden" not in words
        assert "Why the override" not in inline_client.get(HOME).text


# -- the text limit ------------------------------------------------------------------------------


def test_over_long_text_is_refused_alike_on_the_forms_and_the_api(inline_client, db_url: str):
    csrf = login(inline_client, "ceo")
    approve_a_run(inline_client, csrf)
    other = "red" if quarter_json(inline_client)["rag"] != "red" else "green"

    # the CEO's justification of an override
    form = inline_client.post(
        f"{HOME}/rag", data={"rag": other, "rag_reason": OVER_LONG, "csrf_token": csrf}
    )
    assert form.status_code == 422
    assert summary(form) == [f"Justification (published): {TOO_LONG_RULE}"]
    by_api = api(
        inline_client, csrf, "POST", "/quarter/rag", json={"rag": other, "reason": OVER_LONG}
    )
    assert by_api.status_code == 422
    assert by_api.json()["errors"] == [{"field": "rag_reason", "rule": TOO_LONG_RULE}]

    # a council member's dissent
    inline_client.post("/logout", data={"csrf_token": csrf})
    csrf = login(inline_client, "council1")
    form = inline_client.post(f"{HOME}/dissent", data={"text": OVER_LONG, "csrf_token": csrf})
    assert form.status_code == 422
    assert summary(form) == [f"Dissent: {TOO_LONG_RULE}"]
    by_api = api(inline_client, csrf, "POST", "/quarter/dissent", json={"text": OVER_LONG})
    assert by_api.status_code == 422
    assert by_api.json()["errors"] == [{"field": "text", "rule": TOO_LONG_RULE}]
    dissents = inline_client.get(f"/api/v1/missions/{DEMO}/quarters/{CURRENT}").json()["dissents"]
    assert all(len(d["text"]) <= TEXT_LIMIT for d in dissents)

    # a Treasury reviewer's comment on the report: refused, never cut short (the report's
    # comments have no JSON route yet: the service is the other entry point)
    inline_client.post("/logout", data={"csrf_token": csrf})
    csrf = login(inline_client, "treasury")
    form = inline_client.post(
        f"/missions/{DEMO}/report/comments",
        data={"text": OVER_LONG, "quarter": CURRENT, "csrf_token": csrf},
    )
    assert form.status_code == 422
    assert summary(form) == [f"Add a review comment: {TOO_LONG_RULE}"]
    engine = make_engine(db_url)
    try:
        with SqlUnitOfWork(engine) as uow, pytest.raises(InvalidInput) as refused:
            allocation_report.add_comment(uow, "treasury", DEMO, CURRENT, OVER_LONG)
        assert refused.value.errors == [("text", TOO_LONG_RULE)]
        with SqlUnitOfWork(engine) as uow:
            assert all(len(c.text) <= TEXT_LIMIT for _, c in uow.reviews.all(DEMO))
    finally:
        engine.dispose()


def test_an_over_long_reason_for_ending_a_contract_is_refused_on_the_form_and_the_api(
    inline_client,
):
    csrf = login(inline_client, "ceo")
    live = inline_client.get(f"/api/v1/missions/{DEMO}/contracts?state=live").json()
    assert live, "the demo has live contracts"
    path = f"/contracts/{live[0]['id']}/end"
    form = inline_client.post(
        f"/missions/{DEMO}{path}", data={"reason": OVER_LONG, "csrf_token": csrf}
    )
    assert form.status_code == 422
    assert summary(form) == [f"Reason for ending the contract: {TOO_LONG_RULE}"]
    by_api = api(inline_client, csrf, "POST", path, json={"reason": OVER_LONG})
    assert by_api.status_code == 422
    assert by_api.json()["errors"] == [{"field": "reason", "rule": TOO_LONG_RULE}]
    still = inline_client.get(f"/api/v1/missions/{DEMO}/contracts?state=live").json()
    assert [c["id"] for c in still] == [c["id"] for c in live]


# -- the letter's word limit ---------------------------------------------------------------------


def test_the_letter_is_counted_alike_by_the_draft_the_confirmation_and_the_check(inline_client):
    csrf = login(inline_client, "ceo")
    approve_a_run(inline_client, csrf)
    draft = letter(inline_client, csrf)
    assert count_words(draft) < LETTER_WORD_LIMIT
    assert count_words(draft) < len(draft.split())  # bullets and "—" are not words
    confirm = inline_client.post(
        f"{HOME}/update", data={"body": draft, "action": "publish", "csrf_token": csrf}
    )
    assert confirm.status_code == 200
    assert f"The letter ({count_words(draft):,} words)" in soup(confirm).get_text(" ")

    # exactly at the limit is not "under" it: refused with the same rule on the form and the API
    at_limit = "- " + " ".join(["word"] * LETTER_WORD_LIMIT)
    assert count_words(at_limit) == LETTER_WORD_LIMIT < len(at_limit.split())
    form = inline_client.post(
        f"{HOME}/update", data={"body": at_limit, "action": "draft", "csrf_token": csrf}
    )
    assert form.status_code == 422
    assert summary(form) == [f"Update letter: {letter_rule(LETTER_WORD_LIMIT)}"]
    by_api = api(inline_client, csrf, "PUT", "/quarter/update", json={"body": at_limit})
    assert by_api.status_code == 422
    assert by_api.json()["errors"] == [{"field": "body", "rule": letter_rule(LETTER_WORD_LIMIT)}]
    under = api(inline_client, csrf, "PUT", "/quarter/update", json={"body": at_limit[:-5]})
    assert under.status_code == 200, under.text


# -- PERT ----------------------------------------------------------------------------------------


def test_the_candidate_page_shows_the_expected_impact_the_problem_file_gives(client: TestClient):
    login(client, "ceo")
    problem = client.get(f"/api/v1/missions/{DEMO}/problem").json()
    checked = 0
    for candidate in problem["candidates"][:6]:
        page = soup(client.get(f"/missions/{DEMO}/candidates/{candidate['id']}"))
        for option in candidate["options"]:
            assert set(option["impact"]) == {"low", "mode", "high"}  # the problem format's names
            expected = ThreePoint.model_validate(option["impact"]).pert_mean
            shown = page.select_one(f"#expected-impact-{option['id']} .app-expected-impact")
            assert float(shown.get_text(strip=True).replace(",", "")) == pytest.approx(
                expected, abs=5e-4
            ), (candidate["id"], option["id"])
            checked += 1
    assert checked >= 6
