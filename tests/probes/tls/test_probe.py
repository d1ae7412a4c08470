"""TLS probe I/O against in-test servers on loopback: a real OpenSSL server and broken ones."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from duecare.probes.base import Target
from duecare.probes.context import ProbeContext, Timeouts
from duecare.probes.runner import ProbeOutcome, run_probe
from duecare.probes.tls.facts import TlsFacts, TlsVersion, VersionResult
from duecare.probes.tls.probe import TlsProbe
from duecare.wire import EvidenceKind, ProbeStatus, Proto
from tests.probes.fake_tcp import tcp_server
from tests.probes.tls.certs import lab_certificates

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
FIXED_NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _ctx() -> ProbeContext:
    return ProbeContext(timeouts=Timeouts(connect=1.0, read=0.6, probe=8.0), clock=lambda: FIXED_NOW)


async def _serve_and_probe(handler: Handler, tls: ssl.SSLContext | None = None) -> ProbeOutcome:
    ctx = _ctx()
    async with tcp_server(handler, ssl=tls) as port:
        try:
            return await run_probe(TlsProbe(), Target(IPv4Address("127.0.0.1"), port, Proto.TCP), ctx)
        finally:
            await ctx.aclose()


async def _close(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    w.close()


def _server_context(tmp: Path, name: str, minimum: ssl.TLSVersion, maximum: ssl.TLSVersion) -> ssl.SSLContext:
    crt, key = lab_certificates(tmp)[name]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version, ctx.maximum_version = minimum, maximum
    return ctx


def test_real_openssl_server_with_tls10_and_expired_cert(tmp_path: Path) -> None:
    tls = _server_context(tmp_path, "expired", ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_2)
    outcome = asyncio.run(_serve_and_probe(_close, tls))
    assert outcome.attempt.status is ProbeStatus.COMPLETED, outcome.attempt.error
    assert outcome.observation is not None
    facts = outcome.observation.facts
    assert isinstance(facts, TlsFacts)
    assert facts.accepted == (TlsVersion.TLS1_2, TlsVersion.TLS1_1, TlsVersion.TLS1_0)
    assert facts.result(TlsVersion.TLS1_3) is VersionResult.REJECTED
    assert facts.result(TlsVersion.SSL3) in (VersionResult.NOT_TESTABLE, VersionResult.REJECTED)
    assert facts.certificate is not None
    assert facts.certificate.expired  # judged against the injected clock
    kinds = [e.kind for e in outcome.observation.evidence]
    assert kinds == [EvidenceKind.HANDSHAKE, EvidenceKind.CERTIFICATE]
    assert "TLSv1.0: accepted, cipher" in outcome.observation.evidence[0].excerpt
    assert "notAfter: 2020-01-01" in outcome.observation.evidence[1].excerpt


def test_real_openssl_server_modern_only(tmp_path: Path) -> None:
    tls = _server_context(tmp_path, "modern", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
    outcome = asyncio.run(_serve_and_probe(_close, tls))
    assert outcome.observation is not None
    facts = outcome.observation.facts
    assert facts.accepted == (TlsVersion.TLS1_3, TlsVersion.TLS1_2)
    assert facts.certificate is not None
    assert not facts.certificate.expired


def test_silent_server_times_out() -> None:
    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3)
        w.close()

    outcome = asyncio.run(_serve_and_probe(silent))
    assert outcome.attempt.status is ProbeStatus.TIMED_OUT


def test_plain_http_on_443_is_a_protocol_error() -> None:
    async def http(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(100)
        w.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await w.drain()
        w.close()

    outcome = asyncio.run(_serve_and_probe(http))
    assert outcome.attempt.status is ProbeStatus.PROTOCOL_ERROR
    assert outcome.attempt.error is not None
    assert "does not speak TLS" in outcome.attempt.error


def test_closed_port_is_unreachable() -> None:
    async def go() -> ProbeOutcome:
        server = await asyncio.start_server(_close, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        return await run_probe(TlsProbe(), Target(IPv4Address("127.0.0.1"), port, Proto.TCP), _ctx())

    assert asyncio.run(go()).attempt.status is ProbeStatus.UNREACHABLE


@pytest.mark.parametrize(
    ("port", "service", "tunnel", "expected"),
    [
        (443, None, None, True),
        (8443, None, None, True),
        (10443, "http", "ssl", True),
        (9999, "imaps", None, True),
        (3389, None, "ssl", False),
        (3390, "ms-wbt-server", "ssl", False),
        (80, "http", None, False),
    ],
)
def test_applies(port: int, service: str | None, tunnel: str | None, expected: bool) -> None:
    target = Target(IPv4Address("198.18.0.90"), port, Proto.TCP, service, tunnel)
    assert TlsProbe().applies(target) is expected
