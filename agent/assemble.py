"""Facts → findings → obligations → one wire Report."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from duecare.advisories.catalog import Catalog
from duecare.advisories.coverage import ProbeRun, ScanCoverage
from duecare.advisories.engine import FactsRecord
from duecare.advisories.obligations import apply_profile
from duecare.advisories.profiles import load_attestations
from duecare.advisories.reachability import apply_gateway_mappings, gateway_mappings
from duecare.agent.scan import ScanResult
from duecare.agent.scope import Scope
from duecare.probes.base import Probe
from duecare.probes.ports.parse import expand_ranges
from duecare.wire import Finding, ObligationSummary, ProbeStatus, Report, ScopeRecord, Verdict
from duecare.wire.reachability import (
    Fingerprints,
    OutsideView,
    fingerprint_from_facts,
    join_outside,
    lonely_services,
    mark_outside,
    outside_view,
)


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


def scan_coverage(result: ScanResult, probes: Sequence[Probe[Any]]) -> ScanCoverage:
    """What the scan covered, for ``met``: the probes that ran, their attempts, the hosts and ports swept.

    ``probes`` must be the ones the scan ran (after the config's ``disabled`` list).
    """
    return ScanCoverage(
        probes=tuple(ProbeRun(p.id, p.facts_model, p.proto, frozenset(p.ports)) for p in probes),
        attempts=tuple(o.attempt for o in result.outcomes),
        hosts=tuple(a.ip for a in result.assets),
        tcp_ports=frozenset(expand_ranges(result.ports.tcp)),
        udp_ports=frozenset(expand_ranges(result.ports.udp)) if result.privileged else frozenset(),
    )


def view_of(result: ScanResult, public: Sequence[str]) -> OutsideView:
    """The outside view a scan of the public addresses gives (the same reading the collector makes)."""
    doc = {
        "finished_at": result.finished_at.isoformat(),
        "assets": [a.model_dump(mode="json") for a in result.assets],
        "attempts": [o.attempt.model_dump(mode="json") for o in result.outcomes],
        "scope": {"tcp_ports": result.ports.tcp, "udp_ports": result.ports.udp if result.privileged else ""},
    }
    return outside_view(doc, public)


@dataclass(frozen=True)
class OutsideJoin:
    """An outside view taken by this run (``duecare scan --public``) and the findings it made."""

    view: OutsideView
    findings: Sequence[Finding]

    def join(self, inside: Sequence[Finding], records: Sequence[FactsRecord]) -> list[Finding]:
        fps: Fingerprints = {}
        for r in records:
            if r.facts is not None and r.port is not None and r.proto is not None:
                fp = fingerprint_from_facts(r.facts.model_dump(mode="json"))
                if fp:
                    fps.setdefault((str(r.ip), r.port, r.proto.value), {}).update(fp)
        joined = join_outside(inside, self.view, fps)
        lonely = lonely_services(self.view, joined)
        seen = [f for f in self.findings if f.verdict is Verdict.AFFECTED]
        return [*joined, *(mark_outside(f, self.view, lonely) for f in seen)]


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
    attestations: Path | None = None,
    engagement_start: date | None = None,
    ran: Sequence[Probe[Any]] | None = None,
    outside: OutsideJoin | None = None,
    outside_only: Sequence[str] = (),
) -> Judgement:
    """Exposure rules and the KEV version rule over the facts, then the standard of care.

    ``ran`` is the probes the scan ran (default: ``probes``); coverage, and so ``met``, rests on them.
    The KEV snapshot's age is not a scan note: the report carries its release date and says it in the
    appendix and to the MSP.
    """
    services = [(a.ip, s) for a in result.assets for s in a.services]
    records = facts_records(result, probes)
    findings = catalog.findings(records, services, now)
    # The gateway's own UPnP table says which inside services the internet reaches (issue 14).
    findings = apply_gateway_mappings(findings, gateway_mappings(records, result.finished_at))
    if outside is not None:  # `scan --public`: the outside view this run took itself, joined the same way
        findings = outside.join(findings, records)
    if outside_only:  # this scan is the outside view: everything it found, the internet reaches
        view = view_of(result, outside_only)
        lonely = lonely_services(view, ())
        findings = [mark_outside(f, view, lonely) if f.verdict is Verdict.AFFECTED else f for f in findings]
    notes = [] if catalog.kev is not None else ["no KEV snapshot loaded: CVE exploitation status is unknown"]
    if profile is None:
        return Judgement(findings, None, notes)
    signed = load_attestations(attestations, catalog.requirement_index()) if attestations else ()
    prof = catalog.profile(profile)
    if engagement_start is not None:  # the agent's configuration names this site's engagement
        prof = prof.model_copy(update={"engagement_start": engagement_start})
    findings, summary = apply_profile(
        findings,
        catalog,
        prof,
        now,
        first_seen=first_seen,
        kev_max_age=kev_max_age,
        scan=scan_coverage(result, probes if ran is None else ran),
        attestations=signed,
    )
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
        kev_catalog_released=None if catalog.kev is None else catalog.kev.catalog.date_released,
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
