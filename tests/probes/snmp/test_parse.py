"""SNMP BER codec on real net-snmp datagrams, and fuzzing: bad input raises ProtocolError only."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.snmp.parse import (
    GET_REQUEST,
    REPORT,
    RESPONSE,
    SYS_DESCR,
    SYS_NAME,
    SYS_OBJECT_ID,
    dec_oid,
    decode_message,
    decode_v3,
    descr_product,
    enc_int,
    enc_oid,
    encode_get,
    encode_v3_discovery,
    engine_enterprise,
    read_tlv,
    text,
)

FIX = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIX / f"{name}.bin").read_bytes()


@pytest.mark.parametrize(("name", "version", "request_id"), [("v2c", 1, 0x01234567), ("v1", 0, 0x07654321)])
def test_real_get_response(name: str, version: int, request_id: int) -> None:
    msg = decode_message(raw(f"netsnmp_{name}_public_get"))
    assert (msg.version, msg.community, msg.pdu.tag, msg.pdu.request_id) == (version, b"public", RESPONSE, request_id)
    assert msg.pdu.error_status == 0
    descr = text(msg.pdu.get(SYS_DESCR), 1024)
    assert descr is not None and descr.startswith("Linux vm 6.18.44")
    assert msg.pdu.get(SYS_OBJECT_ID) == "1.3.6.1.4.1.8072.3.2.10"
    assert text(msg.pdu.get(SYS_NAME), 256) == "i4-snmp-public"
    assert descr_product(descr) == ("Linux", "6.18.44-fc-v657")


def test_real_v3_discovery_report() -> None:
    msg = decode_v3(raw("netsnmp_v3_discovery_report"))
    assert msg.msg_id == 0x11111111 and msg.pdu.request_id == 0x22222222
    assert msg.pdu.tag == REPORT
    assert msg.engine_id.hex() == "80001f8880d4aef32fd3f60c6b00000000"
    assert engine_enterprise(msg.engine_id) == 8072
    assert msg.engine_boots == 1
    assert msg.pdu.varbinds[0].oid == "1.3.6.1.6.3.15.1.1.4.0"  # usmStatsUnknownEngineIDs


def test_real_exceptions_and_errors() -> None:
    v2 = decode_message(raw("netsnmp_v2c_nosuchobject")).pdu
    assert [vb.kind for vb in v2.varbinds] == ["noSuchObject", "counter", "noSuchInstance"]
    assert v2.get("1.3.6.1.2.1.1.99.0") is None
    v1 = decode_message(raw("netsnmp_v1_nosuchname")).pdu
    assert (v1.error_status, v1.error_index) == (2, 1)


def test_encoder_matches_net_snmp_byte_for_byte() -> None:
    for name, version, oids in (
        ("netsnmp_snmpget_v2c_request", 1, (SYS_DESCR,)),
        ("netsnmp_snmpget_v1_request", 0, (SYS_DESCR, SYS_NAME)),
    ):
        theirs = raw(name)
        msg = decode_message(theirs)
        assert msg.pdu.tag == GET_REQUEST
        assert encode_get(version, b"public", msg.pdu.request_id, oids) == theirs
    discovery = raw("netsnmp_snmpget_v3_discovery")
    v3 = decode_v3(discovery)
    assert encode_v3_discovery(v3.msg_id, v3.pdu.request_id) == discovery


@pytest.mark.parametrize("value", [0, 1, -1, 127, 128, -128, -129, 255, 2**31 - 1, -(2**31), 2**63])
def test_integer_round_trip(value: int) -> None:
    encoded = enc_int(value)
    tag, start, end = read_tlv(encoded, 0, len(encoded))
    assert tag == 0x02 and end == len(encoded)
    assert int.from_bytes(encoded[start:end], "big", signed=True) == value
    if end - start > 1:  # X.690 §8.3.2: the first nine bits are never all equal (minimal form)
        first, second = encoded[start], encoded[start + 1]
        assert not (first == 0x00 and second < 0x80) and not (first == 0xFF and second >= 0x80)


@pytest.mark.parametrize("oid", ["1.3.6.1.2.1.1.1.0", "1.3.6.1.4.1.8072.3.2.10", "2.999.1", "0.0"])
def test_oid_round_trip(oid: str) -> None:
    encoded = enc_oid(oid)
    assert dec_oid(encoded[2:]) == oid


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30",
        b"\x30\x80\x02\x01\x01\x00\x00",  # indefinite length
        b"\x30\x85\xff\xff\xff\xff\xff",  # five length octets
        b"\x30\x03\x02\x01",  # runs past the end
        b"\x1f\x01\x00",  # multi-octet tag
        bytes.fromhex("300602010304017a"),  # v3 where v1/v2c expected
        b"HTTP/1.1 400 Bad Request\r\n",
    ],
)
def test_malformed_messages(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_message(data)


def test_descr_formats() -> None:
    win = "Hardware: Intel64 Family 6 Model 85 - Software: Windows Version 6.3 (Build 17763 Multiprocessor Free)"
    assert descr_product(win) == ("Windows", "6.3.17763")
    ios = "Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 12.2(55)SE7, RELEASE SOFTWARE (fc1)"
    assert descr_product(ios) == ("Cisco IOS", "12.2(55)SE7")
    assert descr_product("PRINTER01 network printer (duecare lab)") == (None, None)


REAL = [
    "netsnmp_v2c_public_get",
    "netsnmp_v1_public_get",
    "netsnmp_v2c_nosuchobject",
    "netsnmp_v1_nosuchname",
    "netsnmp_v3_discovery_report",
]


@given(st.binary(max_size=600))
def test_fuzz_random_bytes(data: bytes) -> None:
    for decode in (decode_message, decode_v3):
        try:
            decode(data)
        except ProtocolError:
            pass


@given(st.sampled_from(REAL), st.data())
def test_fuzz_truncated_and_mutated_real_datagrams(name: str, data: st.DataObject) -> None:
    good = raw(name)
    cut = data.draw(st.integers(0, len(good)))
    pos = data.draw(st.integers(0, len(good) - 1))
    byte = data.draw(st.integers(0, 255))
    for sample in (good[:cut], good[:pos] + bytes((byte,)) + good[pos + 1 :], good + b"\x00"):
        for decode in (decode_message, decode_v3):
            try:
                decode(sample)
            except ProtocolError:
                pass


@given(st.binary(max_size=64))
def test_fuzz_oid_and_text(content: bytes) -> None:
    try:
        assert dec_oid(content).count(".") >= 1
    except ProtocolError:
        pass
    text(content, 10)
    descr_product(content.decode("latin-1"))


def _v3_report(boots: bytes, time: bytes, msg_id: bytes = b"\x02\x01\x05") -> bytes:
    """A Report as a sloppy agent sends it: ``boots``/``time`` are the raw INTEGER TLVs."""
    from duecare.probes.snmp.parse import seq, tlv

    header = seq(msg_id, enc_int(1500), tlv(0x04, b"\x00"), enc_int(3))
    usm = seq(tlv(0x04, bytes.fromhex("800007e580aabbccdd")), boots, time, *(tlv(0x04, b""),) * 3)
    varbind = seq(enc_oid("1.3.6.1.6.3.15.1.1.4.0"), tlv(0x41, b"\x01"))
    pdu = seq(enc_int(7), enc_int(0), enc_int(0), seq(varbind), tag=REPORT)
    return seq(enc_int(3), header, tlv(0x04, usm), seq(tlv(0x04, b""), tlv(0x04, b""), pdu))


@pytest.mark.parametrize(
    ("boots", "time", "expected"),
    [
        (b"\x02\x01\xc8", b"\x02\x02\x9c\x40", (200, 40000)),  # no leading zero octet: not -56 / -25536
        (b"\x02\x02\x00\xc8", b"\x02\x03\x00\x9c\x40", (200, 40000)),  # X.690 minimal form
        (b"\x02\x04\xff\xff\xff\xff", b"\x02\x04\x80\x00\x00\x00", (2**32 - 1, 2**31)),
    ],
)
def test_v3_unsigned_fields_read_as_the_agent_meant(boots: bytes, time: bytes, expected: tuple[int, int]) -> None:
    msg = decode_v3(_v3_report(boots, time, msg_id=b"\x02\x01\x85"))
    assert (msg.engine_boots, msg.engine_time) == expected
    assert msg.msg_id == 0x85


def test_error_status_and_index_unsigned_request_id_signed() -> None:
    from duecare.probes.snmp.parse import seq, tlv

    pdu = seq(tlv(0x02, b"\xff"), tlv(0x02, b"\x85"), tlv(0x02, b"\x81"), seq(), tag=RESPONSE)
    msg = decode_message(seq(enc_int(1), tlv(0x04, b"public"), pdu))
    assert (msg.pdu.request_id, msg.pdu.error_status, msg.pdu.error_index) == (-1, 0x85, 0x81)
