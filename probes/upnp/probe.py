"""UPnP/SSDP (UDP 1900): one unicast M-SEARCH, then the device description from the target only.

A device sends one SSDP answer per device and service it hosts, so answers are gathered for the
MX window rather than stopping at the first. The description is fetched only when LOCATION names
the target's own address (never another host), and read up to a cap.
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProtocolError
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


class UpnpProbe(ServiceProbe):
    id: ClassVar[str] = "upnp"
    proto: ClassVar[Proto | None] = Proto.UDP
    ports: ClassVar[frozenset[int]] = frozenset({1900})
    services: ClassVar[frozenset[str]] = frozenset({"upnp", "ssdp"})
    facts_model: ClassVar[type[Facts]] = UpnpFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[UpnpFacts]:
        assert target.port is not None
        # Answers for the MX window, not just the first: one per device and service the target hosts.
        raw = await ctx.udp_gather(
            target.host,
            target.port,
            m_search(target.host, target.port, _MX),
            first_timeout=min(ctx.timeouts.read, 2.0),
            window=_MX + 0.5,
            max_answers=_MAX_ANSWERS,
        )
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
