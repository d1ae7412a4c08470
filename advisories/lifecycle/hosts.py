"""Per-host end-of-life findings from every probe's facts: the OS is a property of the host, not a port.

The Windows version comes from NTLM CHALLENGE messages (RDP CredSSP, SMB session setup, Exchange/HTTP
401s). Facts that are not Windows are recognised first: Samba announces 6.1 build 0 (samba
``auth/ntlmssp/ntlmssp_server.c``), which no Windows release ever shipped, and a 6.1.7601 seen only over
RDP may be a FreeRDP server (its shadow server announces exactly that, seen in the lab). Other
facts on the same host narrow the candidates: Exchange runs only on Windows Server; an SMB1 NativeOS
string names the product (from impacket's SMB1 session, or the probe's own SMB1 SESSION_SETUP_ANDX,
whose NativeOS is ignored when NativeLanMan names Samba: Samba says "Windows 6.1" there too). The
NativeOS only narrows: the version judged is always an NTLM CHALLENGE's.

IIS (``Server: Microsoft-IIS/8.5``, nmap's ``Microsoft IIS httpd 8.5``) ships with Windows, so its
support follows the OS release it came with: ``product-end-of-life`` when the IIS version alone shows
every such release has ended and no NTLM build already judges the host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from ipaddress import IPv4Address, IPv6Address

from pydantic import JsonValue

from duecare.advisories.engine import FactsRecord
from duecare.advisories.lifecycle.tables import Edition, Kind, LifecycleTables, Wording
from duecare.advisories.lifecycle.windows import Hints, Judgement, judge_releases, judge_windows
from duecare.probes.base import Facts
from duecare.probes.exchange.facts import ExchangeFacts
from duecare.probes.ntlm import NtlmInfo, NtlmVersion
from duecare.probes.rdp.facts import RdpFacts
from duecare.probes.smb.facts import SmbFacts
from duecare.wire import (
    Confidence,
    Evidence,
    EvidenceKind,
    Exposure,
    Finding,
    PortState,
    ProbeStatus,
    Proto,
    Service,
    Verdict,
)
from duecare.wire.bounds import REASON, SUMMARY, json_safe, printable

IP = IPv4Address | IPv6Address
#: impacket renders the SMB2/3 NTLM VERSION as "Windows 6.1 Build 0": not a NativeOS string.
_IMPACKET_RENDERING = re.compile(r"^Windows \d+\.\d+ Build \d+$")
#: Samba's SMB1 NativeOS imitates Windows ("Windows 6.1"); its NativeLanMan says what it is.
_SAMBA_LANMAN = re.compile(r"samba", re.IGNORECASE)
_IIS_HEADER = re.compile(r"^Microsoft-IIS/(\d{1,2}\.\d)\b")
_IIS_NMAP = re.compile(r"^Microsoft IIS")
_IIS_NMAP_VERSION = re.compile(r"^(\d{1,2}\.\d)\b")
_SOURCE_RANK = {"smb": 0, "rdp": 1, "exchange": 2}
#: The facts this per-host rule reads (for coverage: which probes must have run for silence to mean much).
FACTS_READ: dict[Exposure, tuple[type[Facts], ...]] = {
    Exposure.OS_END_OF_LIFE: (RdpFacts, SmbFacts, ExchangeFacts),
    Exposure.PRODUCT_END_OF_LIFE: (ExchangeFacts,),
}


@dataclass(frozen=True, slots=True)
class Seen:
    """One Windows-looking version one probe saw on one port."""

    probe: str
    port: int | None
    proto: Proto | None
    version: NtlmVersion
    evidence: tuple[Evidence, ...]

    @property
    def where(self) -> str:
        return f"{self.probe} {self.port}/{self.proto.value if self.proto else '?'}"


@dataclass(frozen=True, slots=True)
class IisSeen:
    version: str
    port: int | None
    proto: Proto | None
    basis: str
    evidence: tuple[Evidence, ...]


@dataclass
class _Host:
    versions: list[Seen]
    native_os: list[str]
    exchange: list[str]
    iis: list[IisSeen]


def _ntlm_of(facts: object) -> NtlmVersion | None:
    ntlm = getattr(facts, "ntlm", None)
    return ntlm.product_version if isinstance(ntlm, NtlmInfo) else None


def _collect(
    records: Iterable[FactsRecord], services: Iterable[tuple[IP, Service]], observed_at: datetime
) -> dict[IP, _Host]:
    hosts: dict[IP, _Host] = {}

    def host(ip: IP) -> _Host:
        return hosts.setdefault(ip, _Host([], [], [], []))

    for rec in records:
        f = rec.facts
        if rec.status is not ProbeStatus.COMPLETED or f is None:
            continue
        version = _ntlm_of(f)
        if isinstance(f, SmbFacts) and f.host is not None:
            version = f.host.os_version
            if f.host.os and not _IMPACKET_RENDERING.match(f.host.os):
                host(rec.ip).native_os.append(f.host.os)
        if isinstance(f, SmbFacts) and f.smb1_session_setup is not None:
            setup = f.smb1_session_setup
            version = version or setup.os_version  # the SMB1 CHALLENGE when no SMB2/3 session gave one
            if setup.native_os and not _SAMBA_LANMAN.search(setup.native_lanman or ""):
                host(rec.ip).native_os.append(setup.native_os)
        if version is not None:
            host(rec.ip).versions.append(Seen(rec.probe, rec.port, rec.proto, version, rec.evidence))
        if isinstance(f, ExchangeFacts):
            if f.exchange_detected:
                host(rec.ip).exchange.append(f"Exchange answered on {rec.port}/{rec.proto.value if rec.proto else '?'}")
            m = _IIS_HEADER.match(f.server_header or "")
            if m:
                basis = f"Server header {f.server_header}"
                host(rec.ip).iis.append(IisSeen(m.group(1), rec.port, rec.proto, basis, rec.evidence))
    for ip, svc in services:
        if svc.state is PortState.OPEN and svc.product and _IIS_NMAP.match(svc.product) and svc.version:
            m = _IIS_NMAP_VERSION.match(svc.version)
            if m:
                basis = f"nmap -sV {svc.product} {svc.version}"
                ev = Evidence(
                    kind=EvidenceKind.VERSION,
                    summary=printable(basis, SUMMARY),
                    observed_at=observed_at,
                    probe="nmap",
                )
                host(ip).iis.append(IisSeen(m.group(1), svc.port, svc.proto, basis, (ev,)))
    return hosts


def _hints(h: _Host, seen: list[Seen]) -> Hints:
    kind: Kind | None = None
    kind_basis: str | None = None
    editions: frozenset[Edition] | None = None
    editions_basis: str | None = None
    if h.exchange:
        kind, kind_basis = Kind.SERVER, f"Exchange runs only on Windows Server ({h.exchange[0]})"
    for os_name in h.native_os:
        if "server" in os_name.lower():
            kind, kind_basis = Kind.SERVER, f"SMB NativeOS {os_name!r}"
        elif os_name.lower().startswith("windows") and kind is None:
            kind, kind_basis = Kind.CLIENT, f"SMB NativeOS {os_name!r}"
            low = os_name.lower()
            if "ltsc" in low or "ltsb" in low:
                editions, editions_basis = frozenset({Edition.LTSC, Edition.IOT_LTSC}), f"SMB NativeOS {os_name!r}"
            elif "enterprise" in low or "education" in low:
                editions, editions_basis = frozenset({Edition.ENTERPRISE}), f"SMB NativeOS {os_name!r}"
            elif " home" in low or " pro" in low:
                editions, editions_basis = frozenset({Edition.HOME_PRO}), f"SMB NativeOS {os_name!r}"
    rdp_only = bool(seen) and all(s.probe == "rdp" for s in seen)
    return Hints(kind, kind_basis, editions, editions_basis, rdp_only=rdp_only)


def _finding(
    ip: IP,
    wording: Wording,
    where: Seen | None,
    port: int | None,
    proto: Proto | None,
    j: Judgement,
    evidence: tuple[Evidence, ...],
    extra: dict[str, JsonValue],
) -> Finding:
    return Finding(
        exposure=wording.id,
        ip=ip,
        port=where.port if where else port,
        proto=where.proto if where else proto,
        severity=wording.severity,
        verdict=j.verdict,
        title=wording.title,
        reason=printable(j.reason, REASON),
        evidence=evidence if j.verdict is Verdict.AFFECTED else (),
        confidence=j.confidence,
        remediation=wording.remediation.strip(),
        summary=" ".join(wording.summary.split()),
        details=json_safe({**extra, **j.details}),
    )


def _os_judgement(h: _Host, tables: LifecycleTables, on: date) -> tuple[Judgement, list[Seen]] | None:
    """None when nothing Windows was announced (no NTLM version, or only Samba's 6.1.0)."""
    windows = [s for s in h.versions if s.version.build != 0]
    if not windows:
        return None
    distinct = sorted({str(s.version) for s in windows})
    samba = [s for s in h.versions if s.version.build == 0]
    if len(distinct) > 1:
        listed = ", ".join(f"{s.version} ({s.where})" for s in windows)
        return Judgement(
            Verdict.INDETERMINATE,
            Confidence.TENTATIVE,
            f"services on this host announce different Windows versions: {listed}; settle with the host's own "
            "OS version (winver or a credentialed check)",
            {"windows_versions": list(distinct)},
        ), windows
    hints = _hints(h, windows)
    notes = [f"{s.where} announces Samba's fixed 6.1.0, so this host runs Samba" for s in samba[:1]]
    notes += [f"SMB NativeOS {o!r} is not Windows" for o in h.native_os if not o.lower().startswith("windows")][:1]
    if notes:
        hints = Hints(hints.kind, hints.kind_basis, hints.editions, hints.editions_basis, hints.rdp_only, tuple(notes))
    return judge_windows(tables, distinct[0], on, hints), windows


def _iis_judgement(h: _Host, tables: LifecycleTables, on: date) -> Judgement | None:
    iis_version, basis = h.iis[0].version, h.iis[0].basis
    mm = tables.iis_windows(iis_version)
    if mm is None:
        return None  # an IIS version the table does not map (IIS 10.0 spans supported releases too)
    rows = tables.major_minor(mm)
    what = f"IIS {iis_version} ({basis}) ships with Windows {mm}"
    j = judge_releases(what, rows, on, _hints(h, []), {"product": "Microsoft IIS", "version": iis_version})
    # IIS 10.0-style spans (some releases ended, some not) say nothing alone: the NTLM build judges those.
    return j if j.verdict is Verdict.AFFECTED else None


def end_of_life_findings(
    records: Iterable[FactsRecord],
    services: Iterable[tuple[IP, Service]],
    tables: LifecycleTables,
    observed_at: datetime,
) -> list[Finding]:
    """``os-end-of-life`` per host with a Windows NTLM version; ``product-end-of-life`` for IIS without one."""
    on = observed_at.date()
    findings: list[Finding] = []
    for ip, h in _collect(records, services, observed_at).items():
        judged = _os_judgement(h, tables, on)
        if judged is not None:
            j, seen = judged
            if j.verdict is not Verdict.NOT_AFFECTED:
                seen.sort(key=lambda s: (_SOURCE_RANK.get(s.probe, 9), s.port or 0))
                evidence: list[Evidence] = []
                for s in seen:
                    evidence.extend(e for e in s.evidence if e not in evidence)
                sources: list[JsonValue] = [{"probe": s.probe, "port": s.port, "version": str(s.version)} for s in seen]
                wording = tables.wording[Exposure.OS_END_OF_LIFE]
                findings.append(_finding(ip, wording, seen[0], None, None, j, tuple(evidence), {"sources": sources}))
            continue
        if h.iis:
            ij = _iis_judgement(h, tables, on)
            if ij is not None:
                first = h.iis[0]
                wording = tables.wording[Exposure.PRODUCT_END_OF_LIFE]
                extra: dict[str, JsonValue] = {"basis": first.basis}
                findings.append(_finding(ip, wording, None, first.port, first.proto, ij, first.evidence, extra))
    findings.sort(key=lambda f: (f.ip.version, int(f.ip), f.exposure.value))
    return findings
