"""The scan as an application: scope in, judged and assembled report out (one-shot and daemon)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from duecare.advisories.catalog import load_catalog
from duecare.advisories.profiles import load_attestations
from duecare.agent.assemble import OutsideJoin, build_report, judge, view_of
from duecare.agent.config import AgentConfig
from duecare.agent.privileges import can_use_raw_sockets
from duecare.agent.progress import Progress
from duecare.agent.scan import ScanResult, build_context, run_scan, select_probes
from duecare.agent.scope import Scope, daemon_scope, outside_scope
from duecare.probes.base import Probe, ProbeClass, Target
from duecare.probes.registry import all_probes
from duecare.probes.runner import run_probe
from duecare.wire import Proto as WireProto
from duecare.wire import Report, Vantage

log = logging.getLogger("duecare.agent.run")


@dataclass(frozen=True)
class ScanRequest:
    config: AgentConfig
    scope: Scope
    profile: str | None
    authorized_by: str | None
    force_unprivileged: bool = False
    report_path: Path | None = None
    json_path: Path | None = None
    post: bool = False
    state_dir: Path | None = None
    #: `scan --public`: the site's public addresses, scanned as the outside view and joined to the rest.
    public: tuple[str, ...] = ()


def _outside_view(request: ScanRequest, probes: list[Probe[Any]], privileged: bool, progress: Progress) -> OutsideJoin:
    """Scan the public addresses first (the operator runs this from outside the site) and keep the view."""
    import asyncio

    scope = Scope.parse(request.public).check_scannable()
    result = asyncio.run(run_scan(request.config, scope, probes, privileged=privileged, progress=progress))
    catalog = load_catalog(state_dir=request.state_dir)
    judged = judge(result, probes, catalog, profile=None, now=result.finished_at)
    return OutsideJoin(view_of(result, request.public), judged.findings)


def scan_to_report(request: ScanRequest, progress: Progress) -> tuple[ScanResult, Report]:
    import asyncio

    probes = all_probes()
    _check_catalog(request)
    privileged = can_use_raw_sockets() and not request.force_unprivileged
    public = {ip_address(a) for a in request.public}
    # Only public addresses to scan: this run is the outside view itself, with nothing inside to join.
    outside_only = bool(public) and all(ip in public for ip in request.scope.addresses())
    outside = _outside_view(request, probes, privileged, progress) if public and not outside_only else None
    result = asyncio.run(run_scan(request.config, request.scope, probes, privileged=privileged, progress=progress))
    progress.stage("judging", 1)
    catalog = load_catalog(state_dir=request.state_dir)
    judgement = judge(
        result,
        probes,
        catalog,
        profile=request.profile,
        now=result.finished_at,
        kev_max_age=timedelta(days=request.config.report.kev_max_age_days),
        attestations=request.config.report.attestations,
        engagement_start=request.config.report.engagement_start,
        ran=select_probes(request.config, probes),
        outside=outside,
        outside_only=request.public if outside_only else (),
    )
    report = build_report(
        result, judgement, catalog, request.scope, request.config.probes.classes, authorized_by=request.authorized_by
    )
    if outside_only:
        report = report.model_copy(update={"vantage": Vantage.INTERNET})
    return result, report


def _check_catalog(request: ScanRequest) -> None:
    """Load and validate the catalog before touching the network, so a bad profile fails fast;
    then let it go. Loading takes ~0.05 s, and not holding it (~8 MB) while nmap and the probes
    run keeps the scan's peak memory down (issue 19); it is loaded again to judge."""
    catalog = load_catalog(state_dir=request.state_dir)
    if request.profile is not None:
        catalog.profile(request.profile)
        if request.config.report.attestations is not None:
            load_attestations(request.config.report.attestations, catalog.requirement_index())


def scan_for_daemon(config: AgentConfig, declared: list[str] | None = None) -> Report:
    """A scheduled cycle: scope from the config only, no terminal.

    ``declared`` (an agent with internet vantage): the site's declared public addresses, fetched
    from the collector this cycle; only those inside the configured scope are scanned.
    """
    from duecare.agent.progress import NullProgress

    config = with_tcp_range(config, config.ports.nightly_tcp_range)
    scope = daemon_scope(config)
    if declared is None:
        request = ScanRequest(config, scope, config.report.profile, config.report.authorized_by)
        return scan_to_report(request, NullProgress())[1]
    outside = outside_scope(scope, declared)
    for note in outside.notes():
        log.warning(note)
    request = ScanRequest(config, outside.scope, config.report.profile, config.report.authorized_by)
    report = scan_to_report(request, NullProgress())[1]
    record = report.scope.model_copy(update={"notes": (*report.scope.notes, *outside.notes())})
    return report.model_copy(update={"vantage": Vantage.INTERNET, "scope": record})


def with_tcp_range(config: AgentConfig, tcp_range: str) -> AgentConfig:
    """The config with its port set chosen: "default" or "all" TCP ports (validated as the file is)."""
    ports = config.ports.model_validate({**config.ports.model_dump(), "tcp_range": tcp_range})
    return config.model_copy(update={"ports": ports})


@dataclass(frozen=True)
class Posted:
    report: Report
    collector_url: str
    delivered: int
    error: str | None


def post_through_outbox(report: Report, state_dir: Path | None) -> Posted:
    """`scan --post`: the same outbox as the daemon, so a down collector loses nothing."""
    import httpx

    from duecare.agent.delivery import deliver_due
    from duecare.agent.outbox import Outbox
    from duecare.agent.state import DEFAULT_STATE_DIR, StateDir

    state = StateDir(state_dir or DEFAULT_STATE_DIR)
    enrollment = state.enrollment()
    report = report.model_copy(update={"agent_id": enrollment.agent_id, "site_id": enrollment.site_id})
    outbox = Outbox(state.outbox_path)
    env, _digest = outbox.add(report, state.key())
    with httpx.Client(timeout=30.0) as client:
        result = deliver_due(outbox, enrollment, client)
    return Posted(Report.model_validate(env.report), enrollment.collector_url, result.delivered, result.error)


async def run_single_probe(
    config: AgentConfig, probe_id: str, ip: str, port: int, proto: str, allow: list[str]
) -> dict[str, Any]:
    """One probe, one target, judged: the developer's and the support engineer's tool."""
    from duecare.advisories.engine import FactsRecord

    probes: dict[str, Probe[Any]] = {p.id: p for p in all_probes()}
    if probe_id not in probes:
        raise KeyError(f"unknown probe {probe_id!r}; known: {', '.join(sorted(probes))}")
    probe = probes[probe_id]
    scope = Scope.parse([ip])
    ctx = build_context(config, scope)
    ctx.allowed_classes = ctx.allowed_classes | {ProbeClass(c) for c in allow}
    target = Target(ip_address(ip), port, WireProto(proto))
    try:
        outcome = await run_probe(probe, target, ctx)
    finally:
        await ctx.aclose()
    a = outcome.attempt
    obs = outcome.observation
    rec = FactsRecord(
        probe=a.probe,
        facts_model=probe.facts_model,
        ip=a.ip,
        port=a.port,
        proto=a.proto,
        status=a.status,
        error=a.error,
        facts=None if obs is None else obs.facts,
        evidence=() if obs is None else obs.evidence,
    )
    findings = load_catalog().findings([rec])
    return {
        "attempt": json.loads(a.model_dump_json()),
        "evidence": [json.loads(e.model_dump_json()) for e in (obs.evidence if obs else ())],
        "findings": [json.loads(f.model_dump_json()) for f in findings],
    }
