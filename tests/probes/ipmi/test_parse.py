"""IPMI parsing on datagrams recorded from OpenIPMI's ipmi_sim (see capture.py), plus fuzz."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.ipmi.parse import (
    auth_capabilities_request,
    parse_auth_capabilities,
    parse_presence_pong,
    presence_ping,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_request_bytes_match_the_well_known_probe() -> None:
    # The same datagram ipmitool sends before a login and nmap's ipmi-version script uses.
    assert auth_capabilities_request().hex() == "0600ff07000000000000000000092018c88100388e04b5"
    assert presence_ping().hex() == "0600ff06000011be80000000"


def test_ipmisim_v2_answer() -> None:
    f = parse_auth_capabilities(_bytes("ipmisim_auth_caps_v2.bin"))
    assert (f.version, f.completion_code, f.channel) == ("2.0", 0, 1)
    assert f.auth_types == ("none", "md2", "md5", "straight")
    assert f.anonymous_login is False
    assert f.null_usernames is True
    assert f.kg_default is True


def test_ipmisim_v15_answer_has_no_extended_data() -> None:
    f = parse_auth_capabilities(_bytes("ipmisim_auth_caps_v15.bin"))
    assert f.version == "1.5"
    assert f.kg_default is None


def test_ipmisim_anonymous_user() -> None:
    f = parse_auth_capabilities(_bytes("ipmisim_anon_auth_caps_v2.bin"))
    assert f.anonymous_login is True
    assert f.null_usernames is False


def test_presence_pong() -> None:
    f = parse_presence_pong(_bytes("ipmisim_presence_pong.bin"))
    assert (f.source, f.ipmi_supported) == ("asf-presence-pong", True)


def test_error_completion_code_is_a_fact() -> None:
    raw = bytearray(_bytes("ipmisim_auth_caps_v15.bin"))
    # Replace the data with completion code 0xCC only, fixing the length and checksum.
    msg = bytearray(raw[14:20]) + bytearray((0xCC,))
    msg.append((-sum(msg[3:])) & 0xFF)
    datagram = bytes(raw[:13]) + bytes((len(msg),)) + bytes(msg)
    f = parse_auth_capabilities(datagram)
    assert f.completion_code == 0xCC
    assert f.version is None


@pytest.mark.parametrize(
    "data",
    [b"", b"\x06\x00\xff\x07", b"HTTP/1.1 200 OK\r\n", _bytes("ipmisim_presence_pong.bin")],
)
def test_not_an_answer(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_auth_capabilities(data)


def test_bad_checksum() -> None:
    raw = bytearray(_bytes("ipmisim_auth_caps_v2.bin"))
    raw[-2] ^= 0xFF
    with pytest.raises(ProtocolError, match="checksum"):
        parse_auth_capabilities(bytes(raw))


@given(st.binary(max_size=300))
def test_fuzz_garbage(data: bytes) -> None:
    for parser in (parse_auth_capabilities, parse_presence_pong):
        with contextlib.suppress(ProtocolError):
            parser(data)


@given(st.sampled_from(sorted(p.name for p in FIXTURES.glob("*.bin"))), st.data())
def test_fuzz_mutated_recordings(name: str, data: st.DataObject) -> None:
    raw = bytearray(_bytes(name))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(0, len(raw)))] + data.draw(st.binary(max_size=64))
    for parser in (parse_auth_capabilities, parse_presence_pong):
        with contextlib.suppress(ProtocolError):
            parser(bytes(raw))
