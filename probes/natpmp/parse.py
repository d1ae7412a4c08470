"""NAT-PMP external address request and its answer (RFC 6886 §3.2); PCP ANNOUNCE (RFC 6887 §14.1). Pure.

NAT-PMP opcode 0 only: it asks the gateway for its WAN address and changes nothing. Mapping requests
(NAT-PMP opcodes 1 and 2, PCP MAP and PEER) are never built. PCP has no request that reads the
external address without creating state, so the PCP read is ANNOUNCE: does a PCP server answer,
which version, which result, since when (its epoch).
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

from duecare.probes.errors import ProtocolError
from duecare.probes.natpmp.facts import NatPmpFacts, PcpFacts

PORT = 5351
VERSION = 0
OP_EXTERNAL_ADDRESS = 0
#: RFC 6886 §3.5.
RESULTS = {
    0: "success",
    1: "unsupported version",
    2: "not authorized / refused",
    3: "network failure",
    4: "out of resources",
    5: "unsupported opcode",
}


def external_address_request() -> bytes:
    """Version 0, opcode 0: two bytes (RFC 6886 §3.2)."""
    return struct.pack("!BB", VERSION, OP_EXTERNAL_ADDRESS)


def parse_external_address(data: bytes) -> NatPmpFacts:
    """The 12-byte answer: version, opcode 128, result code, epoch seconds, external IPv4.

    A result other than success is still a NAT-PMP answer (the gateway speaks the protocol); an
    error answer may be only 8 bytes (RFC 6886 §3.5), so the address is read only on success.
    """
    if len(data) < 8:
        raise ProtocolError(f"NAT-PMP answer of {len(data)} bytes, need at least 8")
    version, opcode, code, epoch = struct.unpack_from("!BBHI", data)
    if version != VERSION:
        raise ProtocolError(f"NAT-PMP answer version {version}, not 0 (PCP answers with 2)")
    if opcode != 128 + OP_EXTERNAL_ADDRESS:
        raise ProtocolError(f"NAT-PMP answer opcode {opcode}, not 128")
    external: str | None = None
    if code == 0:
        if len(data) < 12:
            raise ProtocolError(f"NAT-PMP success answer of {len(data)} bytes, need 12")
        external = str(IPv4Address(data[8:12]))
    return NatPmpFacts(
        result_code=code,
        result=RESULTS.get(code, f"unknown result {code}"),
        epoch_seconds=epoch,
        external_ip=external,
    )


# -- PCP (RFC 6887), ANNOUNCE only ------------------------------------------------------------------

PCP_VERSION = 2
PCP_OP_ANNOUNCE = 0
#: RFC 6887 §7.1: requests and responses are at most 1100 bytes, whole 32-bit words, 24-byte header.
PCP_MAX = 1100
PCP_HEADER = 24
#: RFC 6887 §7.4.
PCP_RESULTS = {
    0: "success",
    1: "unsupported version",
    2: "not authorized",
    3: "malformed request",
    4: "unsupported opcode",
    5: "unsupported option",
    6: "malformed option",
    7: "network failure",
    8: "no resources",
    9: "unsupported protocol",
    10: "user exceeded quota",
    11: "cannot provide external",
    12: "address mismatch",
    13: "excessive remote peers",
}


def announce_request(client: IPv4Address | IPv6Address) -> bytes:
    """PCP ANNOUNCE (RFC 6887 §7.1, §14.1): version 2, R=0, opcode 0, lifetime 0, our address
    (IPv4 as an IPv4-mapped IPv6 address, §5), no opcode data, no options. It asks for nothing and
    creates no state: MAP and PEER (opcodes 1 and 2) are never built."""
    ip = client if isinstance(client, IPv6Address) else IPv6Address(b"\x00" * 10 + b"\xff\xff" + client.packed)
    return struct.pack("!BBHI", PCP_VERSION, PCP_OP_ANNOUNCE, 0, 0) + ip.packed


def parse_announce_response(data: bytes) -> PcpFacts:
    """A PCP response header (RFC 6887 §7.2), or the NAT-PMP "unsupported version" a NAT-PMP-only
    server sends for a PCP request (RFC 6887 §9, RFC 6886 §3.5)."""
    if len(data) < 8:
        raise ProtocolError(f"answer of {len(data)} bytes on the PCP port, need at least 8")
    if data[0] == VERSION:
        _v, opcode, code, epoch = struct.unpack_from("!BBHI", data)
        if opcode < 128:
            raise ProtocolError(f"NAT-PMP answer opcode {opcode} is not a response")
        return PcpFacts(
            speaks_pcp=False,
            version=VERSION,
            result_code=code,
            result=RESULTS.get(code, f"unknown result {code}"),
            epoch_seconds=epoch,
        )
    if data[0] not in (1, PCP_VERSION):
        raise ProtocolError(f"answer version {data[0]} on the PCP port: neither PCP (2) nor NAT-PMP (0)")
    if len(data) < PCP_HEADER or len(data) > PCP_MAX or len(data) % 4:
        raise ProtocolError(f"PCP response of {len(data)} bytes: not 24 to 1100 bytes in whole words")
    version, r_opcode, _reserved, code, lifetime, epoch = struct.unpack_from("!BBBBII", data)
    if not r_opcode & 0x80:
        raise ProtocolError("PCP message with R=0: a request, not a response")
    if r_opcode & 0x7F != PCP_OP_ANNOUNCE:
        raise ProtocolError(f"PCP response to opcode {r_opcode & 0x7F}, not ANNOUNCE")
    return PcpFacts(
        speaks_pcp=True,
        version=version,
        result_code=code,
        result=PCP_RESULTS.get(code, f"unknown result {code}"),
        epoch_seconds=epoch,
        lifetime_seconds=lifetime,
    )
