"""The discovery and port stages' scanner, as an interface: nmap in production (``_nmap.Nmap``),
a fake in tests, so the scan can be exercised without sending a packet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from duecare.probes.ports.facts import PortScan


class PortScanner(Protocol):
    privileged: bool

    def ping(self, hosts: Sequence[str], *, timeout_s: float) -> PortScan:
        """Which of ``hosts`` are up (ICMP/TCP ping; ARP on attached links when privileged)."""
        ...

    def ports(self, hosts: Sequence[str], *, tcp: str, udp: str, timeout_s: float) -> PortScan:
        """Open, closed and filtered ports of ``hosts`` (``tcp``/``udp`` are nmap port specs)."""
        ...


@runtime_checkable
class VersionScanner(Protocol):
    """A scanner that can also name services (nmap ``-sV``); fakes in tests may not."""

    def versions(self, hosts: Sequence[str], *, tcp: str, timeout_s: float, host_timeout_s: float) -> PortScan:
        """Service names, products and versions on ``tcp`` ports of ``hosts``."""
        ...
