"""Scoring that respects the council's time: a member's form for the open round starts from their
own last submitted scores (never anyone else's, never a draft) with what changed since — new
evidence, new options — shown; "no change" submits last round's scores in one click (web, JSON
API, command line) and is refused when a new option needs a score; closing the round asks first
and returns to the page that asked; the red-team challenge form and the other council forms
re-show their input with errors that name the fields as the forms label them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from support import DEMO, DEMO_PASSWORD, login
from typer.testing import CliRunner

from api.cli import app as cli
from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.model import (
    CouncilMember,
    Evidence,
    EvidenceKind,
    Role,
    Score,
    ScoreStatus,
    Sector,
    User,
)
from portfolio.services import missions as services

CURRENT, PREVIOUS = "2026-27 Q3", "2026-27 Q2"
MEMBER = "council6"  # submitted every candidate in every closed round, nothing yet in 2026-27 Q3
TARGET = "ev-trainer"
NEW_OPTION = "Retrofit kit for older trainers"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def scores_of(engine: Engine, member: str, quarter: str, candidate: str) -> dict[str, Score]:
    with SqlUnitOfWork(engine) as uow:
        return {
            s.option: s
            for s in uow.scores.all(DEMO, quarter)
            if s.quarter == quarter and s.member == member and s.candidate == candidate
        }


def field(page: BeautifulSoup, name: str) -> str:
    """The value a form field shows: an input's value, a select's chosen option, a textarea's
    text, or the checked radio's value."""
    found = page.select(f'[name="{name}"]')
    assert found, f"no field {name}"
    first = found[0]
    if first.name == "select":
        chosen = first.select_one("option[selected]")
        return chosen["value"] if chosen else ""
    if first.name == "textarea":
        return first.get_text()
    if first.get("type") == "radio":
        checked = [f for f in found if f.has_attr("checked")]
        return checked[0]["value"] if checked else ""
    return first.get("value", "")


def same_number(shown: str, value: float) -> bool:
    return shown != "" and float(shown) == pytest.approx(value)


def add_option(engine: Engine, candidate: str, option_id: str, name: str) -> None:
    """A funding option added to ``candidate`` after the last round (nobody has scored it)."""
    with SqlUnitOfWork(engine) as uow:
        found = uow.candidates.get(DEMO, candidate)
        extra = found.options[0].model_copy(update={"id": option_id, "name": name})
        uow.candidates.update(DEMO, found.with_changes(options=[*found.options, extra]), None)
        uow.commit()


def add_evidence(engine: Engine, candidate: str, summary: str) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.evidence.add(
            DEMO,
            Evidence(
                candidate=candidate,
                quarter=CURRENT,
                kind=EvidenceKind.milestone_met,
                date=dt.date(2026, 10, 20),
                summary=summary,
                recorded_by="ceo",
            ),
        )
        uow.commit()


def my_status(client: TestClient, candidate: str) -> str:
    return client.get(f"/api/v1/missions/{DEMO}/scoring").json()["my_status"][candidate]


def no_change(client: TestClient, csrf: str, candidate: str, **kwargs):
    return client.post(
        f"/missions/{DEMO}/scoring/{candidate}/no-change", data={"csrf_token": csrf}, **kwargs
    )


def summary_of(page: BeautifulSoup) -> str:
    box = page.select_one(".govuk-error-summary")
    assert box is not None, "no error summary"
    return box.get_text(" ", strip=True)


# -- the form starts from the member's own last submitted scores -----------------------------------
def test_a_members_form_starts_from_their_own_last_submitted_scores(
    client: TestClient, engine: Engine
):
    mine = scores_of(engine, MEMBER, PREVIOUS, TARGET)
    other = scores_of(engine, "council1", PREVIOUS, TARGET)
    login(client, MEMBER)
    page = soup(client.get(f"/missions/{DEMO}/scoring/{TARGET}"))

    assert f"Your scores from {PREVIOUS}" in page.select_one("#prefilled").get_text(" ")
    with SqlUnitOfWork(engine) as uow:
        options = uow.candidates.get(DEMO, TARGET).options
    for i, option in enumerate(options):
        score, p = mine[option.id], f"options.{i}"
        assert score.p_success is not None and score.cost and score.impact
        assert same_number(field(page, f"{p}.p_success"), score.p_success)
        assert not same_number(field(page, f"{p}.p_success"), other[option.id].p_success or -1)
        assert same_number(field(page, f"{p}.cost.most_likely"), score.cost.most_likely)
        assert same_number(field(page, f"{p}.impact.high"), score.impact.high)
        assert field(page, f"{p}.trl") == str(score.trl)
        assert score.confidence and field(page, f"{p}.confidence") == score.confidence.value
        assert field(page, f"{p}.rationale") == score.rationale
    # a pre-filled form is not a submission: nothing is stored until the member saves
    assert my_status(client, TARGET) == "not started"
    assert scores_of(engine, MEMBER, CURRENT, TARGET) == {}
    # the blind rule still holds: the others' scores of the open round stay hidden
    assert page.select_one("#blind-notice") is not None
    assert page.select_one("#member-scores") is None


def test_a_form_never_starts_from_another_members_scores_or_from_a_draft(
    client: TestClient, engine: Engine
):
    with SqlUnitOfWork(engine) as uow:
        services.create_user(
            uow, "test", User(username="council8", display_name="New Member"), DEMO_PASSWORD
        )
        services.assign_role(uow, "test", DEMO, "council8", Role.council_member)
        services.set_council_member(
            uow, "test", DEMO, CouncilMember(username="council8", sector=Sector.business)
        )
        option = uow.candidates.get(DEMO, TARGET).options[0].id
        # a draft of their own, left in an earlier round, is not a submitted score
        uow.scores.add(
            DEMO,
            Score(
                member="council8",
                quarter=PREVIOUS,
                candidate=TARGET,
                option=option,
                status=ScoreStatus.draft,
                p_success=0.77,
            ),
        )
        uow.commit()
    login(client, "council8")
    page = soup(client.get(f"/missions/{DEMO}/scoring/{TARGET}"))
    assert page.select_one("#score-form") is not None
    assert page.select_one("#prefilled") is None
    assert field(page, "options.0.p_success") == ""  # not 0.77, nor any other member's score
    listing = soup(client.get(f"/missions/{DEMO}/scoring"))
    assert not listing.select("#my-scores form[action$='/no-change']")


def test_the_form_shows_evidence_recorded_since_and_asks_to_score_a_new_option(
    client: TestClient, engine: Engine
):
    add_evidence(engine, TARGET, "Second flying school signed up for the fleet trial")
    add_option(engine, TARGET, "retrofit-kit", NEW_OPTION)
    login(client, MEMBER)
    page = soup(client.get(f"/missions/{DEMO}/scoring/{TARGET}"))

    since = page.select_one("#evidence-since")
    assert since is not None
    assert f"Evidence recorded since {PREVIOUS}" in since.get_text(" ")
    assert "Second flying school signed up" in since.get_text(" ")
    assert "Gate 1 passed" not in since.get_text(" ")  # 2026-27 Q1's evidence came before

    fieldsets = page.select("#score-form fieldset.app-option")
    new = [f for f in fieldsets if "app-option--new" in f.get("class", [])]
    assert len(new) == 1 and NEW_OPTION in new[0].get_text(" ")
    assert "New option: score it" in new[0].get_text(" ")
    last = len(fieldsets) - 1
    assert field(page, f"options.{last}.p_success") == ""  # nothing to start from
    assert field(page, "options.0.p_success") != ""  # the others start from last round's

    listing = soup(client.get(f"/missions/{DEMO}/scoring"))
    row = listing.select_one(f'#my-scores tr[data-candidate="{TARGET}"]')
    assert "New option" in row.get_text(" ") and "New evidence (1)" in row.get_text(" ")
    assert row.select_one("form[action$='/no-change']") is None  # the form, not one click
    assert row.select_one("a", string=lambda s: s and "New option: score it" in s) is not None


# -- no change in one click ----------------------------------------------------------------------
def test_no_change_submits_the_members_last_scores_for_this_round_and_is_audited(
    client: TestClient, engine: Engine
):
    csrf = login(client, MEMBER)
    listing = soup(client.get(f"/missions/{DEMO}/scoring"))
    button = listing.select_one(f'#my-scores tr[data-candidate="{TARGET}"] form button')
    assert "No change — submit my last scores" in button.get_text(" ")

    done = no_change(client, csrf, TARGET, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/missions/{DEMO}/scoring"
    banner = soup(client.get(done.headers["location"])).select_one("#success-banner")
    with SqlUnitOfWork(engine) as uow:
        name = uow.candidates.get(DEMO, TARGET).name
    assert f"No change for {name}: your {PREVIOUS} scores are submitted for {CURRENT}." in (
        banner.get_text(" ", strip=True)
    )

    before, now = (
        scores_of(engine, MEMBER, PREVIOUS, TARGET),
        scores_of(engine, MEMBER, CURRENT, TARGET),
    )
    assert set(now) == set(before)
    keep = {"p_success", "cost", "impact", "trl", "confidence", "rationale", "not_competent"}
    for option, score in now.items():
        assert score.status is ScoreStatus.submitted
        assert score.model_dump(include=keep) == before[option].model_dump(include=keep)
    assert my_status(client, TARGET) == "submitted"
    with SqlUnitOfWork(engine) as uow:
        entry = uow.audit.all(DEMO, entity="score", entity_id=f"{CURRENT}:{TARGET}")[0]
    assert (entry.action, entry.actor) == ("submitted", MEMBER)
    assert entry.after and entry.after["unchanged_from"] == PREVIOUS

    # once submitted, the round's scores are final: a second click is refused on the form
    again = no_change(client, csrf, TARGET)
    assert again.status_code == 422
    assert "already submitted" in summary_of(soup(again))


def test_no_change_is_refused_with_the_form_when_a_new_option_needs_a_score(
    client: TestClient, engine: Engine, db_url: str
):
    add_option(engine, TARGET, "retrofit-kit", NEW_OPTION)
    csrf = login(client, MEMBER)

    refused = no_change(client, csrf, TARGET)
    assert refused.status_code == 422
    page = soup(refused)
    assert page.select_one("#score-form") is not None  # the candidate's form, pre-filled
    assert field(page, "options.0.p_success") != ""
    assert f"{NEW_OPTION}: new since {PREVIOUS}: score it, then submit your scores" in (
        summary_of(page)
    )
    assert my_status(client, TARGET) == "not started"

    api = client.post(
        f"/api/v1/missions/{DEMO}/scoring/{TARGET}/no-change", headers={"X-CSRF-Token": csrf}
    )
    assert api.status_code == 422
    assert [e["rule"] for e in api.json()["errors"]] == [
        f"new since {PREVIOUS}: score it, then submit your scores"
    ]

    run = CliRunner().invoke(
        cli, ["council", "no-change", DEMO, TARGET, "--as", MEMBER], env={"DATABASE_URL": db_url}
    )
    assert run.exit_code == 2
    assert f"{NEW_OPTION}: new since {PREVIOUS}" in run.output
    assert scores_of(engine, MEMBER, CURRENT, TARGET) == {}


def test_no_change_through_the_json_api_and_the_command_line(
    client: TestClient, engine: Engine, db_url: str
):
    csrf = login(client, MEMBER)
    api = client.post(
        f"/api/v1/missions/{DEMO}/scoring/contrail-routing/no-change",
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status_code == 200, api.text
    body = api.json()
    assert (body["quarter"], body["status"], body["unchanged_from"]) == (
        CURRENT,
        "submitted",
        PREVIOUS,
    )
    assert api.headers["ETag"]
    assert {s["option"] for s in body["scores"]} == set(
        scores_of(engine, MEMBER, PREVIOUS, "contrail-routing")
    )

    def run(*args: str):
        return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": db_url})

    done = run("council", "no-change", DEMO, "northsea-hefa", "--as", MEMBER)
    assert done.exit_code == 0, done.output
    assert f"scores are submitted for {CURRENT}" in done.output
    assert all(
        s.status is ScoreStatus.submitted
        for s in scores_of(engine, MEMBER, CURRENT, "northsea-hefa").values()
    )
    twice = run("council", "no-change", DEMO, "northsea-hefa", "--as", MEMBER)
    assert twice.exit_code == 1 and "already submitted" in twice.output
    not_a_member = run("council", "no-change", DEMO, "northsea-hefa", "--as", "treasury")
    assert not_a_member.exit_code == 2


def test_no_change_is_refused_while_the_member_has_a_draft(client: TestClient, engine: Engine):
    csrf = login(client, "council5")  # has drafts of the first eight candidates
    with SqlUnitOfWork(engine) as uow:
        drafted = next(
            s.candidate
            for s in uow.scores.all(DEMO, CURRENT)
            if s.member == "council5" and s.status is ScoreStatus.draft
        )
    listing = soup(client.get(f"/missions/{DEMO}/scoring"))
    row = listing.select_one(f'#my-scores tr[data-candidate="{drafted}"]')
    assert row.select_one("form[action$='/no-change']") is None
    refused = no_change(client, csrf, drafted)
    assert refused.status_code == 422
    assert "your draft is saved" in summary_of(soup(refused))


# -- the scoring page links the CSV import and says what happened --------------------------------
def test_the_scoring_page_links_the_csv_import_and_has_breadcrumbs(client: TestClient):
    login(client, MEMBER)
    page = soup(client.get(f"/missions/{DEMO}/scoring"))
    link = page.select_one("#import-link a")
    assert link["href"] == f"/missions/{DEMO}/import#import-scores"
    crumbs = [li.get_text(strip=True) for li in page.select(".govuk-breadcrumbs__list-item")]
    assert crumbs[0] == "Missions" and crumbs[-1] == f"Scoring round {CURRENT}"
    score = soup(client.get(f"/missions/{DEMO}/scoring/{TARGET}"))
    assert len(score.select(".govuk-breadcrumbs__list-item")) == 4
    for path in ("council", "council/seeds", "council/members/council1"):
        assert soup(client.get(f"/missions/{DEMO}/{path}")).select_one(".govuk-breadcrumbs")


def test_saving_a_draft_and_submitting_show_a_banner(client: TestClient):
    csrf = login(client, MEMBER)
    form = soup(client.get(f"/missions/{DEMO}/scoring/{TARGET}")).select_one("#score-form")
    data = {
        i["name"]: i.get("value", "")
        for i in form.select("input")
        if i.get("type") not in ("radio", "checkbox")
    }
    data.update({s["name"]: field(form, s["name"]) for s in form.select("select, textarea")})
    data.update(
        {r["name"]: r["value"] for r in form.select("input[type=radio]") if r.has_attr("checked")}
    )
    draft = client.post(
        f"/missions/{DEMO}/scoring/{TARGET}",
        data={**data, "csrf_token": csrf, "action": "draft"},
        follow_redirects=True,
    )
    assert "Draft saved. Submit when you are ready: submitted scores are final." in (
        soup(draft).select_one("#success-banner").get_text(" ", strip=True)
    )
    version = soup(draft).select_one("input[name=version]")["value"]
    submitted = client.post(
        f"/missions/{DEMO}/scoring/{TARGET}",
        data={**data, "csrf_token": csrf, "action": "submit", "version": version},
        follow_redirects=True,
    )
    assert "are submitted" in soup(submitted).select_one("#success-banner").get_text()


# -- closing the round asks first ----------------------------------------------------------------
def test_closing_the_round_asks_first_naming_who_has_not_submitted(
    client: TestClient, engine: Engine
):
    csrf = login(client, "ceo")
    home = f"/missions/{DEMO}/quarters/{CURRENT.replace(' ', '%20')}"
    asked = client.post(
        f"/missions/{DEMO}/scoring/close",
        data={"csrf_token": csrf, "next": home},
        follow_redirects=False,
    )
    assert asked.status_code == 200
    page = soup(asked)
    assert page.select_one("#confirm-title").get_text(strip=True) == (
        f"Close the scoring round for {CURRENT}?"
    )
    consequences = page.select_one("#confirm-consequences").get_text(" ", strip=True)
    assert "become final" in consequences and "optimiser" in consequences
    with SqlUnitOfWork(engine) as uow:
        names = [uow.users.get(f"council{n}").display_name for n in (4, 5, 6, 7)]
    assert "4 members have not submitted" in consequences
    for name in names:
        assert name in consequences
    # council4 left two candidates in draft: they are named
    assert "has not submitted Free-route upper airspace, AI arrival sequencing" in consequences or (
        "has not submitted AI arrival sequencing, Free-route upper airspace" in consequences
    )
    assert page.select_one('#confirm-form input[name="next"]')["value"] == home
    assert client.get(f"/api/v1/missions/{DEMO}/scoring").json()["state"] == "open"

    closed = client.post(
        f"/missions/{DEMO}/scoring/close",
        data={"csrf_token": csrf, "next": home, "confirm": "yes"},
        follow_redirects=False,
    )
    assert closed.status_code == 303 and closed.headers["location"] == home
    assert client.get(f"/api/v1/missions/{DEMO}/scoring").json()["state"] == "closed"
    scoring = soup(client.get(f"/missions/{DEMO}/scoring"))
    assert (
        f"Scoring round for {CURRENT} closed:" in scoring.select_one("#success-banner").get_text()
    )


@pytest.mark.parametrize(
    "unsafe",
    [
        "https://evil.example/missions/uk-air-travel/",
        "//evil.example/x",
        "/missions/other-mission/quarter",
        f"/missions/{DEMO}/../../admin/users",
        f"/missions/{DEMO}/%2e%2e/%2E%2E/admin/users",
        f"/missions/{DEMO}//evil.example",
        "/admin/users",
        f'/missions/{DEMO}/x"><script>',
    ],
)
def test_closing_the_round_ignores_a_next_page_outside_the_mission(client: TestClient, unsafe: str):
    csrf = login(client, "ceo")
    asked = soup(
        client.post(f"/missions/{DEMO}/scoring/close", data={"csrf_token": csrf, "next": unsafe})
    )
    assert asked.select_one('#confirm-form input[name="next"]') is None
    closed = client.post(
        f"/missions/{DEMO}/scoring/close",
        data={"csrf_token": csrf, "next": unsafe, "confirm": "yes"},
        follow_redirects=False,
    )
    assert closed.headers["location"] == f"/missions/{DEMO}/scoring"


def test_opening_a_round_and_changing_the_method_say_what_happened(
    client: TestClient, engine: Engine
):
    with SqlUnitOfWork(engine) as uow:
        uow.missions.set_quarter(DEMO, CURRENT, scoring="not_opened")
        uow.commit()
    csrf = login(client, "ceo")
    opened = client.post(f"/missions/{DEMO}/scoring/open", data={"csrf_token": csrf})
    assert f"Scoring round for {CURRENT} opened" in soup(opened).select_one(
        "#success-banner"
    ).get_text(" ")
    method = client.post(
        f"/missions/{DEMO}/scoring/method", data={"csrf_token": csrf, "method": "brier"}
    )
    assert "Scores are now pooled by" in soup(method).select_one("#success-banner").get_text()
    wrong = client.post(
        f"/missions/{DEMO}/scoring/method", data={"csrf_token": csrf, "method": "votes"}
    )
    assert wrong.status_code == 422
    assert "How scores are pooled: choose how scores are pooled" in summary_of(soup(wrong))
    assert soup(wrong).select_one("#method-form") is not None


# -- the red-team challenge and its reply keep what was typed ------------------------------------
def test_an_empty_or_too_long_challenge_re_shows_the_candidate_page_with_the_input(
    client: TestClient,
):
    csrf = login(client, "council5")
    url = f"/missions/{DEMO}/candidates/{TARGET}/challenges"
    empty = client.post(url, data={"csrf_token": csrf, "text": "   "})
    assert empty.status_code == 422
    page = soup(empty)
    assert "Challenge this candidate: write the challenge" in summary_of(page)
    assert "text:" not in summary_of(page)
    assert page.select_one('.govuk-error-summary a[href="#f-text"]') is not None
    assert page.select_one("#challenge-form #f-text") is not None

    long = "Battery cycle life is assumed, not measured. " * 120
    too_long = client.post(url, data={"csrf_token": csrf, "text": long})
    assert too_long.status_code == 422
    assert soup(too_long).select_one("#f-text").get_text() == long  # nothing typed is lost

    added = client.post(url, data={"csrf_token": csrf, "text": "Cycle life is assumed."})
    assert "Challenge added to" in soup(added).select_one("#success-banner").get_text()


def test_an_empty_reply_re_shows_the_page_with_the_error_on_that_challenge(client: TestClient):
    csrf = login(client, "council5")
    client.post(
        f"/missions/{DEMO}/candidates/{TARGET}/challenges",
        data={"csrf_token": csrf, "text": "Battery degradation is ignored."},
    )
    csrf = login(client, "ceo")
    form = soup(client.get(f"/missions/{DEMO}/candidates/{TARGET}")).select(".app-challenge form")[
        -1
    ]
    name = form.select_one("textarea")["name"]
    empty = client.post(form["action"], data={"csrf_token": csrf, name: "  "})
    assert empty.status_code == 422
    page = soup(empty)
    assert "Your reply: write the reply" in summary_of(page)
    box = page.select_one(f'textarea[name="{name}"]')
    assert "govuk-textarea--error" in box["class"]
    replied = client.post(form["action"], data={"csrf_token": csrf, name: "We will ask."})
    assert "Reply added to" in soup(replied).select_one("#success-banner").get_text()


def test_a_seed_question_with_errors_is_shown_again_with_its_fields_named(client: TestClient):
    csrf = login(client, "ceo")
    wrong = client.post(
        f"/missions/{DEMO}/council/seeds",
        data={"csrf_token": csrf, "id": "Not A Slug", "question": "Share?", "unit": "%"},
    )
    assert wrong.status_code == 422
    page = soup(wrong)
    assert summary_of(page).startswith("There is a problem Identifier:")
    assert page.select_one("#f-id")["value"] == "Not A Slug"
    added = client.post(
        f"/missions/{DEMO}/council/seeds",
        data={"csrf_token": csrf, "id": "saf-share-2031", "question": "SAF share in 2031?"},
    )
    assert (
        "Seed question added: SAF share in 2031?"
        in soup(added).select_one("#success-banner").get_text()
    )
