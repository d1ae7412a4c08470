"""What a NAT-PMP gateway says about itself (RFC 6886 §3.2, the external address request)."""

from __future__ import annotations

from pydantic import Field

from duecare.probes.base import Facts


class NatPmpFacts(Facts):
    #: RFC 6886 §3.5 result code: 0 success, 1 unsupported version, 2 refused, 3 network failure…
    result_code: int = Field(ge=0, le=65535)
    result: str = Field(max_length=64)
    #: Seconds since the gateway's port-mapping table was (re)initialised.
    epoch_seconds: int = Field(ge=0)
    #: The gateway's WAN address; None when the request was not a success.
    external_ip: str | None = Field(default=None, max_length=64)


#: Why a PCP read never yields the gateway's WAN address (RFC 6887 §11: only a MAP or PEER response
#: carries an external address, and a MAP request asks the gateway to create a mapping).
PCP_NO_EXTERNAL = (
    "external address not read over PCP: PCP reports it only in a MAP response, and a MAP request "
    "would create a mapping on the gateway; a read-only auditor sends ANNOUNCE only"
)


class PcpFacts(Facts):
    """A gateway's answer to a PCP ANNOUNCE request (RFC 6887 §14.1): whether it speaks PCP at all."""

    #: True when the answer is a PCP response (version 2, or a pre-RFC version 1 server).
    speaks_pcp: bool
    #: The answer's version: 2 for PCP; 0 when a NAT-PMP-only server answered "unsupported version".
    version: int = Field(ge=0, le=255)
    #: RFC 6887 §7.4 result code (or RFC 6886 §3.5 for a NAT-PMP answer).
    result_code: int = Field(ge=0, le=65535)
    result: str = Field(max_length=64)
    #: Seconds since the server's mapping state was (re)initialised (RFC 6887 §8.5).
    epoch_seconds: int = Field(ge=0)
    lifetime_seconds: int = Field(default=0, ge=0)
    note: str = Field(default=PCP_NO_EXTERNAL, max_length=300)
