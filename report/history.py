"""A site's history from the collector's change feed: open findings per report, first/last seen.

Read through the read API's one model (``duecare.wire.api``), which is a tolerant reader: the
collector can add fields to ``/v1`` without breaking reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from duecare.wire import Finding, Receipt
from duecare.wire.api import LIVE_FINDING, ChangeKind, ChangeOut, FindingOut, FindingStatus

TrackKey = tuple[str, str, int | None, str | None]


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
    tracks: Mapping[TrackKey, FindingOut] = field(default_factory=dict)
    chain_gaps: int = 0
    #: The signature on the rendered report, checked against the agent's enrolled key.
    signature: str | None = None
    signature_valid: bool | None = None
    agent_public_key: str | None = None
    #: The collector's signed receipt for the rendered report (proof of notice) and whether it verifies.
    receipt: Receipt | None = None
    receipt_valid: bool | None = None

    def track(self, f: Finding) -> FindingOut | None:
        return self.tracks.get(track_key(f))

    def still_open_elsewhere(self, shown: Iterable[Finding]) -> list[FindingOut]:
        """Findings the collector still counts as open that the rendered report does not show."""
        seen = {track_key(f) for f in shown}
        return sorted(
            (t for t in self.tracks.values() if t.status in LIVE_FINDING and t.key not in seen),
            key=lambda t: (-t.severity.rank, t.ip, t.exposure),
        )


def replay(changes: Sequence[ChangeOut]) -> tuple[list[HistoryPoint], int]:
    """Walk the feed in ingest order; after each report, count the site's live findings.

    Returns the points (sorted by report time) and the number of chain gaps the collector noted.
    """
    live: set[str] = set()
    order: list[str] = []
    when: dict[str, datetime] = {}
    new: dict[str, int] = {}
    resolved: dict[str, int] = {}
    open_after: dict[str, int] = {}
    gaps = 0
    for c in changes:
        if c.kind is ChangeKind.CHAIN_GAP:
            gaps += 1
        if c.kind is ChangeKind.REPORT and c.report is not None:
            rid = c.report.report_id
            if rid not in when:
                order.append(rid)
            when[rid] = c.report.finished_at
            open_after[rid] = len(live)
        if c.kind is ChangeKind.FINDING and c.finding is not None:
            status = c.transition or c.finding.status
            rid = c.report_id or ""
            if status in LIVE_FINDING:
                live.add(c.finding.id)
            elif status == FindingStatus.RESOLVED:
                live.discard(c.finding.id)
            if status in (FindingStatus.NEW, FindingStatus.REOPENED):
                new[rid] = new.get(rid, 0) + 1
            elif status == FindingStatus.RESOLVED:
                resolved[rid] = resolved.get(rid, 0) + 1
        if c.report_id in when:
            open_after[c.report_id] = len(live)
    points = [HistoryPoint(rid, when[rid], open_after[rid], new.get(rid, 0), resolved.get(rid, 0)) for rid in order]
    points.sort(key=lambda p: p.at)
    return points, gaps
