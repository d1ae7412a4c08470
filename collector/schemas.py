"""Rows to the read API's models (``duecare.wire.api``): the tables never leave the database layer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from duecare.collector.db.models import AssetState, ChainGap, DroppedReport, FindingState, ObligationState
from duecare.collector.db.models import Report as ReportRow
from duecare.collector.rows import AssetRow, FindingRow, ObligationRow
from duecare.wire import Finding
from duecare.wire.api import (
    AssetOut,
    ChainGapOut,
    DroppedReportOut,
    FindingOut,
    ObligationOut,
    ReportSummary,
)

_FINDING_COLS = tuple(f for f in FindingOut.model_fields if f not in ("finding", "hostname", "id"))


def finding_out(row: FindingState, hostname: str | None = None, *, public_id: str) -> FindingOut:
    """``public_id``: the row's id as this reader sees it (``collector/ids.py``), never the row number."""
    return FindingOut.model_validate(
        {c: getattr(row, c) for c in _FINDING_COLS}
        | {"id": public_id, "hostname": hostname, "finding": Finding.model_validate(row.data)}
    )


def asset_out(row: AssetState, *, public_id: str) -> AssetOut:
    return AssetOut.model_validate({c: getattr(row, c) for c in AssetOut.model_fields if c != "id"} | {"id": public_id})


def obligation_out(row: ObligationState | ObligationRow, *, public_id: str) -> ObligationOut:
    data = row.data
    cols = {c: getattr(row, c) for c in ObligationOut.model_fields if hasattr(ObligationState, c) and c != "id"}
    return ObligationOut.model_validate(
        cols
        | {
            "id": public_id,
            "profile": data.get("profile", ""),
            "deadline": data.get("deadline"),
            "overdue": bool(data.get("overdue", False)),
            "inherited_due": data.get("inherited_due"),
            "reason": data.get("reason", ""),
            "findings": list(data.get("findings", [])),
        }
    )


def obligation_dict(row: ObligationState | ObligationRow) -> dict[str, Any]:
    """As the feed stores it: the row number in ``id``, made public when read (``ids.public_change``)."""
    return obligation_out(row, public_id="").model_dump(mode="json") | {"id": row.id}


def report_summary(row: ReportRow) -> ReportSummary:
    return ReportSummary.model_validate(
        {c: getattr(row, c) for c in ReportSummary.model_fields if c != "report_id"} | {"report_id": row.id}
    )


def chain_gap_out(row: ChainGap) -> ChainGapOut:
    return ChainGapOut.model_validate({c: getattr(row, c) for c in ChainGapOut.model_fields})


def dropped_report_out(row: DroppedReport) -> DroppedReportOut:
    return DroppedReportOut.model_validate({c: getattr(row, c) for c in DroppedReportOut.model_fields})


_LAST_TIME: tuple[datetime | None, str] = (None, "")


def json_time(dt: datetime) -> str:
    """As pydantic dumps an aware UTC datetime in JSON mode. The last one is remembered (by identity,
    so never another time that merely compares equal): a report's new rows share one ``seen_at``."""
    global _LAST_TIME
    last = _LAST_TIME
    if last[0] is dt:
        return last[1]
    text = dt.isoformat().replace("+00:00", "Z")
    _LAST_TIME = (dt, text)
    return text


def finding_dict(row: FindingRow, hostname: str | None) -> dict[str, Any]:
    """``finding_out(row).model_dump(mode="json")`` without the models: ``data`` was dumped from a
    validated wire Finding at ingest, the rest are columns (a test checks both give the same). ``id``
    is the row number, as the feed stores it: ``ids.public_change`` makes it public when read."""
    return {
        "id": row.id,
        "client_id": row.client_id,
        "site_id": row.site_id,
        "ip": row.ip,
        "exposure": row.exposure,
        "port": row.port,
        "proto": row.proto,
        "status": row.status,
        "severity": row.severity,
        "title": row.title,
        "kev": row.kev,
        "first_seen_at": json_time(row.first_seen_at),
        "last_seen_at": json_time(row.last_seen_at),
        "status_changed_at": json_time(row.status_changed_at),
        "last_report_id": row.last_report_id,
        "changed_by_report_id": row.changed_by_report_id,
        "hostname": hostname,
        "finding": row.data,
    }


def asset_dict(row: AssetRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "client_id": row.client_id,
        "site_id": row.site_id,
        "ip": row.ip,
        "status": row.status,
        "hostname": row.hostname,
        "mac": row.mac,
        "first_seen_at": json_time(row.first_seen_at),
        "last_seen_at": json_time(row.last_seen_at),
        "status_changed_at": json_time(row.status_changed_at),
        "last_report_id": row.last_report_id,
        "changed_by_report_id": row.changed_by_report_id,
    }
