"""Opaque per-client ids and cursors (collector/ids.py): a reader of client A cannot infer B's
activity from what it is given, and cannot use anything given to B."""

from __future__ import annotations

import os
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from duecare.collector import admin
from duecare.collector.db.models import Change, FindingState
from duecare.collector.ids import BadId, Codec, Ids, Kind, public_feed_entry
from duecare.wire import ObligationStatus
from tests.collector.conftest import Collector, Enrolled
from tests.collector.factories import asset, finding, obligations

LISTS = {
    "/v1/changes": ("changes", Kind.CURSOR_CHANGES),
    "/v1/findings": ("findings", Kind.CURSOR_FINDINGS),
    "/v1/assets": ("assets", Kind.CURSOR_ASSETS),
    "/v1/obligations": ("obligations", Kind.CURSOR_OBLIGATIONS),
}

KEY_A, KEY_B = os.urandom(32), os.urandom(32)


@given(st.integers(min_value=0, max_value=2**63 - 1), st.sampled_from(list(Kind)))
def test_codec_round_trips_and_refuses_other_keys_and_kinds(n: int, kind: Kind) -> None:
    a, b = Codec(KEY_A), Codec(KEY_B)
    text = a.encode(kind, n)
    assert len(text) == 32 and a.decode(kind, text) == n
    # Never the number itself. A short one may occur by chance among 32 random hex digits (a 4-digit one
    # about once in 2,300 texts: CI met one); 8 digits or more, about once in 170 million.
    assert str(n) not in text or len(str(n)) < 8
    with pytest.raises(BadId):
        b.decode(kind, text)
    other = next(k for k in Kind if k is not kind)
    with pytest.raises(BadId):
        a.decode(other, text)


@given(st.integers(min_value=1, max_value=2**40), st.integers(min_value=0, max_value=31), st.sampled_from("0a9fA-"))
def test_an_altered_id_is_refused(n: int, at: int, char: str) -> None:
    a = Codec(KEY_A)
    text = a.encode(Kind.FINDING, n)
    changed = text[:at] + char + text[at + 1 :]
    if changed != text:
        with pytest.raises(BadId):
            a.decode(Kind.FINDING, changed)


@given(st.text(max_size=60))
def test_garbage_is_refused_never_a_crash(text: str) -> None:
    with pytest.raises(BadId):
        Codec(KEY_A).decode(Kind.CHANGE, text)


def test_encode_many_matches_encode() -> None:
    a = Codec(KEY_A)
    assert a.encode_many(Kind.CHANGE, [1, 2, 99]) == [a.encode(Kind.CHANGE, n) for n in (1, 2, 99)]


def _post(collector: Collector, agent: Enrolled, ip: str) -> None:
    summary = obligations(
        ("CIS Controls v8", "4.8", ObligationStatus.NOT_MET), ("CIS Controls v8", "12.2", ObligationStatus.MET)
    )
    body = agent.chain.next(findings=[finding(ip)], assets=[asset(ip)], obligation_summary=summary)
    assert collector.post(agent, body).status_code == 201


def _everything(collector: Collector, reader: dict[str, str], **params: str) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for path, (key, _) in LISTS.items():
        resp = collector.http.get(path, headers=reader, params=params)
        assert resp.status_code == 200, resp.text
        out[path] = resp.json()[key]
    return out


@pytest.fixture
def busy(collector: Collector) -> tuple[Enrolled, Enrolled]:
    """A and B interleaved: B's activity falls between A's reports in the collector's numbering."""
    a, b = collector.enroll("alpha", "alpha-site"), collector.enroll("bravo", "bravo-site")
    for i in range(4):
        _post(collector, a, f"198.18.0.{10 + i}")
        for j in range(3):
            _post(collector, b, f"198.18.0.{100 + 3 * i + j}")
    return a, b


def test_ids_are_opaque_and_show_no_order_or_gap(collector: Collector, busy: tuple[Enrolled, Enrolled]) -> None:
    a, _ = busy
    seen = _everything(collector, collector.reader("alpha"))
    with collector.db.read() as s:
        numbers = {str(n) for n in s.scalars(select(Change.id))} | {str(n) for n in s.scalars(select(FindingState.id))}
    changes = [c["id"] for c in seen["/v1/changes"]]
    assert len(changes) >= 12
    for items in seen.values():
        for item in items:
            assert len(item["id"]) == 32 and item["id"] not in numbers and item["client_id"] == a.client_id
    for change in seen["/v1/changes"]:  # the row each feed entry carries: its id is public too
        for nested in ("finding", "asset", "obligation"):
            if isinstance(change.get(nested), dict):
                assert len(change[nested]["id"]) == 32 and change[nested]["id"] not in numbers
    # Feed order is kept, but the ids carry none: sorted ids are not the feed (chance: 1 in 12!).
    assert sorted(changes) != changes
    # The same finding has one id wherever it shows: in the list and in the feed.
    listed = {f["id"] for f in seen["/v1/findings"]}
    in_feed = {c["finding"]["id"] for c in seen["/v1/changes"] if c.get("finding")}
    assert listed == in_feed


def test_b_activity_leaves_a_view_unchanged_but_for_ids(collector: Collector) -> None:
    """The same history of A, with and without B's reports in between: A's reader sees the same
    things, and nothing in its ids tells the two apart (each a fresh 32-character block)."""
    a, b = collector.enroll("alpha", "alpha-site"), collector.enroll("bravo", "bravo-site")
    reader = collector.reader("alpha")
    _post(collector, a, "198.18.0.10")
    before = collector.http.get("/v1/changes", headers=reader).json()
    for j in range(5):
        _post(collector, b, f"198.18.0.{100 + j}")
    _post(collector, a, "198.18.0.11")
    after = collector.http.get("/v1/changes", params={"cursor": before["next_cursor"]}, headers=reader).json()
    assert after["changes"] and all(c["client_id"] == a.client_id for c in after["changes"])
    assert all(len(c["id"]) == 32 for c in before["changes"] + after["changes"])
    assert len(after["next_cursor"]) == len(before["next_cursor"]) == 32


def test_cursor_pages_keyset_per_client_while_others_ingest(
    collector: Collector, busy: tuple[Enrolled, Enrolled]
) -> None:
    a, b = busy
    reader = collector.reader("alpha")
    full = [c["id"] for c in collector.http.get("/v1/changes", headers=reader).json()["changes"]]
    cursor, got = "0", []
    while True:
        page = collector.http.get("/v1/changes", params={"cursor": cursor, "limit": 5}, headers=reader).json()
        got += [c["id"] for c in page["changes"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert got == full
    _post(collector, b, "198.18.0.200")  # B's activity: nothing new for A
    idle = collector.http.get("/v1/changes", params={"cursor": cursor}, headers=reader).json()
    assert idle["changes"] == [] and idle["next_cursor"] == cursor
    _post(collector, a, "198.18.0.20")
    new = collector.http.get("/v1/changes", params={"cursor": cursor}, headers=reader).json()["changes"]
    assert new and not {c["id"] for c in new} & set(full)


@pytest.mark.parametrize("path", list(LISTS))
def test_cursors_of_b_or_of_another_scope_are_422_naming_the_problem(
    collector: Collector, busy: tuple[Enrolled, Enrolled], path: str
) -> None:
    a, _ = busy
    reader_a, reader_b, msp = collector.reader("alpha"), collector.reader("bravo"), collector.reader()

    def cursor_of(reader: dict[str, str], **params: str) -> str:
        page = collector.http.get(path, params={"limit": 1, **params}, headers=reader).json()
        assert page["next_cursor"] not in (None, "0"), page
        return str(page["next_cursor"])

    for foreign in (cursor_of(reader_b), cursor_of(msp)):  # B's, and the all-clients key's
        resp = collector.http.get(path, params={"cursor": foreign}, headers=reader_a)
        assert resp.status_code == 422 and "was not given to this key" in resp.json()["detail"], resp.text
    own = cursor_of(reader_a)
    resp = collector.http.get(path, params={"cursor": own}, headers=msp)  # A's cursor, all-clients scope
    assert resp.status_code == 422
    assert collector.http.get(path, params={"cursor": own, "client": a.client_id}, headers=msp).status_code == 200
    numeric = collector.http.get(path, params={"cursor": "5"}, headers=reader_a)
    assert numeric.status_code == 422 and "numeric cursor" in numeric.json()["detail"]
    for junk in ("x" * 32, "AAAA", "-" * 40, "0" * 31 + "1", "F" * 32):
        assert collector.http.get(path, params={"cursor": junk}, headers=reader_a).status_code == 422
    # A cursor of another list is not this list's.
    other = next(p for p in LISTS if p != path)
    resp = collector.http.get(path, params={"cursor": cursor_of_list(collector, other, reader_a)}, headers=reader_a)
    assert resp.status_code == 422, (path, other)


def cursor_of_list(collector: Collector, path: str, reader: dict[str, str]) -> str:
    return str(collector.http.get(path, params={"limit": 1}, headers=reader).json()["next_cursor"])


def test_every_id_of_b_is_404_or_422_for_a_and_never_500(collector: Collector, busy: tuple[Enrolled, Enrolled]) -> None:
    """Enumerate: every id B's reader was given, tried by A's key wherever an id or cursor goes in."""
    reader_a, reader_b = collector.reader("alpha"), collector.reader("bravo")
    ids_b = [item["id"] for items in _everything(collector, reader_b).values() for item in items]
    assert len(ids_b) > 20
    for ident in ids_b:
        for path in LISTS:
            assert collector.http.get(path, params={"cursor": ident}, headers=reader_a).status_code == 422
        resp = collector.http.get("/v1/export/changes", params={"cursor": ident}, headers=reader_a)
        assert resp.status_code == 422
    with collector.db.read() as s:
        for fid in s.scalars(select(FindingState.id).where(FindingState.client_id == busy[1].client_id)):
            ident = Ids.of(s, None).public(Kind.FINDING, busy[1].client_id, fid)
            assert ident in ids_b
            assert Ids.of(s, busy[0].client_id).public(Kind.FINDING, busy[0].client_id, fid) != ident


def test_exports_carry_the_same_opaque_ids(collector: Collector, busy: tuple[Enrolled, Enrolled]) -> None:
    reader = collector.reader("alpha")
    listed = {f["id"] for f in collector.http.get("/v1/findings", headers=reader).json()["findings"]}
    as_json = collector.http.get("/v1/export/findings", params={"format": "json"}, headers=reader).json()
    assert {f["id"] for f in as_json["findings"]} == listed
    as_csv = collector.http.get("/v1/export/findings", params={"format": "csv"}, headers=reader).text
    assert all(i in as_csv for i in listed)
    ocsf = collector.http.get("/v1/export/changes", params={"format": "ocsf"}, headers=reader)
    assert ocsf.status_code == 200
    feed = collector.http.get("/v1/export/changes", params={"format": "json"}, headers=reader)
    doc = feed.json()
    assert doc["cursor"] == feed.headers["x-duecare-cursor"] and len(doc["cursor"]) == 32
    plain = collector.http.get("/v1/changes", headers=reader).json()["changes"]
    assert [c["id"] for c in doc["changes"]] == [c["id"] for c in plain]
    assert doc["changes"] == plain
    again = collector.http.get("/v1/export/changes", params={"cursor": doc["cursor"]}, headers=reader)
    assert again.json()["changes"] == [] and again.headers["x-duecare-cursor"] == doc["cursor"]


def test_convert_cursor_continues_where_a_numeric_cursor_stopped(
    collector: Collector, busy: tuple[Enrolled, Enrolled]
) -> None:
    a, _ = busy
    reader = collector.reader("alpha")
    with collector.db.read() as s:
        numbers = list(s.scalars(select(Change.id).where(Change.client_id == a.client_id).order_by(Change.id)))
    full = [c["id"] for c in collector.http.get("/v1/changes", headers=reader).json()["changes"]]
    converted = admin.convert_cursor(collector.db, str(numbers[2]), "alpha")
    rest = collector.http.get("/v1/changes", params={"cursor": converted}, headers=reader).json()["changes"]
    assert [c["id"] for c in rest] == full[3:]


@pytest.mark.parametrize(
    "payload",
    [
        {"transition": "new", "finding": {"id": 41, "ip": "198.18.0.5", "finding": {"id": 7}}},
        {"transition": "resolved", "previous_status": "open", "asset": {"id": 41, "ip": "198.18.0.5"}},
        {"obligation": {"title": "t", "id": 41}, "transition": "new"},  # another form: parsed, same result
        {"report": {"report_id": "r", "finding_count": 1}},
        {},
    ],
)
def test_feed_entry_splice_matches_a_parse(payload: dict[str, Any]) -> None:
    """The pull's text splice (``public_feed_entry``) gives what parsing and rewriting would."""
    codec = Codec(KEY_A)
    head = {"id": 9, "kind": "finding", "client_id": "cl_a"}
    out = orjson.loads(public_feed_entry(codec, head, orjson.dumps(payload)))
    expected = {**head, **payload, "id": codec.encode(Kind.CHANGE, 9)}
    for key, kind in (("finding", Kind.FINDING), ("asset", Kind.ASSET), ("obligation", Kind.OBLIGATION)):
        if key in payload:
            expected[key] = {**payload[key], "id": codec.encode(kind, 41)}
    assert out == expected
