"""A small MSP for the console tests: two clients, three sites, two nights of reports each.

Findings carry what the pages show (deadlines past and future, KEV, evidence, advisories, an
internet-reachable one) and hostile strings from the network (``<script>``, ``onerror=``) that must
reach the page as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from duecare.collector import admin
from duecare.wire import (
    AdvisoryRef,
    Evidence,
    EvidenceKind,
    Exposure,
    Finding,
    ObligationStatus,
    Severity,
)
from tests.collector.conftest import Collector, Enrolled
from tests.collector.factories import asset, finding, obligations

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'
TODAY = datetime.now(UTC).date()


def rich(f: Finding, *, deadline: date | None, internet: bool | None = None, hostile: bool = False) -> Finding:
    now = datetime.now(UTC)
    text = HOSTILE if hostile else "SSH-2.0-OpenSSH_9.2p1 Debian-2"
    return f.model_copy(
        update={
            "deadline": deadline,
            "internet_exposed": internet,
            "summary": f"Summary of {f.exposure.value}" + (f" {HOSTILE}" if hostile else ""),
            "evidence": (
                Evidence(kind=EvidenceKind.BANNER, summary=f"banner {text}", excerpt=text, observed_at=now, probe="t"),
            ),
            "advisories": (
                AdvisoryRef(
                    id="aa22-137a",
                    publisher="CISA",
                    official_id="AA22-137A",
                    title="Weak security controls",
                    url="https://www.cisa.gov/news-events/cybersecurity-advisories/aa22-137a",
                ),
            ),
        }
    )


@dataclass
class Msp:
    clients: dict[str, str] = field(default_factory=dict)  # name -> id
    sites: dict[str, Enrolled] = field(default_factory=dict)  # site name -> enrolled agent
    readers: dict[str, str] = field(default_factory=dict)  # client name or "*" -> secret


def seed(c: Collector) -> Msp:
    msp = Msp()
    plan = {
        ("Acme Dental", "Main office"): [
            rich(finding("198.18.0.10", severity=Severity.CRITICAL, kev_cves=("CVE-2019-0708",)),
                 deadline=TODAY - timedelta(days=3), internet=True),
            rich(finding("198.18.0.11", Exposure.TELNET_EXPOSED, title=f"Telnet {HOSTILE}"),
                 deadline=TODAY + timedelta(days=10), hostile=True),
            rich(finding("198.18.0.12", severity=Severity.MEDIUM), deadline=None),
        ],
        ("Acme Dental", "Branch"): [
            rich(finding("198.18.1.10"), deadline=TODAY + timedelta(days=20)),
        ],
        ("Beta Law", "Head office"): [
            rich(finding("198.18.2.10", severity=Severity.HIGH, kev_cves=("CVE-2021-26855",)),
                 deadline=TODAY - timedelta(days=1)),
            rich(finding("198.18.2.11"), deadline=TODAY + timedelta(days=5)),
        ],
    }  # fmt: skip
    ob = obligations(
        ("cisa-cpg", "1.A", ObligationStatus.NOT_MET),
        ("cisa-cpg", "2.B", ObligationStatus.UNKNOWN),
        ("hipaa", "164.308(a)(1)", ObligationStatus.ATTESTATION_REQUIRED),
    )
    for (client, site), findings in plan.items():
        agent = c.enroll(client, site)
        msp.clients[client] = agent.client_id
        msp.sites[site] = agent
        assets = [asset(str(f.ip), hostname=f"host-{str(f.ip).rsplit('.', 1)[1]}") for f in findings]
        first = c.post(agent, agent.chain.next(findings=findings, assets=assets, obligation_summary=ob))
        assert first.status_code == 201, first.text
        # Night two: the last finding of each site is fixed.
        second = c.post(agent, agent.chain.next(findings=findings[:-1], assets=assets, obligation_summary=ob))
        assert second.status_code == 201, second.text
    for client in ("Acme Dental", "Beta Law"):
        msp.readers[client] = admin.add_reader(c.db, client).secret
    msp.readers["*"] = admin.add_reader(c.db, None, all_clients=True).secret
    return msp
