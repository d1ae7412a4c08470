"""Facts → findings → one wire Report."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from advisories.engine import FactsRecord, evaluate
from advisories.exposures import load_exposure_rules
from advisories.predicates import default_registry
from agent.scan import ScanResult
from agent.scope import Scope
from probes.base import Probe
from wire import Finding, ProbeStatus, Report, ScopeRecord

DATA_DIR = Path(__file__).resolve().parent.parent / "advisories" / "data"


def duecare_version() -> str:
    try:
        return version("duecare")
    except PackageNotFoundError:
        return "0+unknown"


def catalog_version(data_dir: Path = DATA_DIR) -> str:
    """sha256 over every data file's relative path and bytes: the catalog a report was judged by."""
    h = hashlib.sha256()
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        h.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


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


def judge(result: ScanResult, probes: Sequence[Probe[Any]]) -> list[Finding]:
    rules = load_exposure_rules(DATA_DIR / "exposures", default_registry())
    return evaluate(rules, facts_records(result, probes))


def build_report(
    result: ScanResult,
    findings: Sequence[Finding],
    scope: Scope,
    classes: Sequence[str],
    *,
    profile: str | None = None,
    authorized_by: str | None = None,
) -> Report:
    return Report(
        report_id=uuid.uuid4(),
        duecare_version=duecare_version(),
        catalog_version=catalog_version(),
        profile=profile,
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
            notes=tuple(result.notes),
        ),
        assets=tuple(result.assets),
        attempts=tuple(o.attempt for o in result.outcomes),
        findings=tuple(findings),
    )
