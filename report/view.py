"""Report → what each reader needs: the owner's summary and actions, the engineer's per-host detail.

Pure functions over a wire ``Report``: sorting, grouping and counting happen here so the
template only lays things out. Nothing here decides a verdict; it only arranges the ones made.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from ipaddress import ip_address
from typing import Literal

from duecare.wire import Asset, Confidence, Finding, ObligationRef, ObligationStatus, Report, Service, Severity, Verdict

#: Greenbone-style quality of detection, in words a reader can weigh (ecosystem §5.4, "qod_type").
CONFIDENCE_MEANING: dict[str, str] = {
    Confidence.CERTAIN: "verified: the service's own answer proves it",
    Confidence.FIRM: "disclosed: a version or setting the service reported",
    Confidence.TENTATIVE: "inferred: a banner or indirect sign, not confirmed",
}


def finding_id(f: Finding) -> str:
    """The key a finding keeps across scans (address, exposure, port), as page anchor and test hook."""
    where = "-" if f.port is None else f"{f.port}/{f.proto.value if f.proto else '?'}"
    return f"{f.ip}|{f.exposure.value}|{where}"


def anchor(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def first_sentences(text: str | None, limit: int = 320) -> str:
    """The start of a remediation, cut at a sentence end so the owner reads whole sentences."""
    flat = one_line(text)
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    end = max(cut.rfind(". "), cut.rfind("; "))
    return cut[: end + 1] if end > limit // 3 else cut.rsplit(" ", 1)[0] + " …"


def is_kev(f: Finding) -> bool:
    return any(c.known_exploited is True for c in f.cves)


def is_confirmed_kev(f: Finding) -> bool:
    """A KEV CVE the probe confirmed; a tentative banner match does not bind the due date yet."""
    return is_kev(f) and f.confidence is not Confidence.TENTATIVE


def is_open(f: Finding) -> bool:
    return f.verdict is Verdict.AFFECTED and not f.waived


def _ip_key(ip: str) -> tuple[int, int]:
    addr = ip_address(ip)
    return addr.version, int(addr)


@dataclass(frozen=True)
class Action:
    """One remediation for the owner: an exposure, every place it was seen, and by when."""

    title: str
    exposure: str
    severity: Severity
    #: (address, port) pairs; port None for a host-level finding.
    places: tuple[tuple[str, int | None], ...]
    deadline: date | None
    overdue: bool
    #: A confirmed KEV-listed CVE; ``kev_unconfirmed`` for a version-banner match not yet verified.
    kev: bool
    kev_unconfirmed: bool
    remediation: str
    requirements_not_met: int

    @property
    def anchor(self) -> str:
        return "x-" + anchor(self.exposure)

    @property
    def place_labels(self) -> tuple[str, ...]:
        return tuple(_place_label(ip, port) for ip, port in self.places)


def actions(report: Report, today: date) -> list[Action]:
    """Open findings grouped by exposure, most urgent first: KEV, overdue, severity, deadline, reach."""
    groups: defaultdict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        if is_open(f):
            groups[f.exposure.value].append(f)
    out = []
    for exposure, fs in groups.items():
        worst = max(fs, key=lambda f: f.severity.rank)
        deadlines = [f.deadline for f in fs if f.deadline is not None]
        deadline = min(deadlines) if deadlines else None
        not_met = {
            (o.framework, o.requirement) for f in fs for o in f.obligations if o.status is ObligationStatus.NOT_MET
        }
        out.append(
            Action(
                title=worst.title,
                exposure=exposure,
                severity=worst.severity,
                places=tuple(sorted({(str(f.ip), f.port) for f in fs}, key=lambda p: (_ip_key(p[0]), p[1] or 0))),
                deadline=deadline,
                overdue=deadline is not None and deadline < today,
                kev=any(is_confirmed_kev(f) for f in fs),
                kev_unconfirmed=any(is_kev(f) and not is_confirmed_kev(f) for f in fs),
                remediation=first_sentences(worst.remediation),
                requirements_not_met=len(not_met),
            )
        )
    out.sort(key=lambda a: (not a.kev, not a.overdue, -a.severity.rank, a.deadline or date.max, -len(a.places)))
    return out


def _place_label(ip: str, port: int | None) -> str:
    if port is None:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


@dataclass(frozen=True)
class KevRow:
    finding: Finding
    cve: str
    date_added: date | None
    due: date | None
    ransomware: str | None
    overdue: bool
    #: False for a version-banner match the probe could not confirm: the due date does not bind yet.
    confirmed: bool


def kev_rows(report: Report, today: date) -> list[KevRow]:
    rows = [
        KevRow(
            finding=f,
            cve=c.cve,
            date_added=c.kev_date_added,
            due=c.kev_due_date,
            ransomware=c.known_ransomware_campaign_use,
            overdue=f.confidence is not Confidence.TENTATIVE and c.kev_due_date is not None and c.kev_due_date < today,
            confirmed=f.confidence is not Confidence.TENTATIVE,
        )
        for f in report.findings
        if f.verdict is Verdict.AFFECTED
        for c in f.cves
        if c.known_exploited is True
    ]
    rows.sort(key=lambda r: (r.due or date.max, _ip_key(str(r.finding.ip)), r.cve))
    return rows


def overdue_findings(report: Report, today: date) -> list[tuple[Finding, int]]:
    """Open findings past their deadline, with the days overdue, longest first."""
    out = [(f, (today - f.deadline).days) for f in report.findings if is_open(f) and f.deadline and f.deadline < today]
    out.sort(key=lambda x: (-x[1], -x[0].severity.rank))
    return out


def obligation_groups(f: Finding) -> list[tuple[str, ObligationStatus, list[ObligationRef]]]:
    """A finding's requirements as (framework, status, refs): one line each in the engineer's view."""
    groups: dict[tuple[str, ObligationStatus], list[ObligationRef]] = {}
    for o in f.obligations:
        groups.setdefault((o.framework, o.status), []).append(o)
    return [(fw, st, refs) for (fw, st), refs in groups.items()]


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    counts = dict.fromkeys(sorted(Severity, key=lambda s: -s.rank), 0)
    for f in findings:
        if is_open(f):
            counts[f.severity] += 1
    return counts


@dataclass(frozen=True)
class ServiceView:
    port: int | None
    proto: str | None
    service: Service | None
    findings: tuple[Finding, ...]

    @property
    def label(self) -> str:
        if self.port is None:
            return "host"
        return f"{self.port}/{self.proto or '?'}"

    @property
    def description(self) -> str:
        s = self.service
        if s is None:
            return ""
        return " ".join(p for p in (s.name, s.product, s.version, f"({s.tunnel})" if s.tunnel else None) if p)


@dataclass(frozen=True)
class HostView:
    ip: str
    asset: Asset | None
    services: tuple[ServiceView, ...]

    @property
    def anchor(self) -> str:
        return "h-" + anchor(self.ip)

    @property
    def worst(self) -> Severity:
        return max((f.severity for s in self.services for f in s.findings), key=lambda s: s.rank, default=Severity.INFO)

    @property
    def finding_count(self) -> int:
        return sum(len(s.findings) for s in self.services)


def _sort_findings(fs: Sequence[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(fs, key=lambda f: (f.waived, -f.severity.rank, f.exposure.value)))


def hosts_with_findings(report: Report) -> list[HostView]:
    """Hosts with an affected finding (waived included, and marked), then per port, worst first."""
    assets = {str(a.ip): a for a in report.assets}
    by_host: defaultdict[str, defaultdict[tuple[int | None, str | None], list[Finding]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for f in report.findings:
        if f.verdict is Verdict.AFFECTED:
            by_host[str(f.ip)][(f.port, f.proto.value if f.proto else None)].append(f)
    out = []
    for ip, ports in by_host.items():
        asset = assets.get(ip)
        services = {(s.port, s.proto.value): s for s in asset.services} if asset else {}
        views = tuple(
            ServiceView(
                port, proto, services.get((port, proto or "")) if port is not None else None, _sort_findings(fs)
            )
            for (port, proto), fs in sorted(ports.items(), key=lambda kv: (kv[0][0] or -1, kv[0][1] or ""))
        )
        out.append(HostView(ip, asset, views))
    out.sort(key=lambda h: (-h.worst.rank, _ip_key(h.ip)))
    return out


def quiet_assets(report: Report) -> list[Asset]:
    """Devices found with no affected finding: listed so absence of findings is visibly scoped."""
    noisy = {str(f.ip) for f in report.findings if f.verdict is Verdict.AFFECTED}
    return sorted((a for a in report.assets if str(a.ip) not in noisy), key=lambda a: _ip_key(str(a.ip)))


def parse_ports(ranges: str) -> set[int]:
    """nmap's range notation ("1,3-4,6") → the ports; what a scan covered."""
    out: set[int] = set()
    for part in ranges.split(","):
        lo, _, hi = part.strip().partition("-")
        if lo.isdigit() and (not hi or hi.isdigit()):
            out.update(range(int(lo), int(hi or lo) + 1))
    return out


def port_count(ranges: str) -> int:
    return len(parse_ports(ranges))


def open_services(asset: Asset) -> str:
    parts = [
        f"{s.port}/{s.proto.value}" + (f" {s.name}" if s.name else "")
        for s in asset.services
        if s.state.value == "open"
    ]
    return ", ".join(parts)


@dataclass(frozen=True)
class Headline:
    """The one-sentence verdict at the top, with its tone for styling (and a word for print)."""

    tone: Literal["urgent", "attention", "clear"]
    word: str
    sentence: str


def headline(report: Report, today: date) -> Headline:
    open_fs = [f for f in report.findings if is_open(f)]
    kev = sum(1 for f in open_fs if is_confirmed_kev(f))
    overdue = len(overdue_findings(report, today))
    serious = sum(1 for f in open_fs if f.severity.rank >= Severity.HIGH.rank)
    not_met = report.obligations.not_met if report.obligations else 0
    if kev or overdue or any(f.severity is Severity.CRITICAL for f in open_fs):
        parts = []
        if kev:
            parts.append(f"{kev} known-exploited (KEV) exposure{'s' if kev != 1 else ''}")
        if overdue:
            parts.append(f"{overdue} item{'s' if overdue != 1 else ''} past the agreed deadline")
        crit = sum(1 for f in open_fs if f.severity is Severity.CRITICAL)
        if crit:
            parts.append(f"{crit} critical exposure{'s' if crit != 1 else ''}")
        return Headline("urgent", "Action required", "This network has " + _join(parts) + ".")
    if open_fs or not_met:
        return Headline(
            "attention",
            "Attention needed",
            f"{len(open_fs)} exposure{'s' if len(open_fs) != 1 else ''} found ({serious} high or critical)"
            + (f"; {not_met} obligation{'s' if not_met != 1 else ''} not met." if not_met else "."),
        )
    return Headline("clear", "No exposure found", "None of the checks run found an exposure on the devices scanned.")


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
