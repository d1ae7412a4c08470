"""probes.smb.parse on real Samba 4.17 replies, plus fuzzing: only models or ProtocolError come out."""

from __future__ import annotations

import contextlib
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.ntlm import NtlmVersion, negotiate_message
from duecare.probes.smb.facts import Ms17010Outcome, Smb1Negotiation, Smb1SessionSetup, Smb2Negotiation
from duecare.probes.smb.packets import smb1_session_setup_request, spnego_init
from duecare.probes.smb.parse import (
    MAX_NEGOTIATE_REPLY,
    STATUS_ACCESS_DENIED,
    STATUS_INSUFF_SERVER_RESOURCES,
    STATUS_INVALID_HANDLE,
    STATUS_NOT_SUPPORTED,
    Rejected,
    classify_ms17_010,
    filetime,
    parse_ms17_010_reply,
    parse_smb1_negotiate,
    parse_smb1_session_setup,
    parse_smb2_negotiate,
    smb1_status,
    transport_length,
)

FIXTURES = Path(__file__).parent / "fixtures"
ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.bin"))


def framed(name: str) -> bytes:
    """A captured reply without its transport header, after checking that header."""
    data = (FIXTURES / name).read_bytes()
    assert transport_length(data[:4]) == len(data) - 4
    return data[4:]


def smb2(name: str) -> Smb2Negotiation:
    parsed = parse_smb2_negotiate(framed(name))
    assert isinstance(parsed, Smb2Negotiation)
    return parsed


def smb1(name: str) -> Smb1Negotiation:
    parsed = parse_smb1_negotiate(framed(name))
    assert isinstance(parsed, Smb1Negotiation)
    return parsed


# -- SMB2/3 ------------------------------------------------------------------------------------


def test_smb311_signing_enabled_not_required() -> None:
    """The reply impacket misreads: 3.1.1 with SecurityMode 0x01 is NOT 'signing required'."""
    n = smb2("samba417_nt1_smb2_negotiate_all.bin")
    assert (n.dialect, n.dialect_name) == (0x0311, "3.1.1")
    assert n.security_mode == 0x01
    assert n.signing_enabled and not n.signing_required
    assert n.negotiate_context_types == (1,)  # PREAUTH_INTEGRITY_CAPABILITIES
    assert n.security_blob_length == 74
    assert n.server_guid == "64637332300000000000000000000000"  # Samba: netbios name, padded
    assert n.system_time is not None and n.system_time.year >= 2024
    assert n.server_start_time is None  # Samba sends 0


def test_smb311_signing_required() -> None:
    n = smb2("samba417_smb3only_smb2_negotiate_all.bin")
    assert n.dialect_name == "3.1.1"
    assert n.security_mode == 0x03
    assert n.signing_enabled and n.signing_required


@pytest.mark.parametrize(
    ("name", "dialect"),
    [("samba417_nt1_smb2_negotiate_210.bin", 0x0210), ("samba417_nt1_smb2_negotiate_302.bin", 0x0302)],
)
def test_single_dialect_answers(name: str, dialect: int) -> None:
    n = smb2(name)
    assert n.dialect == dialect
    assert n.security_mode == 0x01
    assert n.negotiate_context_types == ()


def test_single_dialect_refused_with_status() -> None:
    parsed = parse_smb2_negotiate(framed("samba417_smb3only_smb2_negotiate_300.bin"))
    assert parsed == Rejected(status=STATUS_NOT_SUPPORTED)


def test_smb2_rejects_smb1_reply() -> None:
    with pytest.raises(ProtocolError, match="not FE"):
        parse_smb2_negotiate(framed("samba417_nt1_smb1_negotiate.bin"))


def test_smb2_rejects_security_buffer_outside_reply() -> None:
    msg = bytearray(framed("samba417_nt1_smb2_negotiate_all.bin"))
    struct.pack_into("<H", msg, 64 + 58, 0xFFFF)  # SecurityBufferLength
    with pytest.raises(ProtocolError, match="security buffer"):
        parse_smb2_negotiate(bytes(msg))


def test_smb2_rejects_context_overrun() -> None:
    msg = bytearray(framed("samba417_nt1_smb2_negotiate_all.bin"))
    struct.pack_into("<H", msg, 64 + 6, 5)  # NegotiateContextCount: 5, but only 1 present
    with pytest.raises(ProtocolError, match="negotiate context"):
        parse_smb2_negotiate(bytes(msg))


def test_smb2_rejects_unknown_dialect() -> None:
    msg = bytearray(framed("samba417_nt1_smb2_negotiate_210.bin"))
    struct.pack_into("<H", msg, 64 + 4, 0x0400)
    with pytest.raises(ProtocolError, match="unknown dialect"):
        parse_smb2_negotiate(bytes(msg))


def test_smb2_rejects_a_request() -> None:
    msg = bytearray(framed("samba417_nt1_smb2_negotiate_210.bin"))
    struct.pack_into("<I", msg, 16, 0)  # Flags without SERVER_TO_REDIR
    with pytest.raises(ProtocolError, match="not an SMB2 NEGOTIATE response"):
        parse_smb2_negotiate(bytes(msg))


# -- SMB1 --------------------------------------------------------------------------------------


def test_smb1_accepted_signing_not_required() -> None:
    n = smb1("samba417_nt1_smb1_negotiate.bin")
    assert n.dialect_index == 0
    assert n.security_mode == 0x07
    assert n.signing_enabled and not n.signing_required
    assert n.extended_security


def test_smb1_accepted_signing_required() -> None:
    n = smb1("samba417_nt1_mandatory_smb1_negotiate.bin")
    assert n.security_mode == 0x0F
    assert n.signing_required


def test_smb1_refusal_in_smb1_form_is_not_acceptance() -> None:
    """nuclei-templates #4636: FF 'SMB' 72 with DialectIndex 0xFFFF means SMBv1 is off."""
    msg = framed("samba417_smb3only_smb1_negotiate.bin")
    assert msg[:5] == b"\xffSMBr"
    assert parse_smb1_negotiate(msg) == Rejected(status=0, dialect_index=0xFFFF)


def test_smb1_error_status_is_a_refusal() -> None:
    msg = bytearray(framed("samba417_nt1_smb1_negotiate.bin"))
    struct.pack_into("<I", msg, 5, STATUS_NOT_SUPPORTED)
    assert parse_smb1_negotiate(bytes(msg)) == Rejected(status=STATUS_NOT_SUPPORTED)


def test_smb1_answered_in_smb2_is_a_refusal() -> None:
    parsed = parse_smb1_negotiate(framed("samba417_nt1_smb2_negotiate_210.bin"))
    assert isinstance(parsed, Rejected)


def test_smb1_wrong_word_count() -> None:
    msg = bytearray(framed("samba417_nt1_smb1_negotiate.bin"))
    msg[32] = 13  # LANMAN-style word count for an NT LM answer
    with pytest.raises(ProtocolError, match="words"):
        parse_smb1_negotiate(bytes(msg))


def test_smb1_dialect_we_did_not_offer() -> None:
    msg = bytearray(framed("samba417_nt1_smb1_negotiate.bin"))
    struct.pack_into("<H", msg, 33, 3)
    with pytest.raises(ProtocolError, match="offered one"):
        parse_smb1_negotiate(bytes(msg))


# -- MS17-010 ----------------------------------------------------------------------------------


def _trans_reply_with(status: int) -> bytes:
    msg = bytearray((FIXTURES / "samba417_nt1_ms17_010_trans_reply.bin").read_bytes())
    struct.pack_into("<I", msg, 5, status)
    return bytes(msg)


def test_ms17_real_samba_reply_is_patched() -> None:
    raw = (FIXTURES / "samba417_nt1_ms17_010_trans_reply.bin").read_bytes()
    assert parse_ms17_010_reply(raw) == (Ms17010Outcome.PATCHED, STATUS_INVALID_HANDLE)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (STATUS_INSUFF_SERVER_RESOURCES, Ms17010Outcome.VULNERABLE),
        (STATUS_ACCESS_DENIED, Ms17010Outcome.PATCHED),
        (STATUS_INVALID_HANDLE, Ms17010Outcome.PATCHED),
        (STATUS_NOT_SUPPORTED, Ms17010Outcome.UNEXPECTED_STATUS),
        (0, Ms17010Outcome.UNEXPECTED_STATUS),
    ],
)
def test_ms17_status_classes(status: int, outcome: Ms17010Outcome) -> None:
    assert classify_ms17_010(status) is outcome
    assert parse_ms17_010_reply(_trans_reply_with(status)) == (outcome, status)


def test_ms17_reply_for_another_command() -> None:
    msg = bytearray(_trans_reply_with(STATUS_INSUFF_SERVER_RESOURCES))
    msg[4] = 0x72
    with pytest.raises(ProtocolError, match="command 0x72"):
        parse_ms17_010_reply(bytes(msg))


def test_smb1_status_rejects_requests() -> None:
    msg = bytearray((FIXTURES / "samba417_nt1_ms17_010_trans_reply.bin").read_bytes())
    msg[9] &= 0x7F  # clear the reply flag
    with pytest.raises(ProtocolError, match="request"):
        smb1_status(bytes(msg))


# -- framing and times -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [b"\x85\x00\x00\x00", b"\x00\x00\x00\x00", b"\x00\xff\xff\xff", b"\x00\x00\x01", b""],
)
def test_transport_header_rejected(header: bytes) -> None:
    with pytest.raises(ProtocolError):
        transport_length(header)


def test_transport_header_cap() -> None:
    assert transport_length(b"\x00" + MAX_NEGOTIATE_REPLY.to_bytes(3, "big")) == MAX_NEGOTIATE_REPLY
    with pytest.raises(ProtocolError):
        transport_length(b"\x00" + (MAX_NEGOTIATE_REPLY + 1).to_bytes(3, "big"))


def test_filetime() -> None:
    assert filetime(0) is None
    assert filetime(2**64 - 1) is None
    # Unix time = ticks / 10**7 - 11644473600 ([MS-DTYP] 2.3.3): 1655526400.
    assert filetime(133_000_000_000_000_000) == datetime.fromtimestamp(1_655_526_400, UTC)


# -- fuzz --------------------------------------------------------------------------------------

# -- SMB1 SESSION_SETUP_ANDX (NativeOS / NativeLanMan) ---------------------------------------------
# Expected values: tshark 4.0.17's reading of the same frame (fixtures/README.md), not our parser's.

SETUP = "samba417_nt1_smb1_session_setup.bin"


def test_session_setup_request_is_the_one_tshark_dissected() -> None:
    """tshark read the captured request as Session Setup AndX Request, NTLMSSP_NEGOTIATE (SPNEGO)."""
    sent = (FIXTURES / "duecare_smb1_session_setup_request.bin").read_bytes()
    assert smb1_session_setup_request(spnego_init(negotiate_message())) == sent
    assert transport_length(sent[:4]) == len(sent) - 4


def test_session_setup_samba_names() -> None:
    setup = parse_smb1_session_setup(framed(SETUP))
    assert setup == Smb1SessionSetup(
        nt_status=0xC0000016,  # STATUS_MORE_PROCESSING_REQUIRED
        native_os="Windows 6.1",
        native_lanman="Samba 4.17.12-Debian",
        primary_domain="LAB",
        os_version=NtlmVersion(major=6, minor=1, build=0),  # "Version 6.1 (Build 0)"
        netbios_name="FILESRV01",
        netbios_domain="FILESRV01",
    )


def test_session_setup_error_status_carries_only_the_status() -> None:
    msg = bytearray(framed(SETUP))
    struct.pack_into("<I", msg, 5, 0xC000006D)  # STATUS_LOGON_FAILURE
    assert parse_smb1_session_setup(bytes(msg)) == Smb1SessionSetup(nt_status=0xC000006D)


def test_session_setup_byte_count_past_the_end_reads_what_arrived() -> None:
    """Tolerant like Wireshark: a cut-off reply still gives the strings that arrived whole."""
    msg = framed(SETUP)
    cut = msg[: msg.index("Samba".encode("utf-16-le")) + len("Samba".encode("utf-16-le"))]
    setup = parse_smb1_session_setup(cut)
    assert (setup.native_os, setup.native_lanman, setup.primary_domain) == ("Windows 6.1", "Samba", None)


def test_session_setup_blob_outside_the_reply_is_refused() -> None:
    msg = bytearray(framed(SETUP))
    struct.pack_into("<H", msg, 32 + 1 + 6, 0xFFFF)  # SecurityBlobLength
    with pytest.raises(ProtocolError, match="security blob"):
        parse_smb1_session_setup(bytes(msg))


def test_session_setup_wrong_command_or_words() -> None:
    with pytest.raises(ProtocolError, match="command 0x72"):
        parse_smb1_session_setup(framed("samba417_nt1_smb1_negotiate.bin"))
    msg = bytearray(framed(SETUP))
    msg[32] = 2
    with pytest.raises(ProtocolError, match="2 words"):
        parse_smb1_session_setup(bytes(msg))


@given(st.binary(max_size=300), st.booleans())
def test_fuzz_session_setup_strings(tail: bytes, unicode: bool) -> None:
    """Any bytes after the blob: printable strings of bounded length, or nothing."""
    msg = bytearray(framed(SETUP))
    flags2 = struct.unpack_from("<H", msg, 10)[0]
    struct.pack_into("<H", msg, 10, flags2 | 0x8000 if unicode else flags2 & ~0x8000)
    blob_len = struct.unpack_from("<H", msg, 32 + 7)[0]
    data_at = 32 + 1 + 8 + 2
    out = bytearray(msg[: data_at + blob_len] + tail)
    struct.pack_into("<H", out, data_at - 2, blob_len + len(tail))
    setup = parse_smb1_session_setup(bytes(out))
    for text in (setup.native_os, setup.native_lanman, setup.primary_domain):
        assert text is None or (text.isprintable() and len(text) <= 256)


_PARSERS = (parse_smb2_negotiate, parse_smb1_negotiate, smb1_status, parse_ms17_010_reply, parse_smb1_session_setup)


def _only_protocol_errors(blob: bytes) -> None:
    for parser in _PARSERS:
        with contextlib.suppress(ProtocolError):
            parser(blob)
    with contextlib.suppress(ProtocolError):
        transport_length(blob[:4])


@given(st.binary(max_size=400))
def test_fuzz_garbage(blob: bytes) -> None:
    _only_protocol_errors(blob)


@given(st.sampled_from(ALL_FIXTURES), st.data())
def test_fuzz_truncated_and_mutated_real_replies(name: str, data: st.DataObject) -> None:
    raw = (FIXTURES / name).read_bytes()
    body = raw[4:] if raw[:1] == b"\x00" else raw
    cut = data.draw(st.integers(0, len(body)))
    _only_protocol_errors(body[:cut])
    mutated = bytearray(body)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(mutated) - 1))
        mutated[at] = data.draw(st.integers(0, 255))
    _only_protocol_errors(bytes(mutated))
    _only_protocol_errors(bytes(mutated) + data.draw(st.binary(max_size=200)))


@given(
    st.sampled_from(["samba417_nt1_smb2_negotiate_all.bin", "samba417_smb3only_smb2_negotiate_all.bin"]),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFF),
)
def test_fuzz_smb2_offsets_and_counts(
    name: str, blob_offset: int, blob_length: int, ctx_offset: int, ctx_count: int
) -> None:
    """Wrong lengths and offsets in every length field of the 3.1.1 reply."""
    msg = bytearray(framed(name))
    struct.pack_into("<HHI", msg, 64 + 56, blob_offset, blob_length, ctx_offset)
    struct.pack_into("<H", msg, 64 + 6, ctx_count)
    with contextlib.suppress(ProtocolError):
        parsed = parse_smb2_negotiate(bytes(msg))
        assert isinstance(parsed, Smb2Negotiation)
        assert len(parsed.negotiate_context_types) <= 32


@given(st.integers(0, 2**64 - 1))
def test_fuzz_any_filetime(ticks: int) -> None:
    value = filetime(ticks)
    assert value is None or value.tzinfo is not None
