"""CSV imports against the demo mission on SQLite and PostgreSQL: all rows land through the audited
services, or — when any row is bad — nothing is written at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import DEMO, login

from portfolio.adapters import database
from portfolio.adapters.csv import candidates as candidates_file
from portfolio.adapters.csv import scores as scores_file
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.domain.model import Score, ScoreStatus
from portfolio.services import council, imports

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "csv"
QUARTER = "2026-27 Q3"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = database.make_engine(db_url)
    yield engine
    engine.dispose()


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def import_candidates(engine: Engine, actor: str, data: bytes) -> imports.ImportSummary:
    """As a web route would: import, and commit only when the import raised nothing."""
    with SqlUnitOfWork(engine) as uow:
        summary = imports.import_candidates(uow, actor, DEMO, data)
        uow.commit()
    return summary


def import_scores(
    engine: Engine, actor: str, data: bytes, *, for_others: bool = False
) -> imports.ImportSummary:
    with SqlUnitOfWork(engine) as uow:
        summary = imports.import_scores(uow, actor, DEMO, data, may_import_for_others=for_others)
        uow.commit()
    return summary


def counts(engine: Engine) -> tuple[int, int, int]:
    """Candidates, scores and audit entries of the demo mission."""
    with SqlUnitOfWork(engine) as uow:
        return uow.candidates.count(DEMO), len(uow.scores.all(DEMO)), uow.audit.count(DEMO)


def scores_of(engine: Engine, member: str) -> dict[tuple[str, str], Score]:
    with SqlUnitOfWork(engine) as uow:
        return dict(council.member_scores(uow, DEMO, QUARTER, member))


def errors_of(caught: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [field for field, _ in caught.value.errors]


# -- candidates ----------------------------------------------------------------------------------
def test_importing_two_new_candidates_registers_them_with_their_options_for_the_api(
    engine: Engine, client: TestClient
) -> None:
    before = counts(engine)
    summary = import_candidates(engine, "council1", corpus("candidates_valid.csv"))
    assert (summary.created, summary.updated, summary.rows) == (2, 0, 3)
    assert counts(engine)[0] == before[0] + 2
    login(client, "ceo")
    response = client.get(f"/api/v1/missions/{DEMO}/candidates/solent-ammonia")
    assert response.status_code == 200
    body = response.json()
    assert body["registered_by"] == "council1"
    assert [o["id"] for o in body["options"]] == ["explore", "demonstrate"]
    assert body["options"][1]["cost_profile"] == {"2027-28": 10.0, "2028-29": 15.0, "2029-30": 5.0}
    kelp = client.get(f"/api/v1/missions/{DEMO}/candidates/kelp-biojet").json()
    assert kelp["ncr"] is True and kelp["eligible_envelopes"] == ["sbc"]
    with SqlUnitOfWork(engine) as uow:
        created = uow.audit.all(DEMO, entity="candidate", limit=2)
    assert {(e.entity_id, e.action, e.actor) for e in created} == {
        ("solent-ammonia", "created", "council1"),
        ("kelp-biojet", "created", "council1"),
    }


def test_a_file_with_a_utf8_byte_order_mark_imports_like_one_without(engine: Engine) -> None:
    assert import_candidates(engine, "ceo", corpus("candidates_bom.csv")).created == 2


def test_importing_an_existing_candidate_updates_it_and_keeps_its_approval_and_author(
    engine: Engine,
) -> None:
    with SqlUnitOfWork(engine) as uow:
        original = uow.candidates.get(DEMO, "northsea-hefa")
        years = uow.missions.get(DEMO).years
        uow.candidates.update(DEMO, original.model_copy(update={"treasury_approved": True}), None)
        uow.commit()
    text = candidates_file.candidates_to_csv([original], years)
    text = text.replace("Humber waste-oil HEFA refinery", "Humber HEFA refinery (renamed)")
    summary = import_candidates(engine, "ceo", text.encode())
    assert (summary.created, summary.updated) == (0, 1)
    with SqlUnitOfWork(engine) as uow:
        after = uow.candidates.get(DEMO, "northsea-hefa")
        (entry,) = uow.audit.all(DEMO, entity="candidate", entity_id="northsea-hefa", limit=1)
    assert after.name == "Humber HEFA refinery (renamed)"
    assert after.treasury_approved is True and after.registered_by == original.registered_by
    assert after.options == original.options
    assert entry.actor == "ceo" and entry.after == {"name": "Humber HEFA refinery (renamed)"}


def test_a_file_with_one_bad_row_writes_nothing_and_names_that_row(engine: Engine) -> None:
    good = corpus("candidates_valid.csv").decode()
    bad_row = good.splitlines()[3].replace("kelp-biojet", "kelp-two").replace(",0.6,", ",1.6,")
    data = (good + bad_row + "\r\n").encode()
    before = counts(engine)
    with pytest.raises(InvalidInput) as caught:
        import_candidates(engine, "ceo", data)
    assert caught.value.errors == [("row 5, column p_success", "must be at most 0.99")]
    assert counts(engine) == before


def test_a_hostile_file_writes_nothing(engine: Engine) -> None:
    before = counts(engine)
    for name in (
        "candidates_formulas.csv",
        "candidates_latin1.csv",
        "candidates_wrong_columns.csv",
    ):
        with pytest.raises(InvalidInput):
            import_candidates(engine, "ceo", corpus(name))
    assert counts(engine) == before


def test_an_update_that_drops_a_scored_option_is_refused_on_the_candidates_row(
    engine: Engine,
) -> None:
    with SqlUnitOfWork(engine) as uow:
        original = uow.candidates.get(DEMO, "northsea-hefa")
        years = uow.missions.get(DEMO).years
    one_option = original.model_copy(update={"options": original.options[:1]})
    new = candidates_file.parse_candidates_csv(
        corpus("candidates_valid.csv"), years, {"sbc", "ukri"}
    )
    data = candidates_file.candidates_to_csv([*new, one_option], years).encode()
    before = counts(engine)
    with pytest.raises(InvalidInput) as caught:
        import_candidates(engine, "ceo", data)
    ((field, rule),) = caught.value.errors
    assert field == "row 5, column option_id"
    assert "option scale of northsea-hefa has council scores" in rule
    assert counts(engine) == before


# -- scores --------------------------------------------------------------------------------------
def test_a_council_member_imports_their_scores_as_drafts_and_submissions(engine: Engine) -> None:
    assert scores_of(engine, "council6") == {}
    summary = import_scores(engine, "council6", corpus("scores_valid.csv"))
    assert (summary.rows, summary.created, summary.updated, summary.submitted) == (4, 6, 0, 4)
    mine = scores_of(engine, "council6")
    hefa = mine[("northsea-hefa", "demonstrate")]
    assert hefa.status is ScoreStatus.submitted and hefa.p_success == 0.75
    assert mine[("northsea-hefa", "scale")].status is ScoreStatus.submitted
    draft = mine[("tallow-to-jet", "explore")]
    assert draft.status is ScoreStatus.draft and draft.p_success == 0.7
    assert mine[("tallow-to-jet", "demonstrate")].p_success is None
    for option in ("explore", "demonstrate"):
        declared = mine[("cellulosic-atj", option)]
        assert declared.not_competent and declared.status is ScoreStatus.submitted
    with SqlUnitOfWork(engine) as uow:
        audited = uow.audit.all(DEMO, entity="score", limit=3)
        (imported,) = uow.audit.all(DEMO, entity="score_import", limit=1)
    assert {(e.entity_id, e.action, e.actor) for e in audited} == {
        (f"{QUARTER}:northsea-hefa", "submitted", "council6"),
        (f"{QUARTER}:tallow-to-jet", "saved draft", "council6"),
        (f"{QUARTER}:cellulosic-atj", "submitted", "council6"),
    }
    assert imported.actor == "council6" and imported.after is not None
    assert imported.after["members"] == ["council6"]


def test_submitted_scores_imported_again_are_refused_as_final(engine: Engine) -> None:
    import_scores(engine, "council6", corpus("scores_valid.csv"))
    before = counts(engine)
    with pytest.raises(InvalidInput) as caught:
        import_scores(engine, "council6", corpus("scores_valid.csv"))
    assert errors_of(caught) == ["row 2, column candidate", "row 5, column candidate"]
    assert "submitted scores are final" in caught.value.errors[0][1]
    assert counts(engine) == before


def test_a_draft_import_keeps_the_members_other_draft_options(engine: Engine) -> None:
    before = scores_of(engine, "council5")[("northsea-hefa", "scale")]
    header = ",".join(scores_file.SCORE_COLUMNS)
    data = f"{header}\r\n,northsea-hefa,demonstrate,no,0.51,,,,,,,,,,draft\r\n".encode()
    summary = import_scores(engine, "council5", data)
    assert (summary.created, summary.updated) == (0, 2)
    after = scores_of(engine, "council5")
    assert after[("northsea-hefa", "demonstrate")].p_success == 0.51
    assert after[("northsea-hefa", "scale")] == before


def test_a_council_member_importing_someone_elses_scores_is_refused(engine: Engine) -> None:
    before = counts(engine)
    with pytest.raises(InvalidInput) as caught:
        import_scores(engine, "council6", corpus("scores_other_member.csv"))
    assert caught.value.errors == [
        (
            "row 2, column member",
            "you may import only your own scores: leave member empty or write council6",
        )
    ]
    assert counts(engine) == before


def test_the_ceo_may_import_a_members_scores_but_not_score_themselves(engine: Engine) -> None:
    data = corpus("scores_other_member.csv").replace(b"council1,", b"council7,")
    assert import_scores(engine, "ceo", data, for_others=True).created == 2
    assert ("northsea-hefa", "demonstrate") in scores_of(engine, "council7")
    with pytest.raises(InvalidInput) as caught:
        import_scores(engine, "ceo", corpus("scores_valid.csv"), for_others=True)
    assert caught.value.errors[0] == (
        "row 2, column member",
        "ceo is not on this mission's Expert Council",
    )


def test_rows_naming_unknown_candidates_options_or_incomplete_submissions_are_each_reported(
    engine: Engine,
) -> None:
    header = ",".join(scores_file.SCORE_COLUMNS)
    full = "no,0.5,1,2,3,1,2,3,5,low,ok"
    data = (
        f"{header}\r\n"
        ",no-such-candidate,explore,no,0.5,,,,,,,,,,draft\r\n"
        f",northsea-hefa,explore,no,0.5,,,,,,,,,,draft\r\n"
        f",atj-teesside,demonstrate,{full},submitted\r\n"
        f",tallow-to-jet,explore,no,0.5,,,,,,,,,,draft\r\n"
        f",tallow-to-jet,explore,no,0.6,,,,,,,,,,draft\r\n"
        f",tallow-to-jet,demonstrate,{full},submitted\r\n"
        f",ptl-orkney,explore,yes,,,,,,,,,,,draft\r\n"
        f",ptl-orkney,demonstrate,no,0.6,,,,,,,,,,draft\r\n"
    ).encode()
    before = counts(engine)
    with pytest.raises(InvalidInput) as caught:
        import_scores(engine, "council6", data)
    errors = dict(caught.value.errors)
    assert list(errors) == [
        "row 2, column candidate",
        "row 3, column option",
        "row 4, column option",
        "row 6, column option",
        "row 7, column status",
        "row 9, column not_competent",
    ]
    assert "no candidate no-such-candidate" in errors["row 2, column candidate"]
    assert "explore is not an option of northsea-hefa" in errors["row 3, column option"]
    assert "missing: scale" in errors["row 4, column option"]
    assert "already on row 5" in errors["row 6, column option"]
    assert "differs from row 5" in errors["row 7, column status"]
    assert "differs from row 8" in errors["row 9, column not_competent"]
    assert counts(engine) == before


def test_scores_cannot_be_imported_when_the_round_is_not_open(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        council.close_round(uow, "ceo", DEMO)
        uow.commit()
    before = counts(engine)
    with pytest.raises(Conflict, match="not open"):
        import_scores(engine, "council6", corpus("scores_valid.csv"))
    assert counts(engine) == before
