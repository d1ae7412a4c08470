"""Public models of the collector API (the tables never leave the database layer)."""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, JsonValue

from collector.db.models import AssetState, ChainGap, DroppedReport, FindingState, ObligationState
from collector.db.models import Report as ReportRow
from wire import Finding, ObligationStatus, Proto, Severity


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Problem(_Out):
    """Every 4xx/5xx body: ``detail`` names the problem; ``errors`` lists field errors."""

    detail: str
    errors: list[dict[str, JsonValue]] | None = None


class Health(_Out):
    status: Literal["ok"]
    database: Literal["ok"]


class FindingOut(_Out):
    id: int
    client_id: str
    site_id: str
    ip: str
    exposure: str
    port: int | None
    proto: Proto | None
    status: Literal["new", "open", "resolved", "reopened"]
    severity: Severity
    title: str
    kev: bool
    first_seen_at: AwareDatetime
    last_seen_at: AwareDatetime
    status_changed_at: AwareDatetime
    last_report_id: str
    changed_by_report_id: str
    #: The asset's host name as last reported, if any.
    hostname: str | None = None
    finding: Finding

    @classmethod
    def of(cls, row: FindingState, hostname: str | None = None) -> FindingOut:
        return cls.model_validate(
            {c: getattr(row, c) for c in _FINDING_COLS}
            | {"hostname": hostname, "finding": Finding.model_validate(row.data)}
        )


_FINDING_COLS = tuple(f for f in FindingOut.model_fields if f not in ("finding", "hostname"))


class AssetOut(_Out):
    id: int
    client_id: str
    site_id: str
    ip: str
    status: Literal["new", "present", "vanished", "returned"]
    hostname: str | None
    mac: str | None
    first_seen_at: AwareDatetime
    last_seen_at: AwareDatetime
    status_changed_at: AwareDatetime
    last_report_id: str
    changed_by_report_id: str

    @classmethod
    def of(cls, row: AssetState) -> AssetOut:
        return cls.model_validate({c: getattr(row, c) for c in cls.model_fields})


class ObligationOut(_Out):
    id: int
    client_id: str
    site_id: str
    framework: str
    requirement: str
    title: str
    status: ObligationStatus
    profile: str
    deadline: str | None
    overdue: bool
    reason: str
    findings: list[str]
    first_seen_at: AwareDatetime
    last_seen_at: AwareDatetime
    status_changed_at: AwareDatetime
    last_report_id: str
    changed_by_report_id: str

    @classmethod
    def of(cls, row: ObligationState) -> ObligationOut:
        data = row.data
        cols = {c: getattr(row, c) for c in cls.model_fields if hasattr(ObligationState, c)}
        return cls.model_validate(
            cols
            | {
                "profile": data.get("profile", ""),
                "deadline": data.get("deadline"),
                "overdue": bool(data.get("overdue", False)),
                "reason": data.get("reason", ""),
                "findings": list(data.get("findings", [])),
            }
        )


class ReportSummary(_Out):
    report_id: str
    agent_id: str
    site_id: str
    report_hash: str
    previous_report_hash: str | None
    chain_gap: bool
    started_at: AwareDatetime
    finished_at: AwareDatetime
    received_at: AwareDatetime
    finding_count: int

    @classmethod
    def of(cls, row: ReportRow) -> ReportSummary:
        return cls.model_validate(
            {c: getattr(row, c) for c in cls.model_fields if c != "report_id"} | {"report_id": row.id}
        )


class ChainGapOut(_Out):
    agent_id: str
    report_id: str
    expected: str | None
    got: str | None
    explained_by_tombstone: bool

    @classmethod
    def of(cls, row: ChainGap) -> ChainGapOut:
        return cls.model_validate({c: getattr(row, c) for c in cls.model_fields})


class DroppedReportOut(_Out):
    agent_id: str
    report_id: str
    report_hash: str
    dropped_at: AwareDatetime
    recorded_in_report: str

    @classmethod
    def of(cls, row: DroppedReport) -> DroppedReportOut:
        return cls.model_validate({c: getattr(row, c) for c in cls.model_fields})


class ChangeKind(enum.StrEnum):
    REPORT = "report"
    CHAIN_GAP = "chain_gap"
    DROPPED_REPORT = "dropped_report"
    FINDING = "finding"
    ASSET = "asset"
    OBLIGATION = "obligation"


class ChangePayload(_Out):
    """What changed; exactly the member named by ``kind`` is set."""

    transition: str | None = None
    previous_status: str | None = None
    report: ReportSummary | None = None
    chain_gap: ChainGapOut | None = None
    dropped_report: DroppedReportOut | None = None
    finding: FindingOut | None = None
    asset: AssetOut | None = None
    obligation: ObligationOut | None = None


class ChangeOut(ChangePayload):
    id: int
    kind: ChangeKind
    client_id: str
    site_id: str
    subject: str
    report_id: str | None
    created_at: AwareDatetime


class ChangesPage(_Out):
    changes: list[ChangeOut]
    #: Pass back as ``cursor`` to get what came after; unchanged when nothing new.
    next_cursor: str
    has_more: bool


class FindingsPage(_Out):
    findings: list[FindingOut]
    next_cursor: str | None


class AssetsPage(_Out):
    assets: list[AssetOut]
    next_cursor: str | None


class ObligationsPage(_Out):
    obligations: list[ObligationOut]
    next_cursor: str | None


class SiteOut(_Out):
    id: str
    name: str


class ClientOut(_Out):
    id: str
    name: str
    sites: list[SiteOut]


class ClientsList(_Out):
    clients: list[ClientOut]


class StoredReport(_Out):
    """The evidence as received: verify ``signature`` over ``report`` with the agent's key."""

    summary: ReportSummary
    report: dict[str, JsonValue]
    signature: str
    agent_public_key: str
