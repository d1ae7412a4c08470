"""RFB handshake parsing on real TigerVNC bytes, and fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.vnc.parse import (
    SERVER_INIT_HEADER,
    client_version,
    parse_version,
    reason_length,
    security_types,
    server_init_header,
    text,
    type_names,
    u32,
)

FIX = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIX / f"{name}.bin").read_bytes()


def test_real_versions_and_lists() -> None:
    version = parse_version(raw("xvnc_none_version"))
    assert (version.text, version.protocol) == ("003.008", "3.8")
    assert client_version(version.protocol) == b"RFB 003.008\n"
    none = raw("xvnc_none_security_types")
    assert security_types(none[1 : 1 + none[0]]) == (1,)
    auth = raw("xvnc_vncauth_security_types")
    assert type_names(security_types(auth[1:])) == ("VNC Authentication",)
    assert u32(raw("xvnc_none_security_003")) == 1
    assert u32(raw("xvnc_none_security_result")) == 0


def test_real_server_init() -> None:
    data = raw("xvnc_none_server_init")
    head = server_init_header(data[:SERVER_INIT_HEADER])
    assert (head.width, head.height, head.name_length) == (800, 600, 7)
    assert text(data[SERVER_INIT_HEADER:], 256) == "i4-open"


def test_real_blacklist_answer() -> None:
    data = raw("xvnc_blacklisted")
    assert parse_version(data[:12]).protocol == "3.3"
    assert u32(data[12:16]) == 0
    n = reason_length(data[16:20])
    assert text(data[20 : 20 + n], 1024) == "Too many security failures"


@pytest.mark.parametrize(
    ("line", "protocol"),
    [
        (b"RFB 003.003\n", "3.3"),
        (b"RFB 003.005\n", "3.3"),
        (b"RFB 003.007\n", "3.7"),
        (b"RFB 003.889\n", "3.8"),
        (b"RFB 004.001\n", "3.8"),
        (b"RFB 005.000\n", "3.8"),
    ],
)
def test_version_negotiation(line: bytes, protocol: str) -> None:
    assert parse_version(line).protocol == protocol


@pytest.mark.parametrize("line", [b"SSH-2.0-Open", b"RFB 3.8\n\n\n\n\n", b"RFB 002.000\n", b"RFB 003.008\r"])
def test_not_rfb(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_version(line)


def test_bounds() -> None:
    with pytest.raises(ProtocolError):
        reason_length(b"\x7f\xff\xff\xff")
    with pytest.raises(ProtocolError):
        security_types(b"\x02\x00")
    bad_bpp = bytearray(raw("xvnc_none_server_init")[:SERVER_INIT_HEADER])
    bad_bpp[4] = 7
    with pytest.raises(ProtocolError):
        server_init_header(bytes(bad_bpp))


@given(st.binary(max_size=40))
def test_fuzz(data: bytes) -> None:
    for parse in (parse_version, reason_length, server_init_header, security_types, u32):
        try:
            parse(data)
        except ProtocolError:
            pass
    text(data, 8)
