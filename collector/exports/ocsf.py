"""OCSF 1.5.0 events: Vulnerability Finding (2002) per exposure, Compliance Finding (2003) per obligation.

Pinned to OCSF 1.5.0 (the version py-ocsf-models targets; reference/ecosystem.md §1). Tests
validate every event against the 1.5.0 JSON Schema generated from the schema.ocsf.io export that
the ``ocsf-json-schema`` package ships (tests/collector/data/ocsf/).

Mapping choices:
* ``vulnerabilities[]`` holds one entry per CVE, or one ``advisory`` entry named by our exposure id
  when there is none (OCSF's ``just_one`` of advisory/cve/cwe); KEV-listed CVEs set
  ``is_exploit_available`` and add a KEV ``enrichments[]`` entry (OCSF has no KEV field).
* lifecycle → ``status_id``: new/open/reopened → 1 New, resolved → 4 Resolved; waived → 3
  Suppressed. ``activity_id``: 1 Create for a first sighting, 3 Close for resolved, else 2 Update.
  Our exact status stays in ``unmapped.duecare.status``.
* ``finding_info.uid`` is sha256(site|ip|exposure|port|proto): stable across reports, so a PSA can
  dedup tickets on it; the 2003 events list the uids of the findings they rest on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from duecare.collector.exports import Names
from duecare.wire import Finding, ObligationStatus, Severity
from duecare.wire.api import ChangeOut, FindingOut, ObligationOut

OCSF_VERSION = "1.5.0"
VULNERABILITY_FINDING = 2002
COMPLIANCE_FINDING = 2003
FINDINGS_CATEGORY = 2
PRODUCT = {"name": "duecare", "vendor_name": "duecare project"}

SEVERITY_ID = {Severity.INFO: 1, Severity.LOW: 2, Severity.MEDIUM: 3, Severity.HIGH: 4, Severity.CRITICAL: 5}
_STATUS_ID = {"new": 1, "open": 1, "reopened": 1, "resolved": 4}
_COMPLIANCE_STATUS_ID = {
    ObligationStatus.MET: 1,
    ObligationStatus.NOT_MET: 3,
    ObligationStatus.UNKNOWN: 0,
    # Neither a pass nor a fail: OCSF "Other", with our words in ``status``.
    ObligationStatus.NO_CONTRARY_EVIDENCE: 99,
    ObligationStatus.ATTESTATION_REQUIRED: 99,
    ObligationStatus.WAIVED: 99,
}
_OBLIGATION_SEVERITY = {ObligationStatus.NOT_MET: 4, ObligationStatus.UNKNOWN: 2}


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def finding_uid(site_id: str, ident: str) -> str:
    return hashlib.sha256(f"{site_id}|{ident}".encode()).hexdigest()


def _ident(f: FindingOut) -> str:
    port = "-" if f.port is None else str(f.port)
    proto = "-" if f.proto is None else f.proto.value
    return f"{f.ip}|{f.exposure}|{port}|{proto}"


def _activity(status: str, transition: str | None) -> int:
    if status == "resolved":
        return 3
    return 1 if (transition or status) == "new" else 2


def _metadata(uid: str, tenant: str, product_version: str) -> dict[str, Any]:
    return {
        "version": OCSF_VERSION,
        "uid": uid,
        "tenant_uid": tenant,
        "profiles": ["host"],
        "product": {**PRODUCT, "version": product_version},
    }


def _vulnerabilities(f: FindingOut) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    w = f.finding
    remediation = {"remediation": {"desc": w.remediation}} if w.remediation else {}
    refs = sorted({a.url for a in w.advisories if a.url})
    common: dict[str, Any] = {
        "title": w.title,
        "desc": w.reason,
        "severity": f.severity.value.capitalize(),
        **remediation,
        **({"references": refs} if refs else {}),
    }
    vulns: list[dict[str, Any]] = []
    enrichments: list[dict[str, Any]] = []
    for i, c in enumerate(w.cves):
        vuln = {**common, "cve": {"uid": c.cve}}
        if c.known_exploited is not None:
            vuln["is_exploit_available"] = c.known_exploited
        vulns.append(vuln)
        if c.known_exploited:
            data = {k: str(v) for k, v in c.model_dump().items() if v is not None and k not in ("cve",)}
            enrichments.append(
                {
                    "name": f"vulnerabilities[{i}].cve.uid",
                    "value": c.cve,
                    "type": "kev",
                    "provider": "CISA KEV",
                    "data": data,
                }
            )
    if not vulns:
        vulns.append({**common, "advisory": {"uid": f.exposure, "title": w.title}})
    return vulns, enrichments


def _clock(w: Finding) -> dict[str, Any]:
    """The engagement clock and forensic triage, as the report judged them (``inherited`` is never overdue)."""
    t = w.timeline
    return {
        "deadline": None if w.deadline is None else w.deadline.isoformat(),
        "deadline_state": None if t is None else t.state.value,
        "inherited_due": None if t is None or t.inherited_due is None else t.inherited_due.isoformat(),
        "forensic_triage": None if t is None else t.forensic_triage,
        "internet_exposed": w.internet_exposed,
    }


def _public_endpoints(w: Finding) -> list[dict[str, Any]]:
    """Where the internet reaches the finding (OCSF Resource Details), with the evidence that links them."""
    out: list[dict[str, Any]] = []
    for e in w.internet_evidence:
        if w.internet_exposed is not True or e.public_ip is None:
            continue
        out.append(
            {
                "type": "Public endpoint",
                "uid": f"{e.public_ip}:{e.public_port}" if e.public_port is not None else str(e.public_ip),
                "name": e.summary,
                "data": {"source": e.source, "public_ip": str(e.public_ip), "public_port": e.public_port},
            }
        )
    return out


def finding_event(
    f: FindingOut, names: Names, *, product_version: str, transition: str | None = None
) -> dict[str, Any]:
    uid = finding_uid(f.site_id, _ident(f))
    activity = _activity(f.status, transition)
    vulns, enrichments = _vulnerabilities(f)
    w = f.finding
    compliance: dict[str, list[str]] = {}
    for o in w.obligations:
        compliance.setdefault(o.framework, []).append(o.requirement)
    device: dict[str, Any] = {"type_id": 0, "ip": f.ip, "uid": f"{f.site_id}|{f.ip}"}
    if f.hostname:
        device["hostname"] = f.hostname
    event: dict[str, Any] = {
        "category_uid": FINDINGS_CATEGORY,
        "class_uid": VULNERABILITY_FINDING,
        "activity_id": activity,
        "type_uid": VULNERABILITY_FINDING * 100 + activity,
        "severity_id": SEVERITY_ID[f.severity],
        "severity": f.severity.value.capitalize(),
        "status_id": 3 if w.waived else _STATUS_ID[f.status],
        "confidence_id": w.confidence.rank + 1,  # OCSF: 1 low, 2 medium, 3 high
        "time": _ms(f.status_changed_at if f.status == "resolved" else f.last_seen_at),
        "metadata": _metadata(f"{uid}:{f.changed_by_report_id}", f.client_id, product_version),
        "finding_info": {
            "uid": uid,
            "title": f.title,
            "desc": w.reason,
            "first_seen_time": _ms(f.first_seen_at),
            "last_seen_time": _ms(f.last_seen_at),
            "src_url": f"duecare:report:{f.last_report_id}",
            "analytic": {"type_id": 1, "uid": f.exposure, "name": f.exposure},
        },
        "device": device,
        "vulnerabilities": vulns,
        "unmapped": {
            "duecare": {
                "status": f.status,
                "tenant": names.tenant(f.client_id),
                "site": names.site(f.site_id),
                "site_id": f.site_id,
                "port": f.port,
                "proto": None if f.proto is None else f.proto.value,
                "exposure": f.exposure,
                "waived": w.waived,
                **_clock(w),
            },
            **({"compliance": compliance} if compliance else {}),
        },
    }
    reach = _public_endpoints(w)
    if reach:
        event["resources"] = reach
    if enrichments:
        event["enrichments"] = enrichments
    return event


def obligation_event(o: ObligationOut, names: Names, *, product_version: str, created: bool = False) -> dict[str, Any]:
    uid = hashlib.sha256(f"{o.site_id}|{o.framework}|{o.requirement}".encode()).hexdigest()
    activity = 1 if created else 2
    event: dict[str, Any] = {
        "category_uid": FINDINGS_CATEGORY,
        "class_uid": COMPLIANCE_FINDING,
        "activity_id": activity,
        "type_uid": COMPLIANCE_FINDING * 100 + activity,
        "severity_id": _OBLIGATION_SEVERITY.get(o.status, 1),
        "time": _ms(o.status_changed_at),
        "status_id": 3 if o.status is ObligationStatus.WAIVED else 1,
        "metadata": _metadata(f"{uid}:{o.changed_by_report_id}", o.client_id, product_version),
        "finding_info": {
            "uid": uid,
            "title": o.title,
            "first_seen_time": _ms(o.first_seen_at),
            "last_seen_time": _ms(o.last_seen_at),
            **({"related_events": [{"uid": u} for u in o.findings]} if o.findings else {}),
        },
        "compliance": {
            "standards": [o.framework],
            "requirements": [f"{o.framework} {o.requirement}"],
            "control": o.requirement,
            "status_id": _COMPLIANCE_STATUS_ID[o.status],
            **(
                {"status": o.status.value.replace("_", " ").capitalize()}
                if _COMPLIANCE_STATUS_ID[o.status] == 99
                else {}
            ),
            **({"status_detail": o.reason} if o.reason else {}),
        },
        "unmapped": {
            "duecare": {
                "status": o.status.value,
                "profile": o.profile,
                "deadline": o.deadline,
                "overdue": o.overdue,
                "inherited_due": o.inherited_due,
                "tenant": names.tenant(o.client_id),
                "site": names.site(o.site_id),
                "site_id": o.site_id,
            }
        },
    }
    return event


def finding_events(items: Iterable[FindingOut], names: Names, *, product_version: str) -> Iterator[dict[str, Any]]:
    for f in items:
        yield finding_event(f, names, product_version=product_version)


def obligation_events(
    items: Iterable[ObligationOut], names: Names, *, product_version: str
) -> Iterator[dict[str, Any]]:
    for o in items:
        yield obligation_event(o, names, product_version=product_version)


def change_events(items: Iterable[ChangeOut], names: Names, *, product_version: str) -> Iterator[dict[str, Any]]:
    """Finding changes as 2002, obligation changes as 2003; other kinds have no OCSF finding class."""
    for c in items:
        if c.finding is not None:
            yield finding_event(c.finding, names, product_version=product_version, transition=c.transition)
        elif c.obligation is not None:
            created = c.transition is not None and c.previous_status is None
            yield obligation_event(c.obligation, names, product_version=product_version, created=created)
