"""The Exchange probe's I/O, driven by httpx.MockTransport serving the recorded answers."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from ipaddress import ip_address

import httpx
import pytest

from duecare.probes.base import Target
from duecare.probes.context import ProbeContext, Timeouts
from duecare.probes.exchange.facts import BuildSource, Endpoint, ExchangeFacts
from duecare.probes.exchange.probe import AUTODISCOVER, EWS, EXPORT_TOOL, ExchangeProbe
from duecare.probes.ntlm import NEGOTIATE, SIGNATURE
from duecare.probes.runner import run_probe
from duecare.wire import ProbeStatus, Proto
from tests.probes.exchange.http_fixtures import Recorded, body_of, load

IP = "198.18.0.30"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


class _Stream(httpx.AsyncByteStream):
    """A body that arrives in chunks, as from a socket (``content=`` would be pre-read by httpx)."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


def answer(
    status: int, headers: dict[str, str] | list[tuple[str, str]] | None = None, body: bytes = b""
) -> httpx.Response:
    return httpx.Response(status, headers=headers, stream=_Stream(_once(body)))


def recorded(rec: Recorded) -> httpx.Response:
    # Hop-by-hop and length headers come from the recording; httpx recomputes what it needs.
    headers = [(k, v) for k, v in rec.headers if k.lower() not in ("content-length", "connection")]
    return answer(rec.status or 200, headers, rec.body)


def lab_like_exchange(seen: list[httpx.Request]) -> Handler:
    """Answers as the lab's 2016 CU22 host did (recorded in fixtures/lab_nginx_*)."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path.lower()
        if path == "/owa/":
            return recorded(load("lab_nginx_owa_302.http"))
        if path == "/owa/auth/logon.aspx":
            return recorded(load("lab_nginx_logon_200.http"))
        if path == EXPORT_TOOL.lower():
            return recorded(load("lab_nginx_exporttool_200.http"))
        if path == EWS.lower() and request.headers.get("authorization", "").startswith("NTLM "):
            return recorded(load("lab_nginx_ews_401_ntlm.http"))
        if path in (EWS.lower(), AUTODISCOVER.lower()):
            return recorded(load("lab_nginx_autodiscover_401.http"))
        return answer(404, body=b"not found")

    return handle


def run(
    handler: Handler, port: int = 443, timeouts: Timeouts | None = None
) -> tuple[ProbeStatus, ExchangeFacts | None]:
    async def go() -> tuple[ProbeStatus, ExchangeFacts | None]:
        ctx = ProbeContext(
            timeouts=timeouts or Timeouts(), clock=lambda: NOW, http_transport=httpx.MockTransport(handler)
        )
        try:
            out = await run_probe(ExchangeProbe(), Target(ip_address(IP), port, Proto.TCP), ctx)
        finally:
            await ctx.aclose()
        obs = out.observation
        facts = obs.facts if obs is not None else None
        assert facts is None or isinstance(facts, ExchangeFacts)
        return out.attempt.status, facts

    return asyncio.run(go())


def test_exchange_host_four_requests_full_build_and_ntlm() -> None:
    seen: list[httpx.Request] = []
    status, facts = run(lab_like_exchange(seen))
    assert status is ProbeStatus.COMPLETED and facts is not None
    assert [r.url.path for r in seen] == ["/owa/", "/owa/auth/logon.aspx", EXPORT_TOOL, EWS]
    assert all(r.url.scheme == "https" and r.method == "GET" for r in seen)
    assert all(r.headers["accept-encoding"] == "identity" for r in seen)
    # The 302 was followed by hand to the logon form OWA named, query included.
    assert seen[1].url.params["reason"] == "0"
    negotiate = base64.b64decode(seen[3].headers["authorization"].removeprefix("NTLM "))
    assert negotiate.startswith(SIGNATURE) and negotiate[8] == NEGOTIATE
    assert not any("authorization" in r.headers for r in seen[:3])

    assert facts.requests_sent == 4 and not facts.incomplete
    assert facts.observed_on == date(2026, 11, 30)
    assert facts.build is not None
    assert (facts.build.version, facts.build.source) == ("15.1.2375.7", BuildSource.ECP_EXPORT_TOOL)
    assert {b.source for b in facts.builds_seen} == set(BuildSource)
    assert facts.ntlm is not None and facts.ntlm.netbios_computer_name == "EXCH01"
    assert [r.endpoint for r in facts.responses] == [
        Endpoint.OWA,
        Endpoint.OWA_LOGON,
        Endpoint.ECP_EXPORT_TOOL,
        Endpoint.EWS,
    ]


def test_plain_web_server_gets_two_requests_and_no_exchange() -> None:
    seen: list[httpx.Request] = []

    def nginx(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(404, {"Server": "nginx/1.22.1"}, b"<title>404 Not Found</title>")

    status, facts = run(nginx, port=80)
    assert status is ProbeStatus.COMPLETED and facts is not None
    assert len(seen) == 2 and all(r.url.scheme == "http" for r in seen)
    assert not facts.exchange_detected and facts.build is None


def test_autodiscover_asked_only_while_no_full_build() -> None:
    """OWA path only (CU level), no manifest: EWS and Autodiscover 401s are tried for X-OWA-Version."""
    seen: list[httpx.Request] = []
    logon_page = body_of("owa_logon_ex2013cu21.html")

    def cu_only(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path.lower()
        if path == "/owa/":
            return answer(302, {"Location": "/owa/auth/logon.aspx?replaceCurrent=1"})
        if path == "/owa/auth/logon.aspx":
            return answer(200, {"Server": "Microsoft-IIS/8.5"}, logon_page)
        if path == AUTODISCOVER.lower():
            return answer(401, {"X-OWA-Version": "15.0.1395.10", "X-FEServer": "EX13"})
        return answer(404)

    _status, facts = run(cu_only)
    assert facts is not None
    assert [r.url.path.lower() for r in seen] == [
        "/owa/",
        "/owa/auth/logon.aspx",
        EXPORT_TOOL.lower(),
        EWS.lower(),
        AUTODISCOVER.lower(),
    ]
    assert facts.requests_sent == 5
    assert facts.build is not None and facts.build.version == "15.0.1395.10"
    assert facts.build.source is BuildSource.OWA_VERSION_HEADER


def test_body_read_is_capped() -> None:
    yielded = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal yielded
        for _ in range(10_000):  # 160 MB if read to the end
            yielded += 1
            yield b"<!-- padding -->" * 1024

    def huge(request: httpx.Request) -> httpx.Response:
        if request.url.path == EXPORT_TOOL:
            return httpx.Response(200, headers={"X-FEServer": "EX"}, stream=_Stream(endless()))
        return answer(404)

    status, facts = run(huge)
    assert status is ProbeStatus.COMPLETED and facts is not None
    assert yielded <= 5  # 64 KiB cap / 16 KiB chunks, plus the chunk that crossed it
    assert facts.exchange_detected


def test_later_failure_keeps_partial_facts() -> None:
    inner = lab_like_exchange([])

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.path == EWS:
            raise httpx.ReadTimeout("silent", request=request)
        return inner(request)

    status, facts = run(flaky)
    assert status is ProbeStatus.COMPLETED and facts is not None
    assert facts.incomplete
    assert facts.build is not None and facts.build.version == "15.1.2375.7"
    failed = [r for r in facts.responses if r.error]
    assert [(r.endpoint, r.error) for r in failed] == [(Endpoint.EWS, "ReadTimeout")]


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), ProbeStatus.UNREACHABLE),
        (httpx.ConnectTimeout("tarpit"), ProbeStatus.TIMED_OUT),
        (httpx.RemoteProtocolError("garbage"), ProbeStatus.PROTOCOL_ERROR),
    ],
)
def test_first_request_failure_is_the_probe_status(exc: httpx.HTTPError, expected: ProbeStatus) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise exc

    status, facts = run(broken)
    assert status is expected and facts is None


def test_hybrid_redirect_recorded() -> None:
    def hybrid(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/owa/":
            return answer(302, {"Location": "https://login.microsoftonline.com/x", "Server": "Microsoft-IIS/10.0"})
        return answer(404, {"Server": "Microsoft-IIS/10.0"})

    _status, facts = run(hybrid)
    assert facts is not None and facts.external_login_host == "login.microsoftonline.com"
    assert facts.requests_sent <= 6


def test_port_80_redirect_to_https_is_left_to_the_https_port() -> None:
    seen: list[httpx.Request] = []

    def iis_require_ssl(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {"Location": f"https://{IP}/owa/", "Server": "Microsoft-IIS/10.0", "X-FEServer": "EXCH01"}
        return answer(302, headers)

    status, facts = run(iis_require_ssl, port=80)
    assert status is ProbeStatus.COMPLETED and facts is not None
    assert len(seen) == 1 and facts.requests_sent == 1
    assert facts.redirects_to_https and facts.scheme == "http"


def test_port_80_redirect_elsewhere_is_explored() -> None:
    seen: list[httpx.Request] = []

    def other(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(302, {"Location": "https://mail.example.org/owa/", "Server": "Microsoft-IIS/10.0"})

    _status, facts = run(other, port=80)
    assert facts is not None and not facts.redirects_to_https
    assert len(seen) >= 2
