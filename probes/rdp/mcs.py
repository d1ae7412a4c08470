"""MCS Connect-Initial / Connect-Response: the server's standard-RDP-security encryption level.

Only sent when standard RDP security was selected. Layout: X.224 Data TPDU (X.224 §13.7), MCS
Connect-Initial BER (T.125 §7, [MS-RDPBCGR] 2.2.1.3), GCC Conference Create Request PER (T.124,
bytes as in [MS-RDPBCGR] 4.1.3), client data blocks TS_UD_CS_CORE / _SEC / _NET (2.2.1.3.2-4).
The response is read for TS_UD_SC_CORE (2.2.1.4.2) and TS_UD_SC_SEC1 (2.2.1.4.3) only; we close
right after it, before any licensing or credentials.
"""

from __future__ import annotations

import struct

from duecare.probes.errors import ProtocolError
from duecare.probes.rdp.facts import EncryptionStatus, StandardSecurity
from duecare.probes.rdp.parse import tpkt

# encryptionMethods bits, [MS-RDPBCGR] 2.2.1.3.3.
METHODS = {0x01: "40-bit RC4", 0x02: "128-bit RC4", 0x08: "56-bit RC4", 0x10: "FIPS 140-1 3DES"}
ALL_METHODS = 0x01 | 0x02 | 0x08 | 0x10
LEVELS = {0: "None", 1: "Low", 2: "Client Compatible", 3: "High", 4: "FIPS Compliant"}
# TS_UD_SC_CORE version values, [MS-RDPBCGR] 2.2.1.4.2.
_VERSIONS = {
    0x00080001: "RDP 4.0",
    0x00080004: "RDP 5.x-8.x",
    0x00080005: "RDP 10.0",
    0x00080006: "RDP 10.1",
    0x00080007: "RDP 10.2",
    0x00080008: "RDP 10.3",
    0x00080009: "RDP 10.4",
    0x0008000A: "RDP 10.5",
    0x0008000B: "RDP 10.6",
    0x0008000C: "RDP 10.7",
}
_SC_CORE, _SC_SECURITY = 0x0C01, 0x0C02
_X224_DATA = b"\x02\xf0\x80"
_GCC_OBJECT = bytes.fromhex("000500147c0001")  # t124Identifier {0 0 20 124 0 1}
_GCC_CREATE_REQUEST = bytes.fromhex("0008001000 01c0 0044756361".replace(" ", ""))  # "Duca"
_SERVER_DATA_KEY = b"McDn"  # h221NonStandard key of the server's GCC Conference Create Response


def _ber_length(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else b"\x82" + struct.pack(">H", n)


def _ber(tag: bytes, value: bytes) -> bytes:
    return tag + _ber_length(len(value)) + value


def _domain_parameters(*values: int) -> bytes:
    body = b"".join(_ber(b"\x02", v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")) for v in values)
    return _ber(b"\x30", body)


def _per_length(n: int) -> bytes:
    return struct.pack(">H", 0x8000 | n)


def _client_core(selected_protocol: int) -> bytes:
    name = "DUECARE".encode("utf-16-le").ljust(32, b"\x00")
    body = (
        struct.pack("<IHHHHII", 0x00080004, 1024, 768, 0xCA01, 0xAA03, 0x0409, 2600)
        + name
        + struct.pack("<III", 4, 0, 12)  # keyboard type / subtype / function keys
        + b"\x00" * 64  # imeFileName
        + struct.pack("<HHIHHH", 0xCA01, 1, 0, 24, 0x0007, 0x0001)
        + b"\x00" * 64  # clientDigProductId
        + struct.pack("<BBI", 0, 0, selected_protocol)
    )
    return struct.pack("<HH", 0xC001, 4 + len(body)) + body


def connect_initial(encryption_methods: int = ALL_METHODS, selected_protocol: int = 0) -> bytes:
    """TPKT + X.224 DT + MCS Connect-Initial offering ``encryption_methods`` and no channels."""
    security = struct.pack("<HHII", 0xC002, 12, encryption_methods, 0)
    network = struct.pack("<HHI", 0xC003, 8, 0)
    user_data = _client_core(selected_protocol) + security + network
    gcc_pdu = _GCC_CREATE_REQUEST + _per_length(len(user_data)) + user_data
    gcc = _GCC_OBJECT + _per_length(len(gcc_pdu)) + gcc_pdu
    body = (
        _ber(b"\x04", b"\x01")  # callingDomainSelector
        + _ber(b"\x04", b"\x01")  # calledDomainSelector
        + _ber(b"\x01", b"\xff")  # upwardFlag
        + _domain_parameters(34, 2, 0, 1, 0, 1, 0xFFFF, 2)  # target
        + _domain_parameters(1, 1, 1, 1, 0, 1, 0x420, 2)  # minimum
        + _domain_parameters(0xFFFF, 0xFC17, 0xFFFF, 1, 0, 1, 0xFFFF, 2)  # maximum
        + _ber(b"\x04", gcc)
    )
    return tpkt(_X224_DATA + _ber(b"\x7f\x65", body))


def _server_blocks(data: bytes) -> dict[int, bytes]:
    at = data.find(_SERVER_DATA_KEY)
    if at < 0:
        raise ProtocolError("MCS Connect-Response carries no server data (no McDn key)")
    pos = at + len(_SERVER_DATA_KEY)
    if pos >= len(data):
        raise ProtocolError("MCS server data cut short")
    length = data[pos]
    pos += 1
    if length & 0x80:
        if pos >= len(data):
            raise ProtocolError("MCS server data length cut short")
        length = ((length & 0x7F) << 8) | data[pos]
        pos += 1
    end = min(len(data), pos + length)
    blocks: dict[int, bytes] = {}
    while pos + 4 <= end:
        kind, size = struct.unpack_from("<HH", data, pos)
        if size < 4 or pos + size > end:
            raise ProtocolError(f"server data block 0x{kind:04x} of {size} bytes overruns")
        blocks.setdefault(kind, data[pos + 4 : pos + size])
        pos += size
    return blocks


def parse_connect_response(packet: bytes) -> StandardSecurity:
    """Server version, chosen method and level from a TPKT-framed MCS Connect-Response."""
    if len(packet) < 7 or packet[4:7] != _X224_DATA:
        raise ProtocolError("reply to MCS Connect-Initial is not an X.224 Data TPDU")
    if packet[7:9] != b"\x7f\x66":
        raise ProtocolError("reply is not an MCS Connect-Response")
    # result ENUMERATED right after the BER length: 0 = rt-successful (T.125 §7).
    pos = 9
    first = packet[pos] if pos < len(packet) else 0xFF
    pos += 1 + (first & 0x7F if first & 0x80 else 0)
    if pos + 3 > len(packet) or packet[pos : pos + 2] != b"\x0a\x01":
        raise ProtocolError("MCS Connect-Response result missing")
    result = packet[pos + 2]
    if result != 0:
        return StandardSecurity(status=EncryptionStatus.NOT_DETERMINED, detail=f"MCS Connect-Response result {result}")
    blocks = _server_blocks(packet[pos + 3 :])
    core, sec = blocks.get(_SC_CORE), blocks.get(_SC_SECURITY)
    version = None
    if core is not None and len(core) >= 4:
        code = struct.unpack_from("<I", core)[0]
        version = _VERSIONS.get(code, f"unknown 0x{code:08x}")
    if sec is None or len(sec) < 8:
        return StandardSecurity(
            status=EncryptionStatus.NOT_DETERMINED,
            server_version=version,
            detail="no server security data block",
        )
    method, level = struct.unpack_from("<II", sec)
    return StandardSecurity(
        status=EncryptionStatus.DETERMINED,
        server_version=version,
        encryption_method=METHODS.get(method, "none" if method == 0 else f"unknown 0x{method:x}"),
        encryption_level=LEVELS.get(level, f"unknown {level}"),
    )
