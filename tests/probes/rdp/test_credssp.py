"""probes.rdp.credssp: TSRequest encoding against nmap's public bytes, decoding of a real FreeRDP reply."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.ntlm import NtlmVersion, find_challenge, negotiate_message, parse_challenge
from duecare.probes.rdp.credssp import bytes_needed, parse_ts_request, ts_request
from tests.probes.ntlm_samples import build_challenge

FIX = Path(__file__).parent / "fixtures"
#: nmap rdp-ntlm-info.nse TSRequest (detection-methods §2.6), CredSSP version 0x60.
NMAP_TSREQUEST = bytes.fromhex(
    "3037A003020160A130302E302CA02A04284E544C4D5353500001000000B78208E2000000000000000000000000000000000A0063450000000F"
)


def test_encoding_reproduces_nmap_bytes() -> None:
    token = NMAP_TSREQUEST[17:]
    assert ts_request(token, version=0x60) == NMAP_TSREQUEST


def test_our_request_round_trips() -> None:
    raw = ts_request(negotiate_message())
    assert bytes_needed(raw[:2]) == len(raw)
    parsed = parse_ts_request(raw)
    assert parsed.version == 6
    assert parsed.nego_token == negotiate_message()
    assert parsed.error_code is None


def test_real_freerdp_challenge() -> None:
    raw = (FIX / "freerdp_nla_tsrequest_challenge.bin").read_bytes()
    assert bytes_needed(raw[:3]) == len(raw)  # long-form length 0x81 0x9f
    parsed = parse_ts_request(raw)
    assert parsed.version == 6
    assert parsed.nego_token is not None
    challenge = find_challenge(parsed.nego_token)
    assert challenge is not None
    info = parse_challenge(challenge)
    assert info.netbios_computer_name == "VM"
    assert info.dns_computer_name == "vm"
    # winpr (FreeRDP's NTLM) hard-codes Windows 7's VERSION: a Linux server looks "6.1.7601".
    assert info.product_version == NtlmVersion(major=6, minor=1, build=7601)
    assert info.timestamp is not None


def test_error_code_reply() -> None:
    # TSRequest { version 6, errorCode 0xC000006D (STATUS_LOGON_FAILURE) }
    raw = bytes.fromhex("300da003020106a4060204c000006d")
    parsed = parse_ts_request(raw)
    assert parsed.error_code is not None
    assert parsed.error_code & 0xFFFFFFFF == 0xC000006D
    assert parsed.nego_token is None


def test_windows_shaped_reply_with_synthetic_challenge() -> None:
    raw = ts_request(build_challenge(version=(10, 0, 17763)))
    token = parse_ts_request(raw).nego_token
    assert token is not None
    assert str(parse_challenge(token).product_version) == "10.0.17763"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [(b"", None), (b"\x30", None), (b"\x30\x05", 7), (b"\x30\x82", None), (b"\x30\x82\x01\x00", 260)],
)
def test_bytes_needed(prefix: bytes, expected: int | None) -> None:
    assert bytes_needed(prefix) == expected


@pytest.mark.parametrize("prefix", [b"\x02\x01", b"\x30\x80", b"\x30\x84\x00\x00\x00\x01", b"\x30\x83\xff\xff\xff"])
def test_bytes_needed_refuses(prefix: bytes) -> None:
    with pytest.raises(ProtocolError):
        bytes_needed(prefix)


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x02\x01\x00", b"\x30\x05\xa0\x03\x02\x01", b"\x30\x03\xa0\x01\x04", b"\x30\x04\xa0\x02\x02\x00"],
)
def test_parse_refuses_malformed(blob: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_ts_request(blob)


@given(st.binary(max_size=300))
def test_fuzz_garbage(blob: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        bytes_needed(blob)
    with contextlib.suppress(ProtocolError):
        parse_ts_request(blob)


@given(st.data())
def test_fuzz_mutated_real_reply(data: st.DataObject) -> None:
    raw = bytearray((FIX / "freerdp_nla_tsrequest_challenge.bin").read_bytes())
    flips = st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)), max_size=6)
    for pos, val in data.draw(flips):
        raw[pos] = val
    cut = data.draw(st.integers(0, len(raw)))
    try:
        parsed = parse_ts_request(bytes(raw[:cut]))
    except ProtocolError:
        return
    challenge = find_challenge(parsed.nego_token or b"")
    if challenge is not None:
        with contextlib.suppress(ProtocolError):
            parse_challenge(challenge)


@pytest.mark.parametrize(
    ("error_tlv", "version_tlv"),
    [
        ("0204c000006d", "020106"),  # Windows: no leading zero octet, read as the NTSTATUS it is
        ("020500c000006d", "020106"),  # X.690 minimal form of the same value
        ("0208ffffffffc000006d", "02020086"),  # sign-extended to 64 bits; version 134 in minimal form
    ],
)
def test_integers_read_as_meant(error_tlv: str, version_tlv: str) -> None:
    body = bytes.fromhex(f"a0{len(version_tlv) // 2:02x}{version_tlv}a4{len(error_tlv) // 2:02x}{error_tlv}")
    parsed = parse_ts_request(bytes((0x30, len(body))) + body)
    assert parsed.error_code == 0xC000006D
    assert parsed.version in (6, 0x86)


def test_unsigned_version_without_leading_zero() -> None:
    parsed = parse_ts_request(bytes.fromhex("3005a003020186"))
    assert parsed.version == 0x86
