"""Pure RDP connection-sequence parsing: X.224 Connection Request / Confirm and what they imply.

Wire formats: TPKT (RFC 1006 §6), X.224 class 0 CR/CC (ITU-T X.224 §13.3/13.4), RDP_NEG_REQ /
RDP_NEG_RSP / RDP_NEG_FAILURE ([MS-RDPBCGR] 2.2.1.1.1, 2.2.1.2.1, 2.2.1.2.2). The security-layer
decision table follows nmap ``rdp-enum-encryption.nse`` and NetExec ``check_nla()``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from duecare.probes.errors import ProtocolError
from duecare.probes.rdp.facts import FailureCode, Negotiation, Outcome, SecurityProtocol

PROTOCOL_RDP, PROTOCOL_SSL, PROTOCOL_HYBRID, PROTOCOL_RDSTLS, PROTOCOL_HYBRID_EX = 0, 1, 2, 4, 8
#: One connection per requested set, in this order (HYBRID implies SSL, HYBRID_EX implies both).
PROBE_SETS: tuple[int, ...] = (
    PROTOCOL_RDP,
    PROTOCOL_SSL,
    PROTOCOL_HYBRID | PROTOCOL_SSL,
    PROTOCOL_HYBRID_EX | PROTOCOL_HYBRID | PROTOCOL_SSL,
)
TLS_PROTOCOLS = frozenset({SecurityProtocol.SSL, SecurityProtocol.HYBRID, SecurityProtocol.HYBRID_EX})
CREDSSP_PROTOCOLS = frozenset({SecurityProtocol.HYBRID, SecurityProtocol.HYBRID_EX})

_SELECTED = {
    PROTOCOL_RDP: SecurityProtocol.RDP,
    PROTOCOL_SSL: SecurityProtocol.SSL,
    PROTOCOL_HYBRID: SecurityProtocol.HYBRID,
    PROTOCOL_RDSTLS: SecurityProtocol.RDSTLS,
    PROTOCOL_HYBRID_EX: SecurityProtocol.HYBRID_EX,
}
_FAILURES = {
    1: FailureCode.SSL_REQUIRED_BY_SERVER,
    2: FailureCode.SSL_NOT_ALLOWED_BY_SERVER,
    3: FailureCode.SSL_CERT_NOT_ON_SERVER,
    4: FailureCode.INCONSISTENT_FLAGS,
    5: FailureCode.HYBRID_REQUIRED_BY_SERVER,
    6: FailureCode.SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER,
}
# RDP_NEG_RSP flags, [MS-RDPBCGR] 2.2.1.2.1.
_RSP_FLAGS = {
    0x01: "EXTENDED_CLIENT_DATA_SUPPORTED",
    0x02: "DYNVC_GFX_PROTOCOL_SUPPORTED",
    0x04: "NEGRSP_FLAG_RESERVED",
    0x08: "RESTRICTED_ADMIN_MODE_SUPPORTED",
    0x10: "REDIRECTED_AUTHENTICATION_MODE_SUPPORTED",
}
TYPE_NEG_REQ, TYPE_NEG_RSP, TYPE_NEG_FAILURE = 0x01, 0x02, 0x03
_X224_CR, _X224_CC, _X224_DT = 0xE0, 0xD0, 0xF0
_TPKT_HEADER = 4
#: No RDP PDU this probe reads is larger; a bigger announced length is a hostile or broken peer.
TPKT_MAX = 16 * 1024
COOKIE = b"Cookie: mstshash=duecare\r\n"


def connection_request(requested: int | None, cookie: bytes = COOKIE) -> bytes:
    """TPKT + X.224 CR (+ routing cookie, + RDP_NEG_REQ unless ``requested`` is None).

    The cookie names us in the server's connection log ([MS-RDPBCGR] 2.2.1.1 routingToken/cookie).
    """
    neg = b"" if requested is None else struct.pack("<BBHI", TYPE_NEG_REQ, 0, 8, requested)
    variable = cookie + neg
    # LI counts the X.224 header after itself (6 bytes) plus the variable part.
    x224 = struct.pack(">BBHHB", 6 + len(variable), _X224_CR, 0, 0, 0) + variable
    return tpkt(x224)


def tpkt(payload: bytes) -> bytes:
    return struct.pack(">BBH", 3, 0, _TPKT_HEADER + len(payload)) + payload


def tpkt_length(header: bytes) -> int:
    """Total packet length from a 4-byte TPKT header; not TPKT at all → ProtocolError."""
    if len(header) < _TPKT_HEADER:
        raise ProtocolError(f"TPKT header cut short ({len(header)} bytes)")
    version, _reserved, length = struct.unpack(">BBH", header[:_TPKT_HEADER])
    if version != 3:
        raise ProtocolError(f"not TPKT (first byte 0x{version:02x}, expected 0x03): not an RDP service")
    if length < 7 or length > TPKT_MAX:
        raise ProtocolError(f"TPKT length {length} out of range")
    return int(length)


@dataclass(frozen=True, slots=True)
class ConnectionConfirm:
    """Parsed X.224 CC: ``neg`` is (type, flags, value) or None when the CC has no negotiation data."""

    neg: tuple[int, int, int] | None


def parse_connection_confirm(packet: bytes) -> ConnectionConfirm:
    length = tpkt_length(packet)
    if len(packet) != length:
        raise ProtocolError(f"TPKT says {length} bytes, got {len(packet)}")
    li = packet[4]
    if li < 6 or _TPKT_HEADER + 1 + li > length:
        raise ProtocolError(f"X.224 length indicator {li} does not fit a {length}-byte packet")
    if packet[5] & 0xF0 != _X224_CC:
        raise ProtocolError(f"X.224 TPDU 0x{packet[5]:02x} is not a Connection Confirm")
    variable = packet[11 : _TPKT_HEADER + 1 + li]
    if not variable:
        return ConnectionConfirm(neg=None)
    if len(variable) < 8:
        raise ProtocolError(f"RDP negotiation data cut short ({len(variable)} bytes)")
    kind, flags, neg_len, value = struct.unpack_from("<BBHI", variable)
    if neg_len != 8 or kind not in (TYPE_NEG_RSP, TYPE_NEG_FAILURE):
        raise ProtocolError(f"unexpected RDP negotiation data: type {kind}, length {neg_len}")
    return ConnectionConfirm(neg=(kind, flags, value))


def negotiation_from(requested: int, cc: ConnectionConfirm) -> Negotiation:
    if cc.neg is None:
        return Negotiation(requested=requested, outcome=Outcome.NO_NEGOTIATION_DATA)
    kind, flags, value = cc.neg
    if kind == TYPE_NEG_FAILURE:
        return Negotiation(
            requested=requested,
            outcome=Outcome.FAILURE,
            failure=_FAILURES.get(value, FailureCode.UNKNOWN),
            failure_code=value,
        )
    return Negotiation(
        requested=requested,
        outcome=Outcome.SELECTED,
        selected=_SELECTED.get(value, SecurityProtocol.UNKNOWN),
        selected_code=value,
        flags=tuple(name for bit, name in _RSP_FLAGS.items() if flags & bit),
    )


@dataclass(frozen=True, slots=True)
class SecurityDecision:
    legacy_server: bool
    accepted: tuple[SecurityProtocol, ...]
    standard_security_allowed: bool | None
    tls_allowed: bool | None
    nla_supported: bool | None
    nla_required: bool | None


def _tri(yes: bool, no: bool) -> bool | None:
    """True if there is evidence for, else False if evidence against, else unknown."""
    return True if yes else (False if no else None)


def decide(negotiations: Sequence[Negotiation]) -> SecurityDecision:
    """What the answers together say (detection-methods §2.3; nmap PR #1614 patterns).

    Acceptance is read from what the server *selected*, not from what we asked: xrdp with
    ``security_layer=rdp`` answers an SSL-only request by selecting standard RDP security instead
    of failing with SSL_NOT_ALLOWED_BY_SERVER.
    """
    answered = [n for n in negotiations if n.outcome is not Outcome.ERROR]
    legacy = any(n.outcome is Outcome.NO_NEGOTIATION_DATA for n in answered)
    accepted = tuple(dict.fromkeys(n.selected for n in answered if n.selected is not None))
    failures = {(n.requested, n.failure) for n in answered if n.failure is not None}
    hybrid_required = any(f is FailureCode.HYBRID_REQUIRED_BY_SERVER for _r, f in failures)
    rdp_refused = any(r == PROTOCOL_RDP for r, _f in failures)
    tls_refused = any(f is FailureCode.SSL_NOT_ALLOWED_BY_SERVER for _r, f in failures)
    downgraded = any(n.selected is SecurityProtocol.RDP and n.requested != PROTOCOL_RDP for n in answered)
    no_tls = legacy or tls_refused or downgraded
    standard = legacy or SecurityProtocol.RDP in accepted
    tls = bool(TLS_PROTOCOLS & set(accepted))
    nla = bool(CREDSSP_PROTOCOLS & set(accepted))
    # NLA is optional as soon as any non-CredSSP protocol was accepted.
    nla_optional = standard or SecurityProtocol.SSL in accepted
    asked_hybrid = any(n.requested & PROTOCOL_HYBRID for n in answered)
    return SecurityDecision(
        legacy_server=legacy,
        accepted=accepted,
        standard_security_allowed=_tri(standard, rdp_refused),
        tls_allowed=_tri(tls, no_tls),
        nla_supported=_tri(nla or hybrid_required, no_tls or (asked_hybrid and not nla)),
        nla_required=_tri(hybrid_required and not nla_optional, nla_optional),
    )
