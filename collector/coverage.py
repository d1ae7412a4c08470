"""What a report looked at: the rule that decides whether an absence means "fixed".

A finding that a later report does not mention is resolved only when that report *covered* it
(see ``lifecycle.py`` for the whole rule). Covered means both:

* the address was in the scan: it is one of ``report.assets``, or it lies inside
  ``report.scope.targets`` minus ``report.scope.exclusions`` (a host that stopped answering
  inside the scanned range counts as covered: the exposure is no longer reachable);
* the port was in the scan: for a finding with a port, that port is in the scope's port list for
  its protocol, or the asset lists it among its services or filtered ports in this report.
  A port list we cannot read counts as NOT covering the port: unsure means not resolved.

Target notation follows the agent's scope parser: an address, a CIDR, "a.b.c.d-a.b.c.e" or
"a.b.c.d-e". Port notation follows nmap ("22,80,8000-8100", open ends "-1024" and "1024-").
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from duecare.wire import Proto, Report

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
PortRanges = tuple[tuple[int, int], ...]

_PORT_ITEM = re.compile(r"^(\d*)-(\d*)$|^(\d+)$")


def parse_targets(specs: Iterable[str]) -> tuple[IPNetwork, ...] | None:
    """Networks named by ``specs``; None when one of them cannot be read."""
    nets: list[IPNetwork] = []
    for spec in specs:
        text = spec.strip()
        try:
            if "-" in text and "/" not in text:
                lo_s, _, hi_s = text.partition("-")
                lo = ipaddress.ip_address(lo_s.strip())
                hi_text = hi_s.strip()
                hi: IPAddress
                if hi_text.isdigit() and isinstance(lo, IPv4Address):
                    hi = IPv4Address(int(lo) & ~0xFF | int(hi_text))
                else:
                    hi = ipaddress.ip_address(hi_text)
                if lo.version != hi.version or int(hi) < int(lo):
                    return None
                nets.extend(ipaddress.summarize_address_range(lo, hi))
            else:
                nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            return None
    return tuple(nets)


def parse_ports(spec: str) -> PortRanges | None:
    """nmap port notation → inclusive ranges; "" → no ports; None when unreadable."""
    ranges: list[tuple[int, int]] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        m = _PORT_ITEM.match(item)
        if m is None:
            return None
        if m.group(3) is not None:
            lo = hi = int(m.group(3))
        else:
            lo = int(m.group(1)) if m.group(1) else 1
            hi = int(m.group(2)) if m.group(2) else 65535
        if not 0 <= lo <= hi <= 65535:
            return None
        ranges.append((lo, hi))
    return tuple(ranges)


def _in_ranges(port: int, ranges: PortRanges) -> bool:
    return any(lo <= port <= hi for lo, hi in ranges)


def _in_nets(ip: IPAddress, nets: Iterable[IPNetwork]) -> bool:
    return any(ip.version == n.version and ip in n for n in nets)


@dataclass(frozen=True)
class Coverage:
    """The parts of one report's scope that decide coverage, parsed once."""

    assets: frozenset[IPAddress]
    #: Ports each listed asset reported (services and filtered ones), per protocol.
    asset_ports: dict[tuple[IPAddress, Proto], PortRanges]
    targets: tuple[IPNetwork, ...] | None
    exclusions: tuple[IPNetwork, ...] | None
    ports: dict[Proto, PortRanges | None]

    @classmethod
    def of(cls, report: Report) -> Coverage:
        asset_ports: dict[tuple[IPAddress, Proto], PortRanges] = {}
        for asset in report.assets:
            for proto, filtered in ((Proto.TCP, asset.filtered_tcp), (Proto.UDP, asset.filtered_udp)):
                listed = tuple((s.port, s.port) for s in asset.services if s.proto is proto)
                asset_ports[(asset.ip, proto)] = listed + (parse_ports(filtered) or ())
        return cls(
            assets=frozenset(a.ip for a in report.assets),
            asset_ports=asset_ports,
            targets=parse_targets(report.scope.targets),
            exclusions=parse_targets(report.scope.exclusions),
            ports={Proto.TCP: parse_ports(report.scope.tcp_ports), Proto.UDP: parse_ports(report.scope.udp_ports)},
        )

    def covers_address(self, ip: IPAddress) -> bool:
        if ip in self.assets:
            return True
        if self.targets is None or self.exclusions is None:
            return False  # unreadable scope: we cannot tell, so it covers nothing beyond assets
        return _in_nets(ip, self.targets) and not _in_nets(ip, self.exclusions)

    def covers_port(self, ip: IPAddress, port: int | None, proto: Proto | None) -> bool:
        if port is None or proto is None:
            return True
        if _in_ranges(port, self.asset_ports.get((ip, proto), ())):
            return True
        ranges = self.ports.get(proto)
        return ranges is not None and _in_ranges(port, ranges)

    def covers(self, ip: IPAddress, port: int | None, proto: Proto | None) -> bool:
        return self.covers_address(ip) and self.covers_port(ip, port, proto)
