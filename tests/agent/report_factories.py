"""Reports for the report tests: a rich one (KEV, waiver, obligations, open questions) and a hostile one."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from ipaddress import ip_address
from typing import Any

from duecare.wire import (
    AdvisoryRef,
    Asset,
    Evidence,
    EvidenceKind,
    Finding,
    KevStatus,
    ObligationRef,
    ObligationResult,
    ObligationStatus,
    ObligationSummary,
    PortState,
    ProbeAttempt,
    ProbeStatus,
    Proto,
    Report,
    ScanMode,
    ScopeRecord,
    Service,
    Severity,
    Verdict,
)
from duecare.wire import Exposure as E

WHEN = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
SCRIPT = "<script>document.title='PWNED-SCRIPT';document.body.setAttribute('data-pwned','script')</script>"
IMG = "\"><img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">"
HOSTILE_URL = "javascript:document.body.setAttribute('data-pwned','link')"


def evidence(summary: str, excerpt: str = "", encoding: str = "text") -> Evidence:
    return Evidence(
        kind=EvidenceKind.BANNER,
        summary=summary,
        excerpt=excerpt,
        encoding=encoding,  # type: ignore[arg-type]
        observed_at=WHEN,
        probe="test",
    )


def finding(ip: str, exposure: E, port: int | None, sev: Severity, **kw: Any) -> Finding:
    base: dict[str, Any] = {
        "exposure": exposure,
        "ip": ip_address(ip),
        "port": port,
        "proto": Proto.TCP if port is not None else None,
        "severity": sev,
        "verdict": Verdict.AFFECTED,
        "title": f"{exposure.value} title",
        "reason": f"{exposure.value} seen",
        "remediation": f"Fix {exposure.value}. Then check again.",
    }
    base.update(kw)
    return Finding(**base)


def obligation(fw: str, req: str, status: ObligationStatus, *keys: str, **kw: Any) -> ObligationResult:
    return ObligationResult(
        framework=fw, requirement=req, title=f"{req} paraphrase", status=status, findings=keys, **kw
    )


def rich_report(**over: Any) -> Report:
    """Three exposures (one KEV and overdue, one waived), one open question, obligations in all states."""
    kev = KevStatus(
        cve="CVE-2021-42321",
        known_exploited=True,
        kev_date_added=date(2021, 11, 17),
        kev_due_date=date(2021, 12, 1),
        known_ransomware_campaign_use="Known",
    )
    exch = finding(
        "198.18.0.30",
        E.EXCHANGE_UNPATCHED,
        443,
        Severity.CRITICAL,
        cves=(kev, KevStatus(cve="CVE-2023-1", known_exploited=False)),
        deadline=date(2021, 12, 1),
        confidence="firm",
        evidence=(evidence("SMB negotiate", "fe 53 4d 42 40 00 00 00", "hex"),),
        advisories=(
            AdvisoryRef(
                id="aa21-062a",
                publisher="CISA",
                official_id="AA21-062A",
                title="Mitigate Exchange",
                url="https://www.cisa.gov/aa21-062a",
            ),
        ),
        obligations=(
            ObligationRef(
                framework="hipaa-security-rule",
                requirement="164.308(a)(1)(ii)(B)",
                title="Risk management",
                status=ObligationStatus.NOT_MET,
            ),
        ),
    )
    telnet = finding("198.18.0.50", E.TELNET_EXPOSED, 23, Severity.HIGH, deadline=date(2026, 12, 20))
    waived = finding(
        "198.18.0.60",
        E.SNMP_DEFAULT_COMMUNITY,
        161,
        Severity.HIGH,
        waived=True,
        details={
            "waiver": {
                "id": "W-1",
                "owner": "client",
                "approved_by": "Dr Who",
                "reason": "printer",
                "compensating_control": "VLAN",
                "expires": "2027-01-01",
                "active": True,
            }
        },
    )
    unsure = finding(
        "198.18.0.120",
        E.RDP_NO_NLA,
        3389,
        Severity.HIGH,
        verdict=Verdict.INDETERMINATE,
        reason="probe rdp timed_out: no X.224 Connection Confirm",
        confidence="tentative",
    )
    attempt = ProbeAttempt(
        probe="rdp",
        ip=ip_address("198.18.0.120"),
        port=3389,
        proto=Proto.TCP,
        status=ProbeStatus.TIMED_OUT,
        started_at=WHEN,
        duration_ms=5000.0,
        error="no answer",
    )
    results = (
        obligation(
            "hipaa-security-rule",
            "164.308(a)(1)(ii)(B)",
            ObligationStatus.NOT_MET,
            "198.18.0.30|exchange-unpatched|443/tcp",
            deadline=date(2021, 12, 1),
            overdue=True,
            reason="1 finding",
        ),
        obligation(
            "hipaa-security-rule",
            "164.312(e)(1)",
            ObligationStatus.NOT_MET,
            "198.18.0.50|telnet-exposed|23/tcp",
            reason="1 finding",
        ),
        obligation(
            "hipaa-security-rule",
            "164.312(b)",
            ObligationStatus.UNKNOWN,
            reason="not observable from the network: Audit-log configuration on ePHI systems.",
        ),
        obligation(
            "hipaa-security-rule",
            "164.308(a)(5)(ii)(D)",
            ObligationStatus.WAIVED,
            reason="accepted risk under waiver W-1",
        ),
        obligation("nist-csf-2.0", "ID.RA-05", ObligationStatus.MET, reason="no relevant finding"),
    )
    fields: dict[str, Any] = {
        "report_id": uuid.UUID("11111111-2222-4333-8444-555555555555"),
        "duecare_version": "0.1.0",
        "catalog_version": "c" * 64,
        "kev_catalog_version": "2025.08.25",
        "profile": "hipaa",
        "authorized_by": "Jane Owner, Acme Dental — signed 2026-11-01",
        "started_at": WHEN,
        "finished_at": WHEN + timedelta(minutes=2),
        "scope": ScopeRecord(
            targets=("198.18.0.0/24",),
            exclusions=("198.18.0.2/32",),
            tcp_ports="1-1024,3389",
            udp_ports="161",
            probe_classes=("non-intrusive",),
            mode=ScanMode.SYN,
            privileged=True,
        ),
        "assets": tuple(
            Asset(
                ip=ip_address(ip),
                discovered_by="arp",
                services=(Service(port=p, proto=Proto.TCP, state=PortState.OPEN, name="svc"),),
            )
            for ip, p in [
                ("198.18.0.30", 443),
                ("198.18.0.50", 23),
                ("198.18.0.60", 161),
                ("198.18.0.120", 3389),
                ("198.18.0.200", 22),
            ]
        ),
        "attempts": (attempt,),
        "findings": (exch, telnet, waived, unsure),
        "obligations": ObligationSummary(profile="hipaa", met=1, not_met=2, unknown=1, waived=1, results=results),
    }
    fields.update(over)
    return Report(**fields)


def hostile_report() -> Report:
    """Every text field a network peer or a tampered report controls carries markup and script."""
    base = rich_report()
    evil = f"{SCRIPT}{IMG}"
    exch = base.findings[0].model_copy(
        update={
            "title": f"Exchange {evil}",
            "reason": f"banner said {evil}",
            "remediation": f"Patch {evil}",
            "evidence": (evidence(f"certificate CN={evil}", f"220 {evil} FTP ready"),),
            "advisories": (AdvisoryRef(id="x", publisher=evil, official_id=f"ID{evil}", title=evil, url=HOSTILE_URL),),
            "details": {"banner": evil, "names": [evil, "ok"]},
        }
    )
    assets = (base.assets[0].model_copy(update={"hostname": f"host{evil}", "vendor": evil}), *base.assets[1:])
    attempt = base.attempts[0].model_copy(update={"error": f"timed out {evil}"})
    return base.model_copy(
        update={
            "findings": (exch, *base.findings[1:]),
            "assets": assets,
            "attempts": (attempt,),
            "authorized_by": f"Mallory {evil}",
            "scope": base.scope.model_copy(update={"notes": (f"note {evil}",)}),
        }
    )
