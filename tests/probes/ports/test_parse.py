"""nmap XML parsing on output recorded from nmap 7.93 (Debian) in a test namespace."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.ports.parse import compact_ranges, expand_ranges, mac_vendors, parse_nmap_xml, top_ports
from duecare.wire import PortState, Proto

FIX = Path(__file__).parent / "fixtures"


def test_closed_ports_are_dropped_open_kept() -> None:
    scan = parse_nmap_xml((FIX / "nmap-syn-closed.xml").read_bytes())
    assert scan.scan_types == ("syn",)
    (host,) = scan.hosts
    assert host.ip == "198.19.9.2" and host.mac == "46:fb:c6:ca:79:94"
    assert [(p.port, p.state) for p in host.ports] == [(2222, PortState.OPEN), (8080, PortState.OPEN)]
    assert host.filtered_tcp == ""


def test_firewalled_ports_are_filtered_not_closed() -> None:
    (host,) = parse_nmap_xml((FIX / "nmap-syn-filtered.xml").read_bytes()).hosts
    assert [p.port for p in host.ports] == [8080]
    assert host.filtered_tcp == "1-1000,2222"
    assert host.ports[0].proto is Proto.TCP


def test_ranges_round_trip() -> None:
    assert compact_ranges(expand_ranges("5,1-3,4,9")) == "1-5,9"


@pytest.mark.parametrize("bad", [b"", b"<nmaprun", b"<html/>", b'<!DOCTYPE x [<!ENTITY a "b">]><nmaprun/>'])
def test_bad_xml_is_a_protocol_error(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_nmap_xml(bad)


def test_top_ports_follow_frequency() -> None:
    table = "http\t80/tcp\t0.48\nssh\t22/tcp\t0.18\nrare\t9999/tcp\t0.00001\nsnmp\t161/udp\t0.43\n"
    assert top_ports(table, "tcp", 2) == [22, 80]
    assert top_ports(table, "udp", 5) == [161]


def test_mac_vendors() -> None:
    assert mac_vendors("# c\n0000A1 Marquette Electronic\n")["00:00:a1"] == "Marquette Electronic"


@given(st.binary(max_size=2048))
def test_fuzz_xml_parser_raises_only_protocol_error(data: bytes) -> None:
    try:
        parse_nmap_xml(data)
    except ProtocolError:
        pass


_port = st.builds(
    lambda pid, state, proto: f'<port protocol="{proto}" portid="{pid}"><state state="{state}"/></port>',
    st.one_of(st.integers(-5, 70000).map(str), st.text(max_size=5)),
    st.sampled_from(["open", "closed", "filtered", "open|filtered", "weird", ""]),
    st.sampled_from(["tcp", "udp", "sctp", ""]),
)


@given(st.lists(_port, max_size=8), st.text(alphabet="0123456789,-x", max_size=20))
def test_fuzz_structured_host(ports: list[str], extra: str) -> None:
    xml = (
        '<nmaprun><host><status state="up"/><address addr="198.18.0.9" addrtype="ipv4"/><ports>'
        f'<extraports state="filtered"><extrareasons proto="tcp" ports="{extra}"/></extraports>'
        + "".join(ports)
        + "</ports></host></nmaprun>"
    )
    try:
        parse_nmap_xml(xml.encode())
    except ProtocolError:
        pass


def test_mac_vendors_only_for_the_macs_seen() -> None:
    table = "# c\n0000A1 Marquette Electronic\n005056 VMware\n02DC00 Lab\n"
    got = mac_vendors(table, only=["00:50:56:aa:bb:cc", "02-DC-00-00-00-0A"])
    assert got == {"00:50:56": "VMware", "02:dc:00": "Lab"}
    assert mac_vendors(table, only=[]) == {}


def test_round_trip_read_from_times() -> None:
    """nmap's ``<times srtt>`` (µs) becomes the host's round trip the probes' waits adapt to."""
    closed = parse_nmap_xml((FIX / "nmap-syn-closed.xml").read_bytes())
    filtered = parse_nmap_xml((FIX / "nmap-syn-filtered.xml").read_bytes())
    assert [h.srtt_us for h in closed.hosts] == [1]
    assert [h.srtt_us for h in filtered.hosts] == [56]
    bare = (
        b'<nmaprun><host><status state="up"/><address addr="10.0.0.1" addrtype="ipv4"/>'
        b'<times srtt="-5"/></host></nmaprun>'
    )
    assert parse_nmap_xml(bare).hosts[0].srtt_us is None
