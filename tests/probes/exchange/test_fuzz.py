"""A hostile web server must never crash, hang or balloon the Exchange parsers."""

from __future__ import annotations

import base64
import time
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.exchange.facts import Endpoint, ExchangeFacts
from duecare.probes.exchange.parse import (
    BODY_CAP,
    ParsedResponse,
    combine,
    decode_body,
    ntlm_from_headers,
    parse_build,
    parse_response,
    version_from_logon_page,
    version_from_manifest,
)
from tests.probes.exchange.http_fixtures import body_of

_NAMES = st.sampled_from(
    ["X-OWA-Version", "x-owa-version", "X-FEServer", "x-calculatedbetarget", "Location", "WWW-Authenticate", "Server"]
)
_HEADERS = st.lists(st.tuples(st.one_of(_NAMES, st.text(max_size=20)), st.text(max_size=300)), max_size=12)
_SEEDS = [
    body_of("exporttool_ex2016cu22_fragment.xml"),
    body_of("owa_logon_ex2013cu21.html"),
]


def _mutate(seed: bytes, cut: int, junk: bytes) -> bytes:
    at = cut % (len(seed) + 1)
    return seed[:at] + junk + seed[at:]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=st.sampled_from(list(Endpoint)),
    status=st.integers(min_value=-5, max_value=2000),
    headers=_HEADERS,
    body=st.one_of(
        st.binary(max_size=4096),
        st.builds(_mutate, st.sampled_from(_SEEDS), st.integers(min_value=0), st.binary(max_size=64)),
    ),
)
def test_parse_response_never_raises(
    endpoint: Endpoint, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    p = parse_response(endpoint, "/owa/", status, headers, body, host="198.18.0.30")
    assert isinstance(p, ParsedResponse)
    facts = combine([p], observed_on=date(2026, 1, 1), scheme="https", requests_sent=1)
    assert isinstance(facts, ExchangeFacts)
    ExchangeFacts.model_validate(facts.model_dump(mode="json"))  # what the report carries round-trips


@given(st.text(max_size=200))
def test_parse_build_only_protocol_errors(text: str) -> None:
    try:
        out = parse_build(text)
    except ProtocolError:
        return
    assert 3 <= len(out.split(".")) <= 4


@given(st.binary(max_size=8192))
def test_body_parsers_only_protocol_errors(body: bytes) -> None:
    for fn in (version_from_manifest, version_from_logon_page):
        try:
            fn(body)
        except ProtocolError:
            pass


@given(st.binary(max_size=2048))
def test_ntlm_header_with_any_payload(blob: bytes) -> None:
    token = base64.b64encode(b"NTLMSSP\x00\x02\x00\x00\x00" + blob).decode()
    try:
        ntlm_from_headers([("WWW-Authenticate", f"NTLM {token}")])
    except ProtocolError:
        pass


@given(st.binary(max_size=4096), st.sampled_from([None, "gzip", "deflate", "x-gzip", "br", "identity", "zz"]))
def test_decode_body_bounded(raw: bytes, coding: str | None) -> None:
    assert len(decode_body(raw, coding)) <= BODY_CAP


def test_huge_values_stay_bounded_and_fast() -> None:
    huge = "9" * 1_000_000
    headers = [("X-OWA-Version", huge), ("X-FEServer", huge), ("Location", "https://" + huge), ("Server", huge)]
    body = b"<assemblyIdentity " * 200_000 + b"/owa/auth/" * 100_000  # megabytes of near-matches
    started = time.perf_counter()
    p = parse_response(Endpoint.OWA, "/owa/", 302, headers, body, host="h")
    assert time.perf_counter() - started < 2.0
    assert p.builds == ()
    assert all(len(v) <= 200 for v in p.fe_servers)
    assert p.response.location is not None and len(p.response.location) <= 512
    assert all(len(a) <= 300 for a in p.anomalies)
