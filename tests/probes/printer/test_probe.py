"""Printer probe I/O: fake raw ports (silent, PJL, garbage) and a fake IPP server replaying CUPS."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from duecare.probes.base import Target
from duecare.probes.context import ProbeContext, Timeouts
from duecare.probes.printer.facts import PrinterFacts
from duecare.probes.printer.probe import PrinterProbe
from duecare.probes.runner import ProbeOutcome, run_probe
from duecare.wire import ProbeStatus, Proto
from tests.probes.fake_http import http_server
from tests.probes.fake_tcp import tcp_server

FIXTURES = Path(__file__).parent / "fixtures"
PJL_ANSWER = (FIXTURES / "spec_hp_pjl_techref_info_id_format.bin").read_bytes()
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _ctx() -> ProbeContext:
    return ProbeContext(timeouts=Timeouts(connect=0.5, read=0.5, probe=6.0))


def _raw(handler: Handler) -> tuple[ProbeOutcome, list[bytes]]:
    received: list[bytes] = []

    async def wrapped(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        received.append(await r.read(4096))
        await handler(r, w)

    async def go() -> ProbeOutcome:
        async with tcp_server(wrapped) as port:
            # The raw probe runs by nmap's service name when the port is not 9100.
            target = Target(IPv4Address("127.0.0.1"), port, Proto.TCP, service="jetdirect")
            return await run_probe(PrinterProbe(), target, _ctx())

    return asyncio.run(go()), received


async def _silent(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await asyncio.sleep(1.5)
    w.close()


def test_silent_raw_port_is_open_product_unknown() -> None:
    outcome, received = _raw(_silent)
    assert outcome.attempt.status is ProbeStatus.COMPLETED
    assert outcome.observation is not None
    facts = outcome.observation.facts
    assert isinstance(facts, PrinterFacts)
    assert (facts.raw_port_open, facts.pjl_answered) == (True, False)
    assert received == [b"\x1b%-12345X@PJL INFO ID\r\n\x1b%-12345X"]


def test_pjl_printer_identifies_itself() -> None:
    async def pjl(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(PJL_ANSWER)
        await w.drain()
        await asyncio.sleep(1.0)  # printers keep the connection open: the form feed ends the read
        w.close()

    outcome, _ = _raw(pjl)
    assert outcome.observation is not None
    assert outcome.observation.facts.pjl_id == "HP LaserJet 4250"
    assert outcome.attempt.duration_ms < 900


def test_non_pjl_answer_is_a_protocol_error() -> None:
    async def ssh(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n")
        await w.drain()
        w.close()

    outcome, _ = _raw(ssh)
    assert outcome.attempt.status is ProbeStatus.PROTOCOL_ERROR


def _ipp(routes: dict[str, tuple[int, str, bytes]]) -> tuple[ProbeOutcome, list[str]]:
    async def go() -> tuple[ProbeOutcome, list[str]]:
        async with http_server(routes) as (port, fake):
            target = Target(IPv4Address("127.0.0.1"), port, Proto.TCP, service="ipp")
            ctx = _ctx()
            try:
                outcome = await run_probe(PrinterProbe(), target, ctx)
            finally:
                await ctx.aclose()
            return outcome, [path for _m, path, _b in fake.requests]

    return asyncio.run(go())


IPP = "application/ipp"


def test_ipp_everywhere_printer_answers_on_ipp_print() -> None:
    answer = (FIXTURES / "cups242_gpa_printers_lab.bin").read_bytes()
    outcome, paths = _ipp({"/ipp/print": (200, IPP, answer)})
    assert outcome.observation is not None
    facts = outcome.observation.facts
    assert (facts.make_and_model, facts.ipp_operation) == ("Local Raw Printer", "get-printer-attributes")
    assert paths == ["/ipp/print"]


def test_cups_falls_back_to_the_default_destination() -> None:
    routes = {
        "/ipp/print": (200, IPP, (FIXTURES / "cups242_gpa_ipp_print.bin").read_bytes()),
        "/": (200, IPP, (FIXTURES / "cups242_cups_get_default.bin").read_bytes()),
    }
    outcome, paths = _ipp(routes)
    assert outcome.observation is not None
    facts = outcome.observation.facts
    assert facts.ipp_operation == "cups-get-default"
    assert facts.uri_security_supported == ("none",)
    assert paths == ["/ipp/print", "/"]


def test_web_page_on_631_is_not_ipp() -> None:
    outcome, _ = _ipp({"/ipp/print": (200, "text/html", b"<html>hi</html>")})
    assert outcome.attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_garbage_ipp_body_is_a_protocol_error() -> None:
    outcome, _ = _ipp({"/ipp/print": (200, IPP, b"\x09\x09garbage")})
    assert outcome.attempt.status is ProbeStatus.PROTOCOL_ERROR


@pytest.mark.parametrize(
    ("port", "service", "expected"),
    [(9100, None, True), (631, None, True), (9101, "jetdirect", True), (80, "http", False)],
)
def test_applies(port: int, service: str | None, expected: bool) -> None:
    assert PrinterProbe().applies(Target(IPv4Address("198.18.0.5"), port, Proto.TCP, service)) is expected
