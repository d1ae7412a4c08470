"""Every probe, one line each. A new probe = one package + one line here."""

from __future__ import annotations

from typing import Any

from probes.base import Probe
from probes.telnet.probe import TelnetProbe
from wire import Proto


def all_probes() -> list[Probe[Any]]:
    return [
        TelnetProbe(),
    ]


def needed_ports(probes: list[Probe[Any]]) -> tuple[frozenset[int], frozenset[int]]:
    """(tcp, udp) ports the probes need scanned, whatever the configured port set says."""
    tcp: set[int] = set()
    udp: set[int] = set()
    for p in probes:
        (udp if p.proto is Proto.UDP else tcp).update(p.ports)
    return frozenset(tcp), frozenset(udp)
