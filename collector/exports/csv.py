"""CSV export: one row per finding (or obligation) per asset, in the column order MSP tools expect.

Columns follow the flat layout PSA importers take (tenant, site, host, ip, port, title, severity,
cve, kev, kev_due, first_seen, last_seen, status, remediation, controls). Cells that a spreadsheet
would run as a formula are prefixed with a quote (OWASP "CSV Injection"): host names and titles
can come from the scanned network.
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


def _safe(value: object) -> str:
    text = "" if value is None else str(value)
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
            f.hostname or "",
            f.ip,
            "" if f.port is None else f.port,
            "" if f.proto is None else f.proto.value,
            f.exposure,
            f.title,
            f.severity.value,
            " ".join(c.cve for c in cves),
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


def changes_csv(items: Iterable[ChangeOut], names: Names) -> Iterator[bytes]:
    """Finding and obligation changes, one row each (other kinds are in the JSON feed only)."""
    width = len(FINDING_COLUMNS)

    def rows() -> Iterator[list[str]]:
        for c in items:
            prefix = [str(c.id), c.kind.value, c.transition or ""]
            if c.finding is not None:
                yield prefix + finding_row(c.finding, names)
            elif c.obligation is not None:
                o = c.obligation
                row = ["" for _ in range(width)]
                row[0], row[1] = _safe(names.tenant(o.client_id)), _safe(names.site(o.site_id))
                row[7], row[14] = _safe(o.title), o.status.value
                row[16] = _safe(f"{o.framework} {o.requirement}")
                row[13], row[12] = o.last_seen_at.isoformat(), o.first_seen_at.isoformat()
                row[18] = o.last_report_id
                yield prefix + row

    return _lines(CHANGE_PREFIX + FINDING_COLUMNS, rows())
