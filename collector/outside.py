"""The join of a site's inside and outside views, recomputed in the ingest transaction (issue 14).

Whichever side reports, the collector takes the site's latest report from an agent with internet
vantage (the outside view of its declared public addresses) and the latest report of each inside
agent (for the services' fingerprints), and gives every live inside finding ``internet_exposed``
with the evidence (``wire/reachability.py``): a gateway mapping the inside agent read first,
then a fingerprint both sides saw, then "covered from outside and closed" for ``false``. Findings
of the outside agent are reachable by definition; one no inside finding explains says so ("internal
host unknown"). A change of reachability is a ``finding`` change with transition ``reachability``,
``previous_status`` holding the old value (``true``/``false``/``unknown``).

What depends on reachability follows, without judging here (the collector never imports the
judge): the inside agent recorded every case (each finding's clock per value, each finding's stake
in each requirement), and ``wire/rejudge.py`` selects. An inside report is joined and selected
before it is tracked (``join_report``), so its findings and obligations are stored re-judged with
one transition each; an outside report re-derives the site's obligations from their stored stakes
when a reachability moved (a new status is an ``obligation`` change, a new deadline alone
``updated``) and brings every finding's references to them level.

Cost: an inside report rejoins only the findings it named; an outside report rejoins the site's
live findings. Both parse the raw JSON of the latest reports (orjson, no model validation).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Table, bindparam, exists, select, update
from sqlalchemy.orm import Session

from duecare.collector import lifecycle, persist
from duecare.collector.db.models import Agent, FindingState, ObligationState, Site
from duecare.collector.db.models import Report as ReportRow
from duecare.collector.rows import FindingRow, ObligationRow, columns, loaded
from duecare.wire import Finding, ObligationResult, ObligationStatus, Report, Verdict
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
from duecare.wire.rejudge import exposure_by_key, rejudge_report, rejudge_result, select_clock, with_statuses

INTERNET = "internet"
INTERNAL = "internal"
_FINDINGS: Table = FindingState.__table__  # type: ignore[assignment]
_OBLIGATIONS: Table = ObligationState.__table__  # type: ignore[assignment]
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


_AGENTS: Table = Agent.__table__  # type: ignore[assignment]
_SITES: Table = Site.__table__  # type: ignore[assignment]
# Built once: every report asks these (SQLAlchemy then skips building and compiling them).
_DECLARED = select(_SITES.c.public_addresses).where(_SITES.c.id == bindparam("site"))
_OUTSIDE_AGENTS = select(_AGENTS.c.id).where(_AGENTS.c.site_id == bindparam("site"), _AGENTS.c.vantage == INTERNET)
_ANY_OUTSIDE = _OUTSIDE_AGENTS.limit(1)
_ANY_INSIDE = select(_AGENTS.c.id).where(_AGENTS.c.site_id == bindparam("site"), _AGENTS.c.vantage != INTERNET).limit(1)
_LIVE = _FINDINGS.c.status.in_([str(x) for x in LIVE_FINDING])
_MARKED = (_FINDINGS.c.site_id == bindparam("site")) & _LIVE & _FINDINGS.c.internet_exposed.is_not(None)
_ANY_MARKED = select(_FINDINGS.c.id).where(_MARKED).limit(1)
_SITE_AGENTS = _AGENTS.alias("site_agents")
#: For a statement with the bound ``site`` (ingest's first read): whether the site has an agent with
#: internet vantage, and whether any of its live findings carries a reachability mark.
HAS_INTERNET_AGENT = exists().where(_SITE_AGENTS.c.site_id == bindparam("site"), _SITE_AGENTS.c.vantage == INTERNET)
HAS_MARKED = exists().where(_MARKED)


def internet_agents(s: Session, site_id: str) -> frozenset[str]:
    """The site's agents with internet vantage: read once per report (join, rejoin, settled)."""
    return frozenset(s.scalars(_OUTSIDE_AGENTS, {"site": site_id}))


def _view(s: Session, site_id: str, agents: frozenset[str]) -> OutsideView | None:
    """The site's outside view (its latest internet-vantage report over its declared addresses)."""
    if not agents:
        return None
    declared = list(s.execute(_DECLARED, {"site": site_id}).scalar_one() or [])
    if not declared:
        return None
    reports = _latest_reports(s, site_id, INTERNET)
    if not reports:
        return None
    return outside_view(max(reports, key=lambda r: str(r["finished_at"])), declared)


def has_outside_agent(s: Session, site_id: str) -> bool:
    return s.execute(_ANY_OUTSIDE, {"site": site_id}).first() is not None


def has_inside_agent(s: Session, site_id: str) -> bool:
    return s.execute(_ANY_INSIDE, {"site": site_id}).first() is not None


def _inside_fingerprints(s: Session, site_id: str, also: Report | None = None) -> Fingerprints:
    fps: Fingerprints = {}
    for latest in _latest_reports(s, site_id, "internal"):
        for key, fp in fingerprints(latest).items():
            fps.setdefault(key, {}).update(fp)
    if also is not None:
        attempts = [a.model_dump(mode="json") for a in also.attempts if a.facts]
        for key, fp in fingerprints({"attempts": attempts}).items():
            fps.setdefault(key, {}).update(fp)
    return fps


def join_report(s: Session, site_id: str, report: Report, agents: frozenset[str]) -> Report:
    """An inside report with the site's outside view joined, and every verdict that depends on it
    selected to match (``wire/rejudge.py``), before its findings and obligations are tracked: what
    the collector stores and feeds is the re-judged report, one transition per change.
    ``agents``: the site's agents with internet vantage (``internet_agents``)."""
    view = _view(s, site_id, agents)
    if view is None:
        return report
    joined = join_outside(report.findings, view, _inside_fingerprints(s, site_id, report))
    return rejudge_report(report.model_copy(update={"findings": tuple(joined)}))


def rejoin(
    s: Session, site_id: str, vantage: str, report: Report, outside_agents: frozenset[str], marked: bool | None = None
) -> list[lifecycle.Transition]:
    """Recompute the site's join after one report; the findings whose reachability changed, and the
    obligations whose status or deadline changed with it, as transitions.

    An inside report arrives joined (``join_report``): only its findings' reachability column is
    brought level. An outside report rejoins every live inside finding of the site, selects their
    clocks, re-judges the site's obligations from the stakes the inside agent recorded, and brings
    the findings' references to those obligations level. ``outside_agents``: ``internet_agents``;
    ``marked``: whether any live finding of the site has a reachability mark, when the caller knows
    (``HAS_MARKED``), else None (read here).
    """
    view = _view(s, site_id, outside_agents)
    live = (_FINDINGS.c.site_id == site_id) & _LIVE
    out: list[lifecycle.Transition] = []
    if vantage != INTERNET:
        unmarked = all(f.internet_exposed is None for f in report.findings if f.verdict is Verdict.AFFECTED)
        if marked is None and unmarked:
            marked = s.execute(_ANY_MARKED, {"site": site_id}).first() is not None
        if unmarked and not marked:
            # A report that marks nothing, at a site with no marked row: nothing can differ (one
            # query, not a lookup of every finding of a /16 under the write lock).
            carried = {}
        else:
            carried = {lifecycle.finding_ident(f): f for f in report.findings if f.verdict is Verdict.AFFECTED}
        names = list(carried)
        differs = live
        if unmarked:
            # Only rows already marked can differ from a report that marks none (a /16 reads no rows).
            differs = live & _FINDINGS.c.internet_exposed.is_not(None)
        for i in range(0, len(names), 500):
            for row, _data, before in _rows(s, differs & _FINDINGS.c.ident.in_(names[i : i + 500]), with_data=False):
                now = carried[row.ident].internet_exposed
                if before != now:
                    s.execute(update(_FINDINGS).where(_FINDINGS.c.id == row.id).values(internet_exposed=now))
                    row.data = carried[row.ident].model_dump(mode="json")
                    out.append(lifecycle.Transition("finding", row, "reachability", _word(before)))
        if view is not None and outside_agents:
            outside = _rows(s, live & _FINDINGS.c.last_agent_id.in_(list(outside_agents)), with_data=True)
            out += _mark_outside(s, outside, view, _all_inside(s, live, outside_agents), _statuses(s, site_id))
        return out
    inside = [
        (row, data, Finding.model_validate(data), before)
        for row, data, before in _rows(s, live, with_data=True)
        if row.last_agent_id not in outside_agents
    ]
    fps = _inside_fingerprints(s, site_id) if view is not None and inside else {}
    joined = [select_clock(join_outside([f], view, fps)[0]) if view is not None else f for _r, _d, f, _b in inside]
    # The obligations were re-judged for the reachability the column holds: only a move changes them.
    if any(before != j.internet_exposed for (_r, _d, _f, before), j in zip(inside, joined, strict=True)):
        changed, statuses = _rejudge_obligations(s, site_id, exposure_by_key(joined), report)
    else:
        changed, statuses = [], _statuses(s, site_id)
    for (row, data, _f, before), j in zip(inside, joined, strict=True):
        j = with_statuses(j, statuses)
        new = j.model_dump(mode="json")
        if new != data:
            _write(s, row, new, j.internet_exposed)
        elif before != j.internet_exposed:
            s.execute(update(_FINDINGS).where(_FINDINGS.c.id == row.id).values(internet_exposed=j.internet_exposed))
        if before != j.internet_exposed:
            row.data = new
            out.append(lifecycle.Transition("finding", row, "reachability", _word(before)))
    out += changed
    if view is not None and outside_agents:
        outside = _rows(s, live & _FINDINGS.c.last_agent_id.in_(list(outside_agents)), with_data=True)
        out += _mark_outside(s, outside, view, [j for j in joined if j.internet_exposed is True], statuses)
    return out


def _rejudge_obligations(
    s: Session, site_id: str, exposed: dict[str, bool | None], report: Report
) -> tuple[list[lifecycle.Transition], dict[tuple[str, str], ObligationStatus]]:
    """The site's obligations re-derived from their stakes for the joined reachability (the inside
    agent judged every case; nothing is judged here). A new status is a transition; a new deadline
    with the same status is ``updated``."""
    cols = [_OBLIGATIONS.c.id, *(_OBLIGATIONS.c[n] for n in columns(ObligationRow))]
    rows = [
        loaded(ObligationRow, r) for r in s.execute(select(*cols).where(_OBLIGATIONS.c.site_id == site_id)).mappings()
    ]
    out: list[lifecycle.Transition] = []
    statuses: dict[tuple[str, str], ObligationStatus] = {}
    for row in rows:
        data = dict(row.data)
        if data.get("by_exposure"):
            before = ObligationResult.model_validate({k: v for k, v in data.items() if k != "profile"})
            after = rejudge_result(before, exposed)
            if after != before:
                previous = row.status
                row.data = {"profile": data.get("profile", ""), **after.model_dump(mode="json")}
                row.status, row.touched = after.status.value, True
                row.last_report_id = str(report.report_id)
                if row.status != previous:
                    row.status_changed_at, row.changed_by_report_id = report.finished_at, str(report.report_id)
                    out.append(lifecycle.Transition("obligation", row, row.status, previous))
                elif (after.deadline, after.overdue, after.inherited_due) != (
                    before.deadline,
                    before.overdue,
                    before.inherited_due,
                ):
                    row.changed_by_report_id = str(report.report_id)
                    out.append(lifecycle.Transition("obligation", row, "updated", previous))
        statuses[(row.framework, row.requirement)] = ObligationStatus(row.status)
    persist.obligations(s, rows)
    return out, statuses


def _all_inside(s: Session, live: Any, outside_agents: frozenset[str]) -> list[Finding]:
    """The site's live inside findings with reachability evidence: what can explain an outside service."""
    where = live & ~_FINDINGS.c.last_agent_id.in_(list(outside_agents)) & _FINDINGS.c.internet_exposed.is_(True)
    return [Finding.model_validate(data) for _row, data, _b in _rows(s, where, with_data=True)]


def _statuses(s: Session, site_id: str) -> dict[tuple[str, str], ObligationStatus]:
    stmt = select(_OBLIGATIONS.c.framework, _OBLIGATIONS.c.requirement, _OBLIGATIONS.c.status)
    return {(fw, req): ObligationStatus(st) for fw, req, st in s.execute(stmt.where(_OBLIGATIONS.c.site_id == site_id))}


def _mark_outside(
    s: Session,
    rows: list[tuple[FindingRow, dict[str, Any], bool | None]],
    view: OutsideView,
    inside: list[Finding],
    statuses: dict[tuple[str, str], ObligationStatus],
) -> list[lifecycle.Transition]:
    """The outside agent's own findings: reachable; the ones no inside finding explains say so. Their
    clocks are the exposed case, and their references carry the site's obligation statuses."""
    lonely = lonely_services(view, inside)
    out: list[lifecycle.Transition] = []
    for row, data, before in rows:
        marked = select_clock(mark_outside(Finding.model_validate(data), view, lonely))
        new = with_statuses(marked, statuses).model_dump(mode="json")
        if new != data or before is not True:
            _write(s, row, new, True)
        if before is not True:
            out.append(lifecycle.Transition("finding", row, "reachability", _word(before)))
    return out
