"""Performance weights engage from the first resolved forecast (issue 18): each member's relative
Brier skill is shrunk towards equal weights by the number of their resolved forecasts,
w_m ∝ λ_m·r_m + (1 − λ_m), λ_m = n_m / (n_m + k), k = 5, then floored at 0.1 / M
(``estimates.brier_weights``). Hand-computed cases, the rule's invariants, and the demo."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from support import DEMO, login

from portfolio.adapters.database import make_engine
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.estimates import SHRINKAGE_K, WEIGHT_FLOOR, brier, brier_weights
from portfolio.domain.model import AggregationMethod
from portfolio.services import council

Forecasts = list[tuple[float, bool]]


def test_the_rule_is_stated_with_k_5_and_a_floor_of_a_tenth() -> None:
    assert (SHRINKAGE_K, WEIGHT_FLOOR) == (5.0, 0.1)


def test_no_resolved_forecast_gives_equal_weights() -> None:
    assert brier_weights({"ann": [], "bob": [], "cat": [], "dan": []}) == pytest.approx(
        dict.fromkeys(["ann", "bob", "cat", "dan"], 0.25)
    )
    assert brier_weights({}) == {}


def test_one_resolved_forecast_each_already_moves_the_weights() -> None:
    # Brier: ann (0.9 − 1)² = 0.01, bob (0.5 − 1)² = 0.25, cat (0.2 − 1)² = 0.64
    # skill = max(0, 1 − B/0.25): 0.96, 0, 0;  mean skill 0.32;  r = 3, 0, 0
    # λ = 1/(1 + 5) = 1/6;  raw = λr + 1 − λ = 4/3, 5/6, 5/6 (sum 3)
    # w = 0.1/3 + 0.9·raw/3 = 0.43333, 0.28333, 0.28333
    weights = brier_weights({"ann": [(0.9, True)], "bob": [(0.5, True)], "cat": [(0.2, True)]})
    assert weights == pytest.approx(
        {"ann": 0.1 / 3 + 0.4, "bob": 0.1 / 3 + 0.25, "cat": 0.1 / 3 + 0.25}
    )


def test_a_longer_record_counts_more_and_tends_to_its_unshrunk_share() -> None:
    # ann always says 0.8 for what happens: B = 0.04, skill 0.84; bob and cat a fixed record of 5
    bob = [(0.5, True)] * 5  # B 0.25, skill 0
    cat = [(0.6, True)] * 5  # B 0.16, skill 0.36
    weights = [
        brier_weights({"ann": [(0.8, True)] * n, "bob": bob, "cat": cat})["ann"]
        for n in (0, 1, 2, 5, 10, 50, 500, 50_000)
    ]
    # n = 0: ann counts as average (r = 1); mean skill of bob and cat 0.18, so r = 0 and 2;
    # raw = 1, 0.5·0 + 0.5, 0.5·2 + 0.5 = 1, 0.5, 1.5 (sum 3): ann 0.1/3 + 0.9/3 = 1/3
    assert weights[0] == pytest.approx(1 / 3)
    # n = 1: mean skill (0.84 + 0 + 0.36)/3 = 0.4, r = 2.1, 0, 0.9; λ_ann = 1/6, λ = 1/2 for the
    # others; raw = 2.1/6 + 5/6, 0.5, 0.95 (sum 2.63333): ann 0.1/3 + 0.9·1.18333/2.63333
    assert weights[1] == pytest.approx(0.1 / 3 + 0.9 * (2.1 / 6 + 5 / 6) / (2.1 / 6 + 5 / 6 + 1.45))
    assert all(a < b for a, b in itertools.pairwise(weights))
    # ann's λ → 1 (bob and cat stay at λ = 1/2): raw → 2.1, 0.5, 0.95
    assert weights[-1] == pytest.approx(0.1 / 3 + 0.9 * 2.1 / 3.55, abs=1e-4)


def test_a_worse_than_average_member_loses_weight_as_the_record_grows() -> None:
    good = [(0.8, True)] * 5
    weights = [
        brier_weights({"ann": good, "bob": [(0.5, True)] * n, "cat": good})["bob"]
        for n in (1, 5, 20, 100)
    ]
    assert all(a > b for a, b in itertools.pairwise(weights))
    assert weights[-1] > WEIGHT_FLOOR / 3  # never silenced


record = st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=15)


@given(
    st.dictionaries(
        st.text("abcdef", min_size=1, max_size=3),
        st.lists(st.tuples(st.floats(0, 1), st.booleans()), max_size=15),
        min_size=1,
        max_size=7,
    ),
    st.floats(0.1, 50),
)
def test_weights_sum_to_one_and_keep_the_floor(records: dict[str, Forecasts], k: float) -> None:
    weights = brier_weights(records, k=k)
    assert math.fsum(weights.values()) == pytest.approx(1)
    assert min(weights.values()) >= WEIGHT_FLOOR / len(records) - 1e-12


@given(record, st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=15))
def test_with_records_of_the_same_length_the_better_brier_score_weighs_more(
    first: Forecasts, other: Forecasts
) -> None:
    second = (other * len(first))[: len(first)]  # the same number of resolved forecasts
    weights = brier_weights({"a": first, "b": second, "c": [(0.5, True)] * 3})
    if brier(first) < brier(second) and max(brier(first), brier(second)) > 0:
        assert weights["a"] >= weights["b"] - 1e-12
    if brier(first) == brier(second):
        assert weights["a"] == pytest.approx(weights["b"])


def test_the_shrinkage_constant_must_be_positive() -> None:
    with pytest.raises(ValueError, match="k:"):
        brier_weights({"ann": []}, k=0)


# -- the demo: members have 2-3 resolved forecasts, and the weights engage -----------------------
@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_the_demos_brier_weights_are_no_longer_all_equal(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        weights = council.member_weights(uow, DEMO, AggregationMethod.brier)
        records = council.council_records(uow, DEMO)
    assert math.fsum(weights.values()) == pytest.approx(1)
    assert max(weights.values()) - min(weights.values()) > 0.005  # 13.9-14.8 %
    assert max(len(r.forecasts) for r in records) <= 3  # fewer than the old threshold of 5
    by_member = {r.username: r for r in records}
    # among members with as many resolved forecasts, the better Brier score weighs more
    for a in records:
        for b in records:
            if len(a.forecasts) == len(b.forecasts) and a.calibration.brier is not None:
                assert b.calibration.brier is not None
                if a.calibration.brier < b.calibration.brier:
                    assert weights[a.username] > weights[b.username]
    # the Brier trend: one row per quarter in which a gate resolved forecasts; its last weight
    # is the weight the council uses now
    for username, r in by_member.items():
        assert [row.quarter for row in r.trend] == ["2026-27 Q1", "2026-27 Q2"]
        assert r.trend[-1].weight == pytest.approx(weights[username])
        assert r.trend[-1].resolved_to_date == len(r.forecasts)
        assert r.trend[-1].brier_to_date == pytest.approx(r.calibration.brier)
        assert sum(row.resolved for row in r.trend) == len(r.forecasts)


# -- the pages and the JSON route ----------------------------------------------------------------
def page(client: TestClient, url: str) -> BeautifulSoup:
    response = client.get(url)
    assert response.status_code == 200, url
    return BeautifulSoup(response.text, "html.parser")


def percent(text: str) -> float:
    assert text.endswith(" %")
    return float(text.removesuffix(" %"))


def test_the_council_page_shows_each_members_brier_and_weight_by_quarter(
    client: TestClient,
) -> None:
    login(client, "treasury")
    records = {r["username"]: r for r in client.get(f"/api/v1/missions/{DEMO}/council").json()}
    council_page = page(client, f"/missions/{DEMO}/council")
    rows = council_page.select("#weight-trend tbody tr")
    assert len(rows) == len(records) == 7
    heads = [th.get_text(" ", strip=True) for th in council_page.select("#weight-trend thead th")]
    assert heads[1:5] == [
        "2026-27 Q1: Brier score",
        "2026-27 Q1: weight after",
        "2026-27 Q2: Brier score",
        "2026-27 Q2: weight after",
    ]
    for row in rows:
        name = row.select_one("th a")
        assert name is not None and not name.get_text().startswith("council")  # a person's name
        username = str(name["href"]).rsplit("/", 1)[-1]
        trend = records[username]["brier_by_quarter"]
        cells = [td.get_text(" ", strip=True) for td in row.select("td")]
        assert percent(cells[1]) == round(trend[0]["weight"] * 100, 1)
        assert percent(cells[3]) == round(trend[1]["weight"] * 100, 1)
        assert cells[4] == records[username]["trend"]
        assert trend[-1]["weight"] == pytest.approx(records[username]["weights"]["brier"])
    # the simulated council: 8 quarters and the final row; the verdict says the weights learn
    assert len(council_page.select("#simulated-council tbody tr")) == 9
    verdict = council_page.select_one("#simulated-council-verdict")
    assert verdict is not None and "the weights learn" in verdict.get_text()
    assert "count from the first resolved forecast" in council_page.select_one("#brier-rule").text


def test_the_member_page_and_json_route_show_the_brier_score_by_quarter(
    client: TestClient,
) -> None:
    login(client, "council2")
    record = client.get(f"/api/v1/missions/{DEMO}/council/members/council1").json()
    assert [row["quarter"] for row in record["brier_by_quarter"]] == ["2026-27 Q1", "2026-27 Q2"]
    assert {f["resolved_in"] for f in record["forecasts"]} <= {"2026-27 Q1", "2026-27 Q2"}
    member = page(client, f"/missions/{DEMO}/council/members/council1")
    rows = member.select("#brier-trend tbody tr")
    assert [r.select_one("th").get_text(strip=True) for r in rows] == ["2026-27 Q1", "2026-27 Q2"]
    for tr, row in zip(rows, record["brier_by_quarter"], strict=True):
        cells = [td.get_text(strip=True) for td in tr.select("td")]
        assert int(cells[0]) == row["resolved"]
        assert (
            cells[1] == "–" if row["brier"] is None else float(cells[1]) == round(row["brier"], 3)
        )
        assert percent(cells[3]) == round(row["weight"] * 100, 1)
    words = member.select_one("#brier-trend-words")
    assert words is not None and words.get_text(strip=True) == record["trend"]
    assert record["trend"].startswith("Brier score ")


def test_the_classical_model_warns_on_the_demos_five_seed_questions(
    client: TestClient, engine: Engine
) -> None:
    """The demo's classical model rests on 5 seed questions and puts all the weight on one
    member: both pages and the model's own output say so."""
    login(client, "ceo")
    with SqlUnitOfWork(engine) as uow:
        result = council.classical_result(uow, DEMO)
    assert result is not None and result.seed_items == 5
    assert max(e.weight for e in result.experts.values()) > 0.8
    assert len(result.warnings) == 2
    for url in (f"/missions/{DEMO}/council", f"/missions/{DEMO}/council/seeds"):
        warnings = page(client, url).select("#classical-warnings .govuk-warning-text")
        texts = [w.get_text(" ", strip=True) for w in warnings]
        assert len(texts) == 2, url
        assert "of the weight (more than 80 %)" in texts[0]
        assert "council" not in texts[0].split(" takes ")[0]  # named as people read them
        assert "Only 5 seed questions have a known answer" in texts[1]
