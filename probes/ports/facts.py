"""What a port scan establishes about each live host."""

from __future__ import annotations

from pydantic import Field

from duecare.probes.base import Facts
from duecare.wire import PortState, Proto


class PortFact(Facts):
    port: int = Field(ge=0, le=65535)
    proto: Proto
    state: PortState
    reason: str = ""
    name: str | None = None
    product: str | None = None
    version: str | None = None
    tunnel: str | None = None
    #: How nmap named the service: "table" (nmap-services, by number) or "probed" (-sV matched).
    method: str | None = None


class HostPorts(Facts):
    ip: str
    mac: str | None = None
    vendor: str | None = None
    hostname: str | None = None
    up_reason: str = ""
    ports: tuple[PortFact, ...] = ()
    filtered_tcp: str = ""
    filtered_udp: str = ""
    #: nmap's smoothed round-trip time to the host (``<times srtt>``, microseconds); None when not measured.
    srtt_us: int | None = Field(default=None, ge=0)


class PortScan(Facts):
    """One nmap run: its hosts, the scan type it used, and what it said about itself."""

    scan_types: tuple[str, ...] = ()
    hosts: tuple[HostPorts, ...] = ()
    nmap_version: str = ""
    elapsed_s: float = 0.0
