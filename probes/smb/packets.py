"""Pure builders for the few SMB requests we send ourselves (NEGOTIATE, and SMB1's first SESSION_SETUP).

We build NEGOTIATE by hand rather than through impacket because impacket cannot offer one
dialect at a time for 3.0.2 and overrides the server's signing flag at 3.1.1 (see
detection-methods.md §3.1–3.2); our own bytes let us keep the server's answer verbatim.

Layouts: [MS-SMB2] 2.2.1.2 (SMB2 header), 2.2.3 (NEGOTIATE request), 2.2.3.1 (negotiate
contexts); [MS-CIFS] 2.2.3.1 (SMB header), 2.2.4.52.1 (SMB_COM_NEGOTIATE request);
[MS-SMB2] 2.1 (Direct TCP transport: 1 zero byte + 24-bit big-endian length);
[MS-SMB] 2.2.4.6.1 (SMB_COM_SESSION_SETUP_ANDX request, extended security); RFC 4178 (SPNEGO).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from duecare.probes.ber import tlv

DIALECT_202, DIALECT_210, DIALECT_300, DIALECT_302, DIALECT_311 = 0x0202, 0x0210, 0x0300, 0x0302, 0x0311
#: Every SMB2/3 dialect a current client knows, oldest first, with the name Microsoft uses.
SMB2_DIALECTS: dict[int, str] = {
    DIALECT_202: "2.0.2",
    DIALECT_210: "2.1",
    DIALECT_300: "3.0",
    DIALECT_302: "3.0.2",
    DIALECT_311: "3.1.1",
}
SMB1_DIALECT = "NT LM 0.12"
#: Dialects impacket's SMBConnection accepts as ``preferredDialect`` (3.0.2 is not among them).
IMPACKET_DIALECTS = frozenset({DIALECT_202, DIALECT_210, DIALECT_300, DIALECT_311})

_SMB2_MAGIC = b"\xfeSMB"
_SMB1_MAGIC = b"\xffSMB"
SMB2_HEADER_LEN = 64
SMB1_HEADER_LEN = 32
SMB1_COM_NEGOTIATE = 0x72
SMB1_COM_SESSION_SETUP_ANDX = 0x73
SMB2_COM_NEGOTIATE = 0x0000

# [MS-SMB2] 2.2.3: we ask for signing to be possible but do not insist, as Windows does.
_SMB2_SIGNING_ENABLED = 0x0001
_PREAUTH_INTEGRITY, _ENCRYPTION = 0x0001, 0x0002
_SHA512 = 0x0001
_AES128_GCM, _AES128_CCM = 0x0002, 0x0001

# [MS-CIFS] 2.2.3.1: case-insensitive + canonical paths; Unicode, NT status codes, extended
# security and long names: what every NT-era client sends.
_SMB1_FLAGS = 0x18
_SMB1_FLAGS2 = 0x8000 | 0x4000 | 0x0800 | 0x0001


def netbios_header(message: bytes) -> bytes:
    """Direct-TCP framing: type 0 (session message) and a 24-bit big-endian length."""
    if len(message) > 0xFFFFFF:
        raise ValueError("SMB message longer than the 24-bit transport length")
    return b"\x00" + len(message).to_bytes(3, "big")


def _smb2_header(command: int, message_id: int) -> bytes:
    return struct.pack(
        "<4sHHIHHIIQIIQ16s",
        _SMB2_MAGIC,
        SMB2_HEADER_LEN,
        0,  # CreditCharge: 0 is what clients send on NEGOTIATE
        0,  # Status
        command,
        1,  # CreditRequest
        0,  # Flags
        0,  # NextCommand
        message_id,
        0xFEFF,  # Reserved (ProcessId in the sync header)
        0,  # TreeId
        0,  # SessionId
        b"\x00" * 16,
    )


def _pad8(length: int) -> bytes:
    return b"\x00" * (-length % 8)


def _negotiate_contexts(salt: bytes) -> bytes:
    """PREAUTH_INTEGRITY (mandatory for 3.1.1, [MS-SMB2] 3.3.5.4) and ENCRYPTION capabilities."""
    preauth = struct.pack("<HHH", 1, len(salt), _SHA512) + salt
    ciphers = struct.pack("<HHH", 2, _AES128_GCM, _AES128_CCM)
    out = b""
    for ctype, data in ((_PREAUTH_INTEGRITY, preauth), (_ENCRYPTION, ciphers)):
        out += _pad8(len(out)) + struct.pack("<HHI", ctype, len(data), 0) + data
    return out


def smb2_negotiate_request(dialects: Sequence[int], *, client_guid: bytes, salt: bytes) -> bytes:
    """A framed SMB2 NEGOTIATE offering ``dialects`` (3.1.1 adds its negotiate contexts)."""
    if not dialects or len(client_guid) != 16 or len(salt) > 0xFFFF:
        raise ValueError("need at least one dialect, a 16-byte client GUID and a short salt")
    with_contexts = DIALECT_311 in dialects
    dialect_bytes = b"".join(struct.pack("<H", d) for d in dialects)
    fixed_len = 36
    if with_contexts:
        ctx_offset = SMB2_HEADER_LEN + fixed_len + len(dialect_bytes)
        ctx_offset += -ctx_offset % 8
        tail = struct.pack("<IHH", ctx_offset, 2, 0)
    else:
        tail = struct.pack("<Q", 0)  # ClientStartTime, must be zero
    body = (
        struct.pack("<HHHHI16s", fixed_len, len(dialects), _SMB2_SIGNING_ENABLED, 0, 0, client_guid)
        + tail
        + dialect_bytes
    )
    message = _smb2_header(SMB2_COM_NEGOTIATE, 0) + body
    if with_contexts:
        message += _pad8(len(message)) + _negotiate_contexts(salt)
    return netbios_header(message) + message


def _smb1_header(command: int, *, mid: int) -> bytes:
    """The 32-byte SMB1 header of a client request before logon (TID 0, UID 0, PIDLow 0xFEFF)."""
    return struct.pack(
        "<4sBIBHH8sHHHHH",
        _SMB1_MAGIC,
        command,
        0,  # Status
        _SMB1_FLAGS,
        _SMB1_FLAGS2,
        0,  # PIDHigh
        b"\x00" * 8,  # SecurityFeatures
        0,  # Reserved
        0,  # TID
        0xFEFF,  # PIDLow
        0,  # UID
        mid,
    )


def smb1_negotiate_request(dialects: Sequence[str] = (SMB1_DIALECT,)) -> bytes:
    """A framed SMB_COM_NEGOTIATE offering only the given SMB1 dialect strings."""
    data = b"".join(b"\x02" + d.encode("ascii") + b"\x00" for d in dialects)
    header = _smb1_header(SMB1_COM_NEGOTIATE, mid=0)
    message = header + struct.pack("<BH", 0, len(data)) + data
    return netbios_header(message) + message


# [MS-SMB] 2.2.4.6.1 Capabilities: Unicode, NT status, NT SMBs, extended security.
_SMB1_CLIENT_CAPS = 0x80000000 | 0x40 | 0x10 | 0x04
_SMB1_MAX_BUFFER = 4356  # what Windows clients send
_SPNEGO_OID = bytes.fromhex("2b0601050502")  # 1.3.6.1.5.5.2
_NTLMSSP_OID = bytes.fromhex("2b06010401823702020a")  # 1.3.6.1.4.1.311.2.2.10


def spnego_init(mech_token: bytes) -> bytes:
    """GSS-API InitialContextToken carrying a NegTokenInit that offers NTLMSSP only (RFC 4178 4.2.1)."""
    mech_types = tlv(0xA0, tlv(0x30, tlv(0x06, _NTLMSSP_OID)))
    token = tlv(0xA2, tlv(0x04, mech_token))
    return tlv(0x60, tlv(0x06, _SPNEGO_OID) + tlv(0xA0, tlv(0x30, mech_types + token)))


def smb1_session_setup_request(security_blob: bytes, *, mid: int = 1) -> bytes:
    """A framed extended-security SESSION_SETUP_ANDX carrying ``security_blob`` (UID 0, no AndX).

    NativeOS and NativeLanMan are sent empty: a client need not name itself to learn the server's.
    """
    if len(security_blob) > 0xFFFF:
        raise ValueError("security blob longer than 65535 bytes")
    header = _smb1_header(SMB1_COM_SESSION_SETUP_ANDX, mid=mid)
    words = struct.pack(
        "<BBHHHHIHII",
        0xFF,  # AndXCommand: none
        0,  # AndXReserved
        0,  # AndXOffset
        _SMB1_MAX_BUFFER,
        2,  # MaxMpxCount
        1,  # VcNumber: not 0, which asks the server to drop this client's other sessions
        0,  # SessionKey
        len(security_blob),
        0,  # Reserved
        _SMB1_CLIENT_CAPS,
    )
    # Unicode strings start on an even offset from the SMB header: 32 + 1 + 24 + 2 + blob.
    pad = b"\x00" * ((SMB1_HEADER_LEN + 1 + len(words) + 2 + len(security_blob)) % 2)
    data = security_blob + pad + b"\x00\x00" + b"\x00\x00"  # empty NativeOS, NativeLanMan
    message = header + bytes((len(words) // 2,)) + words + struct.pack("<H", len(data)) + data
    return netbios_header(message) + message
