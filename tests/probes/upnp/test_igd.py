"""IGD SOAP codec over miniupnpd 2.3.1 recordings (see capture_igd.py), plus fuzz."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.upnp.igd import (
    END_OF_LIST,
    SoapFault,
    external_ip_request,
    mapping_request,
    parse_external_ip,
    parse_mapping,
    soap_request,
)
from duecare.probes.upnp.parse import parse_device_description

FIXTURES = Path(__file__).parent / "fixtures"
STYPE = "urn:schemas-upnp-org:service:WANIPConnection:2"


def _fx(name: str) -> bytes:
    return (FIXTURES / f"miniupnpd231_igd_{name}.xml").read_bytes()


def test_requests_are_the_read_only_actions() -> None:
    headers, body = mapping_request(STYPE, 3)
    assert headers["SOAPAction"] == f'"{STYPE}#GetGenericPortMappingEntry"'
    assert b"<NewPortMappingIndex>3</NewPortMappingIndex>" in body
    headers, body = external_ip_request(STYPE)
    assert headers["SOAPAction"].endswith('#GetExternalIPAddress"')
    assert b"<u:GetExternalIPAddress " in body


@pytest.mark.parametrize("action", ["AddPortMapping", "DeletePortMapping", "AddAnyPortMapping", "SetConnectionType"])
def test_writing_actions_are_never_built(action: str) -> None:
    with pytest.raises(ValueError, match="not a read-only"):
        soap_request(STYPE, action)


def test_only_wan_connection_services() -> None:
    with pytest.raises(ValueError, match="WANIPConnection"):
        external_ip_request("urn:schemas-upnp-org:service:Layer3Forwarding:1")


def test_external_address() -> None:
    assert parse_external_ip(_fx("external_ip")) == IPv4Address("198.51.100.9")


def test_mappings_then_the_end_of_the_table() -> None:
    first, second = parse_mapping(_fx("mapping_0")), parse_mapping(_fx("mapping_1"))
    assert (first.protocol, first.external_port, first.internal_client, first.internal_port) == (
        "udp",
        3478,
        "198.19.77.2",
        3478,
    )
    assert (second.protocol, second.external_port, second.internal_port) == ("tcp", 5900, 5900)
    assert second.description == "lab client" and second.lease_seconds == 604799 and second.enabled
    assert second.remote_host is None
    with pytest.raises(SoapFault) as fault:
        parse_mapping(_fx("mapping_2"))
    assert fault.value.code == END_OF_LIST
    assert fault.value.description == "SpecifiedArrayIndexInvalid"


def test_wan_service_control_url_from_the_description() -> None:
    desc = (FIXTURES / "miniupnpd231_rootDesc.xml").read_bytes()
    d = parse_device_description(desc, "http://198.19.77.1:5000/rootDesc.xml")
    assert [(s.service_type, s.control_url) for s in d.wan_services] == [(STYPE, "http://198.19.77.1:5000/ctl/IPConn")]


def test_a_response_to_another_action_is_refused() -> None:
    with pytest.raises(ProtocolError, match="not <GetExternalIPAddressResponse>"):
        parse_external_ip(_fx("mapping_0"))


def test_entity_expansion_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(ProtocolError):
        parse_mapping(bomb)


@given(st.binary(max_size=4096))
def test_hostile_bytes_only_raise_protocol_error(data: bytes) -> None:
    for parse in (parse_mapping, parse_external_ip):
        try:
            parse(data)
        except ProtocolError:
            pass


@given(st.sampled_from(["mapping_0", "mapping_1", "external_ip"]), st.integers(0, 600), st.text(max_size=40))
def test_mutated_recordings_only_raise_protocol_error(name: str, at: int, junk: str) -> None:
    raw = _fx(name)
    data = raw[:at] + junk.encode() + raw[at:]
    for parse in (parse_mapping, parse_external_ip):
        try:
            parse(data)
        except ProtocolError:
            pass
