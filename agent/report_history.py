"""A site's history from the collector's change feed: open findings per report, first/last seen.

The collector's API models are read here with our own minimal models (the agent never imports
``collector``). They ignore fields they do not use — a tolerant reader — so the collector can add
fields to ``/v1`` without breaking reports; every field we do use is validated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, JsonValue

from wire import Finding, Severity

LIVE = frozenset({"new", "open", "reopened"})

TrackKey = tuple[str, str, int | None, str | None]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ReportSummaryIn(_In):
    report_id: str
    agent_id: str
    report_hash: str
    chain_gap: bool = False
    started_at: AwareDatetime
    finished_at: AwareDatetime


class FindingIn(_In):
    id: int
    ip: str
    exposure: str
    port: int | None
    proto: str | None
    status: str
    severity: Severity
    title: str
    kev: bool = False
    first_seen_at: AwareDatetime
    last_seen_at: AwareDatetime
    finding: Finding | None = None

    @property
    def key(self) -> TrackKey:
        return (self.ip, self.exposure, self.port, self.proto)


class ChangeIn(_In):
    id: int
    kind: str
    report_id: str | None = None
    transition: str | None = None
    report: ReportSummaryIn | None = None
    finding: FindingIn | None = None


class ChangesPageIn(_In):
    changes: list[ChangeIn]
    next_cursor: str
    has_more: bool


class FindingsPageIn(_In):
    findings: list[FindingIn]
    next_cursor: str | None = None


class SiteIn(_In):
    id: str
    name: str


class ClientIn(_In):
    id: str
    name: str
    sites: list[SiteIn]


class ClientsIn(_In):
    clients: list[ClientIn]


class StoredReportIn(_In):
    summary: ReportSummaryIn
    report: dict[str, JsonValue]
    signature: str
    agent_public_key: str


def track_key(f: Finding) -> TrackKey:
    return (str(f.ip), f.exposure.value, f.port, f.proto.value if f.proto else None)


@dataclass(frozen=True)
class HistoryPoint:
    report_id: str
    at: datetime
    open: int
    new: int
    resolved: int


@dataclass(frozen=True)
class History:
    client: str
    site: str
    points: tuple[HistoryPoint, ...]
    #: The collector's view of each finding: status (new/open/resolved/reopened), first and last seen.
    tracks: Mapping[TrackKey, FindingIn] = field(default_factory=dict)
    chain_gaps: int = 0
    #: The signature on the rendered report, checked against the agent's enrolled key.
    signature: str | None = None
    signature_valid: bool | None = None
    agent_public_key: str | None = None

    def track(self, f: Finding) -> FindingIn | None:
        return self.tracks.get(track_key(f))

    def still_open_elsewhere(self, shown: Iterable[Finding]) -> list[FindingIn]:
        """Findings the collector still counts as open that the rendered report does not show."""
        seen = {track_key(f) for f in shown}
        return sorted(
            (t for t in self.tracks.values() if t.status in LIVE and t.key not in seen),
            key=lambda t: (-t.severity.rank, t.ip, t.exposure),
        )


def replay(changes: Sequence[ChangeIn]) -> tuple[list[HistoryPoint], int]:
    """Walk the feed in ingest order; after each report, count the site's live findings.

    Returns the points (sorted by report time) and the number of chain gaps the collector noted.
    """
    live: set[int] = set()
    order: list[str] = []
    when: dict[str, datetime] = {}
    new: dict[str, int] = {}
    resolved: dict[str, int] = {}
    open_after: dict[str, int] = {}
    gaps = 0
    for c in changes:
        if c.kind == "chain_gap":
            gaps += 1
        if c.kind == "report" and c.report is not None:
            rid = c.report.report_id
            if rid not in when:
                order.append(rid)
            when[rid] = c.report.finished_at
            open_after[rid] = len(live)
        if c.kind == "finding" and c.finding is not None:
            status = c.transition or c.finding.status
            rid = c.report_id or ""
            if status in LIVE:
                live.add(c.finding.id)
            elif status == "resolved":
                live.discard(c.finding.id)
            if status in ("new", "reopened"):
                new[rid] = new.get(rid, 0) + 1
            elif status == "resolved":
                resolved[rid] = resolved.get(rid, 0) + 1
        if c.report_id in when:
            open_after[c.report_id] = len(live)
    points = [HistoryPoint(rid, when[rid], open_after[rid], new.get(rid, 0), resolved.get(rid, 0)) for rid in order]
    points.sort(key=lambda p: p.at)
    return points, gaps
