"""NAT-PMP external-address codec on a miniupnpd 2.3.1 recording, plus fuzz."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.natpmp.parse import external_address_request, parse_external_address

RECORDED = (Path(__file__).parent / "fixtures" / "miniupnpd231_natpmp_external.bin").read_bytes()


def test_request_is_version_0_opcode_0() -> None:
    assert external_address_request() == b"\x00\x00"


def test_recorded_answer() -> None:
    f = parse_external_address(RECORDED)
    assert (f.result_code, f.result, f.external_ip) == (0, "success", "198.51.100.9")
    assert f.epoch_seconds == 1781


def test_error_answer_has_no_address() -> None:
    f = parse_external_address(struct.pack("!BBHI", 0, 128, 2, 5))
    assert f.result == "not authorized / refused" and f.external_ip is None


@pytest.mark.parametrize(
    ("data", "why"),
    [(b"\x00\x80", "at least 8"), (b"\x02\x80" + bytes(10), "version 2"), (b"\x00\x81" + bytes(10), "opcode 129")],
)
def test_not_nat_pmp(data: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        parse_external_address(data)


@given(st.binary(max_size=64))
def test_hostile_bytes_only_raise_protocol_error(data: bytes) -> None:
    try:
        parse_external_address(data)
    except ProtocolError:
        pass
