"""MongoDB: hello (or legacy isMaster), buildInfo, then listDatabases names only, on one connection.

All three are read commands a driver or monitoring tool sends; hello and buildInfo are allowed
before authentication, so only listDatabases tells whether authentication is enforced: an
Unauthorized (code 13) answer means it is.
"""

from __future__ import annotations

import secrets
from typing import ClassVar, Literal

from duecare.probes._net import Stream
from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProtocolError
from duecare.probes.mongodb.facts import MongodbFacts
from duecare.probes.mongodb.parse import (
    HEADER_LEN,
    OP_MSG,
    OP_REPLY,
    BsonValue,
    command_ok,
    encode_op_msg,
    encode_op_query,
    error_of,
    parse_header,
    parse_op_msg,
    parse_op_reply,
)
from duecare.wire import Evidence, EvidenceKind

Wire = Literal["op_msg", "op_query"]
_UNAUTHORIZED = 13  # MongoDB error code "Unauthorized"
_COMMAND_NOT_FOUND = 59


class _ClosedBeforeReply(ProtocolError):
    """The server hung up without a byte: what MongoDB < 3.6 does with an opcode it does not know."""


class _Session:
    def __init__(self, stream: Stream, wire: Wire) -> None:
        self.stream = stream
        self.wire = wire

    async def command(self, cmd: dict[str, BsonValue], what: str) -> dict[str, BsonValue]:
        request_id = secrets.randbelow(2**31 - 1) + 1
        if self.wire == "op_msg":
            await self.stream.write(encode_op_msg(request_id, {**cmd, "$db": "admin"}))
        else:
            await self.stream.write(encode_op_query(request_id, cmd))
        first = await self.stream.read_some(HEADER_LEN, f"{what} reply")
        if not first:
            raise _ClosedBeforeReply(f"connection closed before the {what} reply")
        rest = (
            await self.stream.read_exactly(HEADER_LEN - len(first), f"{what} header")
            if len(first) < HEADER_LEN
            else b""
        )
        head = parse_header(first + rest)
        body = await self.stream.read_exactly(head.length - HEADER_LEN, f"{what} body")
        if head.response_to != request_id:
            raise ProtocolError(f"{what}: reply to a request we did not send")
        expected = OP_MSG if self.wire == "op_msg" else OP_REPLY
        if head.op_code != expected:
            raise ProtocolError(f"{what}: opcode {head.op_code}, expected {expected}")
        return parse_op_msg(body) if self.wire == "op_msg" else parse_op_reply(body)


class MongodbProbe(ServiceProbe):
    id: ClassVar[str] = "mongodb"
    ports: ClassVar[frozenset[int]] = frozenset({27017})
    services: ClassVar[frozenset[str]] = frozenset({"mongodb"})
    facts_model: ClassVar[type[Facts]] = MongodbFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[MongodbFacts]:
        assert target.port is not None
        try:
            async with await ctx.connect(target.host, target.port) as stream:
                return await self._converse(_Session(stream, "op_msg"), target)
        except _ClosedBeforeReply:
            pass  # MongoDB < 3.6 drops a connection that sends OP_MSG; retry once the legacy way
        async with await ctx.connect(target.host, target.port) as stream:
            return await self._converse(_Session(stream, "op_query"), target)

    async def _converse(self, session: _Session, target: Target) -> Observation[MongodbFacts]:
        # A server that needs OP_QUERY predates hello (4.4.2 / 3.6.21): ask it isMaster directly.
        handshake: Literal["hello", "isMaster"] = "hello" if session.wire == "op_msg" else "isMaster"
        hello = await session.command({handshake: 1}, handshake)
        if handshake == "hello" and not command_ok(hello) and hello.get("code") == _COMMAND_NOT_FOUND:
            handshake = "isMaster"  # servers before 4.4.2 (and 4.2.10, 4.0.21, 3.6.21)
            hello = await session.command({"isMaster": 1}, "isMaster")
        if not command_ok(hello):
            raise ProtocolError(f"{handshake} refused: {error_of(hello)}")
        build = await session.command({"buildInfo": 1}, "buildInfo")
        listing = await session.command({"listDatabases": 1, "nameOnly": True}, "listDatabases")

        version = build.get("version") if command_ok(build) else None
        enforced: bool | None = None
        names: list[str] = []
        list_error: str | None = None
        if command_ok(listing) and isinstance(listing.get("databases"), list):
            enforced = False
            entries = [d.get("name") for d in listing["databases"] if isinstance(d, dict)]
            names = [n[:64] for n in entries if isinstance(n, str)]
        else:
            enforced = True if listing.get("code") == _UNAUTHORIZED else None
            list_error = error_of(listing)
        writable = hello.get("isWritablePrimary", hello.get("ismaster"))
        facts = MongodbFacts(
            wire=session.wire,
            handshake=handshake,
            is_writable_primary=writable if isinstance(writable, bool) else None,
            set_name=_text(hello.get("setName"), 128),
            is_mongos=hello.get("msg") == "isdbgrid",
            min_wire_version=_int(hello.get("minWireVersion")),
            max_wire_version=_int(hello.get("maxWireVersion")),
            product="MongoDB",
            version=_text(version, 64),
            auth_enforced=enforced,
            database_count=len(names) if enforced is False else None,
            database_names=tuple(names[:20]),
            list_error=list_error,
        )
        return Observation(facts, tuple(self._evidence(target, facts)))

    def _evidence(self, target: Target, f: MongodbFacts) -> list[Evidence]:
        where = f"{target.host}:{target.port}"
        shown = f"{f.handshake} via {f.wire}: maxWireVersion {f.max_wire_version}, version {f.version or '?'}"
        ev = [evidence(self.id, EvidenceKind.HANDSHAKE, f"MongoDB {f.handshake} answered by {where}", shown)]
        if f.auth_enforced is False:
            names = ", ".join(f.database_names)
            summary = f"MongoDB on {where} listed {f.database_count} databases without authentication"
            ev.append(evidence(self.id, EvidenceKind.LISTING, summary, names))
        elif f.list_error:
            ev.append(evidence(self.id, EvidenceKind.HANDSHAKE, "listDatabases refused", f.list_error))
        return ev


def _text(value: BsonValue, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _int(value: BsonValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
