"""Load only the rows one report can change, so ingest cost follows the report, not the site.

A report can change (a) the findings and assets it names and (b) live ones it may resolve. For
(b) a light query of a few columns pre-selects, in SQL, what ``lifecycle`` would consider (live,
last seen by this agent, before this report started) and then, in Python, what this report
covered. Rows come back as plain ``rows.*Row`` dataclasses (one SELECT per chunk, no ORM objects);
``lifecycle`` applies its full rule again on them, and ``persist`` writes back what it touched.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, false, or_, select
from sqlalchemy.orm import Session

from duecare.collector import lifecycle
from duecare.collector.coverage import Coverage, IPAddress, IPNetwork
from duecare.collector.db.models import AssetState, FindingState, ObligationState
from duecare.collector.rows import AssetRow, FindingRow, ObligationRow, columns, loaded
from duecare.wire import Proto, Verdict
from duecare.wire.api import LIVE_ASSET, LIVE_FINDING

_CHUNK = 500  # IN-list length (SQLite limits bound parameters)
_FINDINGS: Table = FindingState.__table__  # type: ignore[assignment]
_ASSETS: Table = AssetState.__table__  # type: ignore[assignment]
_OBLIGATIONS: Table = ObligationState.__table__  # type: ignore[assignment]
#: ``data`` (the JSON finding) is replaced on a sighting; only its digest is read.
_FINDING_COLS = [c for c in columns(FindingRow) if c != "data"]


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


#: Listed assets named in SQL at most (a larger list: no pre-filter, the scope is tested in Python).
_MAX_LISTED = 200


def ipv4_prefix(net: IPNetwork) -> str | None:
    """The text every address of an IPv4 network starts with, widened to whole octets ("10.0.5."
    for 10.0.5.0/24 and 10.0.5.0/26, "10.0." for 10.0.0.0/20); None when no octet is fixed."""
    if not isinstance(net, ipaddress.IPv4Network):
        return None
    octets = net.prefixlen // 8
    if octets == 0:
        return None
    parts = str(net.network_address).split(".")[:octets]
    return ".".join(parts) + ("" if octets == 4 else ".")


def may_cover(column: Any, coverage: Coverage) -> Any | None:
    """A SQL condition on an address column true for every address ``coverage`` covers (and maybe
    some it does not: Python applies the exact rule after); None when it cannot narrow anything.
    A report of one /24 in a site of many then reads the rows of its /24, not the whole site."""
    listed = sorted({str(a) for a in coverage.assets})
    if len(listed) > _MAX_LISTED:
        return None
    if coverage.targets is None or coverage.exclusions is None:
        return column.in_(listed) if listed else false()  # an unreadable scope covers only the listed
    prefixes = set()
    for net in coverage.targets:
        prefix = ipv4_prefix(net)
        if prefix is None:
            return None
        prefixes.add(prefix)
    conds = [column.like(p + "%") if p.endswith(".") else column == p for p in sorted(prefixes)]
    if listed:
        conds.append(column.in_(listed))
    return or_(*conds) if conds else false()


def _finding_rows(s: Session, where: Any) -> Iterable[FindingRow]:
    cols = [_FINDINGS.c.id, *(_FINDINGS.c[n] for n in _FINDING_COLS)]
    for r in s.execute(select(*cols).where(where)).mappings():
        yield loaded(FindingRow, r)


def findings(s: Session, ctx: lifecycle.ReportContext) -> dict[str, FindingRow]:
    report = ctx.report
    named = list({lifecycle.finding_ident(f) for f in report.findings if f.verdict is Verdict.AFFECTED})
    site = _FINDINGS.c.site_id == ctx.site_id
    rows: dict[str, FindingRow] = {}
    for chunk in _chunks(named):
        rows.update((r.ident, r) for r in _finding_rows(s, site & _FINDINGS.c.ident.in_(chunk)))
    cover = _Cover(ctx)
    candidates = select(_FINDINGS.c.id, _FINDINGS.c.ident, _FINDINGS.c.ip, _FINDINGS.c.port, _FINDINGS.c.proto).where(
        site,
        _FINDINGS.c.status.in_(list(LIVE_FINDING)),
        _FINDINGS.c.last_agent_id == ctx.agent_id,
        _FINDINGS.c.last_seen_at <= report.started_at,
    )
    narrow = may_cover(_FINDINGS.c.ip, ctx.coverage)
    if narrow is not None:
        candidates = candidates.where(narrow)
    ids = [
        fid
        for fid, ident, ip, port, proto in s.execute(candidates)
        if ident not in rows and cover.finding(ip, port, proto)
    ]
    for chunk in _chunks(ids):
        rows.update((r.ident, r) for r in _finding_rows(s, _FINDINGS.c.id.in_(chunk)))
    return rows


def _asset_rows(s: Session, where: Any) -> Iterable[AssetRow]:
    cols = [_ASSETS.c.id, *(_ASSETS.c[n] for n in columns(AssetRow))]
    for r in s.execute(select(*cols).where(where)).mappings():
        yield loaded(AssetRow, r)


def assets(s: Session, ctx: lifecycle.ReportContext) -> dict[str, AssetRow]:
    report = ctx.report
    named = list({str(a.ip) for a in report.assets})
    site = _ASSETS.c.site_id == ctx.site_id
    rows: dict[str, AssetRow] = {}
    for chunk in _chunks(named):
        rows.update((r.ip, r) for r in _asset_rows(s, site & _ASSETS.c.ip.in_(chunk)))
    cover = _Cover(ctx)
    candidates = select(_ASSETS.c.id, _ASSETS.c.ip).where(
        site,
        _ASSETS.c.status.in_(list(LIVE_ASSET)),
        _ASSETS.c.last_agent_id == ctx.agent_id,
        _ASSETS.c.last_seen_at <= report.started_at,
    )
    narrow = may_cover(_ASSETS.c.ip, ctx.coverage)
    if narrow is not None:
        candidates = candidates.where(narrow)
    ids = [aid for aid, ip in s.execute(candidates) if ip not in rows and cover.address(ip)]
    for chunk in _chunks(ids):
        rows.update((r.ip, r) for r in _asset_rows(s, _ASSETS.c.id.in_(chunk)))
    return rows


def obligations(s: Session, ctx: lifecycle.ReportContext) -> dict[tuple[str, str], ObligationRow]:
    cols = [_OBLIGATIONS.c.id, *(_OBLIGATIONS.c[n] for n in columns(ObligationRow))]
    stmt = select(*cols).where(_OBLIGATIONS.c.site_id == ctx.site_id)
    return {(r["framework"], r["requirement"]): loaded(ObligationRow, r) for r in s.execute(stmt).mappings()}
