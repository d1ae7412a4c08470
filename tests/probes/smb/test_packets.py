"""probes.smb.packets: the NEGOTIATE requests we send, checked field by field ([MS-SMB2] 2.2.3)."""

from __future__ import annotations

import struct

import pytest

from duecare.probes.smb.packets import (
    DIALECT_210,
    DIALECT_311,
    SMB1_DIALECT,
    SMB2_DIALECTS,
    smb1_negotiate_request,
    smb2_negotiate_request,
)

GUID = bytes(range(16))
SALT = bytes(range(100, 132))


def _unframe(packet: bytes) -> bytes:
    assert packet[0] == 0
    assert int.from_bytes(packet[1:4], "big") == len(packet) - 4
    return packet[4:]


def test_smb2_all_dialects_with_contexts() -> None:
    msg = _unframe(smb2_negotiate_request(list(SMB2_DIALECTS), client_guid=GUID, salt=SALT))
    assert msg[:4] == b"\xfeSMB"
    assert struct.unpack_from("<HHIH", msg, 4) == (64, 0, 0, 0)  # StructureSize, credit, status, NEGOTIATE
    size, count, security_mode, _reserved, caps, guid = struct.unpack_from("<HHHHI16s", msg, 64)
    assert (size, count, security_mode, caps, guid) == (36, 5, 0x01, 0, GUID)
    ctx_offset, ctx_count = struct.unpack_from("<IH", msg, 64 + 28)
    dialects = struct.unpack_from("<5H", msg, 64 + 36)
    assert dialects == tuple(SMB2_DIALECTS)
    assert ctx_count == 2
    assert ctx_offset % 8 == 0 and ctx_offset >= 64 + 36 + 10
    # PREAUTH_INTEGRITY_CAPABILITIES: one hash (SHA-512) and our salt.
    ctype, length = struct.unpack_from("<HH", msg, ctx_offset)
    assert ctype == 1
    assert struct.unpack_from("<HHH", msg, ctx_offset + 8) == (1, len(SALT), 1)
    assert msg[ctx_offset + 14 : ctx_offset + 14 + len(SALT)] == SALT
    # ENCRYPTION_CAPABILITIES starts at the next 8-byte boundary.
    second = ctx_offset + 8 + length
    second += -second % 8
    assert struct.unpack_from("<HH", msg, second) == (2, 6)
    assert struct.unpack_from("<3H", msg, second + 8) == (2, 2, 1)
    assert len(msg) == second + 8 + 6


def test_smb2_single_old_dialect_has_no_contexts() -> None:
    msg = _unframe(smb2_negotiate_request([DIALECT_210], client_guid=GUID, salt=SALT))
    assert struct.unpack_from("<H", msg, 66)[0] == 1
    assert struct.unpack_from("<Q", msg, 64 + 28)[0] == 0  # ClientStartTime
    assert struct.unpack_from("<H", msg, 64 + 36)[0] == DIALECT_210
    assert len(msg) == 64 + 36 + 2


def test_smb2_single_311_has_contexts() -> None:
    msg = _unframe(smb2_negotiate_request([DIALECT_311], client_guid=GUID, salt=SALT))
    ctx_offset, ctx_count = struct.unpack_from("<IH", msg, 64 + 28)
    assert ctx_count == 2 and ctx_offset % 8 == 0
    assert struct.unpack_from("<H", msg, ctx_offset)[0] == 1


@pytest.mark.parametrize(("dialects", "guid"), [([], GUID), ([DIALECT_210], b"short")])
def test_smb2_bad_arguments(dialects: list[int], guid: bytes) -> None:
    with pytest.raises(ValueError, match="dialect"):
        smb2_negotiate_request(dialects, client_guid=guid, salt=SALT)


def test_smb1_negotiate_offers_only_nt_lm() -> None:
    msg = _unframe(smb1_negotiate_request())
    assert msg[:5] == b"\xffSMBr"
    assert struct.unpack_from("<I", msg, 5)[0] == 0
    flags2 = struct.unpack_from("<H", msg, 10)[0]
    assert flags2 & 0x0800  # extended security
    assert flags2 & 0x4000  # NT status codes
    word_count, byte_count = struct.unpack_from("<BH", msg, 32)
    assert word_count == 0
    assert msg[35:] == b"\x02" + SMB1_DIALECT.encode() + b"\x00"
    assert byte_count == len(msg) - 35
