"""One connection identifies a port, and the probe of that protocol goes on with it: the service
counts one connection, as on its standard port (issue 16)."""

from __future__ import annotations

import asyncio
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from duecare.probes.base import Probe, Target
from duecare.probes.context import ProbeContext
from duecare.probes.identify.session import HELLOS, goodbye, identify_port
from duecare.probes.redis.parse import encode_command
from duecare.probes.redis.probe import RedisProbe
from duecare.probes.runner import ProbeOutcome, run_probe
from duecare.probes.vnc.probe import VncProbe
from duecare.wire import ProbeStatus, Proto
from tests.probes.fake_tcp import FAST, Handler, script, silent, tcp_server

PROBES = Path(__file__).parents[1]
PING, INFO, QUIT = encode_command(b"PING"), encode_command(b"INFO", b"server"), encode_command(b"QUIT")


def fixture(probe: str, name: str) -> bytes:
    return (PROBES / probe / "fixtures" / f"{name}.bin").read_bytes()


def counting(handler: Handler, accepted: list[int]) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        await handler(reader, writer)

    return handle


def identify_then_probe(
    handler: Handler, probe: Probe[Any], hints: tuple[str, ...]
) -> tuple[str | None, ProbeOutcome, int]:
    """Identify the loopback port, park the kept connection for ``probe``, run the probe."""
    accepted: list[int] = []

    async def go() -> tuple[str | None, ProbeOutcome]:
        ctx = ProbeContext(timeouts=FAST)
        try:
            async with tcp_server(counting(handler, accepted)) as port:
                found = await identify_port(ctx, "127.0.0.1", port, hints)
                if found.stream is not None:
                    ctx.park("127.0.0.1", port, probe.id, found.stream)
                target = Target(ip_address("127.0.0.1"), port, Proto.TCP, None)
                out = await run_probe(probe, target, ctx)
                return (None if found.identified is None else found.identified.service), out
        finally:
            await ctx.aclose()

    service, out = asyncio.run(go())
    return service, out, len(accepted)


def test_redis_identified_by_its_ping_and_probed_on_the_same_connection() -> None:
    steps = [
        (len(PING), fixture("redis", "redis_open_ping")),
        (len(INFO), fixture("redis", "redis_open_info_server")),
        (len(QUIT), b"+OK\r\n"),
    ]
    service, out, connections = identify_then_probe(script(steps), RedisProbe(), ("redis",))
    assert service == "redis"
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None and out.attempt.facts["auth_required"] is False
    assert connections == 1


def test_vnc_greeting_is_handed_to_the_probe() -> None:
    """RFB servers blacklist unfinished handshakes: identifying must not add one."""
    steps = [
        (12, fixture("vnc", "xvnc_none_security_types")),
        (1, fixture("vnc", "xvnc_none_security_result")),
        (1, fixture("vnc", "xvnc_none_server_init")),
    ]
    handler = script(steps, greeting=fixture("vnc", "xvnc_none_version"))
    service, out, connections = identify_then_probe(handler, VncProbe(), ())
    assert service == "vnc"
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None and out.attempt.facts["none_accepted"] is True
    assert connections == 1


def test_a_silent_port_without_a_hint_is_left_alone() -> None:
    async def go() -> tuple[bool, bool, bytes]:
        seen = bytearray()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.extend(await reader.read())

        ctx = ProbeContext(timeouts=FAST)
        async with tcp_server(handle) as port:
            found = await identify_port(ctx, "127.0.0.1", port, ())
            await asyncio.sleep(0.05)
        await ctx.aclose()
        return found.silent, found.identified is None, bytes(seen)

    is_silent, unknown, sent = asyncio.run(go())
    assert is_silent and unknown
    assert sent == b""  # nothing was sent to a port nobody knows


def test_a_silent_port_that_is_not_the_hinted_protocol_is_not_kept() -> None:
    async def go() -> tuple[bool, bool]:
        ctx = ProbeContext(timeouts=FAST)
        async with tcp_server(silent()) as port:
            found = await identify_port(ctx, "127.0.0.1", port, ("rdp",))
        await ctx.aclose()
        return found.silent, found.stream is None

    assert asyncio.run(go()) == (True, True)


def test_a_different_first_message_on_a_kept_connection_is_refused() -> None:
    """The hello stands in for the probe's first message only when it is byte for byte the same."""
    probe_first = HELLOS["redis"].message()

    async def go() -> str:
        ctx = ProbeContext(timeouts=FAST)
        async with tcp_server(script([(len(probe_first), b"+PONG\r\n")])) as port:
            found = await identify_port(ctx, "127.0.0.1", port, ("redis",))
            assert found.stream is not None
            try:
                await found.stream.write(b"*1\r\n$4\r\nINFO\r\n")
            except Exception as exc:
                return type(exc).__name__
            finally:
                await goodbye(found.stream, "redis")
                await ctx.aclose()
        return "none"

    assert asyncio.run(go()) == "ProtocolError"
