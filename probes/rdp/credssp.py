"""CredSSP TSRequest, just enough to carry one NTLM NEGOTIATE and read the CHALLENGE back.

[MS-CSSP] 2.2.1: TSRequest ::= SEQUENCE { version [0] INTEGER, negoTokens [1] NegoData OPTIONAL,
authInfo [2], pubKeyAuth [3], errorCode [4] INTEGER OPTIONAL, clientNonce [5] }, NegoData ::=
SEQUENCE OF SEQUENCE { negoToken [0] OCTET STRING }. DER (X.690 §8, §10). We never build the
authInfo / pubKeyAuth steps: no AUTHENTICATE message is ever sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from duecare.probes.ber import tlv
from duecare.probes.errors import ProtocolError

#: CredSSP version we announce (Windows 10 / Server 2016 and later send 6).
CREDSSP_VERSION = 6
#: A TSRequest carrying a CHALLENGE is a few hundred bytes; more is refused.
TSREQUEST_MAX = 16 * 1024
_SEQUENCE, _INTEGER, _OCTET_STRING = 0x30, 0x02, 0x04


def _context(number: int, value: bytes) -> bytes:
    return tlv(0xA0 | number, value)


def _integer(n: int) -> bytes:
    return tlv(_INTEGER, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


def ts_request(nego_token: bytes, version: int = CREDSSP_VERSION) -> bytes:
    """A TSRequest whose only payload is ``nego_token`` (an NTLM NEGOTIATE message)."""
    token = tlv(_SEQUENCE, _context(0, tlv(_OCTET_STRING, nego_token)))
    return tlv(_SEQUENCE, _context(0, _integer(version)) + _context(1, tlv(_SEQUENCE, token)))


def bytes_needed(prefix: bytes) -> int | None:
    """Total length of the DER SEQUENCE that ``prefix`` starts, or None if more header is needed."""
    if not prefix:
        return None
    if prefix[0] != _SEQUENCE:
        raise ProtocolError(f"TSRequest does not start with a SEQUENCE (0x{prefix[0]:02x})")
    if len(prefix) < 2:
        return None
    first = prefix[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 3:
        raise ProtocolError(f"TSRequest length uses {count} octets")
    if len(prefix) < 2 + count:
        return None
    total = 2 + count + int.from_bytes(prefix[2 : 2 + count], "big")
    if total > TSREQUEST_MAX:
        raise ProtocolError(f"TSRequest of {total} bytes, over the {TSREQUEST_MAX}-byte cap")
    return total


def _readtlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, value start, value end) of the TLV at ``pos``; must lie within ``end``."""
    if pos + 2 > end:
        raise ProtocolError("DER element cut short")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 3 or pos + count > end:
            raise ProtocolError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if length > end - pos:
        raise ProtocolError(f"DER element of {length} bytes overruns its container")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    pos = start
    while pos < end:
        tag, vstart, vend = _readtlv(data, pos, end)
        out.append((tag, vstart, vend))
        pos = vend
    return out


@dataclass(frozen=True, slots=True)
class TsRequest:
    version: int | None
    nego_token: bytes | None
    error_code: int | None


def _int_inside(data: bytes, start: int, end: int, *, signed: bool) -> int:
    tag, vs, ve = _readtlv(data, start, end)
    if tag != _INTEGER or ve == vs or ve - vs > 8:
        raise ProtocolError("TSRequest integer malformed")
    return int.from_bytes(data[vs:ve], "big", signed=signed)


def parse_ts_request(data: bytes) -> TsRequest:
    """Version, first negoToken and errorCode of a server TSRequest; malformed → ProtocolError."""
    tag, start, end = _readtlv(data, 0, len(data))
    if tag != _SEQUENCE:
        raise ProtocolError("TSRequest is not a SEQUENCE")
    version: int | None = None
    token: bytes | None = None
    error: int | None = None
    for ctag, cs, ce in _children(data, start, end):
        if ctag == 0xA0:
            # version has no negative values: 0x86 without its leading zero octet still means 134
            version = _int_inside(data, cs, ce, signed=False)
        elif ctag == 0xA1 and token is None:
            # negoTokens [1] SEQUENCE OF SEQUENCE { [0] OCTET STRING }: take the first token.
            stag, ss, se = _readtlv(data, cs, ce)
            items = _children(data, ss, se) if stag == _SEQUENCE else []
            if items and items[0][0] == _SEQUENCE:
                inner = _children(data, items[0][1], items[0][2])
                if inner and inner[0][0] == 0xA0:
                    otag, os_, oe = _readtlv(data, inner[0][1], inner[0][2])
                    if otag == _OCTET_STRING:
                        token = data[os_:oe]
        elif ctag == 0xA4:
            # an NTSTATUS is 32 bits: 02 04 c0 00 00 6d and 02 05 00 c0 00 00 6d both mean 0xC000006D
            error = _int_inside(data, cs, ce, signed=True) & 0xFFFFFFFF
    return TsRequest(version=version, nego_token=token, error_code=error)
