"""The MSP read API of the collector (``/v1``): the one model of it, shared by the collector that serves
it and the clients that read it (``duecare pull``, the report renderer, the console).

Readers are tolerant (``extra="ignore"``): a newer collector may add fields without breaking an older
renderer; every field that is used is validated.
"""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, JsonValue

from duecare.wire.envelope import Receipt
from duecare.wire.models import Finding, ObligationStatus, Proto, Severity, Vantage


class FindingStatus(enum.StrEnum):
    """A finding's place in its lifecycle at the collector (tracked by site, asset, exposure, port)."""

    NEW = "new"
    OPEN = "open"
    RESOLVED = "resolved"
    REOPENED = "reopened"


#: Statuses of a finding that is still there.
LIVE_FINDING = frozenset({FindingStatus.NEW, FindingStatus.OPEN, FindingStatus.REOPENED})


class AssetStatus(enum.StrEnum):
    NEW = "new"
    PRESENT = "present"
    VANISHED = "vanished"
    RETURNED = "returned"


LIVE_ASSET = frozenset({AssetStatus.NEW, AssetStatus.PRESENT, AssetStatus.RETURNED})


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Problem(_Out):
    """Every 4xx/5xx body: ``detail`` names the problem; ``errors`` lists field errors."""

    detail: str
    errors: list[dict[str, JsonValue]] | None = None


class Health(_Out):
    """``/healthz``: the process answers (liveness). Whether it can do its work is ``/readyz``."""

    status: Literal["ok"]


class ReadinessCheck(_Out):
    ok: bool
    detail: str


class Readiness(_Out):
    """``/readyz``: 200 when every check passes, 503 (same body) when one does not."""

    status: Literal["ready", "not_ready"]
    database_writable: ReadinessCheck
    migrations_current: ReadinessCheck
    free_disk: ReadinessCheck


class FindingOut(_Out):
    #: Opaque, per client (32 hex characters): the same finding keeps it; it says nothing of order or count.
    id: str
    client_id: str
    site_id: str
    ip: str
    exposure: str
    port: int | None
    proto: Proto | None
    status: FindingStatus
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

    @property
    def key(self) -> tuple[str, str, int | None, str | None]:
        """How the collector tracks it: (asset, exposure, port, proto)."""
        return (self.ip, self.exposure, self.port, self.proto.value if self.proto else None)


class AssetOut(_Out):
    #: Opaque, per client (32 hex characters): the same asset keeps it; it says nothing of order or count.
    id: str
    client_id: str
    site_id: str
    ip: str
    status: AssetStatus
    hostname: str | None
    mac: str | None
    first_seen_at: AwareDatetime
    last_seen_at: AwareDatetime
    status_changed_at: AwareDatetime
    last_report_id: str
    changed_by_report_id: str


class ObligationOut(_Out):
    #: Opaque, per client (32 hex characters): the same obligation keeps it; it says nothing of order or count.
    id: str
    client_id: str
    site_id: str
    framework: str
    requirement: str
    title: str
    status: ObligationStatus
    profile: str
    deadline: str | None
    overdue: bool
    #: A published due date that fell before the engagement began (never counted as overdue).
    inherited_due: str | None = None
    reason: str
    findings: list[str]
    first_seen_at: AwareDatetime
    last_seen_at: AwareDatetime
    status_changed_at: AwareDatetime
    last_report_id: str
    changed_by_report_id: str


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


class ChainGapOut(_Out):
    agent_id: str
    report_id: str
    expected: str | None
    got: str | None
    explained_by_tombstone: bool


class DroppedReportOut(_Out):
    agent_id: str
    report_id: str
    report_hash: str
    dropped_at: AwareDatetime
    recorded_in_report: str
    #: The agent's Ed25519 signature over the tombstone; None: sent unsigned by an agent from before
    #: signed tombstones (its word rests only on the agent's authenticated connection).
    signature: str | None = None


class ExportFormat(enum.StrEnum):
    """What ``/v1/export/*`` and ``duecare pull`` write: JSON, CSV, or OCSF events (2002 / 2003)."""

    JSON = "json"
    CSV = "csv"
    OCSF = "ocsf"


#: Response headers of ``/v1/export/changes``: the cursor to keep once the body is safely stored,
#: and how many changes the body holds.
CURSOR_HEADER = "x-duecare-cursor"
COUNT_HEADER = "x-duecare-count"


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
    #: Opaque, per client: order is the feed's order, never the id's.
    id: str
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
    #: The collector's signed receipt for it (proof of notice), when the collector signs receipts.
    receipt: Receipt | None = None


class SitePublic(_Out):
    """The public addresses an MSP declared for a site (``collector set-site-public``): the only
    addresses an agent with internet vantage may scan for it, with who authorised that and when."""

    site_id: str
    addresses: list[str]
    authorized_by: str | None = None
    authorized_at: AwareDatetime | None = None
    #: The calling agent's vantage, as enrolled.
    vantage: Vantage
