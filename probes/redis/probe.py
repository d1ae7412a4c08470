"""Redis: PING, then INFO server only if PING needed no AUTH, then QUIT. Three round trips at most."""

from __future__ import annotations

import contextlib
from typing import ClassVar

from duecare.probes._net import Stream
from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeError, ProtocolError
from duecare.probes.redis.facts import RedisFacts
from duecare.probes.redis.parse import Resp, RespError, encode_command, is_auth_error, parse_info, parse_reply
from duecare.wire import EvidenceKind


class _Conn:
    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self._buf = b""

    async def call(self, command: bytes, what: str) -> Resp:
        await self.stream.write(command)
        while True:
            done = parse_reply(self._buf)
            if done is not None:
                value, self._buf = done
                return value
            chunk = await self.stream.read_some(16384, what)
            if not chunk:
                raise ProtocolError(f"connection closed before the {what} was complete")
            self._buf += chunk


def _first_line(value: Resp) -> str:
    if isinstance(value, RespError):
        return f"-{value.message}"[:300]
    return f"+{value}"[:300] if isinstance(value, str) else repr(value)[:300]


class RedisProbe(ServiceProbe):
    id: ClassVar[str] = "redis"
    #: 6379 is not in nmap's top 1000 ports: listing it here makes the port scan include it.
    ports: ClassVar[frozenset[int]] = frozenset({6379})
    services: ClassVar[frozenset[str]] = frozenset({"redis"})
    facts_model: ClassVar[type[Facts]] = RedisFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[RedisFacts]:
        assert target.port is not None
        where = f"{target.host}:{target.port}"
        async with await ctx.connect(target.host, target.port) as stream:
            conn = _Conn(stream)
            ping = await conn.call(encode_command(b"PING"), "PING reply")
            line = _first_line(ping)
            if isinstance(ping, RespError) and ping.kind == "DENIED":
                # Protected mode answers and hangs up by itself: there is nothing to QUIT.
                facts = RedisFacts(ping_reply=line, auth_required=False, protected_mode=True)
                summary = f"Redis on {where} refused us in protected mode"
                return Observation(facts, (evidence(self.id, EvidenceKind.HANDSHAKE, summary, line),))
            if isinstance(ping, RespError):
                if not is_auth_error(ping):
                    raise ProtocolError(f"unexpected PING reply: {line[:80]}")
                await self._quit(conn)
                facts = RedisFacts(ping_reply=line, auth_required=True, product="Redis")
                summary = f"Redis on {where} requires AUTH"
                return Observation(facts, (evidence(self.id, EvidenceKind.HANDSHAKE, summary, line),))
            if ping != "PONG" and ping != b"PONG":
                raise ProtocolError(f"PING answered with {line[:80]}, not PONG")
            info = await conn.call(encode_command(b"INFO", b"server"), "INFO reply")
            await self._quit(conn)
        fields = parse_info(info) if isinstance(info, bytes) else {}
        facts = RedisFacts(
            ping_reply=line,
            auth_required=False,
            info_obtained=isinstance(info, bytes),
            product="Redis",
            version=fields.get("redis_version"),
            os=fields.get("os"),
            mode=fields.get("redis_mode"),
        )
        ev = [evidence(self.id, EvidenceKind.HANDSHAKE, f"Redis on {where} answered PING without AUTH", line)]
        if isinstance(info, bytes):
            keep = ("redis_version", "redis_mode", "os", "arch_bits", "tcp_port", "uptime_in_days")
            excerpt = "\n".join(f"{k}:{fields[k]}" for k in keep if k in fields)
            ev.append(evidence(self.id, EvidenceKind.VERSION, f"Redis INFO server from {where}", excerpt))
        else:
            ev.append(evidence(self.id, EvidenceKind.HANDSHAKE, "INFO server refused", _first_line(info)))
        return Observation(facts, tuple(ev))

    @staticmethod
    async def _quit(conn: _Conn) -> None:
        with contextlib.suppress(ProbeError):
            await conn.call(encode_command(b"QUIT"), "QUIT reply")
