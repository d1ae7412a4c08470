"""probes.rdp.mcs: Connect-Initial structure and real Connect-Responses from xrdp and FreeRDP."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.rdp.facts import EncryptionStatus
from duecare.probes.rdp.mcs import ALL_METHODS, connect_initial, parse_connect_response
from duecare.probes.rdp.parse import tpkt_length

FIX = Path(__file__).parent / "fixtures"


def test_connect_initial_lengths_are_consistent() -> None:
    pdu = connect_initial()
    assert tpkt_length(pdu[:4]) == len(pdu)
    assert pdu[4:7] == b"\x02\xf0\x80"  # X.224 Data
    assert pdu[7:9] == b"\x7f\x65"  # MCS Connect-Initial
    assert pdu[9] == 0x82
    assert struct.unpack(">H", pdu[10:12])[0] == len(pdu) - 12
    # CS_SECURITY offers every method; CS_CORE is the 216-byte core block ([MS-RDPBCGR] 4.1.3).
    assert struct.pack("<HHII", 0xC002, 12, ALL_METHODS, 0) in pdu
    assert struct.pack("<HH", 0xC001, 216) in pdu
    assert b"Duca" in pdu


def test_connect_initial_declares_selected_protocol() -> None:
    core_at = connect_initial(selected_protocol=1).index(struct.pack("<HH", 0xC001, 216))
    pdu = connect_initial(selected_protocol=1)
    assert struct.unpack_from("<I", pdu, core_at + 212)[0] == 1


def test_real_xrdp_response() -> None:
    s = parse_connect_response((FIX / "xrdp_rdp_mcs_connect_response.bin").read_bytes())
    assert s.status is EncryptionStatus.DETERMINED
    assert s.server_version == "RDP 5.x-8.x"
    assert s.encryption_method == "128-bit RC4"
    assert s.encryption_level == "High"


def test_real_freerdp_response_without_encryption() -> None:
    s = parse_connect_response((FIX / "freerdp_open_mcs_connect_response.bin").read_bytes())
    assert s.status is EncryptionStatus.DETERMINED
    assert s.encryption_method == "none"
    assert s.encryption_level == "None"


def test_unsuccessful_result_is_not_determined() -> None:
    raw = bytearray((FIX / "xrdp_rdp_mcs_connect_response.bin").read_bytes())
    at = raw.index(b"\x0a\x01\x00")
    raw[at + 2] = 1  # rt-domain-merging
    s = parse_connect_response(bytes(raw))
    assert s.status is EncryptionStatus.NOT_DETERMINED
    assert s.detail == "MCS Connect-Response result 1"


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        bytes.fromhex("030000130ed00000123400020108000000000 0".replace(" ", "")),  # a CC, not MCS
        bytes.fromhex("0300000902f0807f65"),  # Connect-Initial echoed
        bytes.fromhex("0300000c02f0807f66820100"),  # no result
        bytes.fromhex("0300001002f0807f6605 0a0100 040100".replace(" ", "")),  # no McDn
    ],
)
def test_malformed_response(blob: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_connect_response(blob)


@given(st.binary(max_size=600))
def test_fuzz_garbage(blob: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_connect_response(blob)


@given(st.data())
def test_fuzz_mutated_real_response(data: st.DataObject) -> None:
    raw = bytearray((FIX / "xrdp_rdp_mcs_connect_response.bin").read_bytes())
    flips = st.lists(st.tuples(st.integers(0, 140), st.integers(0, 255)), max_size=6)
    for pos, val in data.draw(flips):
        raw[pos] = val
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(ProtocolError):
        parse_connect_response(bytes(raw[:cut]))
