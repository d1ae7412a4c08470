"""Scans for verdict tests: facts through the real rule files, and the coverage the agent would record."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from ipaddress import ip_address
from typing import Any

from duecare.advisories.catalog import Catalog
from duecare.advisories.coverage import ProbeRun, ScanCoverage
from duecare.advisories.engine import FactsRecord
from duecare.probes.base import Facts, Probe
from duecare.probes.registry import all_probes
from duecare.wire import Finding, ProbeAttempt, ProbeStatus, Proto
from tests.advisories.conftest import NOW

HOSTS = ("198.18.0.10", "198.18.0.20", "198.18.0.30")


def runs(probes: Iterable[Probe[Any]] | None = None) -> tuple[ProbeRun, ...]:
    return tuple(ProbeRun(p.id, p.facts_model, p.proto, frozenset(p.ports)) for p in (probes or all_probes()))


def attempt(probe: str, ip: str, port: int | None, proto: Proto | None, status: ProbeStatus) -> ProbeAttempt:
    return ProbeAttempt(
        probe=probe, ip=ip_address(ip), port=port, proto=proto, status=status, started_at=NOW, duration_ms=1.0
    )


def full_coverage(
    probes: Sequence[Probe[Any]] | None = None,
    *,
    hosts: Sequence[str] = HOSTS,
    status: dict[str, ProbeStatus] | None = None,
) -> ScanCoverage:
    """Every probe ran to completion on one service of the first host; every needed port was swept."""
    plist = list(probes or all_probes())
    status = status or {}
    attempts = tuple(
        attempt(
            p.id,
            hosts[0],
            min(p.ports),
            p.proto,
            status.get(p.id, ProbeStatus.COMPLETED),
        )
        for p in plist
        if hosts
    )
    tcp = frozenset(port for p in all_probes() if p.proto is not Proto.UDP for port in p.ports)
    udp = frozenset(port for p in all_probes() if p.proto is Proto.UDP for port in p.ports)
    return ScanCoverage(runs(plist), attempts, tuple(ip_address(h) for h in hosts), tcp, udp)


def empty_scan() -> ScanCoverage:
    """A scan of the wrong subnet: every probe enabled, nothing answered."""
    return full_coverage(hosts=())


def findings(catalog: Catalog, *observed: tuple[Facts, int, Proto], ip: str = HOSTS[0]) -> list[Finding]:
    """Facts as probes report them → findings through the packaged rule files."""
    by_model = {p.facts_model: p.id for p in all_probes()}
    records = [
        FactsRecord(by_model[type(f)], type(f), ip_address(ip), port, proto, ProbeStatus.COMPLETED, None, f)
        for f, port, proto in observed
    ]
    return catalog.findings(records, observed_at=NOW)


def earlier(days: int) -> Any:
    return NOW - timedelta(days=days)
