"""The one-shot scan: scope → discovery → ports → probes → facts. Findings are judged elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import ip_address
from typing import Any

from duecare.agent.config import AgentConfig
from duecare.agent.identify import identify_services, unclaimed
from duecare.agent.progress import Progress
from duecare.agent.scope import Scope, ScopeError
from duecare.probes.base import Probe, ProbeClass, Target
from duecare.probes.context import ProbeContext, Timeouts
from duecare.probes.discovery._scapy import arp_sweep, attached_groups
from duecare.probes.discovery.neighbors import read_neighbors
from duecare.probes.errors import ProbeError
from duecare.probes.identify.alternates import alternate_ports
from duecare.probes.ports._nmap import Nmap, read_data_file
from duecare.probes.ports.facts import HostPorts, PortScan
from duecare.probes.ports.parse import compact_ranges, mac_vendors, top_ports
from duecare.probes.ports.scanner import PortScanner
from duecare.probes.registry import needed_ports
from duecare.probes.runner import ProbeOutcome, run_probe
from duecare.wire import Asset, PortState, ProbeStatus, Proto, ScanMode, Service
from duecare.wire.bounds import HOSTNAME, NAME, TITLE, printable
from duecare.wire.models import SKIP_HOST_SILENT

ALL_TCP = "1-65535"


@dataclass(frozen=True, slots=True)
class PortPlan:
    tcp: str
    udp: str


@dataclass
class ScanResult:
    started_at: datetime
    finished_at: datetime
    privileged: bool
    assets: list[Asset]
    outcomes: list[ProbeOutcome]
    ports: PortPlan
    notes: list[str] = field(default_factory=list)

    @property
    def mode(self) -> ScanMode:
        return ScanMode.SYN if self.privileged else ScanMode.CONNECT


def plan_ports(config: AgentConfig, probes: Sequence[Probe[Any]]) -> PortPlan:
    """nmap's top-N TCP ports ∪ every port a probe needs ∪ their common alternates ∪ the configured
    extras; or every TCP port (``ports.tcp_range = "all"``)."""
    tcp_needed, udp_needed = needed_ports(list(probes))
    udp = set(udp_needed) | set(config.ports.extra_udp)
    if config.ports.tcp_range == "all":
        return PortPlan(ALL_TCP, compact_ranges(udp))
    tcp: set[int] = set(tcp_needed) | set(config.ports.extra_tcp) | alternate_ports(p.id for p in probes)
    if config.ports.top_tcp:
        tcp |= set(top_ports(read_data_file("nmap-services"), "tcp", config.ports.top_tcp))
    return PortPlan(compact_ranges(tcp), compact_ranges(udp))


def select_probes(config: AgentConfig, probes: Sequence[Probe[Any]]) -> list[Probe[Any]]:
    disabled = set(config.probes.disabled)
    return [p for p in probes if p.id not in disabled]


def build_context(config: AgentConfig, scope: Scope, *, privileged: bool = False) -> ProbeContext:
    t = config.timeouts
    return ProbeContext(
        scanner=Nmap(privileged=privileged, min_rate=config.ports.min_rate),
        timeouts=Timeouts(connect=t.connect, read=t.read, probe=t.probe, first_bytes=t.first_bytes, udp=t.udp),
        allowed_classes=frozenset(ProbeClass(c) for c in config.probes.classes),
        per_host=config.limits.per_host,
        per_host_udp=config.limits.per_host_udp,
        blocking_workers=config.limits.blocking_workers,
        connections_per_second=config.limits.connections_per_second or None,
        guard=lambda host: host in scope,
    )


async def _discover(
    addrs: list[str], nmap: PortScanner, privileged: bool, config: AgentConfig, notes: list[str]
) -> dict[str, tuple[str | None, str]]:
    """ip → (mac, how found). ARP on attached links when privileged; nmap ping for the rest."""
    found: dict[str, tuple[str | None, str]] = {}
    routed = addrs
    if privileged:
        groups, routed = await asyncio.to_thread(attached_groups, addrs)
        for iface, ips in groups.items():
            try:
                replies = await asyncio.to_thread(arp_sweep, iface, ips, timeout=config.timeouts.arp)
            except ProbeError as exc:
                notes.append(f"ARP sweep on {iface} failed ({exc}); fell back to nmap ping")
                routed = routed + ips
                continue
            for r in replies:
                found[r.ip] = (r.mac, "arp")
    if routed:
        ping = await asyncio.to_thread(nmap.ping, routed, timeout_s=config.timeouts.discovery)
        for h in ping.hosts:
            if h.ip not in found:
                found[h.ip] = (h.mac, "nmap-ping")
    return found


def _text(value: str | None, limit: int) -> str | None:
    """Names a host or nmap gave us: hostile text, escaped and capped before it enters the report."""
    return None if value is None else printable(value, limit)


def _services(host: HostPorts | None) -> tuple[Service, ...]:
    return (
        ()
        if host is None
        else tuple(
            Service(
                port=p.port,
                proto=p.proto,
                state=p.state,
                name=_text(p.name, NAME),
                product=_text(p.product, TITLE),
                version=_text(p.version, TITLE),
                tunnel=_text(p.tunnel, NAME),
            )
            for p in host.ports
        )
    )


def _asset(host: HostPorts | None, ip: str, mac: str | None, how: str, oui: dict[str, str]) -> Asset:
    mac = mac or (host.mac if host else None)
    vendor = (host.vendor if host else None) or (oui.get(mac[:8]) if mac else None)
    return Asset(
        ip=ip_address(ip),
        mac=mac,
        vendor=_text(vendor, TITLE),
        hostname=_text(host.hostname if host else None, HOSTNAME),
        discovered_by="arp" if how == "arp" else "nmap-ping",
        services=_services(host),
        filtered_tcp=host.filtered_tcp if host else "",
        filtered_udp=host.filtered_udp if host else "",
    )


def with_udp(asset: Asset, udp: HostPorts | None) -> Asset:
    """The host as one port scan would have described it: its TCP services (named by identification
    where it did), then what the UDP scan found. What the TCP scan said of the host comes first."""
    if udp is None:
        return asset
    extra = tuple(s for s in _services(udp) if s.proto is Proto.UDP)
    update: dict[str, Any] = {"services": (*asset.services, *extra), "filtered_udp": udp.filtered_udp}
    if asset.mac is None and udp.mac is not None:
        update["mac"] = udp.mac
    if asset.vendor is None and udp.vendor is not None:
        update["vendor"] = _text(udp.vendor, TITLE)
    if asset.hostname is None and udp.hostname is not None:
        update["hostname"] = _text(udp.hostname, HOSTNAME)
    return asset.model_copy(update=update)


def in_job_order(
    order: list[tuple[Probe[Any], Target]], jobs: list[tuple[Probe[Any], Target]], outcomes: list[ProbeOutcome]
) -> list[ProbeOutcome]:
    """``outcomes`` (of ``jobs``, as they were pipelined) in the order of ``order``: the report's
    attempts read as they did when one port scan preceded every probe."""
    by_job: dict[tuple[str, str, int | None, Proto | None], list[ProbeOutcome]] = {}
    for (probe, target), out in zip(jobs, outcomes, strict=True):
        by_job.setdefault((probe.id, target.host, target.port, target.proto), []).append(out)
    ordered = []
    for probe, target in order:
        queue = by_job.get((probe.id, target.host, target.port, target.proto))
        if queue:
            ordered.append(queue.pop(0))
    return ordered + [out for queue in by_job.values() for out in queue]


class PortHalves:
    """The port stage as two nmap runs, TCP then UDP, each awaited on its own: the TCP probes need
    not wait for the UDP scan.

    The UDP run starts when the TCP run ends, not beside it: a closed UDP port is known by the host's
    ICMP port unreachable, which Linux rate-limits per peer (a burst of 6, then one a second), so a
    UDP scan that starts earlier after the previous scan finds fewer tokens and reads closed ports
    as open|filtered (seen on the lab's back-to-back scans). One nmap run also did TCP, then UDP.

    A half that fails costs its own ports only (a note says so) as long as the other half answered;
    when both fail the scan fails as it did with one run."""

    def __init__(self, scanner: PortScanner, hosts: list[str], plan: PortPlan, timeout_s: float, *, udp: bool) -> None:
        self.notes: list[str] = []
        self.seconds: dict[str, float] = {}

        def timed(name: str, tcp: str, udp: str) -> PortScan:
            t0 = time.perf_counter()
            try:
                return scanner.ports(hosts, tcp=tcp, udp=udp, timeout_s=timeout_s)
            finally:
                self.seconds[name] = time.perf_counter() - t0

        async def udp_after_tcp() -> PortScan:
            with contextlib.suppress(ProbeError):  # the TCP half reports its own failure
                await asyncio.shield(self._tcp)
            return await asyncio.to_thread(timed, "UDP", "", plan.udp)

        self._tcp = asyncio.ensure_future(asyncio.to_thread(timed, "TCP", plan.tcp, ""))
        self._udp = asyncio.ensure_future(udp_after_tcp()) if udp and plan.udp else None

    @property
    def udp_running(self) -> bool:
        return self._udp is not None and not self._udp.done()

    async def tcp(self) -> PortScan:
        try:
            return await self._tcp
        except ProbeError as exc:
            if self._udp is None:
                raise
            try:
                await self._udp
            except ProbeError:
                raise exc from None
            self.notes.append(f"TCP port scan failed ({exc}); only UDP services were probed")
            return PortScan()

    async def udp(self) -> PortScan:
        if self._udp is None:
            return PortScan()
        try:
            return await self._udp
        except ProbeError as exc:
            self.notes.append(f"UDP port scan failed ({exc}); no UDP service was probed")
            return PortScan()

    def line(self) -> str:
        took = ", then ".join(f"{name} {self.seconds[name]:.2f} s" for name in ("TCP", "UDP") if name in self.seconds)
        return f"ports: {took}"

    async def aclose(self) -> None:
        """A half nobody awaited (the scan failed or was cancelled) is not left behind unread."""
        for task in (self._tcp, self._udp):
            if task is None:
                continue
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # reported, or superseded
                await task


def probe_targets(asset: Asset, privileged: bool, udp_ports: set[int]) -> list[Target]:
    """Open services become targets; without a UDP scan, UDP probes ask their ports directly."""
    targets = [
        Target(asset.ip, s.port, s.proto, s.name, s.tunnel)
        for s in asset.services
        if s.state is PortState.OPEN or (s.proto is Proto.UDP and s.state is PortState.OPEN_FILTERED)
    ]
    if not privileged:
        targets += [Target(asset.ip, port, Proto.UDP) for port in sorted(udp_ports)]
    return targets


class SilentHosts:
    """Stop probing a host once several of its services accepted a connection and then said
    nothing at all: a tarpit (or a host in trouble) would otherwise cost a timeout per port.

    One such service is enough where the round trip is a LAN's: a peer that answers pings in
    well under 10 ms and then keeps an accepted connection silent for 100 round trips and at
    least the first-bytes floor is not slow, it is silent."""

    def __init__(self, threshold: int, fast_rtt: Callable[[str], bool] = lambda ip: False) -> None:
        self.threshold = threshold
        self.fast_rtt = fast_rtt
        self.timeouts: dict[str, int] = {}
        self.conclusive: set[str] = set()
        self.completed: set[str] = set()

    def record(self, out: ProbeOutcome) -> None:
        ip = str(out.attempt.ip)
        if out.attempt.status is ProbeStatus.COMPLETED:
            self.completed.add(ip)
        elif out.attempt.status is ProbeStatus.TIMED_OUT and out.attempt.proto is Proto.TCP:
            self.timeouts[ip] = self.timeouts.get(ip, 0) + 1
            if out.silent_peer and self.fast_rtt(ip):
                self.conclusive.add(ip)

    def reason(self, ip: str) -> str | None:
        if not self.threshold or ip in self.completed:
            return None
        count = self.timeouts.get(ip, 0)
        if ip in self.conclusive:
            return f"{SKIP_HOST_SILENT}: {count} TCP service(s) accepted and never sent a byte, round trip under 10 ms"
        if count < self.threshold:
            return None
        return f"{SKIP_HOST_SILENT}: {count} TCP services accepted and never answered"


async def run_scan(
    config: AgentConfig,
    scope: Scope,
    probes: Sequence[Probe[Any]],
    *,
    privileged: bool,
    progress: Progress,
    ctx: ProbeContext | None = None,
) -> ScanResult:
    probes = select_probes(config, probes)
    ctx = ctx or build_context(config, scope, privileged=privileged)
    started = ctx.clock()
    notes: list[str] = []
    if scope.size() > config.scope.max_addresses:
        raise ScopeError(f"scope has {scope.size()} addresses, over scope.max_addresses={config.scope.max_addresses}")
    addrs = [str(ip) for ip in scope.addresses()]
    nmap = ctx.scanner or Nmap(privileged=privileged, min_rate=config.ports.min_rate)
    if not privileged:
        notes.append("no raw-socket rights: connect scan and TCP ping; no UDP port scan")

    progress.stage("discovery", len(addrs))
    live = await _discover(addrs, nmap, privileged, config, notes)
    live = {ip: v for ip, v in live.items() if ip in scope}
    progress.advance(len(addrs))

    plan = plan_ports(config, probes)
    progress.stage("ports", len(live))
    order = sorted(live, key=lambda s: ip_address(s))
    udp_needed = {p for pr in probes if pr.proto is Proto.UDP for p in pr.ports}
    gate = asyncio.Semaphore(config.limits.concurrency)
    silent = SilentHosts(config.limits.silent_host_timeouts, ctx.fast_rtt)

    async def one(probe: Probe[Any], target: Target) -> ProbeOutcome:
        async with gate:
            out = await run_probe(probe, target, ctx, skip_reason=lambda: silent.reason(target.host))
        silent.record(out)
        progress.advance()
        return out

    # The TCP and the UDP port scans are two nmap runs, one after the other as in one run. The TCP
    # probes and identification start when the TCP scan is done, while UDP ports are still being
    # asked; the UDP probes start when the UDP scan is done.
    halves = PortHalves(nmap, order, plan, config.timeouts.ports, udp=privileged)
    try:
        tcp_scan = await halves.tcp()
        ctx.rtt.update({h.ip: h.srtt_us / 1e6 for h in tcp_scan.hosts if h.srtt_us})
        neighbors = read_neighbors()
        tcp_by_ip = {h.ip: h for h in tcp_scan.hosts}

        def mac_of(ip: str) -> str | None:
            return live[ip][0] or neighbors.get(ip)

        seen = (mac_of(ip) or (tcp_by_ip[ip].mac if ip in tcp_by_ip else None) for ip in order)
        oui = mac_vendors(read_data_file("nmap-mac-prefixes"), only=[m for m in seen if m])
        tcp_assets = [_asset(tcp_by_ip.get(ip), ip, mac_of(ip), live[ip][1], oui) for ip in order]
        pending = {(str(a.ip), port) for a, port in unclaimed(tcp_assets, probes)}

        def jobs_for(named: list[Asset], later: bool) -> list[tuple[Probe[Any], Target]]:
            """Probe jobs of the claimed ports now (``later`` False), of the identified ones after."""
            return [
                (probe, target)
                for asset in named
                for target in probe_targets(asset, privileged, udp_needed)
                if ((target.proto is Proto.TCP and (target.host, target.port) in pending) is later)
                for probe in probes
                if probe.applies(target)
            ]

        now = jobs_for(tcp_assets, later=False)
        # The probes of claimed ports start at once; identification runs beside them (it waits mostly on
        # silent ports' first bytes), and the probes of what it names follow it. The total grows then.
        progress.stage("probes", None if pending or halves.udp_running else len(now), beside=halves.udp_running)

        async def identified_then_probed() -> tuple[list[Asset], list[ProbeOutcome]]:
            named, ident = await identify_services(
                tcp_assets,
                probes,
                ctx,
                nmap,
                nmap_timeout_s=config.timeouts.ports,
                host_timeout_s=config.timeouts.probe,
            )
            notes.extend(ident.notes)
            progress.note(ident.line())
            return named, list(await asyncio.gather(*(one(p, t) for p, t in jobs_for(named, later=True))))

        async def udp_then_probed() -> tuple[PortScan, list[tuple[Probe[Any], Target]], list[ProbeOutcome]]:
            udp_scan = await halves.udp()
            progress.end("ports")
            progress.note(halves.line())
            for h in udp_scan.hosts:
                if h.srtt_us and h.ip not in ctx.rtt:
                    ctx.rtt[h.ip] = h.srtt_us / 1e6
            udp_by_ip = {h.ip: h for h in udp_scan.hosts}
            udp_assets = [_asset(udp_by_ip.get(ip), ip, mac_of(ip), live[ip][1], oui) for ip in order]
            jobs = [
                (probe, target)
                for asset in udp_assets
                for target in probe_targets(asset, True, set())
                if target.proto is Proto.UDP
                for probe in probes
                if probe.applies(target)
            ]
            return udp_scan, jobs, list(await asyncio.gather(*(one(p, t) for p, t in jobs)))

        first, (named, then), (udp_scan, udp_jobs, udp_out) = await asyncio.gather(
            asyncio.gather(*(one(p, t) for p, t in now)), identified_then_probed(), udp_then_probed()
        )
    finally:
        await halves.aclose()
        await ctx.aclose()
    notes.extend(halves.notes)
    udp_by_ip = {h.ip: h for h in udp_scan.hosts}
    assets = [with_udp(a, udp_by_ip.get(str(a.ip))) for a in named]
    # The attempts in the order one port scan gave them: each host's claimed TCP and UDP ports, then
    # the identified ones.
    unnamed = [with_udp(a, udp_by_ip.get(str(a.ip))) for a in tcp_assets]
    outcomes = [*in_job_order(jobs_for(unnamed, later=False), [*now, *udp_jobs], [*first, *udp_out]), *then]
    return ScanResult(started, ctx.clock(), privileged, assets, outcomes, plan, notes)
