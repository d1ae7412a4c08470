"""probes.rdp.parse on real xrdp / FreeRDP bytes and the public fragments of detection-methods §2."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.rdp.facts import FailureCode, Negotiation, Outcome, SecurityProtocol
from duecare.probes.rdp.parse import (
    COOKIE,
    PROBE_SETS,
    connection_request,
    decide,
    negotiation_from,
    parse_connection_confirm,
    tpkt_length,
)

FIX = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIX / name).read_bytes()


def negotiate_all(prefix: str) -> list[Negotiation]:
    return [
        negotiation_from(mask, parse_connection_confirm(fixture(f"{prefix}_cc_req{mask}.bin"))) for mask in PROBE_SETS
    ]


# --- the Connection Request ---------------------------------------------------------------


def test_request_matches_public_bytes_without_cookie() -> None:
    """Seth issue log: SSL|HYBRID|HYBRID_EX request, no cookie (detection-methods §2.1)."""
    expected = bytes.fromhex("030000130EE000000000000100080 00B000000".replace(" ", ""))
    assert connection_request(0x0B, cookie=b"") == expected


def test_request_matches_public_bytes_with_cookie() -> None:
    """pyrdp issue #490 log (detection-methods §2.1)."""
    expected = (
        bytes.fromhex("0300002f2ae00000000000") + b"Cookie: mstshash=Administr\r\n" + bytes.fromhex("010008000b000000")
    )
    assert connection_request(0x0B, cookie=b"Cookie: mstshash=Administr\r\n") == expected


def test_default_request_carries_our_cookie_and_lengths_agree() -> None:
    cr = connection_request(0)
    assert COOKIE in cr
    assert tpkt_length(cr[:4]) == len(cr)
    assert cr[4] == len(cr) - 5  # LI excludes itself and the TPKT header
    assert cr[-8:] == bytes.fromhex("0100080000000000")


def test_legacy_request_has_no_negotiation() -> None:
    cr = connection_request(None)
    assert cr.endswith(COOKIE)


# --- the Connection Confirm ----------------------------------------------------------------


def test_public_ssl_required_reply() -> None:
    """Seth log: server demands TLS after a downgraded request (detection-methods §2.2)."""
    cc = bytes.fromhex("030000130ED00000123400030008000100000 0".replace(" ", ""))
    n = negotiation_from(0, parse_connection_confirm(cc))
    assert n.outcome is Outcome.FAILURE
    assert n.failure is FailureCode.SSL_REQUIRED_BY_SERVER
    assert n.failure_code == 1


def test_xrdp_rdp_layer_selects_rdp_for_everything() -> None:
    for n in negotiate_all("xrdp_rdp"):
        assert n.outcome is Outcome.SELECTED
        assert n.selected is SecurityProtocol.RDP
        assert n.flags == ("EXTENDED_CLIENT_DATA_SUPPORTED",)


def test_xrdp_tls_layer() -> None:
    rdp, ssl, hybrid, hybrid_ex = negotiate_all("xrdp_tls")
    assert rdp.failure is FailureCode.SSL_REQUIRED_BY_SERVER
    assert ssl.selected is hybrid.selected is hybrid_ex.selected is SecurityProtocol.SSL


def test_freerdp_nla_required() -> None:
    rdp, ssl, hybrid, hybrid_ex = negotiate_all("freerdp_nla")
    assert rdp.failure is ssl.failure is FailureCode.HYBRID_REQUIRED_BY_SERVER
    assert hybrid.selected is hybrid_ex.selected is SecurityProtocol.HYBRID
    assert hybrid.flags == ("EXTENDED_CLIENT_DATA_SUPPORTED", "DYNVC_GFX_PROTOCOL_SUPPORTED")


def test_eleven_byte_cc_has_no_negotiation_data() -> None:
    cc = fixture("xrdp_rdp_cc_reqlegacy.bin")
    assert len(cc) == 11
    n = negotiation_from(0, parse_connection_confirm(cc))
    assert n.outcome is Outcome.NO_NEGOTIATION_DATA
    assert n.selected is None


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (2, FailureCode.SSL_NOT_ALLOWED_BY_SERVER),
        (3, FailureCode.SSL_CERT_NOT_ON_SERVER),
        (4, FailureCode.INCONSISTENT_FLAGS),
        (5, FailureCode.HYBRID_REQUIRED_BY_SERVER),
        (6, FailureCode.SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER),
        (77, FailureCode.UNKNOWN),
    ],
)
def test_failure_codes_by_name(code: int, name: FailureCode) -> None:
    cc = bytes.fromhex("030000130ed00000123400") + struct.pack("<BBHI", 3, 0, 8, code)
    n = negotiation_from(1, parse_connection_confirm(cc))
    assert (n.failure, n.failure_code) == (name, code)


@pytest.mark.parametrize(("value", "proto"), [(8, SecurityProtocol.HYBRID_EX), (0x20, SecurityProtocol.UNKNOWN)])
def test_selected_values(value: int, proto: SecurityProtocol) -> None:
    cc = bytes.fromhex("030000130ed00000123400") + struct.pack("<BBHI", 2, 0x1F, 8, value)
    n = negotiation_from(0x0B, parse_connection_confirm(cc))
    assert n.selected is proto
    assert "RESTRICTED_ADMIN_MODE_SUPPORTED" in n.flags


@pytest.mark.parametrize(
    "blob",
    [
        b"SSH-2.0-OpenSSH_9.2p1\r\n",
        b"\x03\x00\x00\x05\x00",  # length below minimum
        bytes.fromhex("030000130ee00000000000010008000b000000"),  # a CR, not a CC
        bytes.fromhex("030000130ed00000123400040008000000000 0".replace(" ", "")),  # neg type 4
        bytes.fromhex("030000130ed00000123400020010000000000 0".replace(" ", "")),  # neg length 16
        bytes.fromhex("0300000f0ad0000012340002000800"),  # neg data cut short
        bytes.fromhex("0300000b30d00000123400"),  # LI overruns the packet
        bytes.fromhex("0300ffff06d00000123400"),  # TPKT over the cap
    ],
)
def test_garbage_confirm_is_protocol_error(blob: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_connection_confirm(blob)


# --- the decision table (§2.3) -------------------------------------------------------------


def test_decide_xrdp_rdp() -> None:
    d = decide(negotiate_all("xrdp_rdp"))
    assert d.accepted == (SecurityProtocol.RDP,)
    assert d.standard_security_allowed is True
    assert d.tls_allowed is False  # SSL request downgraded to RDP
    assert d.nla_supported is False
    assert d.nla_required is False
    assert d.legacy_server is False


def test_decide_xrdp_tls() -> None:
    d = decide(negotiate_all("xrdp_tls"))
    assert d.accepted == (SecurityProtocol.SSL,)
    assert d.standard_security_allowed is False
    assert d.tls_allowed is True
    assert d.nla_supported is False
    assert d.nla_required is False


def test_decide_freerdp_nla_required() -> None:
    d = decide(negotiate_all("freerdp_nla"))
    assert d.accepted == (SecurityProtocol.HYBRID,)
    assert d.standard_security_allowed is False
    assert d.nla_supported is True
    assert d.nla_required is True


def test_decide_freerdp_open() -> None:
    d = decide(negotiate_all("freerdp_open"))
    assert d.accepted == (SecurityProtocol.RDP, SecurityProtocol.SSL)
    assert d.standard_security_allowed is True
    assert d.nla_required is False


def _sel(req: int, proto: SecurityProtocol) -> Negotiation:
    return Negotiation(requested=req, outcome=Outcome.SELECTED, selected=proto)


def _fail(req: int, code: FailureCode) -> Negotiation:
    return Negotiation(requested=req, outcome=Outcome.FAILURE, failure=code)


def test_decide_server_2016_tls_required_nla_optional() -> None:
    """nmap PR #1614: Native RDP FAILED (SSL_REQUIRED), SSL SUCCESS, CredSSP SUCCESS."""
    d = decide(
        [
            _fail(0, FailureCode.SSL_REQUIRED_BY_SERVER),
            _sel(1, SecurityProtocol.SSL),
            _sel(3, SecurityProtocol.HYBRID),
            _sel(11, SecurityProtocol.HYBRID_EX),
        ]
    )
    assert d.standard_security_allowed is False
    assert d.nla_supported is True
    assert d.nla_required is False


def test_decide_rdp_only_server_refusing_tls() -> None:
    d = decide([_sel(0, SecurityProtocol.RDP), _fail(1, FailureCode.SSL_NOT_ALLOWED_BY_SERVER)])
    assert d.tls_allowed is False
    assert d.nla_required is False


def test_decide_legacy_server() -> None:
    d = decide([Negotiation(requested=0, outcome=Outcome.NO_NEGOTIATION_DATA)])
    assert d.legacy_server is True
    assert d.standard_security_allowed is True
    assert d.nla_required is False
    assert d.tls_allowed is False


def test_decide_everything_broke_is_unknown() -> None:
    d = decide([Negotiation(requested=m, outcome=Outcome.ERROR, error="reset") for m in PROBE_SETS])
    assert (d.standard_security_allowed, d.tls_allowed, d.nla_required, d.nla_supported) == (
        None,
        None,
        None,
        None,
    )


def test_decide_only_tls_refusal_with_hybrid_required_leaves_nla_required_true() -> None:
    d = decide([_fail(0, FailureCode.HYBRID_REQUIRED_BY_SERVER), Negotiation(requested=1, outcome=Outcome.ERROR)])
    assert d.nla_required is True


# --- fuzz ----------------------------------------------------------------------------------


@given(st.binary(max_size=64))
def test_fuzz_confirm_garbage(blob: bytes) -> None:
    try:
        negotiation_from(0, parse_connection_confirm(blob))
    except ProtocolError:
        pass


@given(st.data())
def test_fuzz_confirm_mutations(data: st.DataObject) -> None:
    base = bytearray(fixture(data.draw(st.sampled_from(["xrdp_tls_cc_req0.bin", "freerdp_nla_cc_req3.bin"]))))
    for pos, val in data.draw(st.lists(st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)), max_size=5)):
        base[pos] = val
    extra = data.draw(st.binary(max_size=20))
    try:
        n = negotiation_from(3, parse_connection_confirm(bytes(base) + extra))
    except ProtocolError:
        return
    decide([n])
