"""The port stage pipelined with the probes: TCP and UDP port scans are two runs, and a host's TCP
probes start once the TCP scan is done, while the UDP scan still runs. No packet is sent: the
scanner, discovery and probes are fakes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from duecare.agent import scan as scan_mod
from duecare.agent.config import AgentConfig
from duecare.agent.progress import NullProgress
from duecare.agent.scope import Scope
from duecare.probes.base import Facts, Observation, Probe, ServiceProbe, Target
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeTimeout
from duecare.probes.ports.facts import HostPorts, PortFact, PortScan
from duecare.probes.ports.parse import expand_ranges
from duecare.wire import PortState, ProbeStatus, Proto

HOSTS = ("198.18.0.10", "198.18.0.11")


class Seen(Facts):
    port: int


class Clock:
    """When things happened, in order, across the scan's threads and tasks."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    def mark(self, what: str) -> None:
        with self.lock:
            self.events.append((what, time.perf_counter()))

    def at(self, what: str) -> float:
        return next(t for w, t in self.events if w == what)

    def names(self) -> list[str]:
        return [w for w, _t in self.events]


class Recording(ServiceProbe):
    """A probe that only notes when it ran."""

    clock: ClassVar[Clock]
    facts_model: ClassVar[type[Facts]] = Seen

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[Any]:
        self.clock.mark(f"{self.id} {target.host}")
        return Observation(Seen(port=target.port or 0))


def probe_class(clock: Clock, probe_id: str, proto: Proto, port: int) -> type[Recording]:
    return type(probe_id, (Recording,), {"id": probe_id, "proto": proto, "ports": frozenset({port}), "clock": clock})


class FakeNmap:
    """TCP answers at once; UDP answers when released (or fails, or TCP fails)."""

    privileged = True

    def __init__(self, clock: Clock, *, udp_delay: float = 0.5, fail: str = "") -> None:
        self.clock = clock
        self.udp_delay = udp_delay
        self.fail = fail
        self.asked: list[tuple[str, str]] = []

    def ping(self, hosts: Sequence[str], *, timeout_s: float) -> PortScan:
        raise AssertionError("discovery is faked")

    def ports(self, hosts: Sequence[str], *, tcp: str, udp: str, timeout_s: float) -> PortScan:
        self.asked.append((tcp, udp))
        if udp:
            self.clock.mark("udp scan start")
            time.sleep(self.udp_delay)
            self.clock.mark("udp scan done")
            if "udp" in self.fail:
                raise ProbeTimeout("nmap did not finish within 1s")
            fact = PortFact(port=161, proto=Proto.UDP, state=PortState.OPEN)
            return PortScan(hosts=tuple(HostPorts(ip=h, ports=(fact,), filtered_udp="1-5") for h in hosts))
        self.clock.mark("tcp scan done")
        if "tcp" in self.fail:
            raise ProbeTimeout("nmap did not finish within 1s")
        facts = (PortFact(port=22, proto=Proto.TCP, state=PortState.OPEN),)
        return PortScan(hosts=tuple(HostPorts(ip=h, ports=facts, filtered_tcp="7", srtt_us=300) for h in hosts))


def _run(monkeypatch: pytest.MonkeyPatch, nmap: FakeNmap, clock: Clock) -> scan_mod.ScanResult:
    async def discover(*_a: object) -> dict[str, tuple[str | None, str]]:
        return {h: ("02:00:00:00:00:01", "arp") for h in HOSTS}

    monkeypatch.setattr(scan_mod, "_discover", discover)
    monkeypatch.setattr(scan_mod, "read_neighbors", dict)
    probes: list[Probe[Any]] = [
        probe_class(clock, "tcp22", Proto.TCP, 22)(),
        probe_class(clock, "udp161", Proto.UDP, 161)(),
    ]
    config = AgentConfig()
    scope = Scope.parse(["198.18.0.0/24"])
    ctx = scan_mod.build_context(config, scope, privileged=True)
    ctx.scanner = nmap
    return asyncio.run(scan_mod.run_scan(config, scope, probes, privileged=True, progress=NullProgress(), ctx=ctx))


def test_tcp_probes_start_before_the_udp_scan_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    nmap = FakeNmap(clock)
    result = _run(monkeypatch, nmap, clock)
    (tcp_ask,) = [tcp for tcp, udp in nmap.asked if not udp]
    (udp_ask,) = [udp for tcp, udp in nmap.asked if not tcp]
    assert 22 in expand_ranges(tcp_ask) and 161 in expand_ranges(udp_ask)
    # UDP is asked once TCP is done (as one nmap run did: ICMP rate limits make UDP timing-sensitive).
    assert clock.at("tcp scan done") < clock.at("udp scan start")
    for host in HOSTS:
        assert clock.at(f"tcp22 {host}") < clock.at("udp scan done")
        assert clock.at(f"udp161 {host}") > clock.at("udp scan done")
    # The report reads as one port scan's: per host its TCP then UDP attempts, hosts in order.
    assert [(str(o.attempt.ip), o.attempt.probe) for o in result.outcomes] == [
        (h, p) for h in HOSTS for p in ("tcp22", "udp161")
    ]
    assert all(o.attempt.status is ProbeStatus.COMPLETED for o in result.outcomes)
    for asset in result.assets:
        assert [(s.port, s.proto) for s in asset.services] == [(22, Proto.TCP), (161, Proto.UDP)]
        assert (asset.filtered_tcp, asset.filtered_udp) == ("7", "1-5")
    assert result.notes == []


def test_a_failed_udp_half_keeps_the_tcp_half(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    result = _run(monkeypatch, FakeNmap(clock, udp_delay=0.1, fail="udp"), clock)
    assert [o.attempt.probe for o in result.outcomes] == ["tcp22", "tcp22"]
    assert all(a.services and a.services[0].port == 22 for a in result.assets)
    assert any("UDP port scan failed" in n for n in result.notes)


def test_a_failed_tcp_half_keeps_the_udp_half(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    result = _run(monkeypatch, FakeNmap(clock, udp_delay=0.1, fail="tcp"), clock)
    assert [o.attempt.probe for o in result.outcomes] == ["udp161", "udp161"]
    assert [[s.port for s in a.services] for a in result.assets] == [[161], [161]]
    assert any("TCP port scan failed" in n for n in result.notes)


def test_both_halves_failing_fails_the_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    with pytest.raises(ProbeTimeout):
        _run(monkeypatch, FakeNmap(clock, udp_delay=0.1, fail="tcp udp"), clock)
    assert "tcp22 198.18.0.10" not in clock.names()
