"""Small real reports for agent-side tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from duecare.wire import Exposure as E
from duecare.wire import Finding, Report, ScanMode, ScopeRecord, Severity, Verdict


def make_report(n_findings: int = 1, *, when: datetime | None = None) -> Report:
    when = when or datetime.now(UTC)
    findings = tuple(
        Finding(
            exposure=E.TELNET_EXPOSED,
            ip=f"198.18.0.{10 + i % 200}",
            port=23,
            proto="tcp",
            severity=Severity.HIGH,
            verdict=Verdict.AFFECTED,
            title="Telnet remote login exposed",
            reason="service answered with a login prompt",
        )
        for i in range(n_findings)
    )
    return Report(
        report_id=uuid.uuid4(),
        duecare_version="0.1.0",
        catalog_version="0" * 64,
        started_at=when,
        finished_at=when + timedelta(seconds=5),
        scope=ScopeRecord(
            targets=("198.18.0.0/24",),
            tcp_ports="23",
            udp_ports="",
            probe_classes=("non-intrusive",),
            mode=ScanMode.SYN,
            privileged=True,
        ),
        findings=findings,
    )
