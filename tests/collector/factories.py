"""Signed test reports built from the wire models, as an enrolled agent would send them."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from duecare.wire import (
    Asset,
    Exposure,
    Finding,
    KevStatus,
    ObligationResult,
    ObligationStatus,
    ObligationSummary,
    Proto,
    Report,
    ScanMode,
    ScopeRecord,
    Severity,
    Tombstone,
    Verdict,
    canonical_bytes,
    report_hash,
)
from duecare.wire.envelope import tombstone_payload

BASE_TIME = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


class AgentKey:
    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()

    @property
    def public_b64(self) -> str:
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def sign(self, report: dict[str, Any]) -> str:
        return base64.b64encode(self._key.sign(canonical_bytes(report))).decode()

    def sign_tombstone(self, t: Tombstone) -> Tombstone:
        return t.model_copy(update={"signature": base64.b64encode(self._key.sign(tombstone_payload(t))).decode()})


def finding(
    ip: str,
    exposure: Exposure = Exposure.TELNET_EXPOSED,
    port: int | None = 23,
    proto: Proto | None = Proto.TCP,
    *,
    severity: Severity = Severity.HIGH,
    verdict: Verdict = Verdict.AFFECTED,
    kev_cves: Sequence[str] = (),
    cves: Sequence[str] = (),
    title: str | None = None,
) -> Finding:
    cve_rows = [KevStatus(cve=c, known_exploited=True, kev_due_date=BASE_TIME.date()) for c in kev_cves]
    cve_rows += [KevStatus(cve=c, known_exploited=False) for c in cves]
    return Finding(
        exposure=exposure,
        ip=ip_address(ip),
        port=port,
        proto=proto,
        severity=severity,
        verdict=verdict,
        title=title or f"{exposure.value} on {ip}",
        reason="test",
        cves=tuple(cve_rows),
        remediation="Turn it off.",
    )


def asset(ip: str, hostname: str | None = None) -> Asset:
    return Asset(ip=ip_address(ip), hostname=hostname, discovered_by="listed")


def obligations(*items: tuple[str, str, ObligationStatus]) -> ObligationSummary:
    results = tuple(ObligationResult(framework=f, requirement=r, title=f"{f} {r}", status=s) for f, r, s in items)
    return ObligationSummary.of("baseline", results)


def make_report(
    *,
    findings: Sequence[Finding] = (),
    assets: Sequence[Asset] | None = None,
    targets: Sequence[str] = ("198.18.0.0/24",),
    exclusions: Sequence[str] = (),
    tcp_ports: str = "1-65535",
    started_at: datetime = BASE_TIME,
    previous_report_hash: str | None = None,
    site_id: str | None = None,
    agent_id: str | None = None,
    obligation_summary: ObligationSummary | None = None,
    report_id: uuid.UUID | None = None,
) -> Report:
    if assets is None:
        assets = [asset(ip) for ip in sorted({str(f.ip) for f in findings})]
    return Report(
        report_id=report_id or uuid.uuid4(),
        agent_id=agent_id,
        site_id=site_id,
        duecare_version="0.1.0",
        catalog_version="test",
        started_at=started_at,
        finished_at=started_at + timedelta(minutes=5),
        scope=ScopeRecord(
            targets=tuple(targets),
            exclusions=tuple(exclusions),
            tcp_ports=tcp_ports,
            udp_ports="",
            probe_classes=("non-intrusive",),
            mode=ScanMode.CONNECT,
            privileged=False,
        ),
        assets=tuple(assets),
        findings=tuple(findings),
        obligations=obligation_summary,
        previous_report_hash=previous_report_hash,
    )


def signed_body(key: AgentKey, report: Report | dict[str, Any], tombstones: Sequence[Tombstone] = ()) -> dict[str, Any]:
    raw = report if isinstance(report, dict) else report.model_dump(mode="json")
    return {
        "report": raw,
        "signature": key.sign(raw),
        "tombstones": [t.model_dump(mode="json") for t in tombstones],
    }


@dataclass
class AgentChain:
    """One agent's sequence of reports: each names the hash of the one before, an hour apart."""

    key: AgentKey = field(default_factory=AgentKey)
    previous: str | None = None
    count: int = 0

    def next(self, **kwargs: Any) -> dict[str, Any]:
        tombstones = kwargs.pop("tombstones", ())
        kwargs.setdefault("started_at", BASE_TIME + timedelta(hours=self.count))
        report = make_report(previous_report_hash=self.previous, **kwargs)
        body = signed_body(self.key, report, tombstones)
        self.previous = report_hash(body["report"])
        self.count += 1
        return body

    def skip(self, **kwargs: Any) -> Tombstone:
        """A report the agent made but dropped: only its tombstone travels."""
        body = self.next(**kwargs)
        stone = Tombstone(report_id=body["report"]["report_id"], report_hash=self.previous or "", dropped_at=BASE_TIME)
        return self.key.sign_tombstone(stone)
