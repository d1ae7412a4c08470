"""The one BER/DER encoder (``probes.ber``): what it builds, the shared reader reads back unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.ber import encode_length, encode_oid, read_tlv, tlv


@pytest.mark.parametrize(
    ("n", "encoded"),
    [(0, b"\x00"), (0x7F, b"\x7f"), (0x80, b"\x81\x80"), (0xFF, b"\x81\xff"), (0x100, b"\x82\x01\x00")],
)
def test_length_is_shortest_definite_form(n: int, encoded: bytes) -> None:
    """X.690 §10.1 (DER): the short form below 128, else the fewest length octets."""
    assert encode_length(n) == encoded


def test_known_oids() -> None:
    # SPNEGO and NTLMSSP (RFC 4178; [MS-NLMP]) as every SMB client sends them; sysDescr.0 (RFC 1213).
    assert encode_oid("1.3.6.1.5.5.2") == bytes.fromhex("06062b0601050502")
    assert encode_oid("1.3.6.1.4.1.311.2.2.10") == bytes.fromhex("060a2b06010401823702020a")
    assert encode_oid("1.3.6.1.2.1.1.1.0") == bytes.fromhex("06082b06010201010100")


@pytest.mark.parametrize("bad", ["1", "3.1", "1.40", "0.-1", "1.2.x"])
def test_bad_oid_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        encode_oid(bad)


@given(st.integers(0, 0x1F - 1).map(lambda t: t | 0x20), st.binary(max_size=70_000))
def test_tlv_round_trips_through_the_reader(tag: int, content: bytes) -> None:
    element = tlv(tag, content)
    assert read_tlv(element, 0, len(element)) == (tag, len(element) - len(content), len(element))
    assert element.endswith(content)
