"""RMM table integrity and matching on banners composed to public descriptions (see fixtures/README)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.rmm.parse import http_text, match_products, title
from duecare.probes.rmm.table import load_table

FIXTURES = Path(__file__).parent / "fixtures"
TABLE = load_table()


def test_every_entry_is_sourced_and_checkable() -> None:
    names = [p.name for p in TABLE.product]
    assert len(names) == len(set(names))
    for p in TABLE.product:
        assert p.sources
        assert all(0 < port < 65536 for port in p.ports)
        if p.check == "banner":
            assert p.banner_regex
        if p.check == "http":
            assert p.http_regex
        if p.check == "none":
            assert not ({80, 443} & set(p.ports)), "generic web ports need a page check"


@pytest.mark.parametrize(
    ("port", "fixture", "product"),
    [
        (6783, "nmap_match_splashtop_null_probe.bin", "Splashtop Streamer"),
        (5938, "nmap_match_teamviewer_null_probe.bin", "TeamViewer"),
        (5405, "nmap_match_netsupport_null_probe.bin", "NetSupport Manager"),
    ],
)
def test_banner_matches_are_firm(port: int, fixture: str, product: str) -> None:
    facts = match_products(TABLE.for_port(port), (FIXTURES / fixture).read_bytes(), None)
    assert [(m.product, m.confidence) for m in facts.matches] == [(product, "firm")]


def test_plain_vnc_is_not_an_rmm_product() -> None:
    # The vnc probe owns VNC; a password-protected VNC server must not become an RMM finding.
    facts = match_products(TABLE.for_port(5900), (FIXTURES / "rfc6143_s7.1.1_protocolversion.bin").read_bytes(), None)
    assert facts.matches == ()


def test_wrong_banner_on_a_banner_port_matches_nothing() -> None:
    facts = match_products(TABLE.for_port(5938), b"SSH-2.0-OpenSSH_9.2\r\n", None)
    assert facts.matches == ()
    assert facts.banner == "SSH-2.0-OpenSSH_9.2.."


def test_port_only_product_is_tentative() -> None:
    facts = match_products(TABLE.for_port(4899), b"", None)
    assert [(m.product, m.confidence, m.basis) for m in facts.matches] == [("Radmin", "tentative", "port number only")]


def test_simplehelp_page() -> None:
    page = http_text(200, [(b"Server", b"Jetty")], b"<html><head><title>SimpleHelp Remote Support</title>")
    facts = match_products(TABLE.for_port(443), None, (200, page))
    assert [m.product for m in facts.matches] == ["SimpleHelp"]
    assert facts.http_title == "SimpleHelp Remote Support"


def test_bomgar_header_and_plain_web_server() -> None:
    bomgar = http_text(404, [(b"Server", b"Bomgar")], b"")
    assert [m.product for m in match_products(TABLE.for_port(443), None, (404, bomgar)).matches] == [
        "BeyondTrust (Bomgar) appliance"
    ]
    nginx = http_text(200, [(b"Server", b"nginx")], b"<title>Welcome to nginx!</title>")
    assert match_products(TABLE.for_port(80), None, (200, nginx)).matches == ()


def test_title_is_unescaped_and_capped() -> None:
    assert title("<TITLE>\n a &amp; b </TITLE>") == "a & b"
    assert title("no title") is None
    assert len(title("<title>" + "x" * 500 + "</title>") or "") == 200


@given(st.sampled_from(sorted(TABLE.ports)), st.binary(max_size=1024), st.text(max_size=2048))
def test_fuzz_matching(port: int, banner: bytes, page: str) -> None:
    facts = match_products(TABLE.for_port(port), banner, (200, page))
    for m in facts.matches:
        assert m.confidence in ("firm", "tentative")


def test_regexes_cannot_be_catastrophic_on_long_input() -> None:
    junk = "a" * 65536
    for p in TABLE.product:
        for pattern in (p.banner_regex, p.http_regex):
            if pattern:
                re.search(pattern, junk, re.DOTALL)
