"""RMM probe I/O against in-test listeners (a table naming their loopback ports)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address

from duecare.probes.base import Target
from duecare.probes.context import ProbeContext, Timeouts
from duecare.probes.rmm.facts import RmmFacts
from duecare.probes.rmm.probe import RmmProbe
from duecare.probes.rmm.table import Product, Table
from duecare.probes.runner import ProbeOutcome, run_probe
from duecare.wire import ProbeStatus, Proto
from tests.probes.fake_http import http_server
from tests.probes.fake_tcp import tcp_server

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _ctx() -> ProbeContext:
    return ProbeContext(timeouts=Timeouts(connect=0.5, read=0.5, probe=6.0))


def _table(port: int) -> Table:
    return Table(
        product=(
            Product(name="VNC", ports=(port,), check="banner", banner_regex=r"^RFB \d{3}\.\d{3}\n", sources=("t",)),
            Product(name="Radmin", ports=(port,), check="none", sources=("t",)),
        )
    )


def _tcp(handler: Handler) -> ProbeOutcome:
    async def go() -> ProbeOutcome:
        ctx = _ctx()
        async with tcp_server(handler) as port:
            try:
                target = Target(IPv4Address("127.0.0.1"), port, Proto.TCP)
                return await run_probe(RmmProbe(_table(port)), target, ctx)
            finally:
                await ctx.aclose()

    return asyncio.run(go())


def _facts(outcome: ProbeOutcome) -> RmmFacts:
    assert outcome.attempt.status is ProbeStatus.COMPLETED, outcome.attempt.error
    assert outcome.observation is not None
    facts = outcome.observation.facts
    assert isinstance(facts, RmmFacts)
    return facts


def test_vnc_banner_is_firm_and_port_only_entry_tentative() -> None:
    async def vnc(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"RFB 003.008\n")
        await w.drain()
        w.close()

    facts = _facts(_tcp(vnc))
    assert [(m.product, m.confidence) for m in facts.matches] == [("VNC", "firm"), ("Radmin", "tentative")]


def test_silent_port_gives_tentative_only() -> None:
    async def silent(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1.0)
        w.close()

    facts = _facts(_tcp(silent))
    assert [(m.product, m.confidence) for m in facts.matches] == [("Radmin", "tentative")]
    assert facts.banner is None


def test_closed_port_is_unreachable() -> None:
    async def go() -> ProbeOutcome:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        return await run_probe(RmmProbe(_table(port)), Target(IPv4Address("127.0.0.1"), port, Proto.TCP), _ctx())

    assert asyncio.run(go()).attempt.status is ProbeStatus.UNREACHABLE


def test_web_page_check() -> None:
    async def go() -> ProbeOutcome:
        page = b"<html><title>SimpleHelp Technician</title></html>"
        async with http_server({"/": (200, "text/html", page)}) as (port, fake):
            table = Table(
                product=(
                    Product(name="SimpleHelp", ports=(port,), check="http", http_regex="SimpleHelp", sources=("t",)),
                )
            )
            ctx = _ctx()
            try:
                outcome = await run_probe(RmmProbe(table), Target(IPv4Address("127.0.0.1"), port, Proto.TCP), ctx)
            finally:
                await ctx.aclose()
            assert [p for _m, p, _b in fake.requests] == ["/"]
            return outcome

    facts = _facts(asyncio.run(go()))
    assert [(m.product, m.confidence) for m in facts.matches] == [("SimpleHelp", "firm")]
    assert facts.http_title == "SimpleHelp Technician"


def test_applies_only_on_table_ports() -> None:
    probe = RmmProbe()
    assert probe.applies(Target(IPv4Address("198.18.0.5"), 5938, Proto.TCP))
    assert not probe.applies(Target(IPv4Address("198.18.0.5"), 22, Proto.TCP))
    assert not probe.applies(Target(IPv4Address("198.18.0.5"), 5938, Proto.UDP))
