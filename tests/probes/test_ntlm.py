"""probes.ntlm: NEGOTIATE construction, CHALLENGE location and parsing, fuzzed."""

from __future__ import annotations

import base64
import contextlib
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.ntlm import (
    NEGOTIATE_UNICODE,
    NEGOTIATE_VERSION,
    NtlmVersion,
    find_challenge,
    negotiate_message,
    parse_challenge,
)
from tests.probes.ntlm_samples import build_challenge

FIXTURES = Path(__file__).parent / "fixtures"
WHEN = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def test_negotiate_message_layout() -> None:
    msg = negotiate_message()
    assert msg[:8] == b"NTLMSSP\x00"
    assert struct.unpack_from("<I", msg, 8)[0] == 1
    flags = struct.unpack_from("<I", msg, 12)[0]
    assert flags & NEGOTIATE_UNICODE
    assert flags & NEGOTIATE_VERSION
    # Domain and workstation not supplied: zero lengths.
    assert struct.unpack_from("<HH", msg, 16) == (0, 0)
    assert struct.unpack_from("<HH", msg, 24) == (0, 0)
    assert len(msg) == 40
    assert msg[-1] == 0x0F  # NTLMSSP_REVISION_W2K3


def test_windows_7_challenge_all_fields() -> None:
    info = parse_challenge(build_challenge(timestamp=WHEN))
    assert info.target_name == "CONTOSO"
    assert info.netbios_computer_name == "WIN7-PC"
    assert info.netbios_domain_name == "CONTOSO"
    assert info.dns_computer_name == "win7-pc.contoso.local"
    assert info.dns_domain_name == "contoso.local"
    assert info.dns_tree_name == "contoso.local"
    assert info.product_version == NtlmVersion(major=6, minor=1, build=7601)
    assert str(info.product_version) == "6.1.7601"
    assert info.timestamp == WHEN


def test_server_2019_version() -> None:
    info = parse_challenge(build_challenge(version=(10, 0, 17763)))
    assert info.product_version is not None
    assert info.product_version.major_minor == (10, 0)
    assert info.product_version.build == 17763
    assert info.timestamp is None


def test_version_untrusted_without_revision_trailer() -> None:
    assert parse_challenge(build_challenge(revision=0)).product_version is None


def test_version_untrusted_when_payload_overlaps_it() -> None:
    """An old-style 48-byte header: the 'version' bytes are really payload (nmap's rule)."""
    msg = bytearray(build_challenge())
    struct.pack_into("<HHI", msg, 12, 8, 8, 48)  # TargetName now starts at 48
    assert parse_challenge(bytes(msg)).product_version is None


def test_minimal_32_byte_challenge() -> None:
    msg = b"NTLMSSP\x00" + struct.pack("<IHHII", 2, 0, 0, 32, 0x201) + b"\x11" * 8
    info = parse_challenge(msg)
    assert info.target_name is None
    assert info.dns_computer_name is None
    assert info.product_version is None


def test_oem_target_name() -> None:
    msg = bytearray(build_challenge(flags=0x00000002))
    struct.pack_into("<HHI", msg, 12, 4, 4, 56)
    msg[56:60] = b"ABCD"
    assert parse_challenge(bytes(msg)).target_name == "ABCD"


def test_duplicate_av_pair_first_wins_and_eol_stops() -> None:
    base = bytearray(build_challenge())
    extra = struct.pack("<HH", 3, 4) + "XY".encode("utf-16-le") + b"\x00\x00\x00\x00"
    info_len = struct.unpack_from("<H", base, 40)[0]
    # Put a second DnsComputerName and then garbage after EOL: both ignored.
    body = base + extra + b"\xff" * 5
    struct.pack_into("<HH", body, 40, info_len + len(extra) + 5, info_len + len(extra) + 5)
    info = parse_challenge(bytes(body))
    assert info.dns_computer_name == "win7-pc.contoso.local"


@pytest.mark.parametrize(
    ("blob", "why"),
    [
        (b"", "too short"),
        (b"NTLMSSP\x00" + b"\x01\x00\x00\x00" + b"\x00" * 30, "type 1"),
        (b"XTLMSSP\x00" + b"\x02\x00\x00\x00" + b"\x00" * 30, "signature"),
    ],
)
def test_rejects_non_challenge(blob: bytes, why: str) -> None:
    with pytest.raises(ProtocolError):
        parse_challenge(blob)


def test_target_info_out_of_bounds() -> None:
    msg = bytearray(build_challenge())
    struct.pack_into("<HHI", msg, 40, 400, 400, 60)
    with pytest.raises(ProtocolError, match="TargetInfo"):
        parse_challenge(bytes(msg))


def test_av_pair_length_overrun() -> None:
    msg = bytearray(build_challenge())
    info_off = struct.unpack_from("<I", msg, 44)[0]
    struct.pack_into("<H", msg, info_off + 2, 0xFFF0)
    with pytest.raises(ProtocolError, match="AV_PAIR"):
        parse_challenge(bytes(msg))


def test_find_challenge_in_wrappers() -> None:
    chal = build_challenge()
    negotiate = negotiate_message()
    spnego_like = b"\xa1\x81\xce\x30\x81\xcb" + negotiate + b"junk" + chal + b"\x00\x00"
    found = find_challenge(spnego_like)
    assert found is not None
    assert found.startswith(chal)
    assert parse_challenge(found).netbios_computer_name == "WIN7-PC"
    assert find_challenge(negotiate) is None
    assert find_challenge(b"NTLMSSP\x00\x02") is None  # type field cut short
    assert find_challenge(b"") is None


def test_real_samba_challenge() -> None:
    """A CHALLENGE captured from Debian 12 smbd 4.17 (SMB2 SESSION_SETUP, see fixtures/README)."""
    raw = (FIXTURES / "samba417_session_setup_response.bin").read_bytes()
    found = find_challenge(raw)
    assert found is not None
    info = parse_challenge(found)
    assert info.netbios_computer_name == "DCNTLMSMB"
    assert info.target_name == "DCNTLMSMB"
    assert info.netbios_domain_name == "DCNTLMSMB"  # standalone server: its own name
    assert info.dns_computer_name == "vm"  # the capturing machine's hostname
    assert info.dns_domain_name is None  # present but empty in the capture
    # Samba announces 6.1.0 (it mimics Windows 7 in VERSION): real data, not a Windows host.
    assert info.product_version == NtlmVersion(major=6, minor=1, build=0)
    assert info.timestamp is not None
    assert info.timestamp.year >= 2024


def test_real_http_style_base64_roundtrip() -> None:
    """HTTP carries the CHALLENGE base64-encoded in WWW-Authenticate: NTLM <b64>."""
    header = "NTLM " + base64.b64encode(build_challenge(version=(10, 0, 17763))).decode()
    raw = base64.b64decode(header.split(" ", 1)[1])
    found = find_challenge(raw)
    assert found is not None
    assert str(parse_challenge(found).product_version) == "10.0.17763"


@given(st.binary(max_size=600))
def test_fuzz_garbage_only_protocol_error(blob: bytes) -> None:
    for candidate in (blob, b"NTLMSSP\x00\x02\x00\x00\x00" + blob):
        with contextlib.suppress(ProtocolError):
            parse_challenge(candidate)
        found = find_challenge(candidate)
        assert found is None or found.startswith(b"NTLMSSP\x00\x02\x00\x00\x00")


@given(st.data())
def test_fuzz_mutated_real_shape(data: st.DataObject) -> None:
    """Truncations and byte flips of a valid message: a result or ProtocolError, nothing else."""
    msg = bytearray(build_challenge(timestamp=WHEN))
    cut = data.draw(st.integers(0, len(msg)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(msg) - 1), st.integers(0, 255)), max_size=8))
    for pos, val in flips:
        msg[pos] = val
    try:
        info = parse_challenge(bytes(msg[:cut]))
    except ProtocolError:
        return
    assert info.negotiate_flags >= 0
    if info.timestamp is not None:
        assert info.timestamp.tzinfo is not None


@given(st.integers(0, 2**64 - 1))
def test_fuzz_any_filetime(ticks: int) -> None:
    base = build_challenge()[:-4]  # drop EOL, append a timestamp pair by hand
    msg = bytearray(base + struct.pack("<HHQ", 7, 8, ticks) + b"\x00\x00\x00\x00")
    info_len = struct.unpack_from("<H", msg, 40)[0] + 12
    struct.pack_into("<HH", msg, 40, info_len, info_len)
    info = parse_challenge(bytes(msg))
    assert info.timestamp is None or info.timestamp.tzinfo is not None
