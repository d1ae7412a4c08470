"""Pure parsers for SMB NEGOTIATE responses and SMB1 status replies.

Every function takes bytes and returns a model or raises ProtocolError: a hostile host gets no
other exception out of here. Messages are passed without the 4-byte transport header.

Layouts: [MS-SMB2] 2.2.1.2 (header), 2.2.4 (NEGOTIATE response), 2.2.3.1 (negotiate contexts);
[MS-CIFS] 2.2.3.1 (SMB header), 2.2.4.52.2 (NT LM 0.12 negotiate response), 2.2.4.53.2
(SESSION_SETUP_ANDX response); [MS-SMB] 2.2.4.6.2 (its extended-security form).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from duecare.probes.errors import ProtocolError
from duecare.probes.ntlm import find_challenge, parse_challenge
from duecare.probes.smb.facts import Ms17010Outcome, Smb1Negotiation, Smb1SessionSetup, Smb2Negotiation
from duecare.probes.smb.packets import (
    SMB1_COM_NEGOTIATE,
    SMB1_COM_SESSION_SETUP_ANDX,
    SMB1_HEADER_LEN,
    SMB2_DIALECTS,
    SMB2_HEADER_LEN,
)

#: Longest NEGOTIATE reply we accept: Windows sends ~300 bytes, Samba ~260.
MAX_NEGOTIATE_REPLY = 64 * 1024

# NT status values ([MS-ERREF] 2.3.1) that the MS17-010 logic reads.
STATUS_SUCCESS = 0x00000000
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
STATUS_INVALID_HANDLE = 0xC0000008
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_NOT_SUPPORTED = 0xC00000BB
STATUS_INSUFF_SERVER_RESOURCES = 0xC0000205

# [MS-SMB2] 2.2.4 SecurityMode; [MS-CIFS] 2.2.4.52.2 SecurityMode.
SMB2_SIGNING_ENABLED, SMB2_SIGNING_REQUIRED = 0x01, 0x02
SMB1_SIGNATURES_ENABLED, SMB1_SIGNATURES_REQUIRED = 0x04, 0x08
SMB1_CAP_EXTENDED_SECURITY = 0x80000000

_SMB2_MAGIC, _SMB1_MAGIC = b"\xfeSMB", b"\xffSMB"
_SMB2_FLAGS_SERVER_TO_REDIR = 0x00000001
_SMB1_FLAGS_REPLY = 0x80
_SMB2_WILDCARD = 0x02FF
_SMB2_NEGOTIATE_FIXED = 64  # StructureSize says 65: 64 fixed bytes + a variable buffer
_SMB2_ERROR_STRUCTURE_SIZE = 9
_SMB1_NT_LM_WORDS = 17
_NO_DIALECT = 0xFFFF
_MAX_CONTEXTS = 32
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_SMB1_FLAGS2_UNICODE = 0x8000
_SETUP_WORDS_EXTENDED, _SETUP_WORDS_PLAIN = 4, 3
_STRING_CAP = 256


@dataclass(frozen=True, slots=True)
class Rejected:
    """A well-formed NEGOTIATE reply that accepts nothing: an error status or no common dialect."""

    status: int
    dialect_index: int | None = None


def transport_length(header: bytes) -> int:
    """Length from a Direct-TCP header ([MS-SMB2] 2.1): a zero byte, then 24-bit big-endian."""
    if len(header) != 4:
        raise ProtocolError(f"SMB transport header of {len(header)} bytes, expected 4")
    if header[0] != 0:
        raise ProtocolError(f"SMB transport header type 0x{header[0]:02x}, expected 0 (session message)")
    length = int.from_bytes(header[1:], "big")
    if length == 0 or length > MAX_NEGOTIATE_REPLY:
        raise ProtocolError(f"SMB reply announces {length} bytes (allowed 1..{MAX_NEGOTIATE_REPLY})")
    return length


def filetime(ticks: int) -> datetime | None:
    """FILETIME (100 ns since 1601) → aware datetime; 0 and impossible values → None."""
    if ticks == 0:
        return None
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
    except OverflowError:
        return None


def dialect_name(code: int) -> str:
    return SMB2_DIALECTS.get(code, f"0x{code:04x}")


def _negotiate_contexts(msg: bytes, offset: int, count: int) -> tuple[int, ...]:
    """Context types from an SMB 3.1.1 NEGOTIATE reply, bounds-checked, 8-byte aligned."""
    if count > _MAX_CONTEXTS:
        raise ProtocolError(f"SMB2 NEGOTIATE claims {count} negotiate contexts")
    types: list[int] = []
    pos = offset
    for i in range(count):
        pos += -pos % 8 if i else 0
        if pos < SMB2_HEADER_LEN + _SMB2_NEGOTIATE_FIXED or pos + 8 > len(msg):
            raise ProtocolError(f"SMB2 negotiate context {i} at {pos} lies outside the reply")
        ctype, length = struct.unpack_from("<HH", msg, pos)
        if length > len(msg) - pos - 8:
            raise ProtocolError(f"SMB2 negotiate context {i} claims {length} bytes")
        types.append(ctype)
        pos += 8 + length
    return tuple(types)


def parse_smb2_negotiate(msg: bytes) -> Smb2Negotiation | Rejected:
    """An SMB2 NEGOTIATE reply → the server's choice, or Rejected(status) for an error reply."""
    if len(msg) < SMB2_HEADER_LEN:
        raise ProtocolError(f"SMB2 reply of {len(msg)} bytes, shorter than its header")
    if msg[:4] != _SMB2_MAGIC:
        raise ProtocolError(f"SMB2 reply starts with {msg[:4].hex()}, not FE 'SMB'")
    size, _credit, status, command, _credits, flags = struct.unpack_from("<HHIHHI", msg, 4)
    if size != SMB2_HEADER_LEN or command != 0 or not flags & _SMB2_FLAGS_SERVER_TO_REDIR:
        raise ProtocolError(f"not an SMB2 NEGOTIATE response (size {size}, command {command}, flags {flags})")
    if status != STATUS_SUCCESS:
        body = msg[SMB2_HEADER_LEN : SMB2_HEADER_LEN + 2]
        if len(body) == 2 and struct.unpack("<H", body)[0] != _SMB2_ERROR_STRUCTURE_SIZE:
            raise ProtocolError("SMB2 error reply without an ERROR body")
        return Rejected(status=status)
    if len(msg) < SMB2_HEADER_LEN + _SMB2_NEGOTIATE_FIXED:
        raise ProtocolError(f"SMB2 NEGOTIATE response of {len(msg)} bytes is truncated")
    (
        structure_size,
        security_mode,
        dialect,
        context_count,
        guid,
        capabilities,
        max_transact,
        max_read,
        max_write,
        system_time,
        start_time,
        blob_offset,
        blob_length,
        context_offset,
    ) = struct.unpack_from("<HHHH16sIIIIQQHHI", msg, SMB2_HEADER_LEN)
    if structure_size != 65:
        raise ProtocolError(f"SMB2 NEGOTIATE response StructureSize {structure_size}, expected 65")
    if dialect not in SMB2_DIALECTS and dialect != _SMB2_WILDCARD:
        raise ProtocolError(f"SMB2 NEGOTIATE chose unknown dialect 0x{dialect:04x}")
    if blob_length and (blob_offset < SMB2_HEADER_LEN or blob_offset + blob_length > len(msg)):
        raise ProtocolError(f"SMB2 security buffer {blob_offset}+{blob_length} lies outside the reply")
    contexts = _negotiate_contexts(msg, context_offset, context_count) if dialect == 0x0311 else ()
    return Smb2Negotiation(
        dialect=dialect,
        dialect_name=dialect_name(dialect),
        security_mode=security_mode,
        signing_enabled=bool(security_mode & SMB2_SIGNING_ENABLED),
        signing_required=bool(security_mode & SMB2_SIGNING_REQUIRED),
        capabilities=capabilities,
        server_guid=guid.hex(),
        max_transact_size=max_transact,
        max_read_size=max_read,
        max_write_size=max_write,
        system_time=filetime(system_time),
        server_start_time=filetime(start_time),
        security_blob_length=blob_length,
        negotiate_context_types=contexts,
    )


def smb1_status(msg: bytes) -> tuple[int, int]:
    """(command, NT status) of an SMB1 reply.

    With FLAGS2_NT_STATUS the 4 bytes are one LE32 status; in the old DOS form (class, reserved,
    code LE16) the same LE32 read gives class | code << 16, which is never zero on error either.
    """
    if len(msg) < SMB1_HEADER_LEN:
        raise ProtocolError(f"SMB1 reply of {len(msg)} bytes, shorter than its header")
    if msg[:4] != _SMB1_MAGIC:
        raise ProtocolError(f"SMB1 reply starts with {msg[:4].hex()}, not FF 'SMB'")
    command, status, flags = struct.unpack_from("<BIB", msg, 4)
    if not flags & _SMB1_FLAGS_REPLY:
        raise ProtocolError("SMB1 message is a request, not a reply")
    return command, status


def parse_smb1_negotiate(msg: bytes) -> Smb1Negotiation | Rejected:
    """An SMB_COM_NEGOTIATE reply to our NT LM 0.12 offer.

    Checks the status and DialectIndex, not only the FF 'SMB' magic: Samba with SMBv1 disabled
    still answers in SMB1 form, with DialectIndex 0xFFFF (nuclei-templates issue #4636).
    """
    if msg[:4] == _SMB2_MAGIC:
        return Rejected(status=STATUS_NOT_SUPPORTED)  # answered in SMB2: it will not speak SMB1
    command, status = smb1_status(msg)
    if command != SMB1_COM_NEGOTIATE:
        raise ProtocolError(f"SMB1 reply to NEGOTIATE carries command 0x{command:02x}")
    if status != STATUS_SUCCESS:
        return Rejected(status=status)
    if len(msg) < SMB1_HEADER_LEN + 3:
        raise ProtocolError("SMB1 NEGOTIATE response truncated before its DialectIndex")
    words = msg[SMB1_HEADER_LEN]
    if len(msg) < SMB1_HEADER_LEN + 1 + 2 * words:
        raise ProtocolError(f"SMB1 NEGOTIATE response claims {words} words, has fewer")
    (index,) = struct.unpack_from("<H", msg, SMB1_HEADER_LEN + 1)
    if index == _NO_DIALECT:
        return Rejected(status=status, dialect_index=index)
    if index != 0:
        raise ProtocolError(f"SMB1 NEGOTIATE chose dialect {index}; we offered one")
    if words != _SMB1_NT_LM_WORDS:
        raise ProtocolError(f"NT LM 0.12 response has {words} words, expected {_SMB1_NT_LM_WORDS}")
    (
        _index,
        security_mode,
        _max_mpx,
        _max_vcs,
        max_buffer,
        _max_raw,
        _session_key,
        capabilities,
        system_time,
        _tz,
        _challenge_len,
    ) = struct.unpack_from("<HBHHIIIIQhB", msg, SMB1_HEADER_LEN + 1)
    return Smb1Negotiation(
        dialect_index=index,
        security_mode=security_mode,
        signing_enabled=bool(security_mode & SMB1_SIGNATURES_ENABLED),
        signing_required=bool(security_mode & SMB1_SIGNATURES_REQUIRED),
        capabilities=capabilities,
        extended_security=bool(capabilities & SMB1_CAP_EXTENDED_SECURITY),
        max_buffer_size=max_buffer,
        system_time=filetime(system_time),
    )


def classify_ms17_010(status: int) -> Ms17010Outcome:
    """nmap smb-vuln-ms17-010: PeekNamedPipe on FID 0 — the unpatched srv.sys runs out of resources."""
    if status == STATUS_INSUFF_SERVER_RESOURCES:
        return Ms17010Outcome.VULNERABLE
    if status in (STATUS_ACCESS_DENIED, STATUS_INVALID_HANDLE):
        return Ms17010Outcome.PATCHED
    return Ms17010Outcome.UNEXPECTED_STATUS


def parse_ms17_010_reply(msg: bytes) -> tuple[Ms17010Outcome, int]:
    """The SMB_COM_TRANSACTION (0x25) reply to the check → (outcome, NT status)."""
    command, status = smb1_status(msg)
    if command != 0x25:
        raise ProtocolError(f"reply to SMB_COM_TRANSACTION carries command 0x{command:02x}")
    return classify_ms17_010(status), status


def _smb1_strings(raw: bytes, unicode: bool, count: int) -> list[str | None]:
    """Up to ``count`` NUL-terminated strings; the last may lack its NUL (Windows omits it at times)."""
    out: list[str | None] = []
    if unicode:
        units = [raw[i : i + 2] for i in range(0, len(raw) - 1, 2)]
        text = b"".join(units).decode("utf-16-le", "replace")
    else:
        text = raw.decode("latin-1")
    for part in text.split("\x00")[:count]:
        clean = "".join(ch if ch.isprintable() else "?" for ch in part).strip()[:_STRING_CAP]
        out.append(clean or None)
    return out + [None] * (count - len(out))


def parse_smb1_session_setup(msg: bytes) -> Smb1SessionSetup:
    """A SESSION_SETUP_ANDX reply → the server's NativeOS/NativeLanMan and its NTLM CHALLENGE.

    Read as a tolerant client reads it (Wireshark, nmap): a ByteCount past the end of the message is
    cut to what arrived, a last string without its NUL still counts. An error status carries no
    words: the status alone is the answer.
    """
    command, status = smb1_status(msg)
    if command != SMB1_COM_SESSION_SETUP_ANDX:
        raise ProtocolError(f"SMB1 reply to SESSION_SETUP_ANDX carries command 0x{command:02x}")
    if status not in (STATUS_SUCCESS, STATUS_MORE_PROCESSING_REQUIRED):
        return Smb1SessionSetup(nt_status=status)
    if len(msg) < SMB1_HEADER_LEN + 1:
        raise ProtocolError("SMB1 SESSION_SETUP_ANDX response truncated before its WordCount")
    (flags2,) = struct.unpack_from("<H", msg, 10)
    words = msg[SMB1_HEADER_LEN]
    if words not in (_SETUP_WORDS_EXTENDED, _SETUP_WORDS_PLAIN):
        raise ProtocolError(f"SESSION_SETUP_ANDX response has {words} words, expected 3 or 4")
    count_at = SMB1_HEADER_LEN + 1 + 2 * words
    if len(msg) < count_at + 2:
        raise ProtocolError(f"SESSION_SETUP_ANDX response claims {words} words, has fewer")
    blob_len = struct.unpack_from("<H", msg, count_at - 2)[0] if words == _SETUP_WORDS_EXTENDED else 0
    (byte_count,) = struct.unpack_from("<H", msg, count_at)
    data_at = count_at + 2
    data = msg[data_at : data_at + byte_count]
    if blob_len > len(data):
        raise ProtocolError(f"SESSION_SETUP_ANDX security blob of {blob_len} bytes lies outside the reply")
    blob, strings_at = data[:blob_len], data_at + blob_len
    unicode = bool(flags2 & _SMB1_FLAGS2_UNICODE)
    if unicode and strings_at % 2:
        strings_at += 1  # Unicode strings are aligned on 2 bytes from the start of the SMB header
    native_os, lanman, domain = _smb1_strings(msg[strings_at : data_at + byte_count], unicode, 3)
    challenge = find_challenge(blob) if blob else None
    ntlm = None
    if challenge is not None:
        try:
            ntlm = parse_challenge(challenge)
        except ProtocolError:
            ntlm = None  # a bad CHALLENGE costs the version, not the strings beside it
    return Smb1SessionSetup(
        nt_status=status,
        native_os=native_os,
        native_lanman=lanman,
        primary_domain=domain,
        os_version=None if ntlm is None else ntlm.product_version,
        netbios_name=None if ntlm is None else ntlm.netbios_computer_name,
        netbios_domain=None if ntlm is None else ntlm.netbios_domain_name,
    )
