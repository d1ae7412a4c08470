"""The inside/outside join: gateway mappings first, then fingerprints, then coverage for ``false``."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import ip_address

from duecare.advisories.reachability import GatewayMapping, apply_gateway_mappings
from duecare.probes.upnp.facts import PortMapping
from duecare.wire import Exposure, Finding, Proto, Severity, Verdict
from duecare.wire.reachability import (
    OutsideService,
    OutsideView,
    expand_ports,
    fingerprint_from_facts,
    join_outside,
    unexplained,
)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
PUBLIC = ip_address("203.0.113.1")


def _f(exposure: Exposure, ip: str, port: int, proto: Proto = Proto.TCP) -> Finding:
    return Finding(
        exposure=exposure,
        ip=ip_address(ip),
        port=port,
        proto=proto,
        severity=Severity.HIGH,
        verdict=Verdict.AFFECTED,
        title=exposure.value,
        reason="seen",
    )


VNC = _f(Exposure.VNC_NO_AUTH, "198.18.0.80", 5900)
RDP = _f(Exposure.RDP_NO_NLA, "198.18.0.11", 3389)
SMB = _f(Exposure.SMBV1_ENABLED, "198.18.0.20", 445)
FTP = _f(Exposure.FTP_ANONYMOUS, "198.18.0.40", 21)
MAPPING = GatewayMapping(
    ip_address("198.18.0.1"),
    PUBLIC,
    PortMapping(protocol="tcp", external_port=5900, internal_client="198.18.0.80", internal_port=5900),
    NOW,
)
CERT = "ab" * 32


def test_a_mapped_service_is_reachable_and_says_how() -> None:
    vnc, rdp = apply_gateway_mappings([VNC, RDP], [MAPPING])
    assert vnc.internet_exposed is True
    assert vnc.internet_evidence[0].source == "gateway-mapping"
    assert vnc.internet_evidence[0].public_ip == PUBLIC and vnc.internet_evidence[0].public_port == 5900
    assert "203.0.113.1:5900" in vnc.internet_evidence[0].summary
    # The IGD lists UPnP mappings only: a static forward is invisible from inside.
    assert rdp.internet_exposed is None


def test_wrong_protocol_does_not_link() -> None:
    udp = _f(Exposure.VNC_NO_AUTH, "198.18.0.80", 5900, Proto.UDP)
    assert apply_gateway_mappings([udp], [MAPPING])[0].internet_exposed is None


def _view(*services: OutsideService) -> OutsideView:
    return OutsideView(
        declared=(PUBLIC,),
        tcp_ports=frozenset({21, 445, 3389, 5900}),
        udp_ports=frozenset(),
        open_services=services,
        observed_at=NOW,
    )


def test_outside_join() -> None:
    rdp_out = OutsideService(PUBLIC, 3389, Proto.TCP, {"cert_sha256": CERT}, NOW)
    ftp_out = OutsideService(PUBLIC, 21, Proto.TCP, {}, NOW)
    view = _view(rdp_out, ftp_out, OutsideService(PUBLIC, 5900, Proto.TCP, {}, NOW))
    inside = apply_gateway_mappings([VNC, RDP, SMB, FTP], [MAPPING])
    fps = {("198.18.0.11", 3389, "tcp"): {"cert_sha256": CERT}}
    vnc, rdp, smb, ftp = join_outside(inside, view, fps)
    assert vnc.internet_exposed is True and vnc.internet_evidence[0].source == "gateway-mapping"
    assert rdp.internet_exposed is True and "cert_sha256" in rdp.internet_evidence[0].summary
    assert rdp.internet_evidence[0].public_port == 3389
    assert smb.internet_exposed is False  # 445 swept on every declared address, nothing answered
    assert ftp.internet_exposed is None  # 21 is open outside, but nothing links it to this host
    assert [s.port for s in unexplained(view, [vnc, rdp, smb, ftp])] == [21]


def test_port_not_swept_stays_unknown() -> None:
    view = OutsideView((PUBLIC,), frozenset({3389}), frozenset(), (), NOW)
    assert join_outside([SMB], view)[0].internet_exposed is None


def test_no_outside_view_changes_nothing() -> None:
    assert join_outside([SMB], None)[0].internet_exposed is None


def test_fingerprint_from_nested_facts() -> None:
    facts = {
        "certificate": {"sha256_fingerprint": CERT.upper()},
        "ntlm": {"netbios_computer_name": "TS02", "dns_computer_name": None},
        "fe_servers": ["EXCH01"],
    }
    assert fingerprint_from_facts(facts) == {"cert_sha256": CERT, "ntlm_computer": "ts02", "fe_server": "exch01"}


def test_expand_ports() -> None:
    assert expand_ports("21-23,445, 3389,x,0-2,70000") == {21, 22, 23, 445, 3389}


def _vnc_facts() -> dict[str, object]:
    """A VNC probe's facts as the probe builds them from real TigerVNC bytes (tests/probes/vnc/fixtures)."""
    from pathlib import Path

    from duecare.probes.vnc.facts import VncFacts
    from duecare.probes.vnc.parse import SERVER_INIT_HEADER, parse_version, server_init_header, text

    fix = Path(__file__).parents[1] / "probes" / "vnc" / "fixtures"
    version = parse_version((fix / "xvnc_none_version.bin").read_bytes())
    init = (fix / "xvnc_none_server_init.bin").read_bytes()
    head = server_init_header(init[:SERVER_INIT_HEADER])
    facts = VncFacts(
        server_version=version.text,
        protocol=version.protocol,
        security_types=(1,),
        none_accepted=True,
        desktop_name=text(init[SERVER_INIT_HEADER : SERVER_INIT_HEADER + head.name_length], 256),
        width=head.width,
        height=head.height,
    )
    return facts.model_dump(mode="json")


def test_a_vnc_desktop_is_a_fingerprint() -> None:
    assert fingerprint_from_facts(_vnc_facts()) == {"rfb_desktop": "003.008|i4-open|800x600"}
    # Before ServerInit (authentication required) the server names no desktop: nothing to link by.
    assert fingerprint_from_facts({**_vnc_facts(), "desktop_name": None}) == {}


def test_a_vnc_desktop_links_only_one_look_alike() -> None:
    fp = fingerprint_from_facts(_vnc_facts())
    outside = OutsideService(PUBLIC, 5901, Proto.TCP, fp, NOW)
    view = _view(outside)
    (vnc,) = join_outside([VNC], view, {("198.18.0.80", 5900, "tcp"): fp})
    assert vnc.internet_exposed is True and "rfb_desktop" in vnc.internet_evidence[0].summary
    # Two inside servers with the same desktop name, version and size: which one is forwarded is not
    # shown by the evidence, so neither is linked (5900 is covered, but the outside port is 5901).
    twin = _f(Exposure.VNC_NO_AUTH, "198.18.0.81", 5900)
    both = {("198.18.0.80", 5900, "tcp"): fp, ("198.18.0.81", 5900, "tcp"): fp}
    a, b = join_outside([VNC, twin], _view(outside), both)
    assert a.internet_exposed is b.internet_exposed is False
    # A strong fingerprint still links whatever the look-alikes.
    strong = {**fp, "cert_sha256": CERT}
    out_strong = OutsideService(PUBLIC, 5901, Proto.TCP, strong, NOW)
    a, b = join_outside([VNC, twin], _view(out_strong), {**both, ("198.18.0.80", 5900, "tcp"): strong})
    assert a.internet_exposed is True and b.internet_exposed is False


def _ssh_facts() -> dict[str, object]:
    """An SSH probe's facts from OpenSSH 9.2's recorded bytes (tests/probes/ssh/fixtures)."""
    from pathlib import Path

    from duecare.probes.ssh.parse import (
        OUR_KEX,
        choose,
        parse_ecdh_reply,
        parse_kexinit,
        split_identification,
        split_packet,
        ssh_facts,
    )

    data = (Path(__file__).parents[1] / "probes" / "ssh" / "fixtures" / "openssh92_curve25519-sha256.bin").read_bytes()
    got = split_identification(data)
    assert got is not None
    ident, rest = got
    first = split_packet(rest)
    assert first is not None
    second = split_packet(first[1])
    assert second is not None
    offer = parse_kexinit(first[0])
    blob = parse_ecdh_reply(second[0]).host_key
    return ssh_facts(ident, offer, choose(OUR_KEX, offer.kex_algorithms), blob).model_dump(mode="json")


def test_an_ssh_host_key_is_a_fingerprint_and_links() -> None:
    facts = _ssh_facts()
    fp = fingerprint_from_facts(facts)
    # The hex SHA-256 of the key blob: the digest ssh-keygen prints as SHA256:87NdqEoei5aP7Inv0Bmp…
    assert fp == {"ssh_host_key": "f3b35da84a1e8b968fec89efd019a905122715d671004b22ed4128a4df99c1b6"}
    # A finding on the SSH service (say its product's end of life) is linked to the same key seen on a
    # forwarded public port, whatever the port numbers.
    eol = _f(Exposure.PRODUCT_END_OF_LIFE, "198.18.0.100", 22)
    view = OutsideView(
        (PUBLIC,), frozenset({22, 2222}), frozenset(), (OutsideService(PUBLIC, 2222, Proto.TCP, fp, NOW),), NOW
    )
    (linked,) = join_outside([eol], view, {("198.18.0.100", 22, "tcp"): fp})
    assert linked.internet_exposed is True
    assert (
        linked.internet_evidence[0].public_port == 2222
        and "ssh_host_key f3b35da8" in linked.internet_evidence[0].summary
    )
    # Another key on the outside port links nothing: 22 was swept and closed, so the finding is not reachable.
    other = OutsideService(PUBLIC, 2222, Proto.TCP, {"ssh_host_key": "00" * 32}, NOW)
    view_other = OutsideView((PUBLIC,), frozenset({22, 2222}), frozenset(), (other,), NOW)
    (alone,) = join_outside([eol], view_other, {("198.18.0.100", 22, "tcp"): fp})
    assert alone.internet_exposed is False
    # Before the key exchange (no common algorithm) there is no key and no fingerprint.
    assert fingerprint_from_facts({**facts, "host_key_sha256": None}) == {}
