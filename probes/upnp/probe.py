"""UPnP/SSDP (UDP 1900): one unicast M-SEARCH, then the device description from the target only.

A device sends one SSDP answer per device and service it hosts, so answers are gathered for the
MX window rather than stopping at the first. The description is fetched only when LOCATION names
the target's own address (never another host), and read up to a cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import ClassVar

import httpx

from duecare.probes.base import Facts, Observation, ProbeClass, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeTimeout, ProtocolError, Unreachable
from duecare.probes.upnp.facts import SsdpResponse, UpnpDevice, UpnpFacts
from duecare.probes.upnp.parse import (
    MAX_DESCRIPTION,
    build_facts,
    location_refusal,
    m_search,
    parse_device_description,
    parse_ssdp_response,
)
from duecare.wire import EvidenceKind, Proto

_MX = 1
_MAX_ANSWERS = 32
_MAX_DATAGRAM = 8192
_IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
_IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, host: str) -> None:
        self.host = host
        self.answers: list[bytes] = []
        self.first = asyncio.Event()
        self.error: Exception | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # Unconnected socket: devices may answer from a port other than 1900; keep only the target.
        if addr[0] == self.host and len(self.answers) < _MAX_ANSWERS:
            self.answers.append(data[:_MAX_DATAGRAM])
            self.first.set()

    def error_received(self, exc: Exception) -> None:
        self.error = exc
        self.first.set()


def _socket(host: str) -> socket.socket:
    """Unconnected (answers may come from any port) yet told of ICMP port-unreachable.

    Linux reports ICMP errors on an unconnected UDP socket only with IP_RECVERR (ip(7)); without
    it a closed port would look like silence, i.e. "timed out" instead of "unreachable".
    """
    v6 = ":" in host
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    level, option = (socket.IPPROTO_IPV6, _IPV6_RECVERR) if v6 else (socket.IPPROTO_IP, _IP_RECVERR)
    with contextlib.suppress(OSError):  # not Linux: fall back to timing out on closed ports
        sock.setsockopt(level, option, 1)
    sock.setblocking(False)
    return sock


async def collect_ssdp(host: str, port: int, timeout: float, window: float) -> list[bytes]:
    """Send the M-SEARCH (once more on silence), then gather answers for ``window`` seconds."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: _Collector(host), sock=_socket(host))
    try:
        for _attempt in range(2):
            transport.sendto(m_search(host, port, _MX), (host, port))
            try:
                async with asyncio.timeout(timeout):
                    await proto.first.wait()
                break
            except TimeoutError:
                continue
        if proto.error is not None:
            raise Unreachable(f"ICMP error from {host}:{port}: {proto.error}")
        if not proto.answers:
            raise ProbeTimeout(f"no SSDP answer from {host}:{port} after 2 M-SEARCHes")
        await asyncio.sleep(window)
        return list(proto.answers)
    finally:
        transport.close()


async def fetch_description(url: str, ctx: ProbeContext) -> tuple[bytes | None, str | None]:
    """(body, None) or (None, why not); the body is read up to MAX_DESCRIPTION bytes."""
    await ctx.pace()
    body = bytearray()
    try:
        async with ctx.http.stream("GET", url) as r:
            if r.status_code != 200:
                return None, f"description fetch answered HTTP {r.status_code}"
            async for chunk in r.aiter_bytes():
                body += chunk
                if len(body) > MAX_DESCRIPTION:
                    return None, f"description larger than {MAX_DESCRIPTION} bytes"
    except httpx.HTTPError as exc:
        # SSDP already answered: a broken description server is a fact, not a failed probe.
        return None, f"description fetch failed: {type(exc).__name__}"
    return bytes(body), None


def _parse_answers(raw: list[bytes]) -> list[SsdpResponse]:
    parsed = []
    for datagram in raw:
        try:
            parsed.append(parse_ssdp_response(datagram))
        except ProtocolError:
            continue
    if not parsed:
        raise ProtocolError("UDP 1900 answered, but not with SSDP")
    return parsed


class UpnpProbe:
    id: ClassVar[str] = "upnp"
    probe_class: ClassVar[ProbeClass] = ProbeClass.NON_INTRUSIVE
    proto: ClassVar[Proto | None] = Proto.UDP
    ports: ClassVar[frozenset[int]] = frozenset({1900})
    facts_model: ClassVar[type[Facts]] = UpnpFacts

    def applies(self, target: Target) -> bool:
        return target.proto is Proto.UDP and (target.port == 1900 or target.service in ("upnp", "ssdp"))

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[UpnpFacts]:
        assert target.port is not None
        await ctx.pace()
        raw = await collect_ssdp(target.host, target.port, min(ctx.timeouts.read, 2.0), _MX + 0.5)
        answers = _parse_answers(raw)
        location = next((a.location for a in answers if a.location), None)
        device: UpnpDevice | None = None
        skipped: str | None = None if location else "no LOCATION in any answer"
        if location is not None:
            skipped = location_refusal(location, target.ip)
            if skipped is None:
                body, skipped = await fetch_description(location, ctx)
                if body is not None:
                    try:
                        device = parse_device_description(body)
                    except ProtocolError as exc:
                        skipped = str(exc)
        facts = build_facts(answers, location, device, skipped)
        ev = [
            evidence(
                self.id,
                EvidenceKind.BANNER,
                f"{len(answers)} SSDP answers from {target.host}:{target.port}",
                "\n".join(f"ST: {a.st} | SERVER: {a.server} | LOCATION: {a.location}" for a in answers[:8]),
            )
        ]
        if device is not None:
            ev.append(
                evidence(
                    self.id,
                    EvidenceKind.DOCUMENT,
                    f"UPnP device description at {location}",
                    f"friendlyName: {device.friendly_name}\nmanufacturer: {device.manufacturer}\n"
                    f"modelName: {device.model_name}\nmodelNumber: {device.model_number}\n"
                    f"deviceType: {device.device_type}",
                )
            )
        return Observation(facts, tuple(ev))
