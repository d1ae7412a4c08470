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
from duecare.probes.upnp.facts import IgdFacts, PortMapping, SsdpResponse, UpnpDevice, UpnpFacts, WanService
from duecare.probes.upnp.igd import (
    END_OF_LIST,
    MAX_MAPPINGS,
    MAX_SOAP,
    SoapFault,
    external_ip_request,
    mapping_request,
    parse_external_ip,
    parse_mapping,
)
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


async def _soap(url: str, headers: dict[str, str], body: bytes, ctx: ProbeContext) -> bytes:
    """POST one SOAP action; the answer body (faults come back as HTTP 500 with a body) up to MAX_SOAP."""
    await ctx.pace()
    out = bytearray()
    async with ctx.http.stream("POST", url, headers=headers, content=body) as r:
        if r.status_code not in (200, 500):
            raise ProtocolError(f"IGD control URL answered HTTP {r.status_code}")
        async for chunk in r.aiter_bytes():
            out += chunk
            if len(out) > MAX_SOAP:
                raise ProtocolError(f"SOAP answer larger than {MAX_SOAP} bytes")
    return bytes(out)


async def read_igd(service: WanService, ctx: ProbeContext) -> IgdFacts:
    """GetExternalIPAddress, then GetGenericPortMappingEntry from index 0 until fault 713 or the cap.

    Read-only actions only (``igd.READ_ACTIONS``). An error after the first entries keeps what was read.
    """
    url, stype = service.control_url, service.service_type
    external: str | None = None
    notes: list[str] = []
    try:
        headers, body = external_ip_request(stype)
        addr = parse_external_ip(await _soap(url, headers, body, ctx))
        external = None if addr is None else str(addr)
    except ProtocolError as exc:
        notes.append(f"GetExternalIPAddress: {exc}")
    mappings: list[PortMapping] = []
    complete = False
    try:
        for index in range(MAX_MAPPINGS + 1):
            headers, body = mapping_request(stype, index)
            try:
                entry = parse_mapping(await _soap(url, headers, body, ctx))
            except SoapFault as fault:
                if fault.code == END_OF_LIST:
                    complete = True
                    break
                raise
            if index == MAX_MAPPINGS:
                notes.append(f"stopped after {MAX_MAPPINGS} mappings")
                break
            mappings.append(entry)
    except ProtocolError as exc:
        notes.append(f"GetGenericPortMappingEntry #{len(mappings)}: {exc}")
    except httpx.HTTPError as exc:
        notes.append(f"GetGenericPortMappingEntry #{len(mappings)}: {type(exc).__name__}")
    return IgdFacts(
        service_type=stype,
        control_url=url,
        external_ip=external,
        mappings=tuple(mappings),
        complete=complete,
        note="; ".join(notes)[:300] or None,
    )


async def _igd(device: UpnpDevice, target: Target, ctx: ProbeContext) -> tuple[IgdFacts | None, str | None]:
    if not device.wan_services:
        return None, "no WANIPConnection/WANPPPConnection service in the description"
    service = device.wan_services[0]
    refused = location_refusal(service.control_url, target.ip)
    if refused is not None:
        return None, f"control URL: {refused}"
    try:
        return await read_igd(service, ctx), None
    except httpx.HTTPError as exc:
        return None, f"IGD control URL failed: {type(exc).__name__}"


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
                        device = parse_device_description(body, location)
                    except ProtocolError as exc:
                        skipped = str(exc)
        igd: IgdFacts | None = None
        igd_skipped: str | None = "no device description"
        if device is not None:
            igd, igd_skipped = await _igd(device, target, ctx)
        facts = build_facts(answers, location, device, skipped, igd, igd_skipped)
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
        if igd is not None:
            ev.append(
                evidence(
                    self.id,
                    EvidenceKind.LISTING,
                    f"IGD port mappings at {igd.control_url}: {len(igd.mappings)}"
                    f"{'' if igd.complete else ' (list not read to its end)'}, external address {igd.external_ip}",
                    "\n".join(
                        f"{m.protocol} {igd.external_ip}:{m.external_port} -> {m.internal_client}:{m.internal_port}"
                        f" {m.description or ''} lease={m.lease_seconds}"
                        for m in igd.mappings[:16]
                    ),
                )
            )
        return Observation(facts, tuple(ev))
