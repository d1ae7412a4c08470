"""The numbers of the Clients and Client pages, per site, from the collector's own tables.

Every count here is counted once, per site, by one grouped query; a client's figure is the sum of
its sites' and the Client page's site rows are the same rows, so the pages cannot disagree. The
statuses are the read API's (``wire.api``): what ``/v1/findings`` calls live is what is counted.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, select, true
from sqlalchemy.orm import Session

from duecare.collector.db.models import Agent, Change, Client, FindingState, ObligationState, Report, Site
from duecare.collector.queries import Filters
from duecare.wire import ObligationStatus
from duecare.wire.api import LIVE_FINDING

LIVE = tuple(s.value for s in LIVE_FINDING)
#: The agents' default schedule (nightly), used until a site has reported often enough to show its own.
DEFAULT_INTERVAL = timedelta(days=1)
RHYTHM_WINDOW = timedelta(days=30)


def waived() -> Any:
    return func.coalesce(FindingState.data["waived"].as_boolean(), false())


def overdue(today: date) -> Any:
    """Past a deadline set under this engagement, not waived (``report.view.is_overdue``'s rule)."""
    deadline = FindingState.data["deadline"].as_string()
    return and_(deadline.is_not(None), deadline < today.isoformat(), waived() == false())


def internet() -> Any:
    return FindingState.data["internet_exposed"].as_boolean()


@dataclass
class Counts:
    open: int = 0
    kev: int = 0
    overdue: int = 0
    internet: int = 0
    #: Live findings whose reach from the internet nobody has established.
    internet_unknown: int = 0
    not_met: int = 0
    unknown: int = 0
    attestation: int = 0

    def add(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class SiteRow:
    id: str
    client_id: str
    name: str
    last_report_at: datetime | None
    #: How often this site reports (its own rhythm over 30 days, else nightly).
    interval: timedelta
    silent: bool
    counts: Counts = field(default_factory=Counts)
    profiles: set[str] = field(default_factory=set)


@dataclass
class ClientRow:
    id: str
    name: str
    sites: list[SiteRow]
    counts: Counts
    profiles: tuple[str, ...]

    @property
    def silent(self) -> int:
        return sum(1 for s in self.sites if s.silent)

    @property
    def last_report_at(self) -> datetime | None:
        times = [s.last_report_at for s in self.sites if s.last_report_at is not None]
        return max(times) if times else None

    @property
    def needs_action(self) -> bool:
        c = self.counts
        return bool(c.not_met or c.overdue or c.kev or self.silent)


def _scoped(stmt: Any, model: Any, f: Filters) -> Any:
    if f.client_id is not None:
        stmt = stmt.where(model.client_id == f.client_id)
    if f.site_id is not None:
        stmt = stmt.where(model.site_id == f.site_id if model is not Site else Site.id == f.site_id)
    return stmt


class CountsCache:
    """Every site's counts, kept until the change feed moves or the day turns.

    Every ingest appends to the feed (at least its ``report`` entry), and "overdue" changes only with
    the date, so (newest change id, today) names the counts exactly. Reading them for 100,000 findings
    means reading a JSON field of each (``overdue``, ``internet``): once per ingest, not per page.
    """

    def __init__(self) -> None:
        self._key: tuple[int, date] | None = None
        self._rows: dict[str, tuple[Counts, frozenset[str]]] = {}
        self._intervals: dict[str, timedelta] = {}
        self._lock = threading.Lock()

    def _refresh(self, s: Session, now: datetime) -> None:
        key = (int(s.scalar(select(func.coalesce(func.max(Change.id), 0))) or 0), now.date())
        if key != self._key:
            rows = {sid: SiteRow(sid, "", "", None, DEFAULT_INTERVAL, False) for sid in s.scalars(select(Site.id))}
            _findings(s, Filters(), now.date(), rows)
            _obligations(s, Filters(), rows)
            self._rows = {sid: (r.counts, frozenset(r.profiles)) for sid, r in rows.items()}
            self._intervals = intervals(s, Filters(), now)
            self._key = key

    def get(self, s: Session, now: datetime) -> dict[str, tuple[Counts, frozenset[str]]]:
        with self._lock:
            self._refresh(s, now)
            return self._rows

    def rhythm(self, s: Session, now: datetime) -> dict[str, timedelta]:
        with self._lock:
            self._refresh(s, now)
            return self._intervals


def intervals(s: Session, f: Filters, now: datetime) -> dict[str, timedelta]:
    """Each site's reporting rhythm: the mean gap between its reports of the last 30 days (3 or more)."""
    rhythm = _scoped(
        select(Report.site_id, func.count(), func.min(Report.finished_at), func.max(Report.finished_at))
        .where(Report.finished_at >= now - RHYTHM_WINDOW)
        .group_by(Report.site_id),
        Report,
        f,
    )
    return {
        site: (hi - lo) / (n - 1) if n >= 3 and hi > lo else DEFAULT_INTERVAL for site, n, lo, hi in s.execute(rhythm)
    }


def site_rows(
    s: Session, f: Filters, now: datetime, grace: timedelta, cache: CountsCache | None = None
) -> list[SiteRow]:
    """Every site in reach with its counts, last report and whether it has gone silent."""
    last = select(Agent.site_id, func.max(Agent.last_report_at).label("last")).group_by(Agent.site_id).subquery()
    stmt = _scoped(
        select(Site.id, Site.client_id, Site.name, Site.created_at, last.c.last).outerjoin(
            last, last.c.site_id == Site.id
        ),
        Site,
        f,
    )
    rhythm = intervals(s, f, now) if cache is None else cache.rhythm(s, now)
    rows: dict[str, SiteRow] = {}
    for sid, cid, name, created, last_at in s.execute(stmt):
        interval = rhythm.get(sid, DEFAULT_INTERVAL)
        since = last_at if last_at is not None else created
        last_at = last_at.replace(tzinfo=UTC) if last_at is not None and last_at.tzinfo is None else last_at
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since
        rows[sid] = SiteRow(sid, cid, name, last_at, interval, now - since > interval + grace)
    if cache is None:
        _findings(s, f, now.date(), rows)
        _obligations(s, f, rows)
    else:
        known = cache.get(s, now)
        for sid, row in rows.items():
            if sid in known:
                counts, profiles = known[sid]
                row.counts = Counts(**{k: getattr(counts, k) for k in Counts.__dataclass_fields__})
                row.profiles = set(profiles)
    return sorted(rows.values(), key=lambda r: (r.name.casefold(), r.id))


def _findings(s: Session, f: Filters, today: date, rows: dict[str, SiteRow]) -> None:
    reach = internet()
    stmt = _scoped(
        select(
            FindingState.site_id,
            func.count(),
            func.sum(case((FindingState.kev == true(), 1), else_=0)),
            func.sum(case((overdue(today), 1), else_=0)),
            func.sum(case((reach == true(), 1), else_=0)),
            func.sum(case((reach.is_(None), 1), else_=0)),
        )
        .where(FindingState.status.in_(LIVE))
        .group_by(FindingState.site_id),
        FindingState,
        f,
    )
    for sid, n, kev, late, reached, unknown in s.execute(stmt):
        if sid in rows:
            c = rows[sid].counts
            c.open, c.kev, c.overdue, c.internet, c.internet_unknown = (
                n,
                kev or 0,
                late or 0,
                reached or 0,
                unknown or 0,
            )


_OBLIGATION_FIELD = {
    ObligationStatus.NOT_MET.value: "not_met",
    ObligationStatus.UNKNOWN.value: "unknown",
    ObligationStatus.ATTESTATION_REQUIRED.value: "attestation",
}


def _obligations(s: Session, f: Filters, rows: dict[str, SiteRow]) -> None:
    profile = ObligationState.data["profile"].as_string()
    stmt = _scoped(
        select(ObligationState.site_id, ObligationState.status, profile, func.count()).group_by(
            ObligationState.site_id, ObligationState.status, profile
        ),
        ObligationState,
        f,
    )
    for sid, status, prof, n in s.execute(stmt):
        row = rows.get(sid)
        if row is None:
            continue
        if prof:
            row.profiles.add(prof)
        name = _OBLIGATION_FIELD.get(status)
        if name is not None:
            setattr(row.counts, name, getattr(row.counts, name) + n)


def client_rows(s: Session, f: Filters, sites: Sequence[SiteRow]) -> list[ClientRow]:
    stmt = select(Client.id, Client.name)
    if f.client_id is not None:
        stmt = stmt.where(Client.id == f.client_id)
    by_client: dict[str, list[SiteRow]] = {}
    for site in sites:
        by_client.setdefault(site.client_id, []).append(site)
    out = []
    for cid, name in s.execute(stmt):
        mine = by_client.get(cid, [])
        total = Counts()
        for site in mine:
            total.add(site.counts)
        profiles = tuple(sorted({p for site in mine for p in site.profiles}))
        out.append(ClientRow(cid, name, mine, total, profiles))
    return out


def overdue_filter(today: date) -> Any:
    """For lists of findings: live and past an engagement deadline."""
    return and_(FindingState.status.in_(LIVE), overdue(today))
