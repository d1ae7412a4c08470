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


#: Index ranges per query at most: beyond, the closest ranges are merged (a wider superset).
MAX_RANGES = 32
_V4_MAPPED = 0xFFFF << 32


def _span(net: IPNetwork) -> tuple[int, int]:
    """The network's first and last address as integers of the 16-byte key (``rows.ip_key``)."""
    lo, hi = int(net.network_address), int(net.broadcast_address)
    if isinstance(net, ipaddress.IPv4Network):
        return _V4_MAPPED | lo, _V4_MAPPED | hi
    return lo, hi


def key_ranges(coverage: Coverage) -> list[tuple[bytes, bytes]]:
    """Inclusive ranges of ``rows.ip_key`` holding every address ``coverage`` covers (and maybe some
    it does not: exclusions are ignored, close ranges merged; Python applies the exact rule after)."""
    nets: list[IPNetwork] = [ipaddress.ip_network(a) for a in coverage.assets]
    if coverage.targets is not None and coverage.exclusions is not None:
        nets.extend(coverage.targets)  # an unreadable scope covers only the listed assets
    spans = sorted(_span(n) for n in nets)
    merged: list[list[int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    if len(merged) > MAX_RANGES:
        # A scope of many pieces: keep the widest gaps as breaks, join across the others.
        gaps = sorted(range(1, len(merged)), key=lambda j: merged[j][0] - merged[j - 1][1], reverse=True)
        breaks = sorted(gaps[: MAX_RANGES - 1])
        starts = [0, *breaks]
        ends = [*(b - 1 for b in breaks), len(merged) - 1]
        merged = [[merged[a][0], merged[b][1]] for a, b in zip(starts, ends, strict=True)]
    return [(lo.to_bytes(16, "big"), hi.to_bytes(16, "big")) for lo, hi in merged]


def may_cover(site: Any, key: Any, coverage: Coverage) -> Any:
    """A SQL condition true for every row whose address ``coverage`` covers: for each key range, the
    site's equality and the range, so each term is one range of the (site, key) index (SQLite reads
    the terms as a MULTI-INDEX OR, PostgreSQL as a BitmapOr). ``site`` is a condition on the site."""
    terms = [site & (key == lo if lo == hi else key.between(lo, hi)) for lo, hi in key_ranges(coverage)]
    return or_(*terms) if terms else false()


def _by_id(row: FindingRow | AssetRow) -> int:
    return row.id or 0


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
    candidates = candidates.where(may_cover(site, _FINDINGS.c.ip_key, ctx.coverage))
    ids = [
        fid
        for fid, ident, ip, port, proto in s.execute(candidates)
        if ident not in rows and cover.finding(ip, port, proto)
    ]
    # In id order (first seen first), whichever plan read them: the order of the feed's resolutions.
    found = sorted((r for chunk in _chunks(ids) for r in _finding_rows(s, _FINDINGS.c.id.in_(chunk))), key=_by_id)
    rows.update((r.ident, r) for r in found)
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
    candidates = candidates.where(may_cover(site, _ASSETS.c.ip_key, ctx.coverage))
    ids = [aid for aid, ip in s.execute(candidates) if ip not in rows and cover.address(ip)]
    found = sorted((r for chunk in _chunks(ids) for r in _asset_rows(s, _ASSETS.c.id.in_(chunk))), key=_by_id)
    rows.update((r.ip, r) for r in found)
    return rows


def obligations(s: Session, ctx: lifecycle.ReportContext) -> dict[tuple[str, str], ObligationRow]:
    cols = [_OBLIGATIONS.c.id, *(_OBLIGATIONS.c[n] for n in columns(ObligationRow))]
    stmt = select(*cols).where(_OBLIGATIONS.c.site_id == ctx.site_id)
    return {(r["framework"], r["requirement"]): loaded(ObligationRow, r) for r in s.execute(stmt).mappings()}
