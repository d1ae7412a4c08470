"""PCP ANNOUNCE codec on a miniupnpd 2.3.1 recording (fixtures/README.md), error cases, fuzz."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.natpmp.facts import PCP_NO_EXTERNAL
from duecare.probes.natpmp.parse import announce_request, parse_announce_response

RECORDED = (Path(__file__).parent / "fixtures" / "miniupnpd231_pcp_announce.bin").read_bytes()


def test_announce_request_layout() -> None:
    req = announce_request(IPv4Address("198.18.0.2"))
    assert len(req) == 24
    assert req[:8] == b"\x02\x00\x00\x00\x00\x00\x00\x00"  # version 2, R=0 opcode ANNOUNCE, lifetime 0
    assert req[8:] == IPv6Address("::ffff:198.18.0.2").packed  # RFC 6887 §5: IPv4-mapped
    assert announce_request(IPv6Address("2001:db8::2"))[8:] == IPv6Address("2001:db8::2").packed


def test_recorded_answer() -> None:
    f = parse_announce_response(RECORDED)
    assert (f.speaks_pcp, f.version, f.result_code, f.result) == (True, 2, 0, "success")
    assert (f.epoch_seconds, f.lifetime_seconds) == (7742, 0)
    assert "MAP response" in f.note and f.note == PCP_NO_EXTERNAL


def test_an_error_result_still_speaks_pcp() -> None:
    f = parse_announce_response(struct.pack("!BBBBII", 2, 0x80, 0, 2, 0, 9) + bytes(12))
    assert f.speaks_pcp and f.result == "not authorized" and f.epoch_seconds == 9


def test_nat_pmp_only_server() -> None:
    """RFC 6887 §9: a NAT-PMP-only gateway answers a version-2 request with NAT-PMP's "unsupported
    version" (RFC 6886 §3.5: version 0, opcode 128 + the request's, result 1, epoch). Built from the
    RFC's layout; the lab's miniupnpd speaks both and cannot produce it."""
    f = parse_announce_response(struct.pack("!BBHI", 0, 128, 1, 44))
    assert (f.speaks_pcp, f.version, f.result) == (False, 0, "unsupported version")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x02\x80", "at least 8"),
        (b"\x03\x80" + bytes(22), "neither PCP"),
        (b"\x02\x80" + bytes(10), "24 to 1100"),
        (b"\x02\x80" + bytes(23), "whole words"),
        (b"\x02\x00" + bytes(22), "R=0"),
        (b"\x02\x81" + bytes(22), "opcode 1"),
        (b"\x00\x00" + bytes(6), "not a response"),
    ],
)
def test_not_pcp(data: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        parse_announce_response(data)


@given(st.binary(max_size=1200))
def test_hostile_bytes_only_raise_protocol_error(data: bytes) -> None:
    for candidate in (data, b"\x02\x80" + data, b"\x00\x80" + data):
        try:
            parse_announce_response(candidate)
        except ProtocolError:
            pass
