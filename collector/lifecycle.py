"""Findings, assets and obligations across the reports of one site.

Findings are keyed by (site, asset ip, exposure, port, proto) and move through
``new → open → resolved → reopened → open …``:

* only a finding with verdict ``affected`` (waived or not) opens or keeps a finding alive; a
  second sighting turns ``new`` or ``reopened`` into ``open``; a sighting of a ``resolved`` one
  turns it ``reopened``;
* a live finding that a later report does not show as affected is **resolved only if all hold**:
  the report comes from the agent that last saw it (two agents may see a host from different
  vantage points); the report started after the finding was last seen (a late, older report
  never closes anything); the report covered the address and port (``coverage.py``); and the
  report does not carry the same key as ``indeterminate`` ("could not tell" is not "fixed").
  Otherwise the finding keeps its status and its last-seen time.

Assets follow the same rule without ports: ``new → present → vanished → returned → present``.
Obligations take the status the latest report gives them; a change of status is a transition.
Every transition becomes one entry of the change feed (``ingest.py``).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import orjson

from duecare.collector.coverage import Coverage
from duecare.collector.rows import AssetRow, FindingRow, ObligationRow
from duecare.wire import Finding, Proto, Report, Severity, Verdict
from duecare.wire.api import LIVE_ASSET, LIVE_FINDING, AssetStatus, FindingStatus
from duecare.wire.models import ip_text


@dataclass(frozen=True)
class Transition:
    kind: str  # "finding" | "asset" | "obligation"
    row: FindingRow | AssetRow | ObligationRow
    #: the new status, or "updated" when only severity/KEV/title changed.
    transition: str
    previous_status: str | None


@dataclass(frozen=True)
class ReportContext:
    report: Report
    client_id: str
    site_id: str
    agent_id: str
    coverage: Coverage

    @cached_property
    def report_id(self) -> str:
        return str(self.report.report_id)

    @property
    def seen_at(self) -> datetime:
        return self.report.finished_at

    @cached_property
    def affected(self) -> dict[str, Finding]:
        """The report's affected findings by ident (``_worst``): read by the site's lookup and the
        lifecycle, computed once."""
        return _worst(f for f in self.report.findings if f.verdict is Verdict.AFFECTED)


def finding_ident(f: Finding) -> str:
    port = "-" if f.port is None else str(f.port)
    proto = "-" if f.proto is None else f.proto.value
    return f"{ip_text(f.ip)}|{f.exposure.value}|{port}|{proto}"


def data_digest(data: dict[str, Any]) -> str:
    """Identity of a finding's JSON: a sighting that changes nothing writes nothing but its times."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def is_kev(f: Finding) -> bool:
    return any(c.known_exploited is True for c in f.cves)


def _worst(findings: Iterable[Finding]) -> dict[str, Finding]:
    """Affected findings by key; two of one key keep the more severe."""
    out: dict[str, Finding] = {}
    for f in findings:
        key = finding_ident(f)
        if key not in out or f.severity.rank > out[key].severity.rank:
            out[key] = f
    return out


def _seen_status(current: str) -> str:
    if current == FindingStatus.RESOLVED:
        return FindingStatus.REOPENED
    if current in (FindingStatus.NEW, FindingStatus.REOPENED):
        return FindingStatus.OPEN
    return current


def _may_resolve(ctx: ReportContext, last_agent_id: str, last_seen_at: datetime) -> bool:
    return ctx.agent_id == last_agent_id and ctx.report.started_at >= last_seen_at


def apply_findings(ctx: ReportContext, rows: dict[str, FindingRow]) -> list[Transition]:
    """Update ``rows`` (the site's findings by ident, new rows added) for one report."""
    report = ctx.report
    affected = ctx.affected
    undecided = {finding_ident(f) for f in report.findings if f.verdict is Verdict.INDETERMINATE}
    out: list[Transition] = []
    for key, f in affected.items():
        row = rows.get(key)
        data = f.model_dump(mode="json")
        digest = data_digest(data)
        if row is None:
            row = FindingRow(
                client_id=ctx.client_id,
                site_id=ctx.site_id,
                ident=key,
                ip=ip_text(f.ip),
                exposure=f.exposure.value,
                port=f.port,
                proto=None if f.proto is None else f.proto.value,
                status=FindingStatus.NEW,
                severity=f.severity.value,
                title=f.title[:500],
                kev=is_kev(f),
                first_seen_at=ctx.seen_at,
                last_seen_at=ctx.seen_at,
                status_changed_at=ctx.seen_at,
                last_agent_id=ctx.agent_id,
                last_report_id=ctx.report_id,
                changed_by_report_id=ctx.report_id,
                data=data,
                data_digest=digest,
                touched=True,
                data_changed=True,
            )
            rows[key] = row
            out.append(Transition("finding", row, FindingStatus.NEW, None))
            continue
        previous = row.status
        details_changed = (row.severity, row.kev, row.title) != (f.severity.value, is_kev(f), f.title[:500])
        row.status = _seen_status(previous)
        row.severity, row.kev, row.title = f.severity.value, is_kev(f), f.title[:500]
        row.touched = True
        if digest != row.data_digest:
            row.data, row.data_digest, row.data_changed = data, digest, True
        else:
            row.data = data  # the same finding; kept for the feed, not written again
        row.last_seen_at = max(row.last_seen_at, ctx.seen_at)
        row.last_agent_id, row.last_report_id = ctx.agent_id, ctx.report_id
        if row.status != previous:
            row.status_changed_at, row.changed_by_report_id = ctx.seen_at, ctx.report_id
            out.append(Transition("finding", row, row.status, previous))
        elif details_changed:
            row.changed_by_report_id = ctx.report_id
            out.append(Transition("finding", row, "updated", previous))
    for key, row in rows.items():
        if key in affected or key in undecided or row.status not in LIVE_FINDING:
            continue
        if not _may_resolve(ctx, row.last_agent_id, row.last_seen_at):
            continue
        proto = None if row.proto is None else Proto(row.proto)
        if not ctx.coverage.covers(ipaddress.ip_address(row.ip), row.port, proto):
            continue
        previous = row.status
        row.status = FindingStatus.RESOLVED
        row.status_changed_at, row.changed_by_report_id = ctx.seen_at, ctx.report_id
        row.last_report_id = ctx.report_id
        row.touched = True
        out.append(Transition("finding", row, FindingStatus.RESOLVED, previous))
    return out


def apply_assets(ctx: ReportContext, rows: dict[str, AssetRow]) -> list[Transition]:
    out: list[Transition] = []
    seen = {ip_text(a.ip): a for a in ctx.report.assets}
    for ip, asset in seen.items():
        row = rows.get(ip)
        if row is None:
            row = AssetRow(
                client_id=ctx.client_id,
                site_id=ctx.site_id,
                ip=ip,
                status=AssetStatus.NEW,
                hostname=asset.hostname,
                mac=asset.mac,
                first_seen_at=ctx.seen_at,
                last_seen_at=ctx.seen_at,
                status_changed_at=ctx.seen_at,
                last_agent_id=ctx.agent_id,
                last_report_id=ctx.report_id,
                changed_by_report_id=ctx.report_id,
                touched=True,
            )
            rows[ip] = row
            out.append(Transition("asset", row, AssetStatus.NEW, None))
            continue
        previous = row.status
        if previous == AssetStatus.VANISHED:
            row.status = AssetStatus.RETURNED
        elif previous in (AssetStatus.NEW, AssetStatus.RETURNED):
            row.status = AssetStatus.PRESENT
        row.hostname = asset.hostname or row.hostname
        row.mac = asset.mac or row.mac
        row.touched = True
        row.last_seen_at = max(row.last_seen_at, ctx.seen_at)
        row.last_agent_id, row.last_report_id = ctx.agent_id, ctx.report_id
        if row.status != previous:
            row.status_changed_at, row.changed_by_report_id = ctx.seen_at, ctx.report_id
            out.append(Transition("asset", row, row.status, previous))
    for ip, row in rows.items():
        if ip in seen or row.status not in LIVE_ASSET:
            continue
        if not _may_resolve(ctx, row.last_agent_id, row.last_seen_at):
            continue
        if not ctx.coverage.covers_address(ipaddress.ip_address(ip)):
            continue
        previous = row.status
        row.status = AssetStatus.VANISHED
        row.status_changed_at, row.changed_by_report_id = ctx.seen_at, ctx.report_id
        row.last_report_id = ctx.report_id
        row.touched = True
        out.append(Transition("asset", row, AssetStatus.VANISHED, previous))
    return out


def apply_obligations(ctx: ReportContext, rows: dict[tuple[str, str], ObligationRow]) -> list[Transition]:
    summary = ctx.report.obligations
    if summary is None:
        return []
    out: list[Transition] = []
    for result in summary.results:
        key = (result.framework[:100], result.requirement[:100])
        data: dict[str, Any] = {"profile": summary.profile, **result.model_dump(mode="json")}
        row = rows.get(key)
        if row is None:
            row = ObligationRow(
                client_id=ctx.client_id,
                site_id=ctx.site_id,
                framework=key[0],
                requirement=key[1],
                title=result.title[:500],
                status=result.status.value,
                first_seen_at=ctx.seen_at,
                last_seen_at=ctx.seen_at,
                status_changed_at=ctx.seen_at,
                last_report_id=ctx.report_id,
                changed_by_report_id=ctx.report_id,
                data=data,
                touched=True,
            )
            rows[key] = row
            out.append(Transition("obligation", row, row.status, None))
            continue
        previous = row.status
        row.status, row.title, row.data = result.status.value, result.title[:500], data
        row.touched = True
        row.last_seen_at = max(row.last_seen_at, ctx.seen_at)
        row.last_report_id = ctx.report_id
        if row.status != previous:
            row.status_changed_at, row.changed_by_report_id = ctx.seen_at, ctx.report_id
            out.append(Transition("obligation", row, row.status, previous))
    return out


def alerts(transitions: Iterable[Transition]) -> list[Transition]:
    """Transitions worth a webhook: a finding that (re)appears and is critical or KEV-listed."""
    out = []
    for t in transitions:
        if t.kind != "finding" or t.transition not in (FindingStatus.NEW, FindingStatus.REOPENED):
            continue
        assert isinstance(t.row, FindingRow)
        if t.row.severity == Severity.CRITICAL.value or t.row.kev:
            out.append(t)
    return out
