"""The change feed's ids: dense, increasing, and visible in order.

A reader pages with ``id > cursor``, so an id must never become visible after a larger one (the
reader would step over it). Ids come from one ``counters`` row bumped with ``UPDATE … RETURNING``
as the last step of the ingest transaction: on PostgreSQL the row lock is held until COMMIT, so a
second transaction cannot take ids until the first has committed; commit order is id order and
every snapshot sees a prefix. A rollback returns the ids with the row. On SQLite the write
transaction (BEGIN IMMEDIATE) already serialises writers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session

from duecare.collector import persist, staging
from duecare.collector.db.models import Change, Counter

FEED = "changes"


@dataclass(frozen=True)
class PendingChange:
    kind: str
    subject: str
    client_id: str
    site_id: str
    report_id: str | None
    payload: dict[str, Any]


_COUNTERS: Any = Counter.__table__
_BUMP = (
    update(_COUNTERS)
    .where(_COUNTERS.c.name == FEED)
    .values(value=_COUNTERS.c.value + bindparam("count"))
    .returning(_COUNTERS.c.value)
)
_CHANGES: Any = Change.__table__


@dataclass(frozen=True)
class Along:
    """PostgreSQL: writes that go with the counter's bump in its statement (``bump_with``): one round
    trip for what the transaction writes last."""

    bump: Any
    params: dict[str, Any]


def bump_with(*ctes: Any) -> Any:
    """The counter's bump with ``ctes`` (data-modifying WITH clauses; not one bound as ``count``)."""
    return _BUMP.add_cte(*ctes)


def allocate(session: Session, count: int, along: Along | None = None) -> int:
    """Reserve ``count`` ids; returns the first. Locks the counter row until commit."""
    stmt, params = (_BUMP, {}) if along is None else (along.bump, along.params)
    last = session.connection().execute(stmt, {**params, "count": count}).scalar_one()
    return int(last) - count + 1


def record(
    session: Session,
    pending: Sequence[PendingChange],
    now: datetime,
    staged: tuple[int, int, staging.Stage] | None = None,
    along: Along | None = None,
) -> list[dict[str, Any]]:
    """Give ``pending`` their ids (in order) and insert them with one multi-row statement.

    ``staged`` (start, count, stage), SQLite: those entries are already staged
    (``collector/staging.py``) and are published from there, not bound again. ``along``
    (PostgreSQL): written with the bump, and only if there is something to record.
    Everything else of the transaction is written before this (the counter row stays locked from
    here to COMMIT, and on PostgreSQL every other ingest waits for it): the rows are made first."""
    if not pending:
        if along is not None:
            allocate(session, 0, along)
        return []
    session.flush()
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # Before the counter row is locked (an ANALYZE takes a tenth of a second). Without fresh
        # statistics a page of the feed (``id > cursor ORDER BY id LIMIT n``) is planned as a
        # sort of every entry after the cursor, not a walk of the primary key.
        persist.loaded(session, _CHANGES, len(pending))
    rows = [
        {
            "id": 0,
            "client_id": p.client_id,
            "site_id": p.site_id,
            "kind": p.kind,
            "subject": p.subject[:200],
            "report_id": p.report_id,
            "created_at": now,
            "payload": p.payload,
        }
        for p in pending
    ]
    # COPY: made before the counter row is locked, which then stays locked (every other ingest
    # waiting) only as long as sending them takes. A steady night's one entry: an INSERT costs less
    # than setting up a COPY.
    copy = postgres and len(rows) > _FEW
    made = list(persist.copy_values(_CHANGES, _NAMES[1:], ([r[n] for n in _NAMES[1:]] for r in rows))) if copy else []
    first = allocate(session, len(pending), along)
    for i, r in enumerate(rows):
        r["id"] = first + i
    if copy:
        persist.copy_formatted(session, _CHANGES, _NAMES, ([first + i, *v] for i, v in enumerate(made)))
    elif postgres:
        session.connection().execute(_INSERT, rows)
    else:
        start, count, stage = staged if staged is not None else (0, 0, None)
        conn = session.connection()
        for part in (rows[:start], rows[start + count :]) if count else (rows,):
            persist.sqlite_rows(conn, _CHANGES, _NAMES, ([r[n] for n in _NAMES] for r in part))
        if count and stage is not None:
            p = pending[start]
            stage.publish_changes(session, first + start, p.client_id, p.site_id, p.report_id, now)
    return rows


_FEW = 4
_INSERT = insert(_CHANGES)
_NAMES = ("id", "client_id", "site_id", "kind", "subject", "report_id", "created_at", "payload")
