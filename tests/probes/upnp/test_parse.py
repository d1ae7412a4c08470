"""SSDP / UPnP description parsing on miniupnpd 2.3.1 recordings (see capture.py), plus fuzz."""

from __future__ import annotations

import contextlib
from ipaddress import ip_address
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.upnp.parse import (
    build_facts,
    location_refusal,
    m_search,
    parse_device_description,
    parse_ssdp_response,
)

FIXTURES = Path(__file__).parent / "fixtures"
ANSWERS = sorted(FIXTURES.glob("miniupnpd231_ssdp_*.txt"))
ROOT_DESC = (FIXTURES / "miniupnpd231_rootDesc.xml").read_bytes()
TARGET = ip_address("198.19.77.1")


def test_m_search_is_unicast_ssdp_all() -> None:
    msg = m_search("198.18.0.5").decode()
    assert msg.startswith("M-SEARCH * HTTP/1.1\r\nHOST: 198.18.0.5:1900\r\n")
    assert 'MAN: "ssdp:discover"' in msg
    assert "ST: ssdp:all" in msg
    assert msg.endswith("\r\n\r\n")


def test_every_miniupnpd_answer_parses() -> None:
    parsed = [parse_ssdp_response(p.read_bytes()) for p in ANSWERS]
    assert len(parsed) == 13
    assert {r.location for r in parsed} == {"http://198.19.77.1:5000/rootDesc.xml"}
    assert all(r.server and "MiniUPnPd/2.3.1" in r.server for r in parsed)
    assert "urn:schemas-upnp-org:device:InternetGatewayDevice:2" in {r.st for r in parsed}


def test_root_description() -> None:
    d = parse_device_description(ROOT_DESC)
    assert d.friendly_name == "duecare lab router"
    assert (d.manufacturer, d.model_name, d.model_number) == ("Debian", "Debian router", "2.3.1-lab")
    assert d.device_type == "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
    assert "urn:schemas-upnp-org:service:WANIPConnection:2" in d.service_types


def test_facts_flag_the_internet_gateway() -> None:
    facts = build_facts([parse_ssdp_response(p.read_bytes()) for p in ANSWERS], None, None, "not fetched")
    assert facts.internet_gateway


@pytest.mark.parametrize(
    ("location", "refused_because"),
    [
        ("http://198.19.77.1:5000/rootDesc.xml", None),
        ("http://198.19.77.9:5000/rootDesc.xml", "not the target"),
        ("http://router.local:5000/rootDesc.xml", "by name"),
        ("https://198.19.77.1/rootDesc.xml", "not http"),
        ("http://user:pw@198.19.77.1/rootDesc.xml", "credentials"),
        ("http://198.19.77.1:99999/", "not a valid URL"),
        ("file:///etc/passwd", "not http"),
    ],
)
def test_location_is_only_followed_to_the_target(location: str, refused_because: str | None) -> None:
    reason = location_refusal(location, TARGET)
    if refused_because is None:
        assert reason is None
    else:
        assert reason is not None
        assert refused_because in reason


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<root><device><friendlyName>&lol2;</friendlyName></device></root>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><root><device><friendlyName>&x;</friendlyName></device></root>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY, b"<root>", b"<html/>", b"\xff\xfe", b""])
def test_hostile_or_broken_descriptions_are_refused(xml: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_device_description(xml)


def test_oversized_description_is_refused() -> None:
    with pytest.raises(ProtocolError, match="over"):
        parse_device_description(b"<root>" + b" " * 70_000 + b"</root>")


@pytest.mark.parametrize(
    "data", [b"", b"NOTIFY * HTTP/1.1\r\n\r\n", b"HTTP/1.1 404 Not Found\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n"]
)
def test_non_answers(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_ssdp_response(data)


@given(st.binary(max_size=2048))
def test_fuzz_ssdp(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_ssdp_response(data)


@given(st.data())
def test_fuzz_mutated_description(data: st.DataObject) -> None:
    raw = bytearray(ROOT_DESC)
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ProtocolError):
        parse_device_description(bytes(raw[: data.draw(st.integers(0, len(raw)))]))


@given(st.text(max_size=200))
def test_fuzz_location(location: str) -> None:
    location_refusal(location, TARGET)
