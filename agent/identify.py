"""The identification stage (issue 16): ports → identification → probes.

Every open TCP port that no probe claims by its standard port is named by what it speaks: one
connection for its greeting or one polite hello (``probes/identify/session.py``), then nmap's
version detection for what is still unknown. A connection that identified a protocol a probe
continues with is kept for that probe (``ProbeContext.park``): the service sees one handshake,
as on its standard port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from duecare.probes.base import Probe, Target
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeError
from duecare.probes.identify.alternates import hinted
from duecare.probes.identify.parse import Identified
from duecare.probes.identify.session import PortIdentity, goodbye, identify_port
from duecare.probes.ports.parse import compact_ranges
from duecare.probes.ports.scanner import PortScanner, VersionScanner
from duecare.wire import Asset, IdentifiedBy, PortState, Proto, Service
from duecare.wire.bounds import NAME, TITLE, printable


@dataclass
class IdentifyStats:
    """What the stage did, for the scan's notes and the benchmark."""

    ports: int = 0
    by_greeting: int = 0
    by_handshake: int = 0
    by_nmap: int = 0
    unknown: int = 0
    kept_for_probes: int = 0
    first_bytes_s: float = 0.0
    nmap_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"identification: {self.ports} unclaimed open TCP port(s): {self.by_greeting} by greeting, "
            f"{self.by_handshake} by handshake, {self.by_nmap} by nmap -sV, {self.unknown} unknown; "
            f"{self.kept_for_probes} connection(s) handed to probes; first bytes {self.first_bytes_s:.2f} s, "
            f"nmap {self.nmap_s:.2f} s"
        )


def claimed(asset: Asset, port: int, probes: Sequence[Probe[Any]]) -> bool:
    """A probe runs here by the port number alone (its standard port, the RMM table, TLS ports)."""
    target = Target(asset.ip, port, Proto.TCP)
    return any(p.applies(target) for p in probes)


def owner(service: str, probes: Sequence[Probe[Any]]) -> Probe[Any] | None:
    """The probe that continues on an identification's connection: the first that names the service."""
    return next((p for p in probes if p.proto is Proto.TCP and service in p.services), None)


def unclaimed(assets: Sequence[Asset], probes: Sequence[Probe[Any]]) -> list[tuple[Asset, int]]:
    return [
        (a, s.port)
        for a in assets
        for s in a.services
        if s.proto is Proto.TCP and s.state is PortState.OPEN and not claimed(a, s.port, probes)
    ]


async def identify_services(
    assets: list[Asset],
    probes: Sequence[Probe[Any]],
    ctx: ProbeContext,
    scanner: PortScanner,
    *,
    nmap_timeout_s: float,
    host_timeout_s: float,
) -> tuple[list[Asset], IdentifyStats]:
    stats = IdentifyStats()
    todo = unclaimed(assets, probes)
    stats.ports = len(todo)
    t0 = time.perf_counter()

    async def one(asset: Asset, port: int) -> tuple[str, int, PortIdentity]:
        host = str(asset.ip)
        async with ctx.host_slot(host):
            return host, port, await identify_port(ctx, host, port, hinted(port))

    found: dict[tuple[str, int], tuple[Identified, IdentifiedBy]] = {}
    remaining: dict[str, list[int]] = {}
    for host, port, res in await asyncio.gather(*(one(a, p) for a, p in todo)):
        if res.identified is None:
            if res.connected:
                remaining.setdefault(host, []).append(port)
            continue
        how = IdentifiedBy.GREETING if res.identified.how == "greeting" else IdentifiedBy.HANDSHAKE
        found[(host, port)] = (res.identified, how)
        if res.stream is None:
            continue
        probe = owner(res.identified.service, probes)
        if probe is None:
            await goodbye(res.stream, res.identified.service)
        else:
            ctx.park(host, port, probe.id, res.stream)
            stats.kept_for_probes += 1
    stats.first_bytes_s = time.perf_counter() - t0
    stats.by_greeting = sum(1 for _i, how in found.values() if how is IdentifiedBy.GREETING)
    stats.by_handshake = len(found) - stats.by_greeting

    if remaining and isinstance(scanner, VersionScanner):
        t1 = time.perf_counter()
        by_nmap = await _nmap_versions(scanner, remaining, nmap_timeout_s, host_timeout_s, stats)
        stats.nmap_s = time.perf_counter() - t1
        stats.by_nmap = len(by_nmap)
        found.update(by_nmap)
    stats.unknown = stats.ports - len(found)
    return [_named(a, found) for a in assets], stats


async def _nmap_versions(
    scanner: VersionScanner,
    remaining: dict[str, list[int]],
    timeout_s: float,
    host_timeout_s: float,
    stats: IdentifyStats,
) -> dict[tuple[str, int], tuple[Identified, IdentifiedBy]]:
    """One nmap run per distinct port set, so no host is asked about a port it was not asked about:
    a port identified (or claimed) on one host is never version-probed there again."""
    groups: dict[str, list[str]] = {}
    for host, ports in remaining.items():
        groups.setdefault(compact_ranges(ports), []).append(host)

    async def run(spec: str, hosts: list[str]) -> dict[tuple[str, int], tuple[Identified, IdentifiedBy]]:
        try:
            scan = await asyncio.to_thread(
                scanner.versions, hosts, tcp=spec, timeout_s=timeout_s, host_timeout_s=host_timeout_s
            )
        except ProbeError as exc:
            stats.notes.append(f"nmap version detection on {', '.join(hosts)} failed: {exc}")
            return {}
        out: dict[tuple[str, int], tuple[Identified, IdentifiedBy]] = {}
        for h in scan.hosts:
            for p in h.ports:
                if p.proto is Proto.TCP and p.port in remaining.get(h.ip, ()) and p.method == "probed" and p.name:
                    ident = Identified(p.name, "nmap-version", p.tunnel, p.product, p.version)
                    out[(h.ip, p.port)] = (ident, IdentifiedBy.NMAP_VERSION)
        return out

    results = await asyncio.gather(*(run(spec, hosts) for spec, hosts in groups.items()))
    return {k: v for r in results for k, v in r.items()}


def _named(asset: Asset, found: dict[tuple[str, int], tuple[Identified, IdentifiedBy]]) -> Asset:
    ip = str(ip_address(asset.ip))
    if not any((ip, s.port) in found for s in asset.services if s.proto is Proto.TCP):
        return asset
    services = []
    for s in asset.services:
        hit = found.get((ip, s.port)) if s.proto is Proto.TCP else None
        if hit is None:
            services.append(s)
            continue
        ident, how = hit
        services.append(
            Service(
                port=s.port,
                proto=s.proto,
                state=s.state,
                name=printable(ident.service, NAME),
                product=None if ident.product is None else printable(ident.product, TITLE),
                version=None if ident.version is None else printable(ident.version, TITLE),
                tunnel=ident.tunnel,
                identified_by=how,
            )
        )
    return asset.model_copy(update={"services": tuple(services)})
