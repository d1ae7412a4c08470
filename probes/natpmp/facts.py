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
