"""Application layer of the CLI: one-shot scan and single-probe runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from advisories.catalog import load_catalog
from advisories.errors import CatalogError
from agent.assemble import build_report, judge
from agent.config import AgentConfig
from agent.files import write_atomic
from agent.output import render_summary
from agent.privileges import can_use_raw_sockets
from agent.scan import ScanResult, build_context, run_scan
from agent.scope import Scope, ScopeError
from probes.base import Probe, ProbeClass, Target
from probes.errors import ProbeError
from probes.registry import all_probes
from probes.runner import run_probe
from wire import Proto as WireProto
from wire import Report, Verdict


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


class RichProgress:
    """Progress bar and live counts on stderr."""

    def __init__(self, console: Console) -> None:
        self._p = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task: Any = None

    def __enter__(self) -> RichProgress:
        self._p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._p.stop()

    def stage(self, name: str, total: int | None = None) -> None:
        if self._task is not None:
            self._p.update(self._task, completed=self._p.tasks[-1].total or 0)
        self._task = self._p.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._p.advance(self._task, n)

    def note(self, message: str) -> None:
        self._p.console.print(message)


def exit_code(report: Report, config: AgentConfig) -> int:
    threshold = config.report.severity_threshold.rank
    hit = any(f.verdict is Verdict.AFFECTED and not f.waived and f.severity.rank >= threshold for f in report.findings)
    return 3 if hit else 0


def scan_to_report(request: ScanRequest, progress: Any) -> tuple[ScanResult, Report]:
    import asyncio

    probes = all_probes()
    # Load (and validate) the catalog before touching the network: a bad profile fails fast.
    catalog = load_catalog(state_dir=request.state_dir)
    if request.profile is not None:
        catalog.profile(request.profile)
    privileged = can_use_raw_sockets() and not request.force_unprivileged
    result = asyncio.run(run_scan(request.config, request.scope, probes, privileged=privileged, progress=progress))
    judgement = judge(
        result,
        probes,
        catalog,
        profile=request.profile,
        now=result.finished_at,
        kev_max_age=timedelta(days=request.config.report.kev_max_age_days),
    )
    report = build_report(
        result, judgement, catalog, request.scope, request.config.probes.classes, authorized_by=request.authorized_by
    )
    return result, report


def scan_for_daemon(config: AgentConfig) -> Report:
    """A scheduled cycle: scope from the config only, no terminal."""
    from agent.progress import NullProgress

    if not config.scope.targets:
        raise ScopeError("the agent needs [scope] targets in its config")
    scope = Scope.parse(config.scope.targets, config.scope.exclude)
    request = ScanRequest(config, scope, config.report.profile, config.report.authorized_by)
    return scan_to_report(request, NullProgress())[1]


def post_through_outbox(report: Report, state_dir: Path | None, err: Console) -> Report:
    """`scan --post`: the same outbox as the daemon, so a down collector loses nothing."""
    import httpx

    from agent.delivery import deliver_due
    from agent.outbox import Outbox
    from agent.state import DEFAULT_STATE_DIR, StateDir

    state = StateDir(state_dir or DEFAULT_STATE_DIR)
    enrollment = state.enrollment()
    report = report.model_copy(update={"agent_id": enrollment.agent_id, "site_id": enrollment.site_id})
    outbox = Outbox(state.outbox_path)
    env, _digest = outbox.add(report, state.key())
    with httpx.Client(timeout=30.0) as client:
        result = deliver_due(outbox, enrollment, client)
    if result.error:
        err.print(f"[yellow]collector not reached ({result.error}); report kept in the outbox for retry[/]")
    else:
        err.print(f"posted to {enrollment.collector_url}: {result.delivered} report(s) delivered")
    return Report.model_validate(env.report)


def run_oneshot(request: ScanRequest, *, as_json: bool, err: Console, out: Console) -> int:
    try:
        with RichProgress(err) as progress:
            _result, report = scan_to_report(request, progress)
    except (ScopeError, CatalogError) as exc:
        err.print(f"[bold red]error:[/] {exc}")
        return 2
    except ProbeError as exc:
        err.print(f"[bold red]scan failed:[/] {exc}")
        return 1
    except Exception as exc:
        # Exit 1 is "duecare's own fault": say so plainly, keep the traceback for the bug report.
        import traceback

        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}")
        err.print(traceback.format_exc(), markup=False, highlight=False)
        return 1
    if request.post:
        from agent.state import StateError

        try:
            report = post_through_outbox(report, request.state_dir, err)
        except StateError as exc:
            err.print(f"[bold red]cannot post:[/] {exc}")
            return 2
    body = report.model_dump_json(indent=2)
    if request.json_path is not None:
        write_atomic(request.json_path, body.encode())
    if request.report_path is not None:
        from agent.html_report import write_report

        write_report(report, request.report_path)
        err.print(f"report written to {request.report_path}")
    if as_json:
        out.file.write(body + "\n")
    else:
        render_summary(report, out)
    return exit_code(report, request.config)


async def run_single_probe(
    config: AgentConfig, probe_id: str, ip: str, port: int, proto: str, allow: list[str]
) -> dict[str, Any]:
    """One probe, one target, judged: the developer's and the support engineer's tool."""
    from advisories.engine import FactsRecord

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
