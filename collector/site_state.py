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

from sqlalchemy import ARRAY, Table, any_, bindparam, false, null, or_, select, true, union_all
from sqlalchemy.orm import Session

from duecare.collector import lifecycle
from duecare.collector.coverage import Coverage, IPAddress, IPNetwork
from duecare.collector.db.models import AssetState, FindingState, ObligationState
from duecare.collector.rows import AssetRow, FindingRow, ObligationRow, columns, loaded
from duecare.wire import Proto
from duecare.wire.api import LIVE_ASSET, LIVE_FINDING
from duecare.wire.models import ip_text

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


def _point(ip: IPAddress) -> tuple[int, int]:
    """``_span`` of the one-address network of ``ip``, without building the network."""
    key = int(ip) | _V4_MAPPED if isinstance(ip, ipaddress.IPv4Address) else int(ip)
    return key, key


def key_ranges(coverage: Coverage) -> list[tuple[bytes, bytes]]:
    """Inclusive ranges of ``rows.ip_key`` holding every address ``coverage`` covers (and maybe some
    it does not: exclusions are ignored, close ranges merged; Python applies the exact rule after)."""
    spans = [_point(a) for a in coverage.assets]
    if coverage.targets is not None and coverage.exclusions is not None:
        spans.extend(_span(n) for n in coverage.targets)  # an unreadable scope covers only the listed assets
    spans.sort()
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


def _ranges(site: Any, key: Any, n: int, values: dict[str, bytes] | None = None) -> Any:
    """``n`` key ranges as bound parameters ``lo0``, ``hi0``, … (their ``values`` if given): for each,
    the site's equality and the range, so each term is one range of the (site, key) index (SQLite
    reads the terms as a MULTI-INDEX OR, PostgreSQL as a BitmapOr). ``site`` is a condition on the site."""

    def bound(name: str) -> Any:
        return bindparam(name) if values is None else bindparam(name, values[name])

    terms = [site & key.between(bound(f"lo{i}"), bound(f"hi{i}")) for i in range(n)]
    return or_(*terms) if terms else false()


def range_params(coverage: Coverage) -> dict[str, bytes]:
    """The values of ``_ranges``' parameters for ``coverage``."""
    return {f"{end}{i}": v for i, (lo, hi) in enumerate(key_ranges(coverage)) for end, v in (("lo", lo), ("hi", hi))}


def may_cover(site: Any, key: Any, coverage: Coverage) -> Any:
    """A SQL condition true for every row whose address ``coverage`` covers (``key_ranges``)."""
    values = range_params(coverage)
    return _ranges(site, key, len(values) // 2, values)


#: Statements built once (SQLAlchemy then skips building, hashing and compiling them per report).
_BUILT: dict[tuple[str, int], Any] = {}


def _candidates(table: Table, cols: tuple[str, ...], live: Iterable[str], n: int) -> Any:
    """Live rows this agent last saw before the report started, in ``n`` key ranges (bound: ``site``,
    ``agent``, ``before``, ``range_params``)."""
    key = (table.name, n)
    if (stmt := _BUILT.get(key)) is None:
        site = table.c.site_id == bindparam("site")
        stmt = _BUILT[key] = select(*(table.c[c] for c in cols)).where(
            site,
            table.c.status.in_(list(live)),
            table.c.last_agent_id == bindparam("agent"),
            table.c.last_seen_at <= bindparam("before"),
            _ranges(site, table.c.ip_key, n),
        )
    return stmt


def _named_or_candidate(named: Any, table: Table, cols: tuple[str, ...], live: Iterable[str], n: int) -> Any:
    """PostgreSQL: ``named`` (every column of the rows a report names) and ``_candidates`` (``cols``
    of them, the others null) in one statement, the last column saying which: one round trip
    instead of two (~0.35 ms of CPU on the two sides, bench/README.md)."""
    key = (f"{table.name} named", n)
    if (stmt := _BUILT.get(key)) is None:
        light = _candidates(table, cols, live, n)
        picked = {c.name: c for c in light.selected_columns}
        padded = [picked.get(c.name, null()) for c in named.selected_columns]
        stmt = _BUILT[key] = union_all(
            named.add_columns(true().label("named")), light.with_only_columns(*padded, false().label("named"))
        )
    return stmt


def _site_rows(
    s: Session,
    ctx: lifecycle.ReportContext,
    lookup: _Lookup,
    keys: list[Any],
    light: tuple[Table, tuple[str, ...], Iterable[str]],
) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """The rows of the site ``lookup`` finds by ``keys`` (column mappings, for ``rows.loaded``), and
    ``light``'s (table, columns, live statuses) ``_candidates`` for the report of ``ctx``."""
    table, cols, live = light
    ranges = range_params(ctx.coverage)
    n = len(ranges) // 2
    params = {**ranges, "site": ctx.site_id, "agent": ctx.agent_id, "before": ctx.report.started_at}
    found: list[dict[str, Any]] = []
    if s.get_bind().dialect.name == "postgresql":
        stmt = _named_or_candidate(lookup.postgresql, table, cols, live, n)
        names = [c.name for c in lookup.postgresql.selected_columns]
        at = [names.index(c) for c in cols]
        candidates: list[tuple[Any, ...]] = []
        for row in s.execute(stmt, {**params, "keys": keys}):
            if row[-1]:
                found.append(dict(zip(names, row[:-1], strict=True)))
            else:
                candidates.append(tuple(row[i] for i in at))
        return found, candidates
    found = [
        dict(r) for stmt, part in lookup.parts(s, keys) for r in s.execute(stmt, {**params, "keys": part}).mappings()
    ]
    return found, [tuple(r) for r in s.execute(_candidates(table, cols, live, n), params)]


def _by_id(row: FindingRow | AssetRow) -> int:
    return row.id or 0


def _in(column: Any) -> Any:
    """``column IN (:keys…)``: one bound parameter per key (SQLite has no arrays)."""
    return column.in_(bindparam("keys", expanding=True))


def _any(column: Any) -> Any:
    """PostgreSQL: ``column = ANY(:keys)``, the keys as one array: the statement's text stays the same
    for any number of keys, so neither SQLAlchemy nor the driver renders and splits a new one (a
    hundred ``IN`` parameters per report), PostgreSQL parses a short statement, and no chunking."""
    return column == any_(bindparam("keys", type_=ARRAY(column.type)))


class _Lookup:
    """One lookup of a table's rows by a list of keys, on either database."""

    def __init__(self, base: Any, column: Any, *where: Any) -> None:
        self.sqlite = base.where(*where, _in(column))
        self.postgresql = base.where(*where, _any(column))

    def parts(self, s: Session, keys: list[Any]) -> Iterable[tuple[Any, list[Any]]]:
        """The statement for this session's database, and the keys it takes at a time."""
        if s.get_bind().dialect.name == "postgresql":
            return [(self.postgresql, keys)] if keys else []
        return ((self.sqlite, chunk) for chunk in _chunks(keys))


_FINDING_SELECT = select(_FINDINGS.c.id, *(_FINDINGS.c[n] for n in _FINDING_COLS))
_FINDINGS_NAMED = _Lookup(_FINDING_SELECT, _FINDINGS.c.ident, _FINDINGS.c.site_id == bindparam("site"))
_FINDINGS_BY_ID = _Lookup(_FINDING_SELECT, _FINDINGS.c.id)


def _rows(s: Session, cls: type[Any], lookup: _Lookup, keys: list[Any], **params: Any) -> Iterable[Any]:
    """``cls`` rows (``rows.loaded``) of one of the lookups above."""
    for stmt, part in lookup.parts(s, keys):
        for r in s.execute(stmt, {**params, "keys": part}).mappings():
            yield loaded(cls, r)


def findings(s: Session, ctx: lifecycle.ReportContext) -> dict[str, FindingRow]:
    light = (_FINDINGS, ("id", "ident", "ip", "port", "proto"), LIVE_FINDING)
    named, candidates = _site_rows(s, ctx, _FINDINGS_NAMED, list(ctx.affected), light)
    rows = {r.ident: r for r in (loaded(FindingRow, m) for m in named)}
    cover = _Cover(ctx)
    ids = [fid for fid, ident, ip, port, proto in candidates if ident not in rows and cover.finding(ip, port, proto)]
    # In id order (first seen first), whichever plan read them: the order of the feed's resolutions.
    found = sorted(_rows(s, FindingRow, _FINDINGS_BY_ID, ids), key=_by_id)
    rows.update((r.ident, r) for r in found)
    return rows


_ASSET_SELECT = select(_ASSETS.c.id, *(_ASSETS.c[n] for n in columns(AssetRow)))
_ASSETS_NAMED = _Lookup(_ASSET_SELECT, _ASSETS.c.ip, _ASSETS.c.site_id == bindparam("site"))
_ASSETS_BY_ID = _Lookup(_ASSET_SELECT, _ASSETS.c.id)


def assets(s: Session, ctx: lifecycle.ReportContext) -> dict[str, AssetRow]:
    keys = list({ip_text(a.ip) for a in ctx.report.assets})
    named, candidates = _site_rows(s, ctx, _ASSETS_NAMED, keys, (_ASSETS, ("id", "ip"), LIVE_ASSET))
    rows = {r.ip: r for r in (loaded(AssetRow, m) for m in named)}
    cover = _Cover(ctx)
    ids = [aid for aid, ip in candidates if ip not in rows and cover.address(ip)]
    found = sorted(_rows(s, AssetRow, _ASSETS_BY_ID, ids), key=_by_id)
    rows.update((r.ip, r) for r in found)
    return rows


_OBLIGATIONS_OF_SITE = select(_OBLIGATIONS.c.id, *(_OBLIGATIONS.c[n] for n in columns(ObligationRow))).where(
    _OBLIGATIONS.c.site_id == bindparam("site")
)


def obligations(s: Session, ctx: lifecycle.ReportContext) -> dict[tuple[str, str], ObligationRow]:
    rows = s.execute(_OBLIGATIONS_OF_SITE, {"site": ctx.site_id}).mappings()
    return {(r["framework"], r["requirement"]): loaded(ObligationRow, r) for r in rows}
