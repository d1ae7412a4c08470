"""One BER element reader for every parser of hostile bytes (SNMP, tolerant X.509): bounded, definite only."""

from __future__ import annotations

from duecare.probes.errors import ProtocolError


def read_tlv(data: bytes, pos: int, end: int, what: str = "BER") -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at ``pos``; never reads past ``end``.

    Definite lengths only, long form of at most 4 octets: neither SNMP (RFC 3417 §8) nor a certificate
    a server sends needs more, and an attacker's 2**32-byte length never allocates anything.
    """
    if pos + 2 > end:
        raise ProtocolError(f"{what}: truncated element header")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ProtocolError(f"{what}: multi-octet tag")
    first = data[pos + 1]
    start = pos + 2
    if first == 0x80:
        raise ProtocolError(f"{what}: indefinite length")
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count > 4 or start + count > end:
            raise ProtocolError(f"{what}: bad long-form length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > end:
        raise ProtocolError(f"{what}: element of {length} bytes runs past its container")
    return tag, start, start + length
