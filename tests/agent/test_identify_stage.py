"""The identification stage's own logic on loopback: what it asks nmap -sV, and what it leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from ipaddress import ip_address

from duecare.agent.identify import claimed, identify_services
from duecare.probes.context import ProbeContext
from duecare.probes.ports.facts import HostPorts, PortFact, PortScan
from duecare.probes.registry import all_probes
from duecare.wire import Asset, IdentifiedBy, PortState, Proto, Service
from tests.probes.fake_tcp import FAST, sends, silent, tcp_server


class FakeScanner:
    """Ports and ping are never asked here; ``versions`` answers as nmap -sV would and records the ask."""

    privileged = False

    def __init__(self) -> None:
        self.asked: list[tuple[tuple[str, ...], str]] = []

    def ping(self, hosts: Sequence[str], *, timeout_s: float) -> PortScan:
        raise AssertionError("not asked")

    def ports(self, hosts: Sequence[str], *, tcp: str, udp: str, timeout_s: float) -> PortScan:
        raise AssertionError("not asked")

    def versions(self, hosts: Sequence[str], *, tcp: str, timeout_s: float, host_timeout_s: float) -> PortScan:
        self.asked.append((tuple(hosts), tcp))
        port = int(tcp)
        fact = PortFact(port=port, proto=Proto.TCP, state=PortState.OPEN, name="redis", method="probed")
        return PortScan(hosts=(HostPorts(ip="127.0.0.1", ports=(fact,)),))


def _asset(*ports: int) -> Asset:
    services = tuple(Service(port=p, proto=Proto.TCP, state=PortState.OPEN, name="unknown") for p in ports)
    return Asset(ip=ip_address("127.0.0.1"), discovered_by="listed", services=services)


def test_silent_unhinted_port_goes_to_nmap_and_a_greeting_does_not() -> None:
    scanner = FakeScanner()

    async def go() -> list[Asset]:
        ctx = ProbeContext(timeouts=FAST)
        try:
            async with tcp_server(silent()) as quiet, tcp_server(sends(b"SSH-2.0-OpenSSH_9.2p1\r\n")) as ssh:
                named, stats = await identify_services(
                    [_asset(quiet, ssh)], all_probes(), ctx, scanner, nmap_timeout_s=10, host_timeout_s=5
                )
                assert (stats.by_greeting, stats.by_nmap, stats.unknown) == (1, 1, 0)
                assert scanner.asked == [(("127.0.0.1",), str(quiet))]
                return named
        finally:
            await ctx.aclose()

    (asset,) = asyncio.run(go())
    how = {s.name: s.identified_by for s in asset.services}
    assert how == {"redis": IdentifiedBy.NMAP_VERSION, "ssh": IdentifiedBy.GREETING}


def test_claimed_ports_are_not_identified() -> None:
    asset = _asset(3389, 6379, 5902, 26379)
    probes = all_probes()
    assert [p for p in (3389, 6379, 5902, 26379) if claimed(asset, p, probes)] == [3389, 6379]
