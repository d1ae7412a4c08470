"""Load only the rows one report can change, so ingest cost follows the report, not the site.

A report can change (a) the findings and assets it names and (b) live ones it may resolve. For
(b) a light query of a few columns pre-selects, in SQL, what ``lifecycle`` would consider (live,
last seen by this agent, before this report started) and then, in Python, what this report
covered; only those become ORM objects. ``lifecycle`` applies its full rule again on them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from duecare.collector import lifecycle
from duecare.collector.coverage import IPAddress
from duecare.collector.db.models import AssetState, FindingState, ObligationState
from duecare.wire import Proto, Verdict
from duecare.wire.api import LIVE_ASSET, LIVE_FINDING

_CHUNK = 500  # IN-list length (SQLite limits bound parameters)


def _chunks(keys: list[Any]) -> Iterable[list[Any]]:
    return (keys[i : i + _CHUNK] for i in range(0, len(keys), _CHUNK))


class _Cover:
    """``Coverage`` checks memoised by address text: many findings share one host."""

    def __init__(self, ctx: lifecycle.ReportContext) -> None:
        self.coverage = ctx.coverage
        self.memo: dict[str, tuple[IPAddress, bool]] = {}

    def address(self, ip: str) -> bool:
        if ip not in self.memo:
            parsed = ipaddress.ip_address(ip)
            self.memo[ip] = (parsed, self.coverage.covers_address(parsed))
        return self.memo[ip][1]

    def finding(self, ip: str, port: int | None, proto: str | None) -> bool:
        if not self.address(ip):
            return False
        return self.coverage.covers_port(self.memo[ip][0], port, None if proto is None else Proto(proto))


def findings(s: Session, ctx: lifecycle.ReportContext) -> dict[str, FindingState]:
    report = ctx.report
    named = list({lifecycle.finding_ident(f) for f in report.findings if f.verdict is Verdict.AFFECTED})
    site = FindingState.site_id == ctx.site_id
    rows: dict[str, FindingState] = {}
    for chunk in _chunks(named):
        # ``data`` (the JSON finding) is replaced on a sighting; never read here.
        stmt = select(FindingState).options(defer(FindingState.data)).where(site, FindingState.ident.in_(chunk))
        rows.update((r.ident, r) for r in s.scalars(stmt))
    cover = _Cover(ctx)
    candidates = select(
        FindingState.id, FindingState.ident, FindingState.ip, FindingState.port, FindingState.proto
    ).where(
        site,
        FindingState.status.in_(list(LIVE_FINDING)),
        FindingState.last_agent_id == ctx.agent_id,
        FindingState.last_seen_at <= report.started_at,
    )
    ids = [
        fid
        for fid, ident, ip, port, proto in s.execute(candidates)
        if ident not in rows and cover.finding(ip, port, proto)
    ]
    for chunk in _chunks(ids):
        rows.update((r.ident, r) for r in s.scalars(select(FindingState).where(FindingState.id.in_(chunk))))
    return rows


def assets(s: Session, ctx: lifecycle.ReportContext) -> dict[str, AssetState]:
    report = ctx.report
    named = list({str(a.ip) for a in report.assets})
    site = AssetState.site_id == ctx.site_id
    rows: dict[str, AssetState] = {}
    for chunk in _chunks(named):
        rows.update((r.ip, r) for r in s.scalars(select(AssetState).where(site, AssetState.ip.in_(chunk))))
    cover = _Cover(ctx)
    candidates = select(AssetState.id, AssetState.ip).where(
        site,
        AssetState.status.in_(list(LIVE_ASSET)),
        AssetState.last_agent_id == ctx.agent_id,
        AssetState.last_seen_at <= report.started_at,
    )
    ids = [aid for aid, ip in s.execute(candidates) if ip not in rows and cover.address(ip)]
    for chunk in _chunks(ids):
        rows.update((r.ip, r) for r in s.scalars(select(AssetState).where(AssetState.id.in_(chunk))))
    return rows


def obligations(s: Session, ctx: lifecycle.ReportContext) -> dict[tuple[str, str], ObligationState]:
    stmt = select(ObligationState).where(ObligationState.site_id == ctx.site_id)
    return {(r.framework, r.requirement): r for r in s.scalars(stmt)}
