"""What each console page shows, read under the viewer's scope (anything out of reach: NotFound → 404).

Lists that can grow are read a page at a time (``Pager``); counts come from ``overview`` and the
nightly series from ``trend``; the five actions are ranked by the report's own rule
(``report.view.actions_of``) and the baseline diff is the report's (``report.baseline.diff``).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duecare.collector import queries
from duecare.collector.db.models import (
    Agent,
    AssetState,
    ChainGap,
    Change,
    Client,
    DroppedReport,
    FindingState,
    HeldReport,
    ObligationState,
    Report,
    Site,
)
from duecare.collector.errors import NotFound
from duecare.collector.ids import Ids, Kind, keys_of
from duecare.collector.schemas import asset_out, finding_out, obligation_out
from duecare.console import overview
from duecare.console.charts import Spark, Timeline, sparkline, timeline
from duecare.console.trend import Night, TrendCache
from duecare.report import view
from duecare.report.baseline import BaselineDiff, diff
from duecare.wire import Finding
from duecare.wire import Report as WireReport
from duecare.wire.api import AssetOut, ChangeKind, FindingOut, FindingStatus, ObligationOut

PAGE_SIZE = 50
#: Sorts of the Clients page: the column and what it sorts by.
CLIENT_SORTS: dict[str, Any] = {
    "name": lambda c: c.name.casefold(),
    "not_met": lambda c: c.counts.not_met,
    "unknown": lambda c: c.counts.unknown,
    "attestation": lambda c: c.counts.attestation,
    "overdue": lambda c: c.counts.overdue,
    "kev": lambda c: c.counts.kev,
    "internet": lambda c: c.counts.internet,
    "silent": lambda c: c.silent,
    "last_report": lambda c: c.last_report_at or datetime.min.replace(tzinfo=UTC),
}


@dataclass(frozen=True)
class Pager:
    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_shown(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last_shown(self) -> int:
        return min(self.offset + self.size, self.total)


def pager(number: int, total: int, size: int = PAGE_SIZE) -> Pager:
    return Pager(min(max(number, 1), max(1, -(-total // size))), size, total)


@dataclass(frozen=True)
class ClientLine:
    row: overview.ClientRow
    spark: Spark


@dataclass(frozen=True)
class ClientsPage:
    lines: list[ClientLine]
    pager: Pager
    sort: str
    descending: bool
    needs_action: bool
    total_clients: int


def clients_page(
    s: Session,
    scope: queries.ReaderScope,
    trends: TrendCache,
    *,
    sort: str,
    descending: bool,
    needs_action: bool,
    number: int,
    grace: timedelta,
    counts: overview.CountsCache | None = None,
) -> ClientsPage:
    now = datetime.now(UTC)
    filters = queries.Filters(scope.client_id)
    rows = overview.client_rows(s, filters, overview.site_rows(s, filters, now, grace, counts))
    total = len(rows)
    if needs_action:
        rows = [r for r in rows if r.needs_action]
    key = CLIENT_SORTS.get(sort, CLIENT_SORTS["name"])
    rows.sort(key=lambda r: (key(r), r.name.casefold()), reverse=descending)
    p = pager(number, len(rows))
    shown = rows[p.offset : p.offset + p.size]
    trends.refresh()
    lines = [ClientLine(r, sparkline(trends.nights(r.id, now.date(), fresh=True))) for r in shown]
    return ClientsPage(lines, p, sort if sort in CLIENT_SORTS else "name", descending, needs_action, total)


@dataclass(frozen=True)
class FixTimes:
    resolved: int
    median: timedelta | None
    worst: timedelta | None
    #: Resolved after the deadline set under the engagement.
    late: int
    #: Live findings whose due date fell before the engagement (inherited) / with a deadline under it.
    inherited: int
    under_engagement: int


@dataclass(frozen=True)
class ClientPage:
    client: overview.ClientRow
    sites: list[overview.SiteRow]
    site_pager: Pager
    obligations: list[tuple[str, ObligationOut]]
    obligation_pager: Pager
    actions: list[view.Action]
    action_total: int
    nights: list[Night]
    chart: Timeline
    fixes: FixTimes
    today: date


def _client(s: Session, scope: queries.ReaderScope, client_id: str) -> Client:
    row = s.get(Client, client_id)
    if row is None or (scope.client_id is not None and scope.client_id != client_id):
        raise NotFound(f"no client {client_id!r}")
    return row


def client_page(
    s: Session,
    scope: queries.ReaderScope,
    trends: TrendCache,
    client_id: str,
    *,
    site_page: int,
    obligation_page: int,
    grace: timedelta,
    counts: overview.CountsCache | None = None,
) -> ClientPage:
    _client(s, scope, client_id)
    now = datetime.now(UTC)
    today = now.date()
    filters = queries.Filters(client_id)
    sites = overview.site_rows(s, filters, now, grace, counts)
    (client,) = overview.client_rows(s, filters, sites)
    sp = pager(site_page, len(sites))
    names = {site.id: site.name for site in sites}
    total_ob = s.scalar(select(func.count()).where(ObligationState.client_id == client_id)) or 0
    op = pager(obligation_page, total_ob)
    ob_rows = s.scalars(
        select(ObligationState)
        .where(ObligationState.client_id == client_id)
        .order_by(ObligationState.framework, ObligationState.requirement, ObligationState.site_id)
        .offset(op.offset)
        .limit(op.size)
    ).all()
    codec = keys_of(s).codec(client_id)
    obligations = [
        (names.get(o.site_id, o.site_id), obligation_out(o, public_id=codec.encode(Kind.OBLIGATION, o.id)))
        for o in ob_rows
    ]
    live = [
        Finding.model_validate(d)
        for d in s.scalars(
            select(FindingState.data).where(FindingState.client_id == client_id, FindingState.status.in_(overview.LIVE))
        )
    ]
    ranked = view.actions_of(live, today)
    nights = trends.nights(client_id, today)
    return ClientPage(
        client,
        sites[sp.offset : sp.offset + sp.size],
        sp,
        obligations,
        op,
        ranked[: view_top()],
        len(ranked),
        nights[-14:],
        timeline(nights),
        _fix_times(s, client_id, live),
        today,
    )


def view_top() -> int:
    from duecare.report.html import TOP_ACTIONS

    return TOP_ACTIONS


def _fix_times(s: Session, client_id: str, live: Sequence[Finding]) -> FixTimes:
    deadline = FindingState.data["deadline"].as_string()
    rows = s.execute(
        select(FindingState.first_seen_at, FindingState.status_changed_at, deadline).where(
            FindingState.client_id == client_id, FindingState.status == FindingStatus.RESOLVED.value
        )
    ).all()
    took = [changed - first for first, changed, _ in rows]
    late = sum(1 for _, changed, due in rows if due and changed.date().isoformat() > due)
    return FixTimes(
        len(rows),
        statistics.median(took) if took else None,
        max(took) if took else None,
        late,
        sum(1 for f in live if view.inherited_due(f) is not None),
        sum(1 for f in live if view.is_open(f) and f.deadline is not None),
    )


@dataclass(frozen=True)
class AgentHealth:
    id: str
    hostname: str
    enrolled_at: datetime
    last_report_at: datetime | None
    reports: int
    revoked: bool
    chain_gaps: int
    unexplained_gaps: int
    dropped: int
    held: int


@dataclass(frozen=True)
class SitePage:
    site: overview.SiteRow
    client_name: str
    agents: list[AgentHealth]
    assets: list[AssetOut]
    asset_pager: Pager
    findings: list[FindingOut]
    finding_pager: Pager
    status: str | None
    baseline: BaselineDiff | None
    baseline_problem: str | None
    reports: int
    today: date


def _site(s: Session, scope: queries.ReaderScope, site_id: str) -> Site:
    row = s.get(Site, site_id)
    if row is None or (scope.client_id is not None and scope.client_id != row.client_id):
        raise NotFound(f"no site {site_id!r}")
    return row


def _count(s: Session, model: Any, *where: Any) -> int:
    return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def site_page(
    s: Session,
    scope: queries.ReaderScope,
    site_id: str,
    *,
    asset_page: int,
    finding_page: int,
    status: str | None,
    grace: timedelta,
    counts: overview.CountsCache | None = None,
) -> SitePage:
    site = _site(s, scope, site_id)
    now = datetime.now(UTC)
    (row,) = overview.site_rows(s, queries.Filters(site.client_id, site_id), now, grace, counts)
    agents = [_health(s, a) for a in s.scalars(select(Agent).where(Agent.site_id == site_id).order_by(Agent.id))]
    ap = pager(asset_page, _count(s, AssetState, AssetState.site_id == site_id))
    codec = keys_of(s).codec(site.client_id)
    assets = [
        asset_out(a, public_id=codec.encode(Kind.ASSET, a.id))
        for a in s.scalars(
            select(AssetState)
            .where(AssetState.site_id == site_id)
            .order_by(AssetState.id)
            .offset(ap.offset)
            .limit(ap.size)
        )
    ]
    where = [FindingState.site_id == site_id]
    if status is not None:
        where.append(FindingState.status == status)
    fp = pager(finding_page, _count(s, FindingState, *where))
    findings = [
        finding_out(f, public_id=codec.encode(Kind.FINDING, f.id))
        for f in s.scalars(
            select(FindingState).where(*where).order_by(FindingState.id).offset(fp.offset).limit(fp.size)
        )
    ]
    reports = _count(s, Report, Report.site_id == site_id)
    baseline, problem = _baseline(s, site_id)
    client = s.get_one(Client, site.client_id)
    return SitePage(row, client.name, agents, assets, ap, findings, fp, status, baseline, problem, reports, now.date())


def _health(s: Session, a: Agent) -> AgentHealth:
    unexplained = _count(s, ChainGap, ChainGap.agent_id == a.id, ChainGap.explained_by_tombstone.is_(False))
    return AgentHealth(
        a.id,
        a.hostname,
        a.enrolled_at,
        a.last_report_at,
        a.report_count,
        a.revoked_at is not None,
        _count(s, ChainGap, ChainGap.agent_id == a.id),
        unexplained,
        _count(s, DroppedReport, DroppedReport.agent_id == a.id),
        _count(s, HeldReport, HeldReport.agent_id == a.id),
    )


def _baseline(s: Session, site_id: str) -> tuple[BaselineDiff | None, str | None]:
    """The first report the collector holds for the site against its latest (the report's own diff)."""
    first = s.scalars(select(Report).where(Report.site_id == site_id).order_by(Report.finished_at).limit(1)).first()
    last = s.scalars(
        select(Report).where(Report.site_id == site_id).order_by(Report.finished_at.desc()).limit(1)
    ).first()
    if first is None or last is None:
        return None, "no report yet"
    if first.id == last.id:
        return None, "only one report so far: it is the baseline"
    try:
        return diff(
            WireReport.model_validate_json(first.raw_report), WireReport.model_validate_json(last.raw_report)
        ), None
    except ValueError as exc:
        return None, f"a stored report does not validate ({type(exc).__name__})"


@dataclass(frozen=True)
class Transition:
    at: datetime
    transition: str
    report_id: str | None


@dataclass(frozen=True)
class Sighting:
    report_id: str
    finished_at: datetime
    received_at: datetime
    listed: bool


@dataclass(frozen=True)
class FindingPage:
    finding: FindingOut
    site_name: str
    client_name: str
    transitions: list[Transition]
    sightings: list[Sighting]
    sighting_pager: Pager
    public_key: str | None
    today: date


def finding_page(s: Session, scope: queries.ReaderScope, finding_id: str, *, report_page: int) -> FindingPage:
    """``finding_id``: the opaque id of the finding's client (``collector/ids.py``); 404 for any other."""
    number, client_id = Ids.of(s, scope.client_id).internal(Kind.FINDING, finding_id, "finding")
    row = s.get(FindingState, number)
    if row is None or row.client_id != client_id or (scope.client_id is not None and scope.client_id != row.client_id):
        raise NotFound(f"no finding {finding_id[:40]!r}")
    out = finding_out(row, public_id=finding_id)
    site = s.get_one(Site, row.site_id)
    client = s.get_one(Client, row.client_id)
    transition = Change.payload["transition"].as_string()
    steps = [
        Transition(at, step or "", rid)
        for at, step, rid in s.execute(
            select(Change.created_at, transition, Change.report_id)
            .where(
                Change.client_id == row.client_id,
                Change.site_id == row.site_id,
                Change.kind == ChangeKind.FINDING.value,
                Change.subject == row.ident,
            )
            .order_by(Change.id)
        )
    ]
    window = (Report.site_id == row.site_id, Report.started_at >= row.first_seen_at - timedelta(minutes=5))
    rp = pager(report_page, _count(s, Report, *window), size=20)
    sightings = [
        Sighting(r.id, r.finished_at, r.received_at, _lists(r.raw_report, out))
        for r in s.scalars(
            select(Report).where(*window).order_by(Report.finished_at.desc()).offset(rp.offset).limit(rp.size)
        )
    ]
    agent = s.get(Agent, row.last_agent_id)
    return FindingPage(
        out, site.name, client.name, steps, sightings, rp, agent.public_key if agent else None, datetime.now(UTC).date()
    )


def _lists(raw: str, f: FindingOut) -> bool:
    """Does this stored report list the finding as affected (the collector's key: ip, exposure, port, proto)?"""
    proto = f.proto.value if f.proto else None
    for item in orjson.loads(raw).get("findings", ()):
        if (
            item.get("ip") == f.ip
            and item.get("exposure") == f.exposure
            and item.get("port") == f.port
            and item.get("proto") == proto
            and item.get("verdict") == "affected"
        ):
            return True
    return False


@dataclass(frozen=True)
class ExportSite:
    id: str
    name: str
    client_id: str
    client_name: str


def export_sites(
    s: Session, scope: queries.ReaderScope, number: int
) -> tuple[list[ExportSite], Pager, list[tuple[str, str]]]:
    where = [] if scope.client_id is None else [Site.client_id == scope.client_id]
    p = pager(number, _count(s, Site, *where))
    rows = s.execute(
        select(Site.id, Site.name, Client.id, Client.name)
        .join(Client, Client.id == Site.client_id)
        .where(*where)
        .order_by(Client.name, Site.name)
        .offset(p.offset)
        .limit(p.size)
    ).all()
    cstmt = select(Client.id, Client.name).order_by(Client.name)
    if scope.client_id is not None:
        cstmt = cstmt.where(Client.id == scope.client_id)
    return [ExportSite(*r) for r in rows], p, [(i, n) for i, n in s.execute(cstmt)]
