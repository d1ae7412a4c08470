"""SQLite: a large report's new rows and feed entries written outside the write lock, then
published by one short transaction.

SQLite has one writer; a 15,500-finding report took its lock for ~1.5 s to bind and write tens of
thousands of rows, and every other client's post waited behind it. Here the new findings, new
assets and the feed entries of a planned report (``ingest._plan``) go first into TEMP tables of
the connection that will publish it: private to that connection (no reader of any kind can see
them, so nothing is ever half-visible), written without the database's write lock, and gone with
the process (a kill -9 mid-way leaves nothing behind; the agent's retry plans and stages again).
Their ids are reserved beforehand (``persist.reserve``), so the feed's payloads are final when
staged. Publishing is ``INSERT … SELECT`` from these tables: the copy runs inside SQLite, with no
Python work per row, in the same transaction as the report row, the site state and the receipt.

A report of fewer rows (``MEMORY_ROWS``: a /24's nightly new findings) is staged in memory instead
(``InMemory``): its rows are bound ahead of the lock as the driver takes them, and inserted under it
by one executemany per table. Writing every row twice (stage, then copy) and the two extra
transactions cost such a report more than binding its rows under the lock would; the lock is still
held only for the inserts themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Column, Connection, Dialect, Integer, MetaData, String, Table, bindparam, delete, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from duecare.collector import persist
from duecare.collector.db.models import AssetState, Change, FindingState
from duecare.collector.db.types import JsonText, UTCDateTime
from duecare.collector.rows import AssetRow, FindingRow, columns

_FINDINGS: Table = FindingState.__table__  # type: ignore[assignment]
_ASSETS: Table = AssetState.__table__  # type: ignore[assignment]
_CHANGES: Table = Change.__table__  # type: ignore[assignment]

_MD = MetaData()


def _mirror(table: Table, name: str) -> Table:
    """The table's columns and types (so the same affinities), without keys or constraints."""
    return Table(name, _MD, *(Column(c.name, c.type) for c in table.columns), prefixes=["TEMPORARY"])


STAGE_FINDINGS = _mirror(_FINDINGS, "stage_findings")
STAGE_ASSETS = _mirror(_ASSETS, "stage_assets")
STAGE_CHANGES = Table(
    "stage_changes",
    _MD,
    Column("seq", Integer),
    Column("kind", String(24)),
    Column("subject", String(200)),
    Column("payload", JsonText),
    prefixes=["TEMPORARY"],
)
_ALL = (STAGE_FINDINGS, STAGE_ASSETS, STAGE_CHANGES)
_FINDING_COLUMNS = ("id", *columns(FindingRow))
_ASSET_COLUMNS = ("id", *columns(AssetRow))
_CHANGE_COLUMNS = ("seq", "kind", "subject", "payload")
#: Reports staging fewer rows (new findings, new assets and feed entries) are staged in memory.
MEMORY_ROWS = 2_000


_MADE = "duecare.staging.made_on"
#: Set while this connection's staging tables may hold rows (staged, not yet cleared).
_HOLDS = "duecare.staging.holds"
_EMPTY = tuple(delete(t) for t in _ALL)


def clear(conn: Connection) -> None:
    """Empty this connection's staging tables (made on its first use: a TEMP table lives as long as
    the database connection, which ``info`` names, so a new one makes them again). Touches no
    shared table."""
    raw = conn.connection.dbapi_connection
    if conn.info.get(_MADE) is not raw:
        for t in _ALL:
            conn.execute(CreateTable(t, if_not_exists=True))
        conn.info[_MADE] = raw
    elif conn.info.get(_HOLDS) is not raw:
        return  # emptied after its last report: nothing staged since
    for stmt in _EMPTY:
        conn.execute(stmt)
    conn.info.pop(_HOLDS, None)


def stage(
    conn: Connection,
    findings: Sequence[FindingRow],
    assets: Sequence[AssetRow],
    changes: Sequence[tuple[str, str, dict[str, Any]]],
) -> None:
    """Write new rows (ids already reserved) and feed entries (kind, subject, payload) to stage."""
    clear(conn)
    conn.info[_HOLDS] = conn.connection.dbapi_connection
    for table, names, rows in ((STAGE_FINDINGS, _FINDING_COLUMNS, findings), (STAGE_ASSETS, _ASSET_COLUMNS, assets)):
        persist.sqlite_rows(conn, table, names, ([getattr(r, n) for n in names] for r in rows))
    persist.sqlite_rows(
        conn, STAGE_CHANGES, _CHANGE_COLUMNS, ((i, k, subj[:200], p) for i, (k, subj, p) in enumerate(changes))
    )


def publish_rows(s: Session) -> None:
    """Copy the staged findings and assets into the shared tables (inside the write transaction)."""
    conn = s.connection()
    for stage_t, table, names in (
        (STAGE_FINDINGS, _FINDINGS, _FINDING_COLUMNS),
        (STAGE_ASSETS, _ASSETS, _ASSET_COLUMNS),
    ):
        conn.execute(insert(table).from_select(list(names), select(*(stage_t.c[n] for n in names))))


def publish_changes(
    s: Session, first_id: int, client_id: str, site_id: str, report_id: str | None, now: datetime
) -> None:
    """Copy the staged feed entries into ``changes`` with ids ``first_id`` + their order."""
    t = STAGE_CHANGES
    when = bindparam("now", type_=UTCDateTime())
    src = select(
        (t.c.seq + bindparam("first", type_=Integer())).label("id"),
        bindparam("client", type_=String()),
        bindparam("site", type_=String()),
        t.c.kind,
        t.c.subject,
        bindparam("report", type_=String()),
        when,
        t.c.payload,
    ).order_by(t.c.seq)
    names = ["id", "client_id", "site_id", "kind", "subject", "report_id", "created_at", "payload"]
    stmt = insert(_CHANGES).from_select(names, src)
    s.connection().execute(
        stmt, {"first": first_id, "client": client_id, "site": site_id, "report": report_id, "now": now}
    )


class Stage(Protocol):
    """Where a planned report's new rows and feed entries wait for the write transaction."""

    def publish_rows(self, s: Session) -> None: ...

    def publish_changes(
        self, s: Session, first_id: int, client_id: str, site_id: str, report_id: str | None, now: datetime
    ) -> None: ...


class InTemp:
    """The TEMP tables of the planning connection (``stage``, ``publish_rows``, ``publish_changes``)."""

    def publish_rows(self, s: Session) -> None:
        publish_rows(s)

    def publish_changes(
        self, s: Session, first_id: int, client_id: str, site_id: str, report_id: str | None, now: datetime
    ) -> None:
        publish_changes(s, first_id, client_id, site_id, report_id, now)


_FEED_HEAD = ("client_id", "site_id", "report_id", "created_at")
_FEED_ALL = ("id", "client_id", "site_id", "kind", "subject", "report_id", "created_at", "payload")


@dataclass(frozen=True)
class InMemory:
    """Rows bound ahead of the lock (``persist.bound_rows``): inserted under it, nothing to clear."""

    findings: list[tuple[Any, ...]]
    assets: list[tuple[Any, ...]]
    #: (kind, subject, payload) of each feed entry, bound; ids, times and owners are added under the lock.
    changes: list[tuple[Any, ...]]

    def publish_rows(self, s: Session) -> None:
        conn = s.connection()
        persist.insert_bound(conn, _FINDINGS, _FINDING_COLUMNS, self.findings)
        persist.insert_bound(conn, _ASSETS, _ASSET_COLUMNS, self.assets)

    def publish_changes(
        self, s: Session, first_id: int, client_id: str, site_id: str, report_id: str | None, now: datetime
    ) -> None:
        conn = s.connection()
        ((client, site, report, at),) = persist.bound_rows(
            conn.dialect, _CHANGES, _FEED_HEAD, [(client_id, site_id, report_id, now)]
        )
        rows = [
            (first_id + i, client, site, kind, subject, report, at, payload)
            for i, (kind, subject, payload) in enumerate(self.changes)
        ]
        persist.insert_bound(conn, _CHANGES, _FEED_ALL, rows)


def in_memory(
    dialect: Dialect,
    findings: Sequence[FindingRow],
    assets: Sequence[AssetRow],
    changes: Sequence[tuple[str, str, dict[str, Any]]],
) -> InMemory:
    """``stage``'s rows (ids already reserved), bound in memory."""
    return InMemory(
        persist.bound_rows(
            dialect, _FINDINGS, _FINDING_COLUMNS, ([getattr(r, n) for n in _FINDING_COLUMNS] for r in findings)
        ),
        persist.bound_rows(dialect, _ASSETS, _ASSET_COLUMNS, ([getattr(r, n) for n in _ASSET_COLUMNS] for r in assets)),
        persist.bound_rows(
            dialect, _CHANGES, ("kind", "subject", "payload"), ((k, subj[:200], p) for k, subj, p in changes)
        ),
    )


def holds(conn: Connection) -> bool:
    """Whether this connection's TEMP stage may hold rows (``clear`` would delete some)."""
    return conn.info.get(_HOLDS) is conn.connection.dbapi_connection
