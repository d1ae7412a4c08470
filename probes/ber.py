"""The one BER/DER element reader for every parser of hostile bytes (SNMP, tolerant X.509), and the one
encoder for the few DER structures we build (SNMP requests, CredSSP TSRequest, SPNEGO for SMB1, test
certificates): definite lengths, shortest form."""

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


def encode_length(n: int) -> bytes:
    """X.690 §8.1.3 definite length in its shortest form."""
    if n < 0:
        raise ValueError("negative length")
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, content: bytes) -> bytes:
    """One element with a single-octet tag."""
    return bytes((tag,)) + encode_length(len(content)) + content


def encode_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER element (X.690 §8.19) from its dotted form."""
    parts = [int(p) for p in dotted.split(".")]
    if len(parts) < 2 or parts[0] > 2 or (parts[0] < 2 and parts[1] >= 40) or min(parts) < 0:
        raise ValueError(f"bad OID {dotted!r}")
    out = bytearray()
    for sub in [parts[0] * 40 + parts[1], *parts[2:]]:
        chunk = [sub & 0x7F]
        sub >>= 7
        while sub:
            chunk.append(0x80 | (sub & 0x7F))
            sub >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))
