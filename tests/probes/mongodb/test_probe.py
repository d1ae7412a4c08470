"""MongoDB probe against a loopback mongod stand-in serving the SYNTHETIC spec-built replies."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from duecare.probes.mongodb.parse import HEADER_LEN, OP_QUERY, decode_document, parse_op_msg
from duecare.probes.mongodb.probe import MongodbProbe
from duecare.wire import ProbeStatus
from tests.probes.fake_tcp import FAST, RecordingContext, flood, outcome, sends, silent

FIX = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIX / f"synthetic_{name}.bin").read_bytes()


class FakeMongod:
    """Answers each command (by name) with a fixture, its responseTo set to the request's id."""

    def __init__(self, replies: dict[str, str], *, op_msg: bool = True) -> None:
        self.replies, self.op_msg = replies, op_msg
        self.commands: list[tuple[int, str]] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while head := await reader.read(HEADER_LEN):
            length, request_id, _to, op_code = struct.unpack("<iiii", head)
            body = await reader.readexactly(length - HEADER_LEN)
            if op_code == OP_QUERY:
                name_end = body.index(b"\x00", 4)  # flags, then the "admin.$cmd" cstring
                doc = decode_document(body[name_end + 1 + 8 :])  # skip numberToSkip, numberToReturn
            elif not self.op_msg:
                return  # what MongoDB < 3.6 does with OP_MSG: hang up
            else:
                doc = parse_op_msg(body)
            name = next(iter(doc))
            self.commands.append((op_code, name))
            reply = raw(self.replies[name])
            writer.write(reply[:8] + struct.pack("<i", request_id) + reply[12:])
            await writer.drain()


MODERN = {"hello": "opmsg_hello_7.0", "buildInfo": "opmsg_buildinfo_7.0"}


def test_open_server() -> None:
    fake = FakeMongod({**MODERN, "listDatabases": "opmsg_listdatabases_open"})
    out = outcome(MongodbProbe(), fake.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    facts = out.attempt.facts
    assert facts is not None
    assert (facts["wire"], facts["handshake"], facts["max_wire_version"]) == ("op_msg", "hello", 21)
    assert (facts["product"], facts["version"]) == ("MongoDB", "7.0.14")
    assert facts["auth_enforced"] is False and facts["database_names"] == ["admin", "config", "local", "shop"]
    assert [name for _op, name in fake.commands] == ["hello", "buildInfo", "listDatabases"]


def test_authenticating_server() -> None:
    fake = FakeMongod({**MODERN, "listDatabases": "opmsg_listdatabases_unauthorized"})
    out = outcome(MongodbProbe(), fake.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None
    assert out.attempt.facts["auth_enforced"] is True and out.attempt.facts["database_names"] == []
    assert out.attempt.facts["list_error"].startswith("Unauthorized")


def test_server_without_hello_gets_ismaster() -> None:
    fake = FakeMongod(
        {
            "hello": "opmsg_hello_commandnotfound",
            "isMaster": "opmsg_ismaster_4.2",
            "buildInfo": "opmsg_buildinfo_7.0",
            "listDatabases": "opmsg_listdatabases_unauthorized",
        }
    )
    out = outcome(MongodbProbe(), fake.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None
    assert (out.attempt.facts["handshake"], out.attempt.facts["max_wire_version"]) == ("isMaster", 8)


def test_pre_3_6_server_is_asked_again_the_legacy_way() -> None:
    fake = FakeMongod(
        {
            "isMaster": "opreply_ismaster_3.4",
            "buildInfo": "opreply_buildinfo_3.4",
            "listDatabases": "opreply_listdatabases_3.4",
        },
        op_msg=False,
    )
    out = outcome(MongodbProbe(), fake.handle)
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    facts = out.attempt.facts
    assert facts is not None
    assert (facts["wire"], facts["version"], facts["auth_enforced"]) == ("op_query", "3.4.24", False)
    assert fake.connections == 2
    assert [op for op, _name in fake.commands] == [OP_QUERY] * 3


def test_silence_times_out() -> None:
    assert outcome(MongodbProbe(), silent()).attempt.status is ProbeStatus.TIMED_OUT


def test_garbage_is_a_protocol_error() -> None:
    out = outcome(MongodbProbe(), sends(b"HTTP/1.1 400 Bad Request\r\n\r\n", after=16))
    assert out.attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_100kb_of_junk_is_refused_without_buffering_it() -> None:
    ctx = RecordingContext(timeouts=FAST)
    assert outcome(MongodbProbe(), flood(), ctx=ctx).attempt.status is ProbeStatus.PROTOCOL_ERROR
    assert ctx.received <= HEADER_LEN
