"""What a VNC (RFB, RFC 6143) server tells a client before any authentication."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from duecare.probes.base import Facts

RfbProtocol = Literal["3.3", "3.7", "3.8"]

#: Security type 1, "None" (RFC 6143 §7.2.1).
NONE = 1
#: Types that may wrap a no-authentication sub-type (VeNCrypt TLSNone/X509None, Tight "NOAUTH").
WRAPPING_TYPES = frozenset({16, 19})


class VncFacts(Facts):
    #: The server's ProtocolVersion, e.g. "003.008" (RealVNC sends 004.001/005.000, Apple 003.889).
    server_version: str = Field(max_length=16)
    #: The version we answered with: the highest the server offers, at most 3.8 (RFC 6143 §7.1.1).
    protocol: RfbProtocol
    #: Security types offered (RFC 6143 §7.1.2; IANA "RFB Security Types"), in the server's order.
    security_types: tuple[int, ...] = Field(default=(), max_length=255)
    security_type_names: tuple[str, ...] = Field(default=(), max_length=255)
    #: The server refused before offering anything (e.g. TigerVNC "Too many security failures").
    failure_reason: str | None = Field(default=None, max_length=1024)
    #: We chose None and the server let us in (SecurityResult OK and ServerInit received).
    none_accepted: bool | None = None
    desktop_name: str | None = Field(default=None, max_length=256)
    width: int | None = None
    height: int | None = None
