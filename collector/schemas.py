"""Rows to the read API's models (``duecare.wire.api``): the tables never leave the database layer."""

from __future__ import annotations

from duecare.collector.db.models import AssetState, ChainGap, DroppedReport, FindingState, ObligationState
from duecare.collector.db.models import Report as ReportRow
from duecare.wire import Finding
from duecare.wire.api import (
    AssetOut,
    ChainGapOut,
    DroppedReportOut,
    FindingOut,
    ObligationOut,
    ReportSummary,
)

_FINDING_COLS = tuple(f for f in FindingOut.model_fields if f not in ("finding", "hostname"))


def finding_out(row: FindingState, hostname: str | None = None) -> FindingOut:
    return FindingOut.model_validate(
        {c: getattr(row, c) for c in _FINDING_COLS}
        | {"hostname": hostname, "finding": Finding.model_validate(row.data)}
    )


def asset_out(row: AssetState) -> AssetOut:
    return AssetOut.model_validate({c: getattr(row, c) for c in AssetOut.model_fields})


def obligation_out(row: ObligationState) -> ObligationOut:
    data = row.data
    cols = {c: getattr(row, c) for c in ObligationOut.model_fields if hasattr(ObligationState, c)}
    return ObligationOut.model_validate(
        cols
        | {
            "profile": data.get("profile", ""),
            "deadline": data.get("deadline"),
            "overdue": bool(data.get("overdue", False)),
            "inherited_due": data.get("inherited_due"),
            "reason": data.get("reason", ""),
            "findings": list(data.get("findings", [])),
        }
    )


def report_summary(row: ReportRow) -> ReportSummary:
    return ReportSummary.model_validate(
        {c: getattr(row, c) for c in ReportSummary.model_fields if c != "report_id"} | {"report_id": row.id}
    )


def chain_gap_out(row: ChainGap) -> ChainGapOut:
    return ChainGapOut.model_validate({c: getattr(row, c) for c in ChainGapOut.model_fields})


def dropped_report_out(row: DroppedReport) -> DroppedReportOut:
    return DroppedReportOut.model_validate({c: getattr(row, c) for c in DroppedReportOut.model_fields})
