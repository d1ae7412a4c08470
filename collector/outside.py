"""The join of a site's inside and outside views, recomputed in the ingest transaction (issue 14).

Whichever side reports, the collector takes the site's latest report from an agent with internet
vantage (the outside view of its declared public addresses) and the latest report of each inside
agent (for the services' fingerprints), and gives every live inside finding ``internet_exposed``
with the evidence (``advisories/reachability.py``): a gateway mapping the inside agent read first,
then a fingerprint both sides saw, then "covered from outside and closed" for ``false``. Findings
of the outside agent are reachable by definition; one no inside finding explains says so ("internal
host unknown"). A change of reachability is a ``finding`` change with transition ``reachability``,
``previous_status`` holding the old value (``true``/``false``/``unknown``).

Cost: an inside report rejoins only the findings it named; an outside report rejoins the site's
live findings. Both parse the raw JSON of the latest reports (orjson, no model validation).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from duecare.collector import lifecycle
from duecare.collector.db.models import Agent, FindingState, Site
from duecare.collector.db.models import Report as ReportRow
from duecare.collector.rows import FindingRow, columns, loaded
from duecare.wire import Finding, Report, Verdict
from duecare.wire.api import LIVE_FINDING
from duecare.wire.reachability import (
    Fingerprints,
    OutsideView,
    fingerprints,
    join_outside,
    lonely_services,
    mark_outside,
    outside_view,
)

INTERNET = "internet"
_FINDINGS: Table = FindingState.__table__  # type: ignore[assignment]
_COLS = [c for c in columns(FindingRow) if c != "data"]


def _word(value: bool | None) -> str:
    return "unknown" if value is None else str(value).lower()


def _latest_reports(s: Session, site_id: str, vantage: str) -> list[dict[str, Any]]:
    """The latest report of each agent of the site with this vantage, as parsed JSON."""
    agents = s.scalars(select(Agent.id).where(Agent.site_id == site_id, Agent.vantage == vantage)).all()
    out: list[dict[str, Any]] = []
    for agent_id in agents:
        raw = s.scalars(
            select(ReportRow.raw_report)
            .where(ReportRow.agent_id == agent_id)
            .order_by(ReportRow.finished_at.desc())
            .limit(1)
        ).first()
        if raw is not None:
            out.append(orjson.loads(raw))
    return out


def _rows(s: Session, where: Any, *, with_data: bool) -> list[tuple[FindingRow, dict[str, Any], bool | None]]:
    cols = [_FINDINGS.c.id, _FINDINGS.c.internet_exposed, *(_FINDINGS.c[n] for n in _COLS)]
    if with_data:
        cols.append(_FINDINGS.c.data)
    out = []
    for r in s.execute(select(*cols).where(where)).mappings():
        row = loaded(FindingRow, {k: v for k, v in r.items() if k not in ("data", "internet_exposed")})
        out.append((row, dict(r["data"]) if with_data else {}, r["internet_exposed"]))
    return out


def _write(s: Session, row: FindingRow, data: dict[str, Any], exposed: bool | None) -> None:
    row.data = data
    row.data_digest = lifecycle.data_digest(data)
    s.execute(
        update(_FINDINGS)
        .where(_FINDINGS.c.id == row.id)
        .values(data=data, data_digest=row.data_digest, internet_exposed=exposed)
    )


def rejoin(s: Session, site_id: str, vantage: str, report: Report) -> list[lifecycle.Transition]:
    """Recompute the site's join after one report; the findings whose reachability changed, as transitions.

    An inside report rejoins only the findings it carried (from the validated report, no JSON read
    back); an outside report rejoins every live finding of the site.
    """
    site = s.get_one(Site, site_id)
    declared = list(site.public_addresses or [])
    outside_agents = set(s.scalars(select(Agent.id).where(Agent.site_id == site_id, Agent.vantage == INTERNET)))
    view = None
    if declared and outside_agents:
        reports = _latest_reports(s, site_id, INTERNET)
        if reports:
            view = outside_view(max(reports, key=lambda r: str(r["finished_at"])), declared)
    live = (_FINDINGS.c.site_id == site_id) & _FINDINGS.c.status.in_([str(x) for x in LIVE_FINDING])
    inside: list[tuple[FindingRow, Finding, bool | None]] = []
    if vantage == INTERNET:
        for row, data, before in _rows(s, live, with_data=True):
            if row.last_agent_id not in outside_agents:
                inside.append((row, Finding.model_validate(data), before))
    else:
        carried = {lifecycle.finding_ident(f): f for f in report.findings if f.verdict is Verdict.AFFECTED}
        names = list(carried)
        for i in range(0, len(names), 500):
            for row, _data, before in _rows(s, live & _FINDINGS.c.ident.in_(names[i : i + 500]), with_data=False):
                inside.append((row, carried[row.ident], before))
    fps: Fingerprints = {}
    if view is not None and inside:
        for latest in _latest_reports(s, site_id, "internal"):
            for key, fp in fingerprints(latest).items():
                fps.setdefault(key, {}).update(fp)
    out: list[lifecycle.Transition] = []
    joined_inside: list[Finding] = []
    for row, finding, before in inside:
        joined = join_outside([finding], view, fps)[0] if view is not None else finding
        joined_inside.append(joined)
        if joined is not finding and joined != finding:
            _write(s, row, joined.model_dump(mode="json"), joined.internet_exposed)
        elif before != joined.internet_exposed:
            row.data = joined.model_dump(mode="json")
            stmt = update(_FINDINGS).where(_FINDINGS.c.id == row.id)
            s.execute(stmt.values(internet_exposed=joined.internet_exposed))
        if before != joined.internet_exposed:
            if row.data is None:
                row.data = joined.model_dump(mode="json")
            out.append(lifecycle.Transition("finding", row, "reachability", _word(before)))
    if view is not None and outside_agents:
        outside = _rows(s, live & _FINDINGS.c.last_agent_id.in_(list(outside_agents)), with_data=True)
        explainers = joined_inside if vantage == INTERNET else _all_inside(s, live, outside_agents)
        out += _mark_outside(s, outside, view, explainers)
    return out


def _all_inside(s: Session, live: Any, outside_agents: set[str]) -> list[Finding]:
    """The site's live inside findings with reachability evidence: what can explain an outside service."""
    where = live & ~_FINDINGS.c.last_agent_id.in_(list(outside_agents)) & _FINDINGS.c.internet_exposed.is_(True)
    return [Finding.model_validate(data) for _row, data, _b in _rows(s, where, with_data=True)]


def _mark_outside(
    s: Session,
    rows: list[tuple[FindingRow, dict[str, Any], bool | None]],
    view: OutsideView,
    inside: list[Finding],
) -> list[lifecycle.Transition]:
    """The outside agent's own findings: reachable; the ones no inside finding explains say so."""
    lonely = lonely_services(view, inside)
    out: list[lifecycle.Transition] = []
    for row, data, before in rows:
        new = mark_outside(Finding.model_validate(data), view, lonely).model_dump(mode="json")
        if new != data or before is not True:
            _write(s, row, new, True)
        if before is not True:
            out.append(lifecycle.Transition("finding", row, "reachability", _word(before)))
    return out
