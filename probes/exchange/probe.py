"""Exchange web front end: a handful of plain GETs a browser or Outlook would send, nothing more.

Order (detection-methods §1.2): /owa/ (first, never followed, to see the 302 and its headers), the
OWA logon page (asset path = CU), the ECP export-tool manifest (full build), EWS with an NTLM
NEGOTIATE (host names, X-OWA-Version on the 401), Autodiscover (X-OWA-Version on the 401) only while
no full build is known. A host with no Exchange or IIS sign after /owa/ and the manifest gets nothing
more (2 requests); an Exchange host at most 5. No exploit-class path or cookie (§1.6 stays off).
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import ClassVar, Literal
from urllib.parse import urlsplit

import httpx

from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.exchange.facts import BuildPrecision, BuildSource, Endpoint, EndpointResponse, ExchangeFacts
from duecare.probes.exchange.parse import (
    BODY_CAP,
    ParsedResponse,
    classify_location,
    combine,
    decode_body,
    is_https_upgrade,
    parse_response,
)
from duecare.probes.ntlm import negotiate_message
from duecare.wire import Evidence, EvidenceKind

OWA = "/owa/"
OWA_LOGON = "/owa/auth/logon.aspx"
EXPORT_TOOL = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application"
EWS = "/EWS/Exchange.asmx"
AUTODISCOVER = "/autodiscover/autodiscover.xml"
#: Stop issuing requests once less than this is left of the probe's own time budget.
_MIN_LEFT_S = 1.0


class _Session:
    """Counts requests, bounds every body read and keeps the probe inside its time budget."""

    def __init__(self, ctx: ProbeContext, base: str, host: str) -> None:
        self.ctx = ctx
        self.base = base
        self.host = host
        self.sent = 0
        self.incomplete = False
        self.parsed: list[ParsedResponse] = []
        self.failed: list[EndpointResponse] = []
        # Leave the runner's hard ceiling a margin so partial facts are returned, not a timeout.
        self._deadline = time.monotonic() + ctx.timeouts.probe * 0.8

    def _left(self) -> float:
        return self._deadline - time.monotonic()

    async def get(
        self, endpoint: Endpoint, path: str, *, first: bool = False, headers: dict[str, str] | None = None
    ) -> ParsedResponse | None:
        """One bounded GET. Only the first request's errors end the probe; later ones are recorded."""
        if not first and self._left() < _MIN_LEFT_S:
            self.incomplete = True
            return None
        self.sent += 1
        try:
            async with asyncio.timeout(max(self._left(), _MIN_LEFT_S)):
                status, hdrs, body = await self._fetch(path, headers or {})
        except (httpx.TransportError, TimeoutError) as exc:
            if first:
                raise
            self.incomplete = True
            self.failed.append(EndpointResponse(endpoint=endpoint, path=path, error=type(exc).__name__))
            return None
        parsed = parse_response(endpoint, path, status, hdrs, body, host=self.host)
        self.parsed.append(parsed)
        return parsed

    async def _fetch(self, path: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        await self.ctx.pace()
        # identity: a compressed body could expand far beyond the cap (decode_body bounds it anyway).
        send = {"Accept-Encoding": "identity", **headers}
        async with self.ctx.http.stream("GET", self.base + path, headers=send) as resp:
            raw = bytearray()
            async for chunk in resp.aiter_raw():
                raw += chunk
                if len(raw) >= BODY_CAP:
                    break
            body = decode_body(bytes(raw[:BODY_CAP]), resp.headers.get("content-encoding"))
            return resp.status_code, resp.headers.multi_items(), body


def _scheme(target: Target) -> Literal["http", "https"]:
    if target.port == 443 or target.tunnel == "ssl" or (target.service or "").startswith("https"):
        return "https"
    return "http"


def _logon_path(owa: ParsedResponse, host: str) -> str:
    """Follow OWA's own redirect to its logon form by hand (same host only); else the well-known path."""
    location = owa.response.location
    if location is not None and classify_location(location, host)[0] == "owa-logon":
        parts = urlsplit(location)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path.startswith("/") and len(path) <= 256:
            return path
    return OWA_LOGON


def _looks_promising(parsed: list[ParsedResponse]) -> bool:
    """Exchange markers, or an IIS server: worth the EWS and Autodiscover requests."""
    return any(p.response.exchange_marker or (p.server or "").lower().startswith("microsoft-iis") for p in parsed)


async def _explore(s: _Session, owa: ParsedResponse, host: str) -> None:
    """Requests 2–5, each only when the answers so far make it worth asking."""
    if not any(b.source is BuildSource.OWA_LOGON_PATH for b in owa.builds) and _looks_promising(s.parsed):
        await s.get(Endpoint.OWA_LOGON, _logon_path(owa, host))
    await s.get(Endpoint.ECP_EXPORT_TOOL, EXPORT_TOOL)
    if not _looks_promising(s.parsed):
        return
    # RFC 4559: the NEGOTIATE rides in Authorization; the 401 carries the CHALLENGE. No AUTHENTICATE.
    token = base64.b64encode(negotiate_message()).decode("ascii")
    await s.get(Endpoint.EWS, EWS, headers={"Authorization": f"NTLM {token}"})
    if not any(b.precision is BuildPrecision.FULL for p in s.parsed for b in p.builds):
        await s.get(Endpoint.AUTODISCOVER, AUTODISCOVER)


def _evidence(probe: str, target: Target, facts: ExchangeFacts) -> tuple[Evidence, ...]:
    out: list[Evidence] = []
    where = f"{facts.scheme}://{target.host}:{target.port}"
    b = facts.build
    if b is not None:
        how = {
            BuildSource.ECP_EXPORT_TOOL: "ECP export-tool manifest",
            BuildSource.OWA_VERSION_HEADER: "X-OWA-Version header",
            BuildSource.OWA_LOGON_PATH: "OWA asset path (CU level only)",
        }[b.source]
        precision = "full build" if b.precision is BuildPrecision.FULL else "CU only"
        seen = "; ".join(f"{o.source.value} {o.version} ({o.path})" for o in facts.builds_seen)
        out.append(
            evidence(probe, EvidenceKind.VERSION, f"Exchange {b.version} ({precision}) from {how} at {where}", seen)
        )
    elif facts.exchange_detected:
        lines = [f"{r.path} -> {r.status}" for r in facts.responses]
        out.append(
            evidence(
                probe,
                EvidenceKind.HEADER,
                f"Exchange surface at {where}, build not disclosed",
                "\n".join(lines),
            )
        )
    n = facts.ntlm
    if n is not None:
        ver = "" if n.product_version is None else f" Windows {n.product_version}"
        names = ", ".join(x for x in (n.netbios_domain_name, n.netbios_computer_name, n.dns_computer_name) if x)
        out.append(evidence(probe, EvidenceKind.HANDSHAKE, f"NTLM challenge on {EWS}: {names}{ver}", names))
    return tuple(out)


class ExchangeProbe(ServiceProbe):
    id: ClassVar[str] = "exchange"
    ports: ClassVar[frozenset[int]] = frozenset({443, 80})
    #: nmap's names for HTTP, so the probe follows an identified web server to any port (issue 16).
    services: ClassVar[frozenset[str]] = frozenset({"http", "https"})
    facts_model: ClassVar[type[Facts]] = ExchangeFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[ExchangeFacts]:
        assert target.port is not None
        scheme = _scheme(target)
        s = _Session(ctx, f"{scheme}://{target.authority}", target.host)

        owa = await s.get(Endpoint.OWA, OWA, first=True)
        assert owa is not None
        location = owa.response.location
        upgrade = scheme == "http" and location is not None and is_https_upgrade(location, target.host)
        if not upgrade:  # a port-80 redirect to HTTPS leaves the judging to the HTTPS port's own probe
            await _explore(s, owa, target.host)

        facts = combine(
            s.parsed,
            observed_on=ctx.clock().date(),
            scheme=scheme,
            requests_sent=s.sent,
            incomplete=s.incomplete,
            failed=s.failed,
            redirects_to_https=upgrade,
        )
        return Observation(facts, _evidence(self.id, target, facts))
