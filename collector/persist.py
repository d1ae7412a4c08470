"""Write back what the lifecycle touched: one INSERT executemany (ids reserved first) and one
executemany UPDATE per table, instead of a statement (and an ORM object) per row."""

from __future__ import annotations

import functools
import operator
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import Connection, Dialect, Engine, Table, UniqueConstraint, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from duecare.collector.db.models import AssetState, Counter, FindingState, ObligationState
from duecare.collector.db.types import UTCDateTime
from duecare.collector.rows import AssetRow, FindingRow, ObligationRow, columns

FINDINGS: Table = FindingState.__table__  # type: ignore[assignment]
ASSETS: Table = AssetState.__table__  # type: ignore[assignment]
_FINDINGS, _ASSETS = FINDINGS, ASSETS
_OBLIGATIONS: Table = ObligationState.__table__  # type: ignore[assignment]

#: What a sighting may change (identity columns and first-seen never change).
_FINDING_MUTABLE = (
    "status", "severity", "title", "kev", "last_seen_at", "status_changed_at", "last_agent_id", "last_report_id",
    "changed_by_report_id",
)  # fmt: skip
_ASSET_MUTABLE = (
    "status", "hostname", "mac", "last_seen_at", "status_changed_at", "last_agent_id", "last_report_id",
    "changed_by_report_id",
)  # fmt: skip
_OBLIGATION_MUTABLE = (
    "status",
    "title",
    "data",
    "last_seen_at",
    "status_changed_at",
    "last_report_id",
    "changed_by_report_id",
)


def copy_rows(s: Session, table: Table, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL: rows through COPY (one stream, no per-row statement), in this transaction."""
    copy_formatted(s, table, names, copy_values(table, names, rows))


def copy_values(table: Table, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[list[Any]]:
    """``rows`` as ``copy_formatted`` sends them: JSON as orjson's text (``jsonb`` after the version
    byte its binary form starts with), made here once (a ``Jsonb`` wrapper and a type test per value
    cost twice as much CPU); a time must be aware, as ``UTCDateTime`` requires."""
    layout = _layout(table, tuple(names))
    for row in rows:
        values = list(row)
        for i, prefix in layout.json_at:
            if (v := values[i]) is not None:
                values[i] = prefix + orjson.dumps(v).decode("utf-8")
        for i in layout.time_at:
            if (t := values[i]) is not None and t.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
        yield values


def copy_formatted(s: Session, table: Table, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL: rows made by ``copy_values`` (for the same columns) through COPY in its binary form,
    in this transaction: PostgreSQL reads times and numbers as they are instead of parsing their
    text (0.2-0.3 ms of its CPU for a report's 100 new findings, bench/README.md)."""
    raw = s.connection().connection.driver_connection
    assert raw is not None
    layout = _layout(table, tuple(names))
    with raw.cursor() as cur, cur.copy(layout.sql) as copy:
        copy.set_types(layout.types)
        for row in rows:
            copy.write_row(row)


@dataclass(frozen=True)
class _Layout:
    """How a binary COPY of some columns of a table goes (``_layout``)."""

    sql: str
    #: What the driver sends for each column (its binary form).
    types: list[str]
    #: JSON columns, and what goes before their text (``jsonb``'s version byte).
    json_at: list[tuple[int, str]]
    #: ``UTCDateTime`` columns.
    time_at: list[int]


@functools.cache
def _layout(table: Table, names: tuple[str, ...]) -> _Layout:
    kinds = [str(table.c[n].type.compile(dialect=_PG)).split("(")[0] for n in names]
    return _Layout(
        f"COPY {table.name} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)",
        [_COPY_TYPES[k] for k in kinds],
        [(i, _JSONB_VERSION if k == "JSONB" else "") for i, k in enumerate(kinds) if k in ("JSON", "JSONB")],
        [i for i, n in enumerate(names) if isinstance(table.c[n].type, UTCDateTime)],
    )


#: The version byte of ``jsonb``'s binary form (PostgreSQL's ``jsonb_recv``), as text: sent as UTF-8.
_JSONB_VERSION = "\x01"
#: A column's PostgreSQL type → what the driver sends for it in a binary COPY: ``json`` is its text,
#: ``jsonb`` the version byte and its text (both made by ``copy_values``; strings go through the
#: driver's C encoder, bytes through a Python one).
_COPY_TYPES = {
    "BIGINT": "int8",
    "INTEGER": "int4",
    "BOOLEAN": "bool",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "VARCHAR": "text",
    "TEXT": "text",
    "BYTEA": "bytea",
    "JSON": "text",
    "JSONB": "text",
}
_PG = PGDialect()  # type: ignore[no-untyped-call]


def sqlite_rows(conn: Connection, table: Table, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """SQLite: rows as tuples straight to the driver's executemany, each value through its column's
    own bind processor, so what is stored is exactly what an ``insert(table)`` would store, without
    the parameter dict and compiled-statement work SQLAlchemy does per row (most of the CPU of
    writing a report's new findings and their feed entries)."""
    insert_bound(conn, table, names, bound_rows(conn.dialect, table, names, rows))


def bound_rows(
    dialect: Dialect, table: Table, names: Sequence[str], rows: Iterable[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """SQLite: ``rows`` as the driver will take them (each value through its column's bind
    processor); made ahead of the write lock, inserted under it by ``insert_bound``."""
    assert dialect.paramstyle == "qmark", dialect.paramstyle
    types = [table.c[n].type.dialect_impl(dialect) for n in names]
    procs: list[tuple[int, Callable[[Any], Any], dict[Any, Any] | None]] = [
        (i, p, {} if isinstance(t, UTCDateTime) else None)
        for i, t in enumerate(types)
        if (p := t.bind_processor(dialect)) is not None
    ]
    out = []
    for row in rows:
        values = list(row)
        for i, process, seen in procs:
            v = values[i]
            if seen is None:
                values[i] = process(v)
            elif (done := seen.get(v)) is not None:
                values[i] = done  # a report's rows share a few times: each formatted once
            else:
                values[i] = seen[v] = process(v)
        out.append(tuple(values))
    return out


def insert_bound(conn: Connection, table: Table, names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """SQLite: one executemany of rows made by ``bound_rows`` for the same ``names``."""
    if rows:
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        conn.exec_driver_sql(sql, rows)


def _insert(s: Session, table: Table, rows: Sequence[Any], names: tuple[str, ...]) -> None:
    if not rows:
        return
    if s.get_bind().dialect.name == "postgresql":
        # Ids taken from the sequence first (a block at a time), then the rows by COPY: ~10x
        # multi-row INSERT … RETURNING.
        ids = _sequence_blocks(s.get_bind()).take(s, table, len(rows))
        for row, new_id in zip(rows, ids, strict=True):
            row.id = new_id
        values = operator.attrgetter("id", *names)
        copy_rows(s, table, ("id", *names), map(values, rows))
        # Until the statistics catch up, a site that grew since is guessed small, and the next
        # report's lookup by (site, ident) reads the whole site.
        loaded(s, table, len(rows))
        return
    # SQLite: this transaction holds the database's one write lock (BEGIN IMMEDIATE), so the ids
    # after the largest (and after those reserved for a staged report) are ours; a plain
    # executemany then beats INSERT … RETURNING several times.
    conn = s.connection()
    first = _next_id(conn, table)
    for i, row in enumerate(rows):
        row.id = first + i
    sqlite_rows(conn, table, ("id", *names), ([r.id, *(getattr(r, n) for n in names)] for r in rows))


#: Columns a reader filters on that no index leads with: the feed scoped to one site (``queries._scoped``).
_FILTERED_UNINDEXED = {"changes": ("site_id",)}


def _planned(table: Table) -> list[str]:
    """The columns the table's indexes hold, those a partial index's condition names and those
    readers filter on: what the planner weighs when it picks an index for the collector's own reads
    (a report's rows, the feed's pages). Sampling every column cost three times as much (0.37 s of
    PostgreSQL's CPU at 32,000 findings, bench/README.md); the others are left to autovacuum."""
    names = {c.name for c in table.primary_key.columns} | set(_FILTERED_UNINDEXED.get(table.name, ()))
    for index in table.indexes:
        names.update(c.name for c in index.columns)
        where = index.dialect_options["postgresql"].get("where")
        if where is not None:
            names.update(c.name for c in table.columns if re.search(rf"\b{c.name}\b", str(where)))
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            names.update(c.name for c in constraint.columns)
    return [c.name for c in table.columns if c.name in names]


def _reserved_name(table: Table) -> str:
    return f"{table.name}_reserved"


def _next_id(conn: Connection, table: Table) -> int:
    """SQLite: the first id no row has and no staged report holds (``reserve``)."""
    largest = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
    held = conn.execute(select(Counter.value).where(Counter.name == _reserved_name(table))).scalar_one_or_none()
    return max(largest, int(held or 0)) + 1


def reserve(s: Session, table: Table, count: int) -> int:
    """SQLite, under the write lock: set aside ``count`` ids of ``table`` for rows staged outside
    it (``collector/staging.py``); returns the first. Ids of a report that is never published
    stay unused (a gap, never a clash)."""
    conn = s.connection()
    first = _next_id(conn, table)
    stmt = sqlite_insert(Counter).values(name=_reserved_name(table), value=first + count - 1)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": stmt.excluded.value}))
    return first


class IdBlocks:
    """SQLite: ids for staged rows, set aside a block at a time (``reserve``) and handed out by this
    process. Reserving takes the write lock and a commit; a block of ``BLOCK`` ids does that once per
    few dozen reports of new findings instead of once per report. Ids are internal (every id a
    reader sees is enciphered per client, ``collector/ids.py``): the ids left in a block when the
    process ends are a gap, never a clash, as with a discarded plan."""

    BLOCK = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: dict[str, tuple[int, int]] = {}

    def take(self, table: Table, count: int, reserve_block: Callable[[int], int]) -> int:
        """The first of ``count`` consecutive ids of ``table``; ``reserve_block(n)`` reserves ``n``
        more in the database when this process's block has fewer left."""
        with self._lock:
            first, end = self._free.get(table.name, (0, 0))
            if end - first < count:
                size = max(count, self.BLOCK)
                first = reserve_block(size)
                end = first + size
            self._free[table.name] = (first + count, end)
            return first


_NEXTVALS = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")
_NEXT_BLOCK = text(
    "SELECT nextval(pg_get_serial_sequence(:t, 'id')), seqincrement FROM pg_sequence "
    "WHERE seqrelid = pg_get_serial_sequence(:t, 'id')::regclass"
)


class SequenceBlocks:
    """PostgreSQL: ids of new rows taken from the table's sequence a block at a time and handed out
    by this process, instead of a round trip to the sequence for each report's new rows. The
    sequence steps by a block (migration 0012): the block from a value ``nextval`` returned up to
    the next step is this process's alone. Sequence values are never given twice (whoever else
    takes them, the column's default included) and are not returned by a rollback: ids a
    rolled-back report used, or left in a block when the process ends, are a gap, never a clash.
    Ids are internal (every id a reader sees is enciphered per client, ``collector/ids.py``)."""

    BLOCK = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: dict[str, list[int]] = defaultdict(list)

    def take(self, s: Session, table: Table, count: int) -> list[int]:
        with self._lock:
            free = self._free[table.name]
            while len(free) < count:
                first, step = s.execute(_NEXT_BLOCK, {"t": table.name}).one()
                free.extend(range(first, first + step))
                if step == 1:  # a sequence that does not step by blocks (set by hand): a value a call
                    more = max(count - len(free), self.BLOCK)
                    free.extend(s.execute(_NEXTVALS, {"t": table.name, "n": more}).scalars())
            out, self._free[table.name] = free[:count], free[count:]
            return out


_SEQUENCE_BLOCKS: WeakKeyDictionary[Engine, SequenceBlocks] = WeakKeyDictionary()
_SEQUENCE_BLOCKS_LOCK = threading.Lock()


def _sequence_blocks(bind: Any) -> SequenceBlocks:
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _SEQUENCE_BLOCKS_LOCK:
        blocks = _SEQUENCE_BLOCKS.get(engine)
        if blocks is None:
            blocks = _SEQUENCE_BLOCKS[engine] = SequenceBlocks()
        return blocks


_IN = 500  # ids per IN list
_RELTUPLES = text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)")


class _Loads:
    """When this process refreshes a PostgreSQL table's planner statistics: once it has loaded
    ``FIRST`` rows into it (a table never measured is guessed tiny, and so is every site in it:
    a new client's first nights), then each time it has loaded as many rows as the table held at
    the last refresh, at most ``MOST``. Estimates stay within a factor of two of the table, and
    ANALYZE (it samples up to 30,000 rows, ~0.1 s) runs a number of times that grows with the
    logarithm of what was loaded, not with it."""

    FIRST = 1_000
    MOST = 50_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: dict[str, int] = defaultdict(int)
        self._due: dict[str, int] = {}

    def add(self, table: str, count: int) -> bool:
        """Count ``count`` rows loaded; True (and the count restarts) when the statistics are due."""
        with self._lock:
            self._since[table] += count
            if self._since[table] < self._due.get(table, self.FIRST):
                return False
            self._since[table] = 0
            return True

    def measured(self, table: str, rows: float) -> None:
        """The table held ``rows`` (its estimate just refreshed): the next refresh after as many more."""
        with self._lock:
            self._due[table] = min(self.MOST, max(self.FIRST, int(rows)))


_loads = _Loads()


def loaded(s: Session, table: Table, count: int) -> None:
    """PostgreSQL: ``count`` rows were (or are about to be) loaded into ``table``: its planner
    statistics catch up with what this process loaded (``_Loads``), not at autovacuum's next pass
    (a minute or more, or never: it may be off)."""
    if _loads.add(table.name, count):
        # SKIP_LOCKED: another process's refresh of the same table (its ingest transaction holds the
        # table's statistics lock until it commits) is as good as ours; no wait behind it.
        s.execute(text(f"ANALYZE (SKIP_LOCKED) {table.name} ({', '.join(_planned(table))})"))
        _loads.measured(table.name, s.execute(_RELTUPLES, {"t": table.name}).scalar_one())


def _update(s: Session, table: Table, rows: Sequence[Any], names: tuple[str, ...]) -> None:
    """Rows whose changed columns took the same values (a sighting: last seen, last report) are
    written by one ``UPDATE … WHERE id IN (…)`` per group; the rest one by one (executemany)."""
    if not rows:
        return
    groups: dict[tuple[tuple[str, Any], ...], list[int]] = defaultdict(list)
    singles: list[Any] = []
    for r in rows:
        orig = r.orig or {}
        changed = tuple((n, getattr(r, n)) for n in names if n not in orig or orig[n] != getattr(r, n))
        if not changed:
            continue
        if any(isinstance(v, dict | list) for _, v in changed):
            singles.append(r)
            continue
        groups[changed].append(r.id)
    conn = s.connection()
    for changed, ids in groups.items():
        for i in range(0, len(ids), _IN):
            conn.execute(update(table).where(table.c.id.in_(ids[i : i + _IN])).values(dict(changed)))
    if singles:
        # executemany parameters may not share a column's name (SQLAlchemy reserves those): prefix them.
        stmt = update(table).where(table.c.id == bindparam("v_id")).values({n: bindparam(f"v_{n}") for n in names})
        conn.execute(stmt, [{"v_id": r.id, **{f"v_{n}": getattr(r, n) for n in names}} for r in singles])


def _split(rows: Iterable[Any], staged: bool = False) -> tuple[list[Any], list[Any]]:
    """New rows (no id; or, staged, not loaded from the table) and the loaded ones this report touched."""
    new, old = [], []
    for r in rows:
        if r.id is None if not staged else r.orig is None:
            if not staged:
                new.append(r)
        elif r.touched:
            old.append(r)
    return new, old


def findings(s: Session, rows: Iterable[FindingRow], *, staged: bool = False) -> None:
    """``staged``: the new rows are already in the staging tables (only the others are written)."""
    new, old = _split(rows, staged)
    _insert(s, _FINDINGS, new, columns(FindingRow))
    _update(s, _FINDINGS, [r for r in old if r.data_changed], (*_FINDING_MUTABLE, "data", "data_digest"))
    _update(s, _FINDINGS, [r for r in old if not r.data_changed], _FINDING_MUTABLE)


def assets(s: Session, rows: Iterable[AssetRow], *, staged: bool = False) -> None:
    new, old = _split(rows, staged)
    _insert(s, _ASSETS, new, columns(AssetRow))
    _update(s, _ASSETS, old, _ASSET_MUTABLE)


def obligations(s: Session, rows: Iterable[ObligationRow]) -> None:
    new, old = _split(rows)
    _insert(s, _OBLIGATIONS, new, columns(ObligationRow))
    _update(s, _OBLIGATIONS, old, _OBLIGATION_MUTABLE)
