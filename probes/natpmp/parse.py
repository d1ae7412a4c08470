"""NAT-PMP external address request and its answer (RFC 6886 §3.2). Pure.

Opcode 0 only: it asks the gateway for its WAN address and changes nothing. Mapping requests
(opcodes 1 and 2) are never built.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

from duecare.probes.errors import ProtocolError
from duecare.probes.natpmp.facts import NatPmpFacts

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
