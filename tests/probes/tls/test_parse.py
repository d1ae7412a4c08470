"""probes.tls.parse on bytes recorded from nginx 1.22.1 / OpenSSL 3.0 (see capture.py), plus fuzz."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.tls.facts import TlsVersion, VersionResult
from duecare.probes.tls.parse import Alert, Attempt, ServerHello, build_facts, parse_server_flight

FIXTURES = Path(__file__).parent / "fixtures"
#: The capture day (the modern/weak certificates are valid ±1 year around it): a fixed clock.
NOW = x509.load_der_x509_certificate((FIXTURES / "nginx1221_modern_cert.der").read_bytes()).not_valid_before_utc
NOW = NOW + timedelta(days=366)
MANIFEST = json.loads((FIXTURES / "nginx1221_manifest.json").read_text())


def _bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _attempts(listener: str) -> list[Attempt]:
    """The recorded handshakes, plus the SSLv3 row the probe adds when OpenSSL cannot offer it."""
    recorded = [
        Attempt(TlsVersion(m["version"]), VersionResult(m["outcome"]), _bytes(m["file"]), m["cipher"], m["error"])
        for m in MANIFEST
        if m["listener"] == listener
    ]
    return [*recorded, Attempt(TlsVersion.SSL3, VersionResult.NOT_TESTABLE, error="not testable locally")]


@pytest.mark.parametrize(
    ("name", "version", "suite"),
    [
        ("nginx1221_expired_tlsv10_accepted.bin", TlsVersion.TLS1_0, 0xC014),
        ("nginx1221_expired_tlsv11_accepted.bin", TlsVersion.TLS1_1, 0xC014),
        ("nginx1221_expired_tlsv12_accepted.bin", TlsVersion.TLS1_2, 0xC030),
        # TLS 1.3 says 1.2 in legacy_version; the supported_versions extension must win.
        ("nginx1221_expired_tlsv13_accepted.bin", TlsVersion.TLS1_3, 0x1302),
    ],
)
def test_server_hello_from_nginx(name: str, version: TlsVersion, suite: int) -> None:
    assert parse_server_flight(_bytes(name)) == ServerHello(version, suite)


def test_refusal_is_a_protocol_version_alert() -> None:
    flight = parse_server_flight(_bytes("nginx1221_modern_tlsv10_rejected.bin"))
    assert isinstance(flight, Alert)
    assert (flight.level, flight.name) == (2, "protocol_version")


def test_expired_listener_facts() -> None:
    facts = build_facts(_attempts("expired"), _bytes("nginx1221_expired_cert.der"), NOW)
    assert facts.accepted == (TlsVersion.TLS1_3, TlsVersion.TLS1_2, TlsVersion.TLS1_1, TlsVersion.TLS1_0)
    tls10 = next(v for v in facts.versions if v.version is TlsVersion.TLS1_0)
    assert (tls10.cipher, tls10.cipher_suite) == ("ECDHE-RSA-AES256-SHA", "0xc014")
    assert facts.certificate is not None
    assert facts.certificate.expired
    assert facts.certificate.self_signed
    assert facts.certificate.subject_cn == "expired.lab.test"
    assert facts.certificate.not_after == datetime(2020, 1, 1, tzinfo=UTC)
    assert facts.weak_key is False


def test_modern_listener_refuses_old_versions_with_alert_detail() -> None:
    facts = build_facts(_attempts("modern"), _bytes("nginx1221_modern_cert.der"), NOW)
    assert facts.accepted == (TlsVersion.TLS1_3, TlsVersion.TLS1_2)
    refused = {v.version: v.detail for v in facts.versions if v.result is VersionResult.REJECTED}
    assert refused == {
        TlsVersion.TLS1_1: "alert protocol_version",
        TlsVersion.TLS1_0: "alert protocol_version",
    }
    assert facts.certificate is not None
    assert not facts.certificate.expired
    assert facts.certificate.key_type == "EC-secp256r1"
    assert facts.weak_key is False


def test_weak_key_is_recorded() -> None:
    facts = build_facts(_attempts("weak"), _bytes("nginx1221_weak_cert.der"), NOW)
    assert facts.certificate is not None
    assert facts.certificate.key_size == 1024
    assert facts.weak_key is True


def test_clock_is_injected_not_read() -> None:
    der = _bytes("nginx1221_expired_cert.der")
    before = build_facts(_attempts("expired"), der, datetime(2019, 6, 1, tzinfo=UTC))
    assert before.certificate is not None
    assert not before.certificate.expired


def test_no_certificate_is_explained() -> None:
    facts = build_facts([Attempt(TlsVersion.TLS1_2, VersionResult.REJECTED, b"", error="closed")], None, NOW)
    assert facts.certificate is None
    assert facts.certificate_error == "no handshake completed"


def test_garbage_certificate_is_a_fact_not_a_crash() -> None:
    attempts = [Attempt(TlsVersion.TLS1_2, VersionResult.ACCEPTED, b"", "X")]
    facts = build_facts(attempts, b"\x30\x03\x02\x01\x00", NOW)
    assert facts.certificate is None
    assert facts.certificate_error is not None


def test_plain_http_is_not_tls() -> None:
    with pytest.raises(ProtocolError):
        parse_server_flight(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def test_truncated_flight_is_incomplete_not_wrong() -> None:
    whole = _bytes("nginx1221_expired_tlsv12_accepted.bin")
    assert parse_server_flight(whole[:40]) is None


@given(st.binary(max_size=4096))
def test_fuzz_flight_only_raises_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_server_flight(data)


@given(st.sampled_from(sorted(p.name for p in FIXTURES.glob("*.bin"))), st.data())
def test_fuzz_mutated_recordings(name: str, data: st.DataObject) -> None:
    raw = bytearray(_bytes(name))
    for _ in range(data.draw(st.integers(1, 8))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(ProtocolError):
        parse_server_flight(bytes(raw[:cut]))
    # build_facts must absorb every parse problem into facts, never raise.
    build_facts([Attempt(TlsVersion.TLS1_2, VersionResult.ACCEPTED, bytes(raw[:cut]), "X")], bytes(raw), NOW)


@given(st.binary(min_size=5, max_size=5).map(lambda h: b"\x16\x03\x03\xff\xff" + h))
def test_oversized_record_header_raises(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_server_flight(data)
