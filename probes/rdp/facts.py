"""What an RDP listener tells a client that never logs in.

Vocabulary from [MS-RDPBCGR] 2.2.1.1.1 (RDP_NEG_REQ), 2.2.1.2.1 (RDP_NEG_RSP), 2.2.1.2.2
(RDP_NEG_FAILURE) and 2.2.1.4.2/2.2.1.4.3 (server core / security data).
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

from duecare.probes.base import Facts
from duecare.probes.ntlm import NtlmInfo
from duecare.probes.x509 import CertificateFacts


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SecurityProtocol(enum.StrEnum):
    """Security protocols by their RDP_NEG_RSP selectedProtocol value."""

    RDP = "rdp"  # 0: standard RDP security (RC4, no server authentication)
    SSL = "ssl"  # 1: TLS
    HYBRID = "hybrid"  # 2: CredSSP, i.e. Network Level Authentication
    RDSTLS = "rdstls"  # 4
    HYBRID_EX = "hybrid_ex"  # 8: CredSSP + Early User Authorization Result PDU
    UNKNOWN = "unknown"


class FailureCode(enum.StrEnum):
    SSL_REQUIRED_BY_SERVER = "SSL_REQUIRED_BY_SERVER"  # 1
    SSL_NOT_ALLOWED_BY_SERVER = "SSL_NOT_ALLOWED_BY_SERVER"  # 2
    SSL_CERT_NOT_ON_SERVER = "SSL_CERT_NOT_ON_SERVER"  # 3
    INCONSISTENT_FLAGS = "INCONSISTENT_FLAGS"  # 4
    HYBRID_REQUIRED_BY_SERVER = "HYBRID_REQUIRED_BY_SERVER"  # 5
    SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER = "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER"  # 6
    UNKNOWN = "UNKNOWN"


class Outcome(enum.StrEnum):
    SELECTED = "selected"  # RDP_NEG_RSP
    FAILURE = "failure"  # RDP_NEG_FAILURE
    #: Connection Confirm without negotiation data: a pre-Vista server (XP SP3 / 2003 class).
    NO_NEGOTIATION_DATA = "no_negotiation_data"
    ERROR = "error"  # this connection broke; ``error`` says how


class Negotiation(_Model):
    """One X.224 Connection Request with RDP_NEG_REQ, and the server's answer."""

    requested: int = Field(ge=0, le=0xFFFFFFFF)
    outcome: Outcome
    selected: SecurityProtocol | None = None
    selected_code: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    #: RDP_NEG_RSP flags by name (EXTENDED_CLIENT_DATA_SUPPORTED, …).
    flags: tuple[str, ...] = ()
    failure: FailureCode | None = None
    failure_code: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    error: str | None = Field(default=None, max_length=300)


class EncryptionStatus(enum.StrEnum):
    DETERMINED = "determined"
    NOT_DETERMINED = "not_determined"
    #: Standard RDP security refused: the RDP-layer encryption level does not apply.
    NOT_APPLICABLE = "not_applicable"


class StandardSecurity(_Model):
    """Standard RDP security details from an MCS Connect-Response (TS_UD_SC_CORE / TS_UD_SC_SEC1)."""

    status: EncryptionStatus
    #: Server's RDP version, e.g. "RDP 5.x-8.x" for 0x00080004.
    server_version: str | None = None
    #: Method the server picked when offered 40-, 56-, 128-bit RC4 and FIPS together.
    encryption_method: str | None = None
    #: None, Low, Client Compatible, High, FIPS Compliant.
    encryption_level: str | None = None
    detail: str | None = Field(default=None, max_length=300)


class TlsInfo(_Model):
    version: str | None = None
    certificate: CertificateFacts | None = None
    #: Why the certificate is missing (handshake failed, certificate did not parse).
    error: str | None = Field(default=None, max_length=300)


class NtlmStep(enum.StrEnum):
    COLLECTED = "collected"
    #: No probe got HYBRID / HYBRID_EX selected, so CredSSP could not start (xrdp, legacy hosts).
    HYBRID_NOT_OFFERED = "hybrid_not_offered"
    FAILED = "failed"


class RdpFacts(Facts):
    speaks_rdp: bool
    #: One entry per connection made for negotiation, in order (rdp, ssl, hybrid, hybrid_ex).
    negotiations: tuple[Negotiation, ...] = Field(default=(), max_length=8)
    #: Connection Confirm without negotiation data to a request that carried RDP_NEG_REQ.
    legacy_server: bool = False
    #: Protocols the server selected at least once, in the order first seen.
    accepted_protocols: tuple[SecurityProtocol, ...] = ()
    standard_security_allowed: bool | None = None
    tls_allowed: bool | None = None
    nla_supported: bool | None = None
    #: True when RDP and/or SSL requests failed with HYBRID_REQUIRED_BY_SERVER.
    nla_required: bool | None = None
    standard_security: StandardSecurity = StandardSecurity(status=EncryptionStatus.NOT_DETERMINED)
    tls: TlsInfo | None = None
    ntlm: NtlmInfo | None = None
    ntlm_step: NtlmStep = NtlmStep.HYBRID_NOT_OFFERED
    ntlm_detail: str | None = Field(default=None, max_length=300)
    #: TCP connections this probe opened (politeness budget: at most 5).
    connections: int = Field(default=0, ge=0, le=5)
