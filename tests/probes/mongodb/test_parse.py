"""BSON and MongoDB wire framing on SYNTHETIC spec-built bytes (no Debian mongod), and fuzzing."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.mongodb.parse import (
    HEADER_LEN,
    MAX_DEPTH,
    OP_MSG,
    OP_REPLY,
    command_ok,
    decode_document,
    encode_document,
    encode_op_msg,
    encode_op_query,
    error_of,
    parse_header,
    parse_op_msg,
    parse_op_reply,
)

FIX = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIX / f"synthetic_{name}.bin").read_bytes()


def op_msg_doc(name: str) -> dict[str, Any]:
    data = raw(name)
    head = parse_header(data[:HEADER_LEN])
    assert head.op_code == OP_MSG and head.length == len(data)
    return parse_op_msg(data[HEADER_LEN:])


def test_hello_7_0() -> None:
    doc = op_msg_doc("opmsg_hello_7.0")
    assert command_ok(doc) and doc["isWritablePrimary"] is True
    assert doc["maxWireVersion"] == 21
    assert doc["topologyVersion"]["processId"] == bytes.fromhex("66f1c2a0e4b0c1d2e3f40516")
    assert doc["localTime"] == 1732939200000


def test_buildinfo_and_listdatabases() -> None:
    assert op_msg_doc("opmsg_buildinfo_7.0")["versionArray"] == [7, 0, 14, 0]
    names = [d["name"] for d in op_msg_doc("opmsg_listdatabases_open")["databases"]]
    assert names == ["admin", "config", "local", "shop"]
    refused = op_msg_doc("opmsg_listdatabases_unauthorized")
    assert not command_ok(refused) and refused["code"] == 13
    assert error_of(refused) == "Unauthorized: Command listDatabases requires authentication"


def test_legacy_op_reply() -> None:
    data = raw("opreply_ismaster_3.4")
    assert parse_header(data[:HEADER_LEN]).op_code == OP_REPLY
    doc = parse_op_reply(data[HEADER_LEN:])
    assert doc["ismaster"] is True and doc["maxWireVersion"] == 5


def test_requests_match_the_spec_layout() -> None:
    # {hello: 1, $db: "admin"} laid out by hand per bsonspec.org and the OP_MSG section format.
    doc = b"\x10hello\x00" + struct.pack("<i", 1) + b"\x02$db\x00" + struct.pack("<i", 6) + b"admin\x00"
    bson = struct.pack("<i", len(doc) + 5) + doc + b"\x00"
    body = struct.pack("<I", 0) + b"\x00" + bson
    assert encode_op_msg(42, {"hello": 1, "$db": "admin"}) == struct.pack("<iiii", 16 + len(body), 42, 0, 2013) + body
    query = encode_op_query(43, {"isMaster": 1})
    assert query[12:16] == struct.pack("<i", 2004)
    assert query[16:20] == b"\x00\x00\x00\x00" and query[20:31] == b"admin.$cmd\x00"
    assert struct.unpack("<ii", query[31:39]) == (0, -1)
    assert decode_document(query[39:]) == {"isMaster": 1}


def test_every_element_type_decodes() -> None:
    def el(kind: int, name: str, payload: bytes) -> bytes:
        return bytes([kind]) + name.encode() + b"\x00" + payload

    s = struct.pack("<i", 3) + b"ab\x00"
    elements = [
        el(0x01, "d", struct.pack("<d", 1.5)),
        el(0x02, "s", s),
        el(0x05, "bin", struct.pack("<i", 2) + b"\x00\xbe\xef"),
        el(0x06, "undef", b""),
        el(0x0A, "null", b""),
        el(0x0B, "re", b"^a\x00i\x00"),
        el(0x0D, "js", s),
        el(0x0E, "sym", s),
        el(0x11, "ts", struct.pack("<Q", 7)),
        el(0x12, "i64", struct.pack("<q", -(2**40))),
        el(0x13, "dec", b"\x01" * 16),
        el(0x7F, "max", b""),
        el(0xFF, "min", b""),
    ]
    body = b"".join(elements)
    doc = decode_document(struct.pack("<i", len(body) + 5) + body + b"\x00")
    assert doc["d"] == 1.5 and doc["s"] == "ab" and doc["bin"] == b"\xbe\xef" and doc["re"] == "^a"
    assert doc["ts"] == 7 and doc["i64"] == -(2**40) and doc["dec"] == b"\x01" * 16
    assert doc["undef"] is None and doc["min"] is None


def nest(depth: int) -> bytes:
    doc = encode_document({})
    for _ in range(depth):
        doc = struct.pack("<i", len(doc) + 8) + b"\x03a\x00" + doc + b"\x00"
    return doc


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x05\x00\x00\x00",
        b"\x05\x00\x00\x00\x01",  # no NUL terminator
        b"\x04\x00\x00\x00\x00",  # size below 5
        b"\xff\x00\x00\x00\x00",  # size past the end
        b"\x0c\x00\x00\x00\x0ca\x00\x00\x00\x00\x00\x00",  # deprecated DBPointer
        b"\x0c\x00\x00\x00\x08b\x00\x07\x00\x00\x00\x00",  # boolean byte 7 (and a short doc)
        b"\x0d\x00\x00\x00\x02s\x00\xff\xff\xff\xffx\x00\x00",  # negative string length
        nest(MAX_DEPTH + 2),
    ],
)
def test_malformed_bson(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_document(data)


def test_framing_bounds() -> None:
    with pytest.raises(ProtocolError):
        parse_header(struct.pack("<iiii", 2**30, 1, 1, OP_MSG))  # a 1 GiB reply is not buffered
    with pytest.raises(ProtocolError):
        parse_header(struct.pack("<iiii", 10, 1, 1, OP_MSG))
    with pytest.raises(ProtocolError):
        parse_op_msg(struct.pack("<I", 1 << 5) + b"\x00" + encode_document({"ok": 1}))  # unknown required bit
    with_checksum = struct.pack("<I", 1) + b"\x00" + encode_document({"ok": 1}) + b"CRC!"
    assert parse_op_msg(with_checksum) == {"ok": 1}
    with pytest.raises(ProtocolError):
        parse_op_reply(struct.pack("<iqii", 2, 0, 0, 1) + encode_document({"$err": "x"}))  # QueryFailure


keys = st.text(max_size=8).filter(lambda k: "\x00" not in k)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(keys, json_like, max_size=6))
def test_round_trip(doc: dict[str, Any]) -> None:
    back = decode_document(encode_document(doc))
    assert _same(back, doc)


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, float):
        return isinstance(a, float) and (a == b or (math.isinf(a) and math.isinf(b)))
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in b)
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b and type(a) is type(b))


@given(st.binary(max_size=512))
def test_fuzz_random_bytes(data: bytes) -> None:
    for parse in (decode_document, parse_op_msg, parse_op_reply):
        try:
            parse(data)
        except ProtocolError:
            pass
    try:
        parse_header(data[:16])
    except ProtocolError:
        pass


FIXTURES = [p.stem.removeprefix("synthetic_") for p in sorted(FIX.glob("synthetic_*.bin"))]


@given(st.sampled_from(FIXTURES), st.data())
def test_fuzz_truncated_and_mutated(name: str, data: st.DataObject) -> None:
    body = raw(name)[HEADER_LEN:]
    cut = data.draw(st.integers(0, len(body)))
    pos = data.draw(st.integers(0, len(body) - 1))
    byte = data.draw(st.integers(0, 255))
    for sample in (body[:cut], body[:pos] + bytes([byte]) + body[pos + 1 :]):
        for parse in (parse_op_msg, parse_op_reply):
            try:
                parse(sample)
            except ProtocolError:
                pass
