"""Exchange parsers on real answers: public Exchange fragments (§1.3) and the lab's nginx surface."""

from __future__ import annotations

import base64
import gzip
import zlib
from datetime import date

import pytest

from duecare.probes.errors import ProtocolError
from duecare.probes.exchange.facts import BuildPrecision, BuildSource, Endpoint
from duecare.probes.exchange.parse import (
    BODY_CAP,
    classify_location,
    combine,
    decode_body,
    header_values,
    is_https_upgrade,
    ntlm_from_headers,
    parse_build,
    parse_response,
    title_of,
    version_from_logon_page,
    version_from_manifest,
)
from tests.probes.exchange.http_fixtures import FIXTURES, body_of, load
from tests.probes.ntlm_samples import build_challenge

HOST = "169.254.37.128"


def test_http2_lower_case_autodiscover_401_gives_full_build_and_frontend_names() -> None:
    rec = load("autodiscover_401_ex2019cu11_http2.http")
    assert rec.status == 401
    p = parse_response(Endpoint.AUTODISCOVER, "/autodiscover/autodiscover.xml", 401, rec.headers, rec.body, host=HOST)
    assert [(b.version, b.source, b.precision) for b in p.builds] == [
        ("15.2.986.14", BuildSource.OWA_VERSION_HEADER, BuildPrecision.FULL)
    ]
    assert p.fe_servers == ("EX19-01",)
    assert p.be_targets == ("ex19-01.domain.corp",)
    assert p.server == "Microsoft-IIS/10.0"
    assert p.response.exchange_marker
    # "www-authenticate: NTLM" without a token is an offer, not a challenge.
    assert p.ntlm is None
    assert p.anomalies == ()


def test_activesync_headers_without_status_line() -> None:
    rec = load("activesync_401_ex2019cu14.http")
    p = parse_response(Endpoint.AUTODISCOVER, "/Microsoft-Server-ActiveSync", 401, rec.headers, b"", host=HOST)
    assert [b.version for b in p.builds] == ["15.2.1544.11"]
    assert p.fe_servers == ("DUMMY01",)


def test_owa_302_points_at_the_logon_form() -> None:
    rec = load("owa_302_writeup.http")
    assert rec.status == 302
    p = parse_response(Endpoint.OWA, "/owa/", 302, rec.headers, b"", host=HOST)
    assert p.response.exchange_marker
    assert p.response.location is not None and "/owa/auth/logon.aspx" in p.response.location
    assert p.builds == ()
    assert classify_location(p.response.location, HOST) == ("owa-logon", None)


def test_redirect_to_another_host_is_recorded_as_external_login() -> None:
    headers = [("Location", "https://login.microsoftonline.com/common/oauth2/authorize?client_id=x")]
    p = parse_response(Endpoint.OWA, "/owa/", 302, headers, b"", host=HOST)
    assert p.external_login_host == "login.microsoftonline.com"
    assert not p.response.exchange_marker


def test_logon_page_head_gives_cu_level_build_and_title() -> None:
    body = body_of("owa_logon_ex2013cu21.html")
    assert version_from_logon_page(body) == "15.0.1395"
    assert title_of(body) == "Outlook Web App"
    p = parse_response(Endpoint.OWA_LOGON, "/owa/auth/logon.aspx", 200, [], body, host=HOST)
    assert [(b.version, b.source, b.precision) for b in p.builds] == [
        ("15.0.1395", BuildSource.OWA_LOGON_PATH, BuildPrecision.CU)
    ]


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        # favicon lines seen in public material (§1.3)
        (b'href="/owa/auth/15.1.2507/themes/resources/favicon.ico"', "15.1.2507"),
        (b'href="/owa/auth/15.2.858/themes/resources/favicon.ico"', "15.2.858"),
        (b'href="/owa/auth/15.2.1258/themes/resources/favicon.ico"', "15.2.1258"),
        (b'href="/OWA/auth/15.2.2562/themes/resources/favicon.ico"', "15.2.2562"),
        # Exchange 2010 keeps a 4-part folder without "auth"
        (b'src="/owa/14.1.355.2/scripts/premium/flogon.js"', "14.1.355.2"),
        (b"<html>no owa here</html>", None),
    ],
)
def test_owa_asset_paths(fragment: bytes, expected: str | None) -> None:
    assert version_from_logon_page(fragment) == expected


def test_manifest_fragment_gives_full_build_whatever_the_token() -> None:
    body = body_of("exporttool_ex2016cu22_fragment.xml")
    assert version_from_manifest(body) == "15.1.2375.7"
    other_token = body.replace(b"b1d1a6c45aa418ce", b"1f16bd4ec4c2bb19")
    assert version_from_manifest(other_token) == "15.1.2375.7"


def test_manifest_not_a_manifest() -> None:
    assert version_from_manifest(body_of("owa_logon_ex2013cu21.html")) is None
    assert version_from_manifest(b'<assemblyIdentity name="something.else" version="1.2.3.4"/>') is None


def test_manifest_with_garbage_version_is_a_protocol_error() -> None:
    bad = b'<assemblyIdentity name="microsoft.exchange.ediscovery.exporttool.application" version="15.x"/>'
    with pytest.raises(ProtocolError):
        version_from_manifest(bad)
    p = parse_response(Endpoint.ECP_EXPORT_TOOL, "/ecp/x", 200, [], bad, host=HOST)
    assert p.builds == () and len(p.anomalies) == 1 and p.response.exchange_marker


def test_lab_nginx_whole_answers() -> None:
    owa = load("lab_nginx_owa_302.http")
    p_owa = parse_response(Endpoint.OWA, "/owa/", owa.status or 0, owa.headers, owa.body, host="198.18.0.30")
    assert p_owa.response.status == 302 and p_owa.response.exchange_marker
    assert [b.version for b in p_owa.builds] == ["15.1.2375.7"]
    assert p_owa.title is None  # nginx's "302 Found" page is not OWA's title

    logon = load("lab_nginx_logon_200.http")
    p_logon = parse_response(Endpoint.OWA_LOGON, "/owa/auth/logon.aspx", 200, logon.headers, logon.body, host="x")
    assert {(b.version, b.source) for b in p_logon.builds} == {
        ("15.1.2375.7", BuildSource.OWA_VERSION_HEADER),
        ("15.1.2375", BuildSource.OWA_LOGON_PATH),
    }
    assert p_logon.title == "Outlook"

    tool = load("lab_nginx_exporttool_200.http")
    assert version_from_manifest(tool.body) == "15.1.2375.7"

    ews = load("lab_nginx_ews_401_ntlm.http")
    p_ews = parse_response(Endpoint.EWS, "/EWS/Exchange.asmx", 401, ews.headers, ews.body, host="x")
    assert p_ews.ntlm is not None
    assert p_ews.ntlm.netbios_computer_name == "EXCH01"
    assert p_ews.ntlm.dns_domain_name == "lab.local"
    assert str(p_ews.ntlm.product_version) == "10.0.14393"

    facts = combine(
        [
            p_owa,
            p_logon,
            parse_response(Endpoint.ECP_EXPORT_TOOL, "/ecp/m", 200, tool.headers, tool.body, host="x"),
            p_ews,
        ],
        observed_on=date(2026, 11, 30),
        scheme="https",
        requests_sent=4,
    )
    assert facts.build is not None
    assert (facts.build.version, facts.build.source) == ("15.1.2375.7", BuildSource.ECP_EXPORT_TOOL)
    assert facts.fe_servers == ("EXCH01",) and facts.be_targets == ("exch01.lab.local",)
    assert facts.owa_title == "Outlook"
    assert facts.exchange_detected


def test_header_and_path_together_header_carries_the_su() -> None:
    # Audit note (§1.3): X-OWA-Version 15.2.1748.36 with path /owa/auth/15.2.1748/.
    headers = [("X-OWA-Version", "15.2.1748.36")]
    body = b'<link rel="shortcut icon" href="/owa/auth/15.2.1748/themes/resources/favicon.ico">'
    p = parse_response(Endpoint.OWA_LOGON, "/owa/auth/logon.aspx", 200, headers, body, host=HOST)
    facts = combine([p], observed_on=date(2026, 1, 1), scheme="https", requests_sent=1)
    assert facts.build is not None and facts.build.version == "15.2.1748.36"
    assert facts.build.precision is BuildPrecision.FULL
    assert len(facts.builds_seen) == 2


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("15.1.2242.12", "15.1.2242.12"),
        ("15.0.1497.26", "15.0.1497.26"),
        (" 15.02.1544.004 ", "15.2.1544.4"),  # the docs' long format
        ("15.2.858", "15.2.858"),
    ],
)
def test_parse_build(raw: str, canonical: str) -> None:
    assert parse_build(raw) == canonical


@pytest.mark.parametrize("raw", ["", "15", "15.2", "15.2.858.2.1", "15.2.abc.1", "1" * 40, "15.2.858.2\x00", "-1.2.3"])
def test_parse_build_rejects(raw: str) -> None:
    with pytest.raises(ProtocolError):
        parse_build(raw)


def test_malformed_owa_version_is_an_anomaly_not_a_crash() -> None:
    p = parse_response(Endpoint.OWA, "/owa/", 302, [("x-owa-version", "15.2.9" * 1000)], b"", host=HOST)
    assert p.builds == () and p.response.exchange_marker and len(p.anomalies) == 1
    assert len(p.anomalies[0]) <= 300


def exchange_challenge() -> bytes:
    # The names nmap's http-ntlm-info printed for an Exchange EWS endpoint (§1.3).
    return build_challenge(
        target="INLANEFREIGHT",
        nb_computer="EXCH01",
        nb_domain="INLANEFREIGHT",
        dns_computer="EXCH01.inlanefreight.local",
        dns_domain="inlanefreight.local",
        dns_tree="inlanefreight.local",
        version=(10, 0, 17763),
    )


def test_ntlm_challenge_in_www_authenticate() -> None:
    token = base64.b64encode(exchange_challenge()).decode()
    info = ntlm_from_headers([("WWW-Authenticate", f"NTLM {token}")])
    assert info is not None
    assert (info.netbios_computer_name, info.dns_computer_name) == ("EXCH01", "EXCH01.inlanefreight.local")
    assert str(info.product_version) == "10.0.17763"
    # Several challenges in one field, comma-separated, lower-case name (HTTP/2).
    combined = ntlm_from_headers([("www-authenticate", f"Negotiate, NTLM {token}")])
    assert combined == info


def test_ntlm_real_samba_challenge_inside_a_header() -> None:
    blob = (FIXTURES.parent.parent / "fixtures" / "samba417_session_setup_response.bin").read_bytes()
    token = base64.b64encode(blob).decode()  # find_challenge skips the SMB/SPNEGO wrapper
    info = ntlm_from_headers([("WWW-Authenticate", f"NTLM {token}")])
    assert info is not None and info.netbios_computer_name == "DCNTLMSMB"


@pytest.mark.parametrize(
    "value",
    ["NTLM !!!notbase64", "NTLM " + base64.b64encode(b"hello").decode(), "NTLM " + "A" * 9000],
)
def test_ntlm_bad_tokens(value: str) -> None:
    with pytest.raises(ProtocolError):
        ntlm_from_headers([("WWW-Authenticate", value)])
    p = parse_response(Endpoint.EWS, "/EWS/Exchange.asmx", 401, [("WWW-Authenticate", value)], b"", host=HOST)
    assert p.ntlm is None and len(p.anomalies) == 1


def test_header_values_is_case_insensitive() -> None:
    headers = [("X-OWA-Version", "1"), ("x-owa-version", "2"), ("X-Owa-VERSION ", " 3 ")]
    assert header_values(headers, "X-OWA-VERSION") == ["1", "2", "3"]


def test_decode_body_caps_a_gzip_bomb() -> None:
    bomb = gzip.compress(b"\x00" * (8 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    assert len(decode_body(bomb, "gzip")) == BODY_CAP


def test_decode_body_encodings() -> None:
    page = b"<title>Outlook</title>"
    assert decode_body(gzip.compress(page), "gzip") == page
    assert decode_body(zlib.compress(page), "deflate") == page
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decode_body(raw_deflate.compress(page) + raw_deflate.flush(), "deflate") == page
    assert decode_body(page, None) == page
    assert decode_body(page, "br") == b""
    assert decode_body(b"not gzip", "gzip") == b""


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("https://198.18.0.30/owa/", True),
        ("HTTPS://198.18.0.30:443/owa/auth/logon.aspx?url=x", True),
        ("https:///owa/", True),
        ("https://mail.example.org/owa/", False),
        ("http://198.18.0.30/owa/", False),
        ("/owa/auth/logon.aspx", False),
        ("https://[::1", False),
    ],
)
def test_is_https_upgrade(location: str, expected: bool) -> None:
    assert is_https_upgrade(location, "198.18.0.30") is expected
