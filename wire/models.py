"""Report contract, version 1.

Frozen, ``extra="forbid"`` models: what an agent signs is exactly what a collector stores. Ids in
``Exposure`` are public interface: new ones may be added, none renamed.
"""

from __future__ import annotations

import enum
import functools
import uuid
from datetime import date
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from duecare.wire.bounds import (
    Details,
    ErrorText,
    Excerpt,
    Facts,
    Hostname,
    Name,
    PortRanges,
    Reason,
    Summary,
    Title,
    TracebackText,
    Url,
    WireDate,
    WireTime,
)

SCHEMA_VERSION: Literal[1] = 1


class _Frozen(BaseModel):
    #: NaN/Infinity are not JSON; every string and date is bounded (``wire/bounds.py``).
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


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
    UPNP_IGD_PORT_MAPPINGS = "upnp-igd-port-mappings"
    IPMI_EXPOSED = "ipmi-exposed"
    PRINTER_RAW_EXPOSED = "printer-raw-exposed"
    RMM_TOOL_EXPOSED = "rmm-tool-exposed"
    KEV_VERSION_DISCLOSED = "kev-version-disclosed"
    OS_END_OF_LIFE = "os-end-of-life"
    PRODUCT_END_OF_LIFE = "product-end-of-life"


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


class IdentifiedBy(enum.StrEnum):
    """How a port's service name was established (issue 16). Absent: nmap's port table named it
    (a guess from the number), or the port is a probe's standard port."""

    #: The server spoke first and its greeting named the protocol (FTP 220, Telnet IAC, RFB, SSH).
    GREETING = "greeting"
    #: The port answered one client-first opening of that protocol (X.224, PING, ClientHello…).
    HANDSHAKE = "handshake"
    #: nmap's version detection (-sV) matched it.
    NMAP_VERSION = "nmap-version"


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
    """What the evidence shows about one requirement (README, "How duecare judges a requirement").

    ``met`` needs positive coverage evidence; ``no_contrary_evidence`` is "nothing seen" without it;
    ``attestation_required`` is a process duty no scan can judge, whatever the findings.
    """

    MET = "met"
    NOT_MET = "not_met"
    NO_CONTRARY_EVIDENCE = "no_contrary_evidence"
    ATTESTATION_REQUIRED = "attestation_required"
    UNKNOWN = "unknown"
    WAIVED = "waived"


class Vantage(enum.StrEnum):
    """The view an advisory or requirement needs: from inside the site, from the internet, or either."""

    INTERNAL = "internal"
    INTERNET = "internet"
    EITHER = "either"


class DeadlineState(enum.StrEnum):
    """Where a finding stands on its clock, as of the report.

    ``overdue`` is only ever a deadline set under this engagement; a published due date that fell
    before the engagement began (or before duecare first saw the finding) is ``inherited``.
    """

    NONE = "none"
    DUE = "due"
    OVERDUE = "overdue"
    INHERITED = "inherited"
    UNKNOWN = "unknown"


@functools.lru_cache(maxsize=4096)
def _parse_ip(text: str) -> IPv4Address | IPv6Address:
    """``ip_address`` of a text, remembered: a report names each host once per finding, asset and
    attempt, and the standard library parses in Python (~9 µs an address). Failures are not kept."""
    return ip_address(text)


@functools.lru_cache(maxsize=4096)
def ip_text(ip: IPv4Address | IPv6Address) -> str:
    """``str(ip)``, remembered (the standard library formats in Python too): the wire's JSON form."""
    return str(ip)


def _ip(value: Any) -> IPv4Address | IPv6Address:
    """``ip_address``: IPv4 first, then IPv6, as the plain union did, in one parse (the union tries
    each member strictly, then laxly, and raises inside pydantic on the way: twice the time, and a
    report carries an address per finding, asset and attempt)."""
    if isinstance(value, IPv4Address | IPv6Address):
        return value
    if isinstance(value, str | int | bytes) and not isinstance(value, bool):
        try:
            return _parse_ip(value) if type(value) is str else ip_address(value)
        except ValueError:
            pass
    raise PydanticCustomError("ip_any_address", "value is not a valid IPv4 or IPv6 address")


IPAddress = Annotated[
    IPv4Address | IPv6Address,
    PlainValidator(_ip),
    PlainSerializer(ip_text, return_type=str, when_used="json"),
    WithJsonSchema({"anyOf": [{"format": "ipv4", "type": "string"}, {"format": "ipv6", "type": "string"}]}),
]
Port = Annotated[int, Field(ge=0, le=65535)]


class Evidence(_Frozen):
    """What a person needs to trust a verdict. Capped and redacted; never credentials."""

    kind: EvidenceKind
    summary: Summary
    excerpt: Excerpt = ""
    encoding: Literal["text", "hex"] = "text"
    observed_at: WireTime
    probe: Name
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


class Service(_Frozen):
    port: Port
    proto: Proto
    state: PortState
    name: Name | None = None
    product: Title | None = None
    version: Title | None = None
    tunnel: Name | None = None
    identified_by: IdentifiedBy | None = None


class Asset(_Frozen):
    ip: IPAddress
    mac: Annotated[str, Field(pattern=r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")] | None = None
    vendor: Title | None = None
    hostname: Hostname | None = None
    discovered_by: Literal["arp", "nmap-ping", "listed"]
    services: tuple[Service, ...] = ()
    #: Ports that gave no answer (firewalled), in nmap's range notation ("1-21,23-442").
    filtered_tcp: PortRanges = ""
    filtered_udp: PortRanges = ""


class ProbeAttempt(_Frozen):
    probe: Name
    ip: IPAddress
    port: Port | None
    proto: Proto | None
    status: ProbeStatus
    started_at: WireTime
    duration_ms: Annotated[float, Field(ge=0)]
    error: ErrorText | None = None
    traceback: TracebackText | None = None
    facts: Facts | None = None


class Ssvc(_Frozen):
    """CISA's SSVC decision points for one CVE (Vulnrichment, "CISA ADP" container), as published."""

    exploitation: Literal["none", "poc", "active"]
    automatable: bool
    technical_impact: Literal["partial", "total"]
    #: The SSVC record's own timestamp, and where the values were read (snapshot file or record).
    timestamp: WireTime | None = None
    source: Title = ""


class KevStatus(_Frozen):
    """KEV fields are copied exactly as CISA published them, never recomputed."""

    cve: Name
    known_exploited: bool | None
    kev_date_added: WireDate | None = None
    kev_due_date: WireDate | None = None
    known_ransomware_campaign_use: Name | None = None
    #: KEV's ``forensicTriage`` ("Yes"/"No" per BOD 26-04), when the catalog carries it.
    forensic_triage: Name | None = None
    ssvc: Ssvc | None = None
    note: Reason | None = None


class AdvisoryRef(_Frozen):
    id: Name
    publisher: Title
    official_id: Title
    title: Title
    url: Url
    #: When the advisory was first published: how long the guidance had been public.
    published: WireDate | None = None
    vantage: Vantage = Vantage.EITHER
    #: The advisory's CVEs this finding lacks a fix for (advisories attached by missing CVE).
    missing_cves: tuple[Name, ...] = ()


class ObligationRef(_Frozen):
    framework: Name
    requirement: Name
    title: Title
    status: ObligationStatus


class ReachabilityEvidence(_Frozen):
    """Why a finding is, or is not, reachable from the internet: a gateway's port mapping read by
    the agent, a scan from an agent with internet vantage of the site's declared public addresses,
    or a written statement. The collector joins the outside view to the inside finding."""

    source: Literal["gateway-mapping", "outside-scan", "attestation"]
    summary: Summary
    observed_at: WireTime
    public_ip: IPAddress | None = None
    public_port: Port | None = None
    #: The report that observed it (the outside agent's), when not this one.
    report_id: uuid.UUID | None = None


class Bod2604Tier(_Frozen):
    """BOD 26-04 Table 1 applied to one finding: the four inputs, the tier, and how sure the table is.

    While ``internet_exposed`` is unknown both tiers are given with what would settle it. While the
    table is not verified against the directive's own text, ``tier`` is indicative and the finding's
    BOD 26-04 deadline is unknown.
    """

    cve: Name | None
    in_kev: bool
    automatable: bool | None
    technical_impact: Literal["partial", "total"] | None
    publicly_exposed: bool | None
    tier: Reason | None = None
    days: int | None = None
    if_exposed: Reason | None = None
    if_not_exposed: Reason | None = None
    #: The tier asks for forensic triage; None while it depends on the unknown exposure.
    forensic_triage: bool | None = None
    settle: Reason | None = None
    table_verified: bool
    source: Title
    #: CVEs that could not be placed (no SSVC values), and the like.
    note: Reason = ""


class Timeline(_Frozen):
    """A finding's clock: it runs from max(engagement start, first seen)."""

    first_seen: WireDate
    engagement_start: WireDate | None = None
    clock_start: WireDate
    state: DeadlineState
    #: What set ``Finding.deadline`` (or why there is none), with its source.
    basis: Reason
    #: A published due date (KEV) that fell before the clock started: overdue before the engagement.
    inherited_due: WireDate | None = None
    bod_26_04: Bod2604Tier | None = None
    #: Check for compromise before calling it fixed: KEV ``forensicTriage`` or a BOD 26-04 triage tier.
    forensic_triage: bool | None = None


class ClockCase(_Frozen):
    """A finding's deadline and clock as the agent judged them for one value of ``internet_exposed``."""

    deadline: WireDate | None = None
    timeline: Timeline | None = None


class ClockByExposure(_Frozen):
    """The clock for each value of ``internet_exposed`` (BOD 26-04's first question), judged by the agent
    so that the collector's join only selects one (``wire/rejudge.py``): the collector never judges.

    The case of ``judged`` is the finding's own ``deadline`` and ``timeline``, so its slot is empty
    (a report carries each clock once); selecting another case swaps the two.
    """

    judged: bool | None = None
    exposed: ClockCase | None = None
    not_exposed: ClockCase | None = None
    unknown: ClockCase | None = None

    @model_validator(mode="after")
    def _one_slot_empty(self) -> ClockByExposure:
        for value, slot in ((True, self.exposed), (False, self.not_exposed), (None, self.unknown)):
            if (slot is None) != (value is self.judged):
                state = "empty" if slot is None else "given"
                raise ValueError(f"the case for internet_exposed={value} is {state}; only the judged one is empty")
        return self


class Finding(_Frozen):
    exposure: Exposure
    ip: IPAddress
    port: Port | None
    proto: Proto | None
    severity: Severity
    verdict: Verdict
    title: Title
    reason: Reason
    evidence: tuple[Evidence, ...] = ()
    confidence: Confidence = Confidence.FIRM
    advisories: tuple[AdvisoryRef, ...] = ()
    cves: tuple[KevStatus, ...] = ()
    obligations: tuple[ObligationRef, ...] = ()
    remediation: Reason | None = None
    #: The exposure's plain-language summary, for the owner (the reason is for the engineer).
    summary: Reason | None = None
    deadline: WireDate | None = None
    timeline: Timeline | None = None
    waived: bool = False
    #: Reachable from the internet: true/false with evidence, null while no outside view exists.
    internet_exposed: bool | None = None
    internet_evidence: tuple[ReachabilityEvidence, ...] = ()
    details: Details = Field(default_factory=dict)
    #: The deadline and timeline for each value of ``internet_exposed``; None when they do not depend on it
    #: (and in reports from before it existed, which are then judged as they were).
    by_exposure: ClockByExposure | None = None


class Coverage(_Frozen):
    """The positive evidence behind a verdict of nothing found: which probes ran, against what."""

    probes: tuple[Name, ...]
    #: Services the probes ran to completion against, and the hosts those services are on.
    services: int
    hosts: tuple[IPAddress, ...] = ()
    #: Hosts found in scope whose ports the port scan swept, and the probes' ports it swept.
    hosts_swept: int
    ports: PortRanges = ""
    complete: bool
    #: Why coverage is incomplete (a probe timed out, was skipped, is not registered…).
    gaps: tuple[Reason, ...] = ()


class Attestation(_Frozen):
    """A signed statement for a duty no scan can judge, supplied by the MSP or owner; printed verbatim."""

    framework: Name
    requirement: Name
    statement: Annotated[ErrorText, Field(min_length=1)]
    attested_by: Annotated[Title, Field(min_length=1)]
    role: Annotated[Title, Field(min_length=1)]
    signed_on: WireDate
    document: Annotated[Title, Field(min_length=1)]


class ObligationResult(_Frozen):
    framework: Name
    requirement: Name
    title: Title
    status: ObligationStatus
    findings: tuple[Title, ...] = ()
    deadline: WireDate | None = None
    #: Past a deadline set under this engagement (never an inherited one).
    overdue: bool = False
    #: The earliest published due date that fell before the engagement began.
    inherited_due: WireDate | None = None
    reason: Reason = ""
    vantage: Vantage | None = None
    coverage: Coverage | None = None
    attestation: Attestation | None = None
    #: How the result follows the reachability of its findings; None when it does not depend on it.
    by_exposure: ResultByExposure | None = None


class Stake(enum.StrEnum):
    """What one finding makes of one requirement, most decisive first (README, "How duecare judges")."""

    NOT_MET = "not_met"
    #: Seen from inside only, and the requirement is about what the internet reaches.
    NEEDS_OUTSIDE_VIEW = "needs_outside_view"
    #: The finding itself is undecided (tentative, indeterminate) and not known to be unreachable.
    UNDECIDED = "undecided"
    NONE = "none"


class StakeCase(_Frozen):
    stake: Stake
    #: The finding's deadline and inherited due date in this case (they count only when ``not_met``).
    deadline: WireDate | None = None
    inherited_due: WireDate | None = None


class FindingStake(_Frozen):
    """One finding's stake in a requirement for each value of its ``internet_exposed``."""

    finding: Title
    exposure: Exposure
    #: The finding's own reason, said when it leaves the requirement undecided.
    reason: Reason = ""
    #: ``internet_exposed`` as the agent judged it: the case kept while no join says otherwise.
    judged: bool | None = None
    exposed: StakeCase
    not_exposed: StakeCase
    unknown: StakeCase


class ResultByExposure(_Frozen):
    """Everything the agent judged of a requirement that does not depend on reachability: the findings'
    stakes per case, and the result when none of them has a stake (``otherwise``). The collector's join
    re-derives the status, reason, findings and deadline from these alone (``wire/rejudge.py``)."""

    judged_on: WireDate
    stakes: tuple[FindingStake, ...]
    otherwise: ObligationResult


class ObligationSummary(_Frozen):
    """Counts per status, always equal to the results' (validated: one source for every count)."""

    profile: Name
    #: The day the engagement began, as the profile (or the agent's configuration) recorded it.
    engagement_start: WireDate | None = None
    met: int = 0
    not_met: int = 0
    no_contrary_evidence: int = 0
    attestation_required: int = 0
    unknown: int = 0
    waived: int = 0
    results: tuple[ObligationResult, ...] = ()

    @model_validator(mode="after")
    def _counts_match(self) -> ObligationSummary:
        for status in ObligationStatus:
            stated = getattr(self, status.value)
            actual = sum(1 for r in self.results if r.status is status)
            if stated != actual:
                raise ValueError(f"{status.value} = {stated}, but {actual} results have that status")
        return self

    @classmethod
    def of(
        cls, profile: str, results: tuple[ObligationResult, ...], engagement_start: date | None = None
    ) -> ObligationSummary:
        counts = {s.value: sum(1 for r in results if r.status is s) for s in ObligationStatus}
        return cls(profile=profile, results=results, engagement_start=engagement_start, **counts)


class ScopeRecord(_Frozen):
    targets: tuple[Name, ...]
    exclusions: tuple[Name, ...] = ()
    tcp_ports: PortRanges
    udp_ports: PortRanges
    probe_classes: tuple[Name, ...]
    mode: ScanMode
    privileged: bool
    notes: tuple[Reason, ...] = ()


class Report(_Frozen):
    schema_version: Literal[1] = SCHEMA_VERSION
    report_id: uuid.UUID
    agent_id: Name | None = None
    site_id: Name | None = None
    duecare_version: Name
    catalog_version: Name
    kev_catalog_version: Name | None = None
    #: When that KEV catalog was released: its age is the appendix's concern, not the owner's.
    kev_catalog_released: WireTime | None = None
    profile: Name | None = None
    authorized_by: Title | None = None
    started_at: WireTime
    finished_at: WireTime
    scope: ScopeRecord
    assets: tuple[Asset, ...] = ()
    attempts: tuple[ProbeAttempt, ...] = ()
    findings: tuple[Finding, ...] = ()
    obligations: ObligationSummary | None = None
    previous_report_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    #: Where the scan ran from: inside the site (``internal``), or from the internet against the
    #: site's declared public addresses (``internet``, issue 14).
    vantage: Vantage = Vantage.INTERNAL

    def counts(self) -> dict[str, Any]:
        by_sev: dict[str, int] = {s.value: 0 for s in Severity}
        for f in self.findings:
            if f.verdict is Verdict.AFFECTED and not f.waived:
                by_sev[f.severity.value] += 1
        return by_sev


ObligationResult.model_rebuild()
