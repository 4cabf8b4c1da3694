"""Canonical JSON, the hash chain of quarterly audit packs, and the reproducible zip."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from portfolio.adapters.auditpack import (
    PackRecord,
    _plain,
    build_zip,
    canonical_json,
    pack_hash,
    verify_chain,
)
from portfolio.domain.model import Tier

# -- canonical JSON ------------------------------------------------------------------------------


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": [1, 2.5], "a": {"y": None, "x": True}}) == (
        b'{"a":{"x":true,"y":null},"b":[1,2.5]}'
    )


def test_canonical_json_writes_utf8_not_escapes() -> None:
    assert canonical_json({"cost": "£5m — ok"}) == '{"cost":"£5m — ok"}'.encode()


def test_canonical_json_writes_floats_by_their_shortest_repr() -> None:
    assert canonical_json([0.1, 1e-7, 1.0, 0.1 + 0.2]) == b"[0.1,1e-07,1.0,0.30000000000000004]"


def test_canonical_json_turns_dates_enums_and_tuples_into_json_values() -> None:
    assert canonical_json({"d": dt.date(2026, 7, 1), "t": Tier.moonshot, "p": (1, 2)}) == (
        b'{"d":"2026-07-01","p":[1,2],"t":"moonshot"}'
    )


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ({"p": float("nan")}, r"\$\.p: nan is not a finite number"),
        ({1: "a"}, "keys must be strings"),
        ({"s": {1, 2}}, r"\$\.s: a set has no canonical JSON form"),
    ],
)
def test_canonical_json_refuses_what_would_not_round_trip(value: Any, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        canonical_json(value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(json_values)
def test_content_read_back_from_storage_hashes_the_same(value: Any) -> None:
    stored = json.loads(json.dumps(value))
    assert canonical_json(stored) == canonical_json(value)
    assert pack_hash({"v": stored}, None) == pack_hash({"v": value}, None)


python_values = st.recursive(
    json_values
    | st.dates()
    | st.datetimes()
    | st.sampled_from(list(Tier))
    | st.floats(allow_nan=True, allow_infinity=True),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=8) | st.integers(0, 3), inner)
    ),
    max_leaves=20,
)


@given(python_values)
def test_canonical_json_is_the_path_naming_walks_json_or_its_refusal(value: Any) -> None:
    """canonical_json takes a fast walk over plain values; it writes exactly what the walk that
    names each value's path (``_plain``) writes, and refuses exactly what that walk refuses,
    with its message."""
    try:
        reference = json.dumps(
            _plain(value, "$"),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        ).encode("utf-8")
    except ValueError as refusal:
        with pytest.raises(ValueError) as raised:
            canonical_json(value)
        assert str(raised.value) == str(refusal)
    else:
        assert canonical_json(value) == reference


# -- hashes and the chain ------------------------------------------------------------------------


def test_pack_hash_is_sha256_of_previous_and_content() -> None:
    expected = hashlib.sha256(b'{"content":{"seed":7},"previous":"abc"}').hexdigest()
    assert pack_hash({"seed": 7}, "abc") == expected


def test_pack_hash_depends_on_the_previous_hash() -> None:
    assert pack_hash({"seed": 7}, None) != pack_hash({"seed": 7}, "0" * 64)


def content(quarter: str) -> dict[str, Any]:
    return {
        "quarter": quarter,
        "seed": 20260401,
        "solver": {"name": "HiGHS", "version": "1.7.2"},
        "problem": {"candidates": [{"id": "h2", "p_success": 0.35}]},
        "result": {"selected": {"h2": "explore"}, "p_target": 0.56},
        "overrides": {"h2": "locked: contracted in Q1"},
    }


def chain(labels: list[str]) -> list[PackRecord]:
    packs: list[PackRecord] = []
    previous: str | None = None
    for label in labels:
        body = content(label)
        h = pack_hash(body, previous)
        packs.append((label, body, h, previous))
        previous = h
    return packs


QUARTERS = ["2026-27 Q1", "2026-27 Q2", "2026-27 Q3"]


def test_an_untouched_chain_verifies() -> None:
    assert verify_chain(chain(QUARTERS)) == []
    assert verify_chain([]) == []


def test_editing_a_closed_quarters_content_is_detected() -> None:
    packs = chain(QUARTERS)
    label, body, h, previous = packs[1]
    edited = {**body, "result": {**body["result"], "p_target": 0.66}}
    packs[1] = (label, edited, h, previous)
    assert verify_chain(packs) == [
        "2026-27 Q2: its content no longer matches its hash — history was edited"
    ]


def test_re_hashing_an_edited_pack_breaks_the_link_from_the_next_quarter() -> None:
    packs = chain(QUARTERS)
    label, body, _, previous = packs[1]
    edited = {**body, "seed": 1}
    packs[1] = (label, edited, pack_hash(edited, previous), previous)
    [problem] = verify_chain(packs)
    assert problem.startswith(
        "2026-27 Q3: does not point at the previous quarter's pack (2026-27 Q2)"
    )


def test_a_first_pack_pointing_at_something_is_reported() -> None:
    body = content("2026-27 Q1")
    packs: list[PackRecord] = [("2026-27 Q1", body, pack_hash(body, "f" * 64), "f" * 64)]
    [problem] = verify_chain(packs)
    assert problem.startswith("2026-27 Q1: it is the first pack but points at a previous pack")


def test_a_deleted_quarter_is_detected() -> None:
    packs = chain(QUARTERS)
    del packs[1]
    [problem] = verify_chain(packs)
    assert "2026-27 Q3: does not point at the previous quarter's pack (2026-27 Q1)" in problem


@given(st.integers(0, 10_000), st.integers(1, 255))
def test_any_single_byte_change_of_a_pack_breaks_verification(position: int, delta: int) -> None:
    packs = chain(QUARTERS)
    label, body, h, previous = packs[1]
    raw = bytearray(canonical_json(body))
    i = position % len(raw)
    raw[i] = (raw[i] + delta) % 256
    try:
        tampered = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        assume(False)  # not a pack any more: storage would refuse it outright
        return
    assume(isinstance(tampered, dict))
    # "0.56" → "0.560" reads back as the same value: that is no change of content.
    assume(json.dumps(tampered, sort_keys=True) != json.dumps(body, sort_keys=True))
    packs[1] = (label, tampered, h, previous)
    # "20260401" → "2026e401" reads back as infinity, which cannot even be hashed: also reported.
    assert any(p.startswith("2026-27 Q2: its content ") for p in verify_chain(packs))


# -- the zip -------------------------------------------------------------------------------------

FILES: dict[str, bytes | str] = {
    "result.json": '{"p_target": 0.56}',
    "problem.json": b'{"candidates": []}',
    "overrides/reasons.txt": "h2: locked — contracted in Q1\n",
}


def test_zip_is_byte_identical_across_calls() -> None:
    assert build_zip(FILES) == build_zip(dict(reversed(FILES.items())))


@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8})?\.txt", fullmatch=True), st.binary())
)
def test_zip_of_any_files_is_byte_identical_across_calls(files: dict[str, bytes]) -> None:
    assert build_zip(dict(files)) == build_zip(dict(sorted(files.items(), reverse=True)))


def test_zip_holds_the_files_sorted_deflated_and_dated_1980() -> None:
    with zipfile.ZipFile(io.BytesIO(build_zip(FILES))) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(FILES)
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
        assert archive.read("overrides/reasons.txt").decode() == FILES["overrides/reasons.txt"]
        assert archive.read("problem.json") == FILES["problem.json"]


@pytest.mark.parametrize("name", ["/etc/passwd", "../up.json", "a//b", "a\\b", ""])
def test_zip_refuses_unsafe_file_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a safe relative path"):
        build_zip({name: "x"})


def test_changing_any_byte_of_a_string_in_a_pack_breaks_verification() -> None:
    packs = chain(QUARTERS)
    label, body, h, previous = packs[1]
    note = "locked: contracted in Q1"
    for i in range(len(note)):
        edited_note = note[:i] + chr(ord(note[i]) ^ 1) + note[i + 1 :]
        tampered = {**body, "overrides": {"h2": edited_note}}
        packs[1] = (label, tampered, h, previous)
        assert verify_chain(packs) == [
            "2026-27 Q2: its content no longer matches its hash — history was edited"
        ]
