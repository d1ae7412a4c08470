"""What a scan covered: the positive evidence a ``met`` rests on. Pure: the agent describes the scan.

An exposure is covered when every facts model its rule reads is collected by a probe that ran, the
port scan swept that probe's ports on every host found in scope, and every attempt of the probe
ended in a state that answers the question (completed; or the port turned out not to speak the
protocol, or was gone). A probe that timed out, was skipped, lacked rights or crashed leaves a gap,
and so does a facts model no registered probe collects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

from duecare.probes.base import Facts
from duecare.wire import Coverage, ProbeAttempt, ProbeStatus, Proto

IPAddress = IPv4Address | IPv6Address

#: Attempt states that leave the question open (a TCP timeout included; UDP silence is an answer).
_GAP = {ProbeStatus.NOT_PERMITTED, ProbeStatus.SKIPPED, ProbeStatus.BUG}
_HOSTS_LISTED = 64


@dataclass(frozen=True, slots=True)
class ProbeRun:
    """A probe the scan ran: the facts it collects and the ports the port scan had to sweep for it."""

    id: str
    facts_model: type[Facts]
    proto: Proto | None
    ports: frozenset[int]


@dataclass(frozen=True)
class ScanCoverage:
    """The scan as coverage sees it (built by the agent from the probes it ran and their attempts)."""

    probes: tuple[ProbeRun, ...]
    attempts: tuple[ProbeAttempt, ...]
    #: Hosts found in scope whose ports were scanned.
    hosts: tuple[IPAddress, ...]
    tcp_ports: frozenset[int]
    #: Empty without a UDP port scan (UDP probes then ask their ports on every host directly).
    udp_ports: frozenset[int]
    by_probe: dict[str, tuple[ProbeAttempt, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[ProbeAttempt]] = {}
        for a in self.attempts:
            grouped.setdefault(a.probe, []).append(a)
        object.__setattr__(self, "by_probe", {k: tuple(v) for k, v in grouped.items()})

    def collecting(self, model: type[Facts]) -> list[ProbeRun]:
        return [p for p in self.probes if issubclass(p.facts_model, model)]


def _ports_label(ports: Iterable[int], proto: Proto | None) -> str:
    p = "udp" if proto is Proto.UDP else "tcp"
    return ", ".join(f"{n}/{p}" for n in sorted(ports))


def _gap_text(probe: str, status: ProbeStatus, where: Sequence[ProbeAttempt]) -> str:
    first = where[0]
    place = f"{first.ip}" + (f":{first.port}" if first.port is not None else "")
    more = f" and {len(where) - 1} more" if len(where) > 1 else ""
    return f"{probe} {status.value.replace('_', ' ')} on {place}{more}"


def _probe_gaps(run: ProbeRun, scan: ScanCoverage, attempts: Sequence[ProbeAttempt]) -> list[str]:
    gaps: list[str] = []
    if run.proto is Proto.UDP:
        asked = {a.ip for a in attempts}
        unswept = sorted(run.ports - scan.udp_ports)
        if unswept and any(h not in asked for h in scan.hosts):
            gaps.append(f"UDP {_ports_label(unswept, Proto.UDP)} neither swept nor asked on every host ({run.id})")
    else:
        unswept = sorted(run.ports - scan.tcp_ports)
        if unswept:
            gaps.append(f"port scan did not sweep {_ports_label(unswept, Proto.TCP)} ({run.id})")
    by_status: dict[ProbeStatus, list[ProbeAttempt]] = {}
    for a in attempts:
        timed_out_tcp = a.status is ProbeStatus.TIMED_OUT and a.proto is not Proto.UDP
        if a.status in _GAP or timed_out_tcp:
            by_status.setdefault(a.status, []).append(a)
    gaps.extend(_gap_text(run.id, st, where) for st, where in sorted(by_status.items()))
    return gaps


def coverage(scan: ScanCoverage | None, models: Iterable[type[Facts]], *, weak: str | None = None) -> Coverage:
    """Coverage of the facts models one or more exposure rules read; ``weak`` names a check whose
    absence proves nothing (a version banner), which leaves coverage incomplete whatever ran."""
    if scan is None:
        return Coverage(probes=(), services=0, hosts_swept=0, complete=False, gaps=("no scan record to rest on",))
    gaps: list[str] = []
    runs: dict[str, ProbeRun] = {}
    for model in dict.fromkeys(models):
        found = scan.collecting(model)
        if not found:
            gaps.append(f"no registered probe collects {model.__name__}")
        runs.update((r.id, r) for r in found)
    if not scan.hosts:
        gaps.append("no device answered in the declared scope")
    services: set[tuple[IPAddress, int | None, Proto | None]] = set()
    hosts: set[IPAddress] = set()
    ports: list[str] = []
    for run in runs.values():
        attempts = scan.by_probe.get(run.id, ())
        gaps.extend(_probe_gaps(run, scan, attempts))
        for a in attempts:
            if a.status is ProbeStatus.COMPLETED:
                services.add((a.ip, a.port, a.proto))
                hosts.add(a.ip)
        ports.append(_ports_label(run.ports, run.proto))
    if weak:
        gaps.append(weak)
    listed = sorted(hosts, key=lambda h: (h.version, int(h)))
    return Coverage(
        probes=tuple(sorted(runs)),
        services=len(services),
        hosts=tuple(listed[:_HOSTS_LISTED]),
        hosts_swept=len(scan.hosts),
        ports="; ".join(p for p in ports if p),
        complete=not gaps,
        gaps=tuple(dict.fromkeys(gaps)),
    )
