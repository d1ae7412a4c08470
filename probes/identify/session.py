"""Identify one open TCP port with one connection: its greeting, else one polite hello.

The connection waits the round-trip-adapted first-bytes time (``ctx.first_bytes_timeout``) for a
server-speaks-first greeting. Silence means a client-speaks-first protocol: only when the port is
one of a probe's alternates (or a well-known client-first port) is that protocol's opening message
sent — the same bytes the probe itself opens with, where the probe's opening is fixed (RDP's X.224
Connection Request, Redis' PING), so the probe can continue on this very connection. Anything
else is left to nmap's version detection.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from duecare.probes._net import Stream, insecure_tls_context
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeError, SilentPeer
from duecare.probes.identify.parse import (
    GOODBYE,
    Identified,
    classify_greeting,
    classify_netbios,
    classify_rdp,
    classify_redis,
    classify_tls,
    netbios_session_request,
)
from duecare.probes.rdp.parse import PROBE_SETS, connection_request
from duecare.probes.redis.parse import encode_command


@dataclass(frozen=True, slots=True)
class Hello:
    """A client-first opening: the bytes, how to read the answer, and whether the probe of that
    protocol opens with exactly these bytes (then the connection is handed to it)."""

    message: Callable[[], bytes]
    classify: Callable[[bytes], Identified | None]
    replayable: bool


def _client_hello() -> bytes:
    """The first flight of an ordinary TLS client (Python's own), made without a socket."""
    obj = insecure_tls_context().wrap_bio(ssl.MemoryBIO(), out := ssl.MemoryBIO(), server_side=False)
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


#: Keyed by probe id (a silent alternate port of that probe) — the probe opens with these bytes.
HELLOS: dict[str, Hello] = {
    "rdp": Hello(lambda: connection_request(PROBE_SETS[0]), classify_rdp, replayable=True),
    "redis": Hello(lambda: encode_command(b"PING"), classify_redis, replayable=True),
    "tls": Hello(_client_hello, classify_tls, replayable=False),
}
#: Well-known client-first ports no probe claims, and the standard client's opening there.
PORT_HELLOS: dict[int, Hello] = {
    139: Hello(netbios_session_request, classify_netbios, replayable=False),
}


@dataclass
class PortIdentity:
    """What one connection told: the protocol (or None), the connection when a probe may go on
    with it, and whether the peer stayed silent throughout."""

    identified: Identified | None = None
    stream: Stream | None = None
    silent: bool = False
    connected: bool = False


async def identify_port(ctx: ProbeContext, host: str, port: int, hints: tuple[str, ...]) -> PortIdentity:
    try:
        stream = await ctx.connect(host, port)
    except ProbeError:
        return PortIdentity()
    result = PortIdentity(connected=True)
    keep = False
    try:
        try:
            greeting: bytes | None = await stream.read_some(4096, "greeting")
        except SilentPeer:
            greeting = None
        if greeting is not None:
            result.identified = classify_greeting(greeting)
            stream.preface(greeting)
            keep = result.identified is not None
        else:
            hello = next((HELLOS[h] for h in hints if h in HELLOS), None) or PORT_HELLOS.get(port)
            if hello is None:
                result.silent = True
                return result
            sent = hello.message()
            await stream.write(sent)
            try:
                reply = await stream.read_some(4096, "answer to the hello")
            except SilentPeer:
                result.silent = True
                return result
            result.identified = hello.classify(reply)
            if result.identified is not None and hello.replayable:
                stream.preface(reply, sent)
                keep = True
    except ProbeError:
        return result
    finally:
        if keep:
            result.stream = stream
        else:
            await stream.close()
    return result


async def goodbye(stream: Stream, service: str) -> None:
    """Leave a service we identified and no probe continues with, the way its clients leave."""
    with contextlib.suppress(ProbeError):
        stream.preface(b"")
        message = GOODBYE.get(service)
        if message is not None:
            await stream.write(message)
    await stream.close()
