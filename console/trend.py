"""Open / new / resolved findings per night and per client, from the collector's change feed.

The same walk as the report's history (``report.history.replay``): a finding is live from its
``new`` or ``reopened`` transition to its ``resolved`` one. The feed is append-only, so the walk is
kept and only extended by what was ingested since (one indexed range read of the finding
transitions, the transition read out of the JSON payload by the database).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from duecare.collector.db.models import Change
from duecare.collector.db.session import Database
from duecare.wire.api import ChangeKind, FindingStatus

_PAGE = 20_000
_UP = (FindingStatus.NEW.value, FindingStatus.REOPENED.value)


@dataclass(frozen=True)
class Night:
    day: date
    #: Live findings at the end of the day (UTC).
    open: int
    new: int
    resolved: int


class TrendCache:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cursor = 0
        self._live: dict[str, int] = {}
        #: client → day → [open at the end of the day, new, resolved]
        self._days: dict[str, dict[date, list[int]]] = {}
        self._lock = threading.Lock()

    def _rows(self) -> Iterator[tuple[int, str, date, str | None]]:
        transition = Change.payload["transition"].as_string()
        while True:
            stmt = (
                select(Change.id, Change.client_id, Change.created_at, transition)
                .where(Change.id > self._cursor, Change.kind == ChangeKind.FINDING.value)
                .order_by(Change.id)
                .limit(_PAGE)
            )
            with self.db.read() as s:
                rows = s.execute(stmt).all()
            for cid, client, created, step in rows:
                yield cid, client, created.date(), step
            if len(rows) < _PAGE:
                return

    def refresh(self) -> None:
        with self._lock:
            for cid, client, day, step in self._rows():
                live = self._live.get(client, 0)
                row = self._days.setdefault(client, {}).setdefault(day, [live, 0, 0])
                if step in _UP:
                    live += 1
                    row[1] += 1
                elif step == FindingStatus.RESOLVED.value:
                    live -= 1
                    row[2] += 1
                row[0] = live
                self._live[client] = live
                self._cursor = cid

    def nights(self, client_id: str, today: date, days: int = 90, *, fresh: bool = False) -> list[Night]:
        """One entry per day, oldest first, ending today; a day without change keeps the open count.

        ``fresh``: the caller has just called ``refresh`` (a page of many clients reads the feed once)."""
        if not fresh:
            self.refresh()
        with self._lock:
            known = dict(self._days.get(client_id, {}))
        first = today - timedelta(days=days - 1)
        before = [d for d in known if d < first]
        current = known[max(before)][0] if before else 0
        out = []
        for i in range(days):
            day = first + timedelta(days=i)
            row = known.get(day)
            if row is None:
                out.append(Night(day, current, 0, 0))
            else:
                current = row[0]
                out.append(Night(day, row[0], row[1], row[2]))
        return out
