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

from duecare.wire import (
    AdvisoryRef,
    Asset,
    Confidence,
    DeadlineState,
    Finding,
    IdentifiedBy,
    KevStatus,
    ObligationRef,
    ObligationStatus,
    Report,
    Service,
    Severity,
    Verdict,
)

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


def is_overdue(f: Finding, today: date) -> bool:
    """Past a deadline set under this engagement (``Finding.deadline`` never holds an inherited date)."""
    return is_open(f) and f.deadline is not None and f.deadline < today


def inherited_due(f: Finding) -> date | None:
    """A published due date that fell before the engagement began (or before duecare first saw it)."""
    return f.timeline.inherited_due if is_open(f) and f.timeline is not None else None


def needs_forensic_triage(f: Finding) -> bool:
    return is_open(f) and f.timeline is not None and f.timeline.forensic_triage is True


def first_seen(f: Finding, report: Report) -> date:
    return f.timeline.first_seen if f.timeline is not None else report.started_at.date()


def public_for(a: AdvisoryRef, f: Finding, report: Report) -> int | None:
    """Days the advisory had been public when the finding was first seen: what a negligence argument rests on."""
    return None if a.published is None else (first_seen(f, report) - a.published).days


def inherited_text(f: Finding) -> str:
    """The one wording every output uses for an inherited due date."""
    due = inherited_due(f)
    if due is None or f.timeline is None:
        return ""
    if f.timeline.engagement_start is not None:
        return f"inherited: overdue before the engagement began (due {due.isoformat()})"
    return (
        f"inherited: overdue before duecare first saw it (due {due.isoformat()}); no engagement start date is recorded"
    )


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
    #: The exposure's plain-language summary: what the owner reads first.
    summary: str
    remediation: str
    requirements_not_met: int
    inherited: date | None = None
    #: The one wording for it (``inherited_text``), for the earliest inherited finding of the group.
    inherited_text: str = ""
    forensic_triage: bool = False

    @property
    def anchor(self) -> str:
        return "x-" + anchor(self.exposure)

    @property
    def place_labels(self) -> tuple[str, ...]:
        return tuple(_place_label(ip, port) for ip, port in self.places)


def actions(report: Report, today: date) -> list[Action]:
    """Open findings grouped by exposure, most urgent first: KEV, overdue, severity, deadline, reach."""
    return actions_of(report.findings, today)


def actions_of(findings: Iterable[Finding], today: date) -> list[Action]:
    """``actions`` over any findings (the console ranks a client's live findings the same way)."""
    groups: defaultdict[str, list[Finding]] = defaultdict(list)
    for f in findings:
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
        inherited = [d for f in fs if (d := inherited_due(f)) is not None]
        first_inherited = min(
            (f for f in fs if inherited_due(f)), key=lambda f: inherited_due(f) or date.max, default=None
        )
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
                summary=first_sentences(next((f.summary for f in fs if f.summary), "")),
                remediation=first_sentences(worst.remediation),
                requirements_not_met=len(not_met),
                inherited=min(inherited) if inherited else None,
                inherited_text=inherited_text(first_inherited) if first_inherited else "",
                forensic_triage=any(needs_forensic_triage(f) for f in fs),
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
    """One open finding that carries KEV-listed CVEs: one row per finding, so the table's rows are
    what the owner summary counts."""

    finding: Finding
    cves: tuple[KevStatus, ...]
    date_added: date | None
    #: CISA's published due date (for federal agencies); under this engagement see the finding's clock.
    due: date | None
    ransomware: str | None
    overdue: bool
    inherited: str
    #: False for a version-banner match the probe could not confirm: the due date does not bind yet.
    confirmed: bool


def kev_rows(report: Report, today: date) -> list[KevRow]:
    rows = []
    for f in report.findings:
        listed = tuple(c for c in f.cves if c.known_exploited is True)
        if not is_open(f) or not listed:
            continue
        added = [c.kev_date_added for c in listed if c.kev_date_added]
        due = [c.kev_due_date for c in listed if c.kev_due_date]
        ransomware = "Known" if any(c.known_ransomware_campaign_use == "Known" for c in listed) else None
        rows.append(
            KevRow(
                finding=f,
                cves=listed,
                date_added=min(added) if added else None,
                due=min(due) if due else None,
                ransomware=ransomware or next((c.known_ransomware_campaign_use for c in listed), None),
                overdue=is_overdue(f, today),
                inherited=inherited_text(f),
                confirmed=f.confidence is not Confidence.TENTATIVE,
            )
        )
    rows.sort(key=lambda r: (not r.confirmed, r.due or date.max, _ip_key(str(r.finding.ip)), r.finding.exposure.value))
    return rows


def overdue_findings(report: Report, today: date) -> list[tuple[Finding, int]]:
    """Open findings past a deadline set under this engagement, with the days overdue, longest first."""
    out = [(f, (today - f.deadline).days) for f in report.findings if is_overdue(f, today) and f.deadline]
    out.sort(key=lambda x: (-x[1], -x[0].severity.rank))
    return out


def inherited_findings(report: Report) -> list[tuple[Finding, date]]:
    """Open findings whose published due date fell before the engagement: the previous period's debt."""
    out = [(f, d) for f in report.findings if (d := inherited_due(f)) is not None]
    out.sort(key=lambda x: (x[1], -x[0].severity.rank))
    return out


@dataclass(frozen=True)
class Counts:
    """Every number the owner summary shows, computed once: the banner, the cards and the tables'
    captions all read these, so they cannot disagree."""

    devices: int
    open: int
    serious: int
    critical: int
    #: Open findings with a KEV-listed CVE the probe confirmed (the KEV table's confirmed rows).
    kev: int
    kev_unconfirmed: int
    #: Open findings past a deadline set under this engagement (the "past the deadline" table's rows).
    overdue: int
    #: Open findings with a due date that fell before the engagement began.
    inherited: int
    forensic_triage: int
    undetermined: int
    waived: int
    obligations: dict[ObligationStatus, int]
    #: Requirements whose deadline (from their findings) passed under this engagement.
    requirements_overdue: int


def counts(report: Report, today: date, *, unsettled: int | None = None) -> Counts:
    """``unsettled``: the checks section 4 lists as not settled (``gaps``); the one count of them that
    the summary, section 4, the devices table and the terminal all show."""
    open_fs = [f for f in report.findings if is_open(f)]
    rows = kev_rows(report, today)
    results = report.obligations.results if report.obligations else ()
    return Counts(
        devices=len(report.assets),
        open=len(open_fs),
        serious=sum(1 for f in open_fs if f.severity.rank >= Severity.HIGH.rank),
        critical=sum(1 for f in open_fs if f.severity is Severity.CRITICAL),
        kev=sum(1 for r in rows if r.confirmed),
        kev_unconfirmed=sum(1 for r in rows if not r.confirmed),
        overdue=len(overdue_findings(report, today)),
        inherited=len(inherited_findings(report)),
        forensic_triage=sum(1 for f in open_fs if needs_forensic_triage(f)),
        undetermined=unsettled
        if unsettled is not None
        else sum(1 for f in report.findings if f.verdict is Verdict.INDETERMINATE),
        waived=sum(1 for f in report.findings if f.verdict is Verdict.AFFECTED and f.waived),
        obligations={s: sum(1 for r in results if r.status is s) for s in ObligationStatus},
        requirements_overdue=sum(1 for r in results if r.overdue),
    )


def deadline_state(f: Finding, today: date) -> DeadlineState:
    """As of ``today`` (a report re-rendered later keeps the verdict, not the clock)."""
    if is_overdue(f, today):
        return DeadlineState.OVERDUE
    if inherited_due(f) is not None:
        return DeadlineState.INHERITED
    if f.timeline is not None:
        return f.timeline.state
    return DeadlineState.DUE if f.deadline else DeadlineState.NONE


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
        text = " ".join(p for p in (s.name, s.product, s.version, f"({s.tunnel})" if s.tunnel else None) if p)
        how = None if s.identified_by is None else _IDENTIFIED_BY[s.identified_by]
        return f"{text} [{how}]" if how and text else text


#: How the scan knew the service on a port other than its standard one (issue 16).
_IDENTIFIED_BY = {
    IdentifiedBy.GREETING: "named by its greeting",
    IdentifiedBy.HANDSHAKE: "named by its answer to a handshake",
    IdentifiedBy.NMAP_VERSION: "named by nmap version detection",
}


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


def _n(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def headline(report: Report, today: date, c: Counts | None = None) -> Headline:
    c = c or counts(report, today)
    not_met = c.obligations[ObligationStatus.NOT_MET]
    if c.kev or c.overdue or c.critical:
        parts = []
        if c.kev:
            parts.append(f"{_n(c.kev, 'known-exploited (KEV) exposure')}")
        if c.overdue:
            parts.append(f"{_n(c.overdue, 'exposure')} past the agreed deadline")
        if c.critical:
            parts.append(f"{_n(c.critical, 'critical exposure')}")
        return Headline("urgent", "Action required", "This network has " + _join(parts) + ".")
    if c.open or not_met:
        return Headline(
            "attention",
            "Attention needed",
            f"{_n(c.open, 'exposure')} found ({c.serious} high or critical)"
            + (f"; {_n(not_met, 'obligation')} not met." if not_met else "."),
        )
    return Headline("clear", "No exposure found", "None of the checks run found an exposure on the devices scanned.")


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
