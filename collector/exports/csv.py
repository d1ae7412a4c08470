"""CSV export: one row per finding (or obligation), or per change of every kind, in the column order
MSP tools expect.

Columns follow the flat layout PSA importers take (tenant, site, host, ip, port, title, severity,
cve, kev, kev_due, first_seen, last_seen, status, remediation, controls). Conventions a spreadsheet
user can rely on:

- ``host`` is the device's name when one was reported, else its address: never empty on a row about a
  device (finding, asset); empty on site-level rows (report, chain gap, dropped report, obligation).
- ``cve``: every CVE of the finding in one cell, separated by ``;`` (no spaces); ``kev`` says whether
  any of them is in CISA's KEV catalog and ``kev_due`` the earliest due date.
- Every cell is one line: line breaks and runs of blanks become one space.
- The change feed (``/v1/export/changes?format=csv``, ``duecare pull --format csv``) has one row per
  change, whatever its kind (finding, asset, obligation, report, chain_gap, dropped_report), so its row
  count is the number of changes pulled.

Cells that a spreadsheet would run as a formula are prefixed with a quote (OWASP "CSV Injection"):
host names and titles can come from the scanned network.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from duecare.collector.exports import Names
from duecare.wire.api import ChangeOut, FindingOut, ObligationOut

FINDING_COLUMNS = (
    "tenant",
    "site",
    "host",
    "ip",
    "port",
    "proto",
    "exposure",
    "title",
    "severity",
    "cve",
    "kev",
    "kev_due",
    "first_seen",
    "last_seen",
    "status",
    "remediation",
    "controls",
    "finding_id",
    "last_report_id",
    "deadline",
    "deadline_state",
    "inherited_due",
    "forensic_triage",
    "internet_exposed",
    "public_endpoint",
)
OBLIGATION_COLUMNS = (
    "tenant",
    "site",
    "framework",
    "requirement",
    "title",
    "status",
    "deadline",
    "overdue",
    "reason",
    "first_seen",
    "last_seen",
    "obligation_id",
    "last_report_id",
    "inherited_due",
)
CHANGE_PREFIX = ("change_id", "kind", "transition")


CVE_SEPARATOR = ";"


def _safe(value: object) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def finding_row(f: FindingOut, names: Names) -> list[str]:
    w = f.finding
    cves = list(w.cves)
    kev_due = sorted(str(c.kev_due_date) for c in cves if c.kev_due_date is not None)
    controls = sorted({f"{o.framework} {o.requirement}" for o in w.obligations})
    return [
        _safe(v)
        for v in (
            names.tenant(f.client_id),
            names.site(f.site_id),
            f.hostname or f.ip,
            f.ip,
            "" if f.port is None else f.port,
            "" if f.proto is None else f.proto.value,
            f.exposure,
            f.title,
            f.severity.value,
            CVE_SEPARATOR.join(c.cve for c in cves),
            "yes" if f.kev else "no",
            kev_due[0] if kev_due else "",
            f.first_seen_at.isoformat(),
            f.last_seen_at.isoformat(),
            f.status,
            w.remediation or "",
            "; ".join(controls),
            f.id,
            f.last_report_id,
            w.deadline or "",
            "" if w.timeline is None else w.timeline.state.value,
            "" if w.timeline is None else (w.timeline.inherited_due or ""),
            _yes_no(None if w.timeline is None else w.timeline.forensic_triage),
            _yes_no(w.internet_exposed),
            " ".join(f"{e.public_ip}:{e.public_port}" for e in w.internet_evidence if e.public_ip is not None),
        )
    ]


def obligation_row(o: ObligationOut, names: Names) -> list[str]:
    return [
        _safe(v)
        for v in (
            names.tenant(o.client_id),
            names.site(o.site_id),
            o.framework,
            o.requirement,
            o.title,
            o.status.value,
            o.deadline or "",
            "yes" if o.overdue else "no",
            o.reason,
            o.first_seen_at.isoformat(),
            o.last_seen_at.isoformat(),
            o.id,
            o.last_report_id,
            o.inherited_due or "",
        )
    ]


def _lines(header: Iterable[str], rows: Iterable[list[str]]) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow(row)
        if buf.tell() > 64 * 1024:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def findings_csv(items: Iterable[FindingOut], names: Names) -> Iterator[bytes]:
    return _lines(FINDING_COLUMNS, (finding_row(f, names) for f in items))


def obligations_csv(items: Iterable[ObligationOut], names: Names) -> Iterator[bytes]:
    return _lines(OBLIGATION_COLUMNS, (obligation_row(o, names) for o in items))


def _site_row(c: ChangeOut, names: Names, **cells: object) -> list[str]:
    """A change that is not about one finding: the finding columns it has, the rest empty."""
    row: dict[str, object] = dict.fromkeys(FINDING_COLUMNS, "")
    row.update({"tenant": names.tenant(c.client_id), "site": names.site(c.site_id), **cells})
    return [_safe(row[col]) for col in FINDING_COLUMNS]


def change_row(c: ChangeOut, names: Names) -> list[str]:
    """Every kind of change as one row of the finding layout; ``title`` says what happened."""
    if c.finding is not None:
        return finding_row(c.finding, names)
    if c.asset is not None:
        a = c.asset
        return _site_row(
            c,
            names,
            host=a.hostname or a.ip,
            ip=a.ip,
            title=f"device {a.status.value}" + (f" (MAC {a.mac})" if a.mac else ""),
            status=a.status.value,
            first_seen=a.first_seen_at.isoformat(),
            last_seen=a.last_seen_at.isoformat(),
            finding_id=a.id,
            last_report_id=a.last_report_id,
        )
    if c.obligation is not None:
        o = c.obligation
        return _site_row(
            c,
            names,
            title=o.title,
            status=o.status.value,
            remediation=o.reason,
            controls=f"{o.framework} {o.requirement}",
            first_seen=o.first_seen_at.isoformat(),
            last_seen=o.last_seen_at.isoformat(),
            finding_id=o.id,
            last_report_id=o.last_report_id,
        )
    if c.report is not None:
        r = c.report
        return _site_row(
            c,
            names,
            title=f"report received from agent {r.agent_id}: {r.finding_count} findings"
            + ("; the chain has a gap before it" if r.chain_gap else ""),
            status="chain gap" if r.chain_gap else "received",
            first_seen=r.started_at.isoformat(),
            last_seen=r.finished_at.isoformat(),
            last_report_id=r.report_id,
        )
    if c.chain_gap is not None:
        g = c.chain_gap
        return _site_row(
            c,
            names,
            title=f"chain gap at agent {g.agent_id}: expected previous report {g.expected or 'none'}, "
            f"got {g.got or 'none'}" + (" (explained by a dropped report)" if g.explained_by_tombstone else ""),
            status="explained" if g.explained_by_tombstone else "unexplained",
            last_report_id=g.report_id,
        )
    if c.dropped_report is not None:
        d = c.dropped_report
        return _site_row(
            c,
            names,
            title=f"agent {d.agent_id} dropped report {d.report_id} before delivery "
            f"(recorded in {d.recorded_in_report})",
            status="dropped",
            last_seen=d.dropped_at.isoformat(),
            last_report_id=d.recorded_in_report,
        )
    return _site_row(c, names, title=f"{c.kind.value} {c.subject}", last_report_id=c.report_id or "")


def changes_csv(items: Iterable[ChangeOut], names: Names) -> Iterator[bytes]:
    """One row per change, of every kind (see the module docstring): rows = changes pulled."""

    def rows() -> Iterator[list[str]]:
        for c in items:
            yield [str(c.id), c.kind.value, c.transition or "", *change_row(c, names)]

    return _lines(CHANGE_PREFIX + FINDING_COLUMNS, rows())
