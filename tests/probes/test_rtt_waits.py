"""Waits shortened by a measured round trip: the first bytes of a TCP peer and UDP answers.

Silence costs the scan its time (issue 19): a tarpit holds every probe for the read timeout. Where
the port stage measured the round trip, a peer's first bytes are awaited for 100 round trips (never
under the floor, never over ``read``); later answers keep ``read`` (vsftpd delays refused logins).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from duecare.probes.context import ProbeContext, Timeouts
from duecare.probes.errors import ProbeTimeout, SilentPeer
from duecare.probes.ftp.probe import FtpProbe
from duecare.probes.runner import ProbeOutcome
from tests.probes.fake_tcp import run_local, silent, tcp_server
from tests.probes.fake_udp import udp_peer

SLOW_READ = Timeouts(connect=1.0, read=3.0, probe=10.0, first_bytes=0.3, udp=0.2)


def test_first_bytes_wait_is_100_round_trips_floored_and_capped() -> None:
    ctx = ProbeContext(timeouts=Timeouts(read=5.0, first_bytes=2.0, udp=1.0))
    ctx.rtt.update({"10.0.0.1": 0.0001, "10.0.0.2": 0.03, "10.0.0.3": 0.2})
    assert ctx.first_bytes_timeout("10.0.0.9") == 5.0  # no round trip measured: the configured read
    assert ctx.first_bytes_timeout("10.0.0.1") == 2.0  # LAN: the floor
    assert ctx.first_bytes_timeout("10.0.0.2") == pytest.approx(3.0)  # 100 round trips
    assert ctx.first_bytes_timeout("10.0.0.3") == 5.0  # never over read
    assert ctx.udp_timeout("10.0.0.9", 2.0) == 2.0
    assert ctx.udp_timeout("10.0.0.1", 2.0) == 1.0
    assert ctx.udp_timeout("10.0.0.1", 0.5) == 0.5  # a probe's own shorter wait stands
    assert ctx.udp_timeout("10.0.0.3", 9.0) == 5.0
    assert ctx.fast_rtt("10.0.0.1") and not ctx.fast_rtt("10.0.0.2") and not ctx.fast_rtt("10.0.0.9")


async def _greeting_then_slow_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"hello\n")
    await writer.drain()
    await reader.readline()
    await asyncio.sleep(1.0)  # slower than the first-bytes floor, well inside read
    writer.write(b"late but honest\n")
    await writer.drain()
    await reader.read()


async def _later_answers_keep_the_read_timeout() -> None:
    ctx = ProbeContext(timeouts=SLOW_READ)
    ctx.rtt["127.0.0.1"] = 0.0001
    async with tcp_server(_greeting_then_slow_answer) as port, await ctx.connect("127.0.0.1", port) as stream:
        assert await stream.read_until(b"\n") == b"hello\n"
        await stream.write(b"next\n")
        assert await stream.read_until(b"\n") == b"late but honest\n"
    await ctx.aclose()


async def _a_silent_peer_is_told_apart_from_a_slow_one() -> None:
    ctx = ProbeContext(timeouts=SLOW_READ)
    ctx.rtt["127.0.0.1"] = 0.0001
    async with tcp_server(silent()) as port:
        stream = await ctx.connect("127.0.0.1", port)
        t0 = time.perf_counter()
        with pytest.raises(SilentPeer, match="not one byte"):
            await stream.read_some()
        assert time.perf_counter() - t0 < 2.0  # the 0.3 s floor, not the 3 s read timeout
        await stream.close()
    await ctx.aclose()


async def _the_runner_marks_a_silent_peer() -> None:
    ctx = ProbeContext(timeouts=SLOW_READ)
    ctx.rtt["127.0.0.1"] = 0.0001
    async with tcp_server(silent()) as port:
        out: ProbeOutcome = await run_local(FtpProbe(), port, ctx=ctx)
    assert out.attempt.status.value == "timed_out" and out.silent_peer
    assert out.attempt.duration_ms is not None and out.attempt.duration_ms < 2000


async def _udp_silence_waits_the_shortened_time() -> None:
    ctx = ProbeContext(timeouts=SLOW_READ)
    ctx.rtt["127.0.0.1"] = 0.0001
    async with udp_peer(lambda data: []) as (port, _peer):
        t0 = time.perf_counter()
        with pytest.raises(ProbeTimeout):
            await ctx.udp_exchange("127.0.0.1", port, b"?", timeout=2.0, retries=1)
        assert time.perf_counter() - t0 < 1.0  # 2 × 0.2 s, not 2 × 2 s
    await ctx.aclose()


async def _udp_probes_of_one_host_do_not_wait_for_its_tcp_slots() -> None:
    ctx = ProbeContext(per_host=1, per_host_udp=3)
    tcp, udp = ctx.host_slot("10.0.0.1"), ctx.host_slot("10.0.0.1", udp=True)
    async with tcp:
        assert tcp.locked() and not udp.locked()
        async with udp, udp, udp:
            assert udp.locked()


def test_later_answers_keep_the_read_timeout() -> None:
    asyncio.run(_later_answers_keep_the_read_timeout())


def test_a_silent_peer_is_told_apart_from_a_slow_one() -> None:
    asyncio.run(_a_silent_peer_is_told_apart_from_a_slow_one())


def test_the_runner_marks_a_silent_peer() -> None:
    asyncio.run(_the_runner_marks_a_silent_peer())


def test_udp_silence_waits_the_shortened_time() -> None:
    asyncio.run(_udp_silence_waits_the_shortened_time())


def test_udp_probes_of_one_host_do_not_wait_for_its_tcp_slots() -> None:
    asyncio.run(_udp_probes_of_one_host_do_not_wait_for_its_tcp_slots())
