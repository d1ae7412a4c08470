"""Report contract, version 1.

Frozen, ``extra="forbid"`` models: what an agent signs is exactly what a collector stores. Ids in
``Exposure`` are public interface: new ones may be added, none renamed.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

SCHEMA_VERSION: Literal[1] = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Exposure(enum.StrEnum):
    """Stable exposure vocabulary (public interface)."""

    RDP_EXPOSED = "rdp-exposed"
    RDP_NO_NLA = "rdp-no-nla"
    RDP_STANDARD_SECURITY = "rdp-standard-security"
    RDP_BLUEKEEP_LIKELY = "rdp-bluekeep-likely"
    SMBV1_ENABLED = "smbv1-enabled"
    SMB_SIGNING_NOT_REQUIRED = "smb-signing-not-required"
    SMB_GUEST_ACCESS = "smb-guest-access"
    SMB_MS17_010 = "smb-ms17-010"
    EXCHANGE_UNPATCHED = "exchange-unpatched"
    EXCHANGE_UNSUPPORTED = "exchange-unsupported"
    FTP_ANONYMOUS = "ftp-anonymous"
    FTP_CLEARTEXT = "ftp-cleartext"
    TELNET_EXPOSED = "telnet-exposed"
    SNMP_DEFAULT_COMMUNITY = "snmp-default-community"
    REDIS_NO_AUTH = "redis-no-auth"
    MONGODB_NO_AUTH = "mongodb-no-auth"
    ELASTICSEARCH_NO_AUTH = "elasticsearch-no-auth"
    MEMCACHED_EXPOSED = "memcached-exposed"
    VNC_NO_AUTH = "vnc-no-auth"
    TLS_OBSOLETE_PROTOCOL = "tls-obsolete-protocol"
    TLS_CERTIFICATE_EXPIRED = "tls-certificate-expired"
    UPNP_EXPOSED = "upnp-exposed"
    IPMI_EXPOSED = "ipmi-exposed"
    PRINTER_RAW_EXPOSED = "printer-raw-exposed"
    RMM_TOOL_EXPOSED = "rmm-tool-exposed"
    KEV_VERSION_DISCLOSED = "kev-version-disclosed"


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Confidence(enum.StrEnum):
    """How sure a verdict is: ``certain`` (the protocol said so), ``firm`` (strong inference),
    ``tentative`` (a version or a port number only). Ordered: a finding is as sure as its weakest check."""

    TENTATIVE = "tentative"
    FIRM = "firm"
    CERTAIN = "certain"

    @property
    def rank(self) -> int:
        return _CONFIDENCE_RANK[self]


_CONFIDENCE_RANK = {Confidence.TENTATIVE: 0, Confidence.FIRM: 1, Confidence.CERTAIN: 2}


class Verdict(enum.StrEnum):
    """``indeterminate`` is a result, not a pass: the facts needed were missing."""

    AFFECTED = "affected"
    NOT_AFFECTED = "not_affected"
    INDETERMINATE = "indeterminate"


class ProbeStatus(enum.StrEnum):
    COMPLETED = "completed"
    UNREACHABLE = "unreachable"
    TIMED_OUT = "timed_out"
    PROTOCOL_ERROR = "protocol_error"
    NOT_PERMITTED = "not_permitted"
    SKIPPED = "skipped"
    BUG = "bug"


#: How ``ProbeAttempt.error`` starts for a SKIPPED attempt: the report's advice depends on why.
SKIP_CLASS_NOT_ALLOWED = "probe class"
SKIP_HOST_SILENT = "host went silent"


class Proto(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"


class PortState(enum.StrEnum):
    OPEN = "open"
    FILTERED = "filtered"
    OPEN_FILTERED = "open|filtered"
    CLOSED = "closed"
    UNFILTERED = "unfiltered"
    CLOSED_FILTERED = "closed|filtered"


class ScanMode(enum.StrEnum):
    """How ports were scanned: SYN needs raw-socket rights; connect does not."""

    SYN = "syn"
    CONNECT = "connect"


class EvidenceKind(enum.StrEnum):
    BANNER = "banner"
    HANDSHAKE = "handshake"
    HEADER = "header"
    DOCUMENT = "document"
    CERTIFICATE = "certificate"
    LISTING = "listing"
    VERSION = "version"
    PORT_STATE = "port_state"


class ObligationStatus(enum.StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"
    WAIVED = "waived"


IPAddress = IPv4Address | IPv6Address
Port = Annotated[int, Field(ge=0, le=65535)]


class Evidence(_Frozen):
    """What a person needs to trust a verdict. Capped and redacted; never credentials."""

    kind: EvidenceKind
    summary: Annotated[str, Field(max_length=500)]
    excerpt: Annotated[str, Field(max_length=4096)] = ""
    encoding: Literal["text", "hex"] = "text"
    observed_at: AwareDatetime
    probe: str
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


class Service(_Frozen):
    port: Port
    proto: Proto
    state: PortState
    name: str | None = None
    product: str | None = None
    version: str | None = None
    tunnel: str | None = None


class Asset(_Frozen):
    ip: IPAddress
    mac: Annotated[str, Field(pattern=r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")] | None = None
    vendor: str | None = None
    hostname: str | None = None
    discovered_by: Literal["arp", "nmap-ping", "listed"]
    services: tuple[Service, ...] = ()
    #: Ports that gave no answer (firewalled), in nmap's range notation ("1-21,23-442").
    filtered_tcp: str = ""
    filtered_udp: str = ""


class ProbeAttempt(_Frozen):
    probe: str
    ip: IPAddress
    port: Port | None
    proto: Proto | None
    status: ProbeStatus
    started_at: AwareDatetime
    duration_ms: Annotated[float, Field(ge=0)]
    error: Annotated[str, Field(max_length=2000)] | None = None
    traceback: Annotated[str, Field(max_length=8000)] | None = None
    facts: dict[str, JsonValue] | None = None


class KevStatus(_Frozen):
    """KEV fields are copied exactly as CISA published them, never recomputed."""

    cve: str
    known_exploited: bool | None
    kev_date_added: date | None = None
    kev_due_date: date | None = None
    known_ransomware_campaign_use: str | None = None
    note: str | None = None


class AdvisoryRef(_Frozen):
    id: str
    publisher: str
    official_id: str
    title: str
    url: str


class ObligationRef(_Frozen):
    framework: str
    requirement: str
    title: str
    status: ObligationStatus


class Finding(_Frozen):
    exposure: Exposure
    ip: IPAddress
    port: Port | None
    proto: Proto | None
    severity: Severity
    verdict: Verdict
    title: str
    reason: str
    evidence: tuple[Evidence, ...] = ()
    confidence: Confidence = Confidence.FIRM
    advisories: tuple[AdvisoryRef, ...] = ()
    cves: tuple[KevStatus, ...] = ()
    obligations: tuple[ObligationRef, ...] = ()
    remediation: str | None = None
    deadline: date | None = None
    waived: bool = False
    details: dict[str, JsonValue] = Field(default_factory=dict)


class ObligationResult(_Frozen):
    framework: str
    requirement: str
    title: str
    status: ObligationStatus
    findings: tuple[str, ...] = ()
    deadline: date | None = None
    overdue: bool = False
    reason: str = ""


class ObligationSummary(_Frozen):
    profile: str
    met: int = 0
    not_met: int = 0
    unknown: int = 0
    waived: int = 0
    results: tuple[ObligationResult, ...] = ()


class ScopeRecord(_Frozen):
    targets: tuple[str, ...]
    exclusions: tuple[str, ...] = ()
    tcp_ports: str
    udp_ports: str
    probe_classes: tuple[str, ...]
    mode: ScanMode
    privileged: bool
    notes: tuple[str, ...] = ()


class Report(_Frozen):
    schema_version: Literal[1] = SCHEMA_VERSION
    report_id: uuid.UUID
    agent_id: str | None = None
    site_id: str | None = None
    duecare_version: str
    catalog_version: str
    kev_catalog_version: str | None = None
    profile: str | None = None
    authorized_by: str | None = None
    started_at: AwareDatetime
    finished_at: AwareDatetime
    scope: ScopeRecord
    assets: tuple[Asset, ...] = ()
    attempts: tuple[ProbeAttempt, ...] = ()
    findings: tuple[Finding, ...] = ()
    obligations: ObligationSummary | None = None
    previous_report_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None

    def counts(self) -> dict[str, Any]:
        by_sev: dict[str, int] = {s.value: 0 for s in Severity}
        for f in self.findings:
            if f.verdict is Verdict.AFFECTED and not f.waived:
                by_sev[f.severity.value] += 1
        return by_sev
