"""Facts → findings → obligations → one wire Report."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from duecare.advisories.catalog import Catalog
from duecare.advisories.engine import FactsRecord
from duecare.advisories.obligations import apply_profile
from duecare.agent.scan import ScanResult
from duecare.agent.scope import Scope
from duecare.probes.base import Probe
from duecare.wire import Finding, ObligationSummary, ProbeStatus, Report, ScopeRecord


def duecare_version() -> str:
    try:
        return version("duecare")
    except PackageNotFoundError:
        return "0+unknown"


def facts_records(result: ScanResult, probes: Sequence[Probe[Any]]) -> list[FactsRecord]:
    models = {p.id: p.facts_model for p in probes}
    records = []
    for out in result.outcomes:
        a = out.attempt
        if a.probe not in models:
            continue
        obs = out.observation
        records.append(
            FactsRecord(
                probe=a.probe,
                facts_model=models[a.probe],
                ip=a.ip,
                port=a.port,
                proto=a.proto,
                status=a.status,
                error=a.error,
                facts=None if obs is None or a.status is not ProbeStatus.COMPLETED else obs.facts,
                evidence=() if obs is None else obs.evidence,
            )
        )
    return records


@dataclass(frozen=True)
class Judgement:
    findings: list[Finding]
    obligations: ObligationSummary | None
    notes: list[str]


def judge(
    result: ScanResult,
    probes: Sequence[Probe[Any]],
    catalog: Catalog,
    *,
    profile: str | Path | None,
    now: datetime,
    first_seen: Mapping[str, datetime] | None = None,
    kev_max_age: timedelta = timedelta(days=7),
) -> Judgement:
    """Exposure rules and the KEV version rule over the facts, then the standard of care."""
    services = [(a.ip, s) for a in result.assets for s in a.services]
    findings = catalog.findings(facts_records(result, probes), services, now)
    notes = []
    warning = (
        "no KEV snapshot loaded: CVE exploitation status is unknown"
        if catalog.kev is None
        else catalog.kev.staleness_warning(now, kev_max_age)
    )
    if warning:
        notes.append(warning)
    if profile is None:
        return Judgement(findings, None, notes)
    findings, summary = apply_profile(findings, catalog, profile, now, first_seen=first_seen, kev_max_age=kev_max_age)
    return Judgement(findings, summary, notes)


def build_report(
    result: ScanResult,
    judgement: Judgement,
    catalog: Catalog,
    scope: Scope,
    classes: Sequence[str],
    *,
    authorized_by: str | None = None,
) -> Report:
    return Report(
        report_id=uuid.uuid4(),
        duecare_version=duecare_version(),
        catalog_version=catalog.version,
        kev_catalog_version=catalog.kev_version,
        profile=None if judgement.obligations is None else judgement.obligations.profile,
        authorized_by=authorized_by,
        started_at=result.started_at,
        finished_at=result.finished_at,
        scope=ScopeRecord(
            targets=tuple(str(n) for n in scope.include),
            exclusions=tuple(str(n) for n in scope.exclude),
            tcp_ports=result.ports.tcp,
            udp_ports=result.ports.udp if result.privileged else "",
            probe_classes=tuple(classes),
            mode=result.mode,
            privileged=result.privileged,
            notes=(*result.notes, *judgement.notes),
        ),
        assets=tuple(result.assets),
        attempts=tuple(o.attempt for o in result.outcomes),
        findings=tuple(judgement.findings),
        obligations=judgement.obligations,
    )
