"""The tolerant X.509 read: BER forms strict DER refuses, the same facts as the strict path on DER,
and fuzzing (a hostile certificate gives facts or ProtocolError, nothing else)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from duecare.advisories.predicates import PredicateRegistry
from duecare.advisories.predicates.tls import register
from duecare.probes.errors import ProtocolError
from duecare.probes.tls.parse import build_facts
from duecare.probes.tls.render import certificate_lines
from duecare.probes.x509 import CertificateFacts, parse_certificate
from duecare.probes.x509_tolerant import read_certificate, rfc4514
from duecare.wire import Verdict
from tests.probes.ber_certs import CN, ORG, ber_certificate, name, san_extension, tlv

NOW = datetime(2025, 6, 1, tzinfo=UTC)
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC = ec.generate_private_key(ec.SECP384R1())
_SUBJECT = name((CN, "nas01.example"), (ORG, "Example NAS"))
_STRICT_ONLY = {"strict_der", "strict_der_error"}

#: BER encodings seen on real devices that cryptography's strict DER parser refuses.
BER_CASES = {
    "explicit version v1 (DEFAULT written out)": {"version": tlv(0xA0, tlv(0x02, b"\x00"))},
    "explicit critical FALSE in an extension": {"extensions": san_extension("nas01.example", critical=b"\x01\x01\x00")},
    "UTCTime without seconds": {"not_after": tlv(0x17, b"2501010000Z")},
    "serial with a superfluous leading zero": {"serial": tlv(0x02, b"\x00\x01\x23")},
}


def _strict(der: bytes) -> bool:
    try:
        x509.load_der_x509_certificate(der)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("case", sorted(BER_CASES))
def test_ber_certificate_read_tolerantly(case: str) -> None:
    der = ber_certificate(_RSA, subject=_SUBJECT, **BER_CASES[case])  # type: ignore[arg-type]
    assert not _strict(der), "cryptography now accepts this encoding: the case no longer tests the fallback"
    f = parse_certificate(der, NOW)
    assert f.strict_der is False and f.strict_der_error
    assert (f.subject, f.subject_cn, f.issuer_cn) == (
        "O=Example NAS,CN=nas01.example",
        "nas01.example",
        "nas01.example",
    )
    assert f.not_after == datetime(2025, 1, 1, tzinfo=UTC)
    assert f.expired is True and f.not_yet_valid is False
    assert (f.key_type, f.key_size, f.signature_hash) == ("RSA", 2048, "sha256")
    assert f.self_signed is True and f.self_signature_verified is True  # checked over the bytes as sent


def test_explicit_default_extension_keeps_its_sans_and_the_expired_finding() -> None:
    der = ber_certificate(
        _EC, subject=_SUBJECT, extensions=san_extension("nas01.example", "nas", critical=b"\x01\x01\x00")
    )
    f = parse_certificate(der, NOW)
    assert (f.strict_der, f.sans, f.key_type, f.key_size) == (False, ("nas01.example", "nas"), "EC-secp384r1", 384)
    assert f.self_signature_verified is True
    reg = PredicateRegistry()
    register(reg)
    facts = build_facts([], der, NOW)  # the TLS probe's path: certificate bytes → facts
    assert facts.certificate == f and facts.certificate_error is None
    check = reg.get("tls.certificate_expired").fn(facts, None)
    assert check.verdict is Verdict.AFFECTED
    assert check.details["strict_der"] is False
    assert any(line.startswith("encoding: not strict DER") for line in certificate_lines(f))


def test_tolerant_read_spots_a_forged_self_signature() -> None:
    der = bytearray(ber_certificate(_RSA, subject=_SUBJECT, version=tlv(0xA0, tlv(0x02, b"\x00"))))
    der[-5] ^= 0xFF  # inside the signature value
    f = parse_certificate(bytes(der), NOW)
    assert (f.strict_der, f.self_signature_verified, f.self_signed) == (False, False, False)


def test_generalized_time_offset_and_bmp_names() -> None:
    subject = name((CN, "pr\u00e9nom"), tag=0x0C)
    der = ber_certificate(
        _RSA,
        subject=subject,
        issuer=name((CN, "Issuing CA"), (ORG, "a,b+c")),
        not_before=tlv(0x18, b"20240101000000.5Z"),
        not_after=tlv(0x17, b"2501010100+0100"),  # BER allows an offset; DER does not
    )
    f = parse_certificate(der, NOW)
    assert f.strict_der is False
    assert f.not_after == datetime(2025, 1, 1, tzinfo=UTC)
    assert f.not_before == datetime(2024, 1, 1, tzinfo=UTC)
    assert f.subject_cn == "pr\u00e9nom"
    assert f.issuer == "O=a\\,b\\+c,CN=Issuing CA"
    assert f.self_signed is False and f.self_signature_verified is None


def _same(strict: CertificateFacts, tolerant_der: bytes) -> None:
    got = parse_certificate(tolerant_der, NOW)
    want = strict.model_dump(exclude=_STRICT_ONLY)
    assert got.model_dump(exclude=_STRICT_ONLY) == want


def _cryptography_cert(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, cn: str, days: int) -> bytes:
    n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")])
    return (
        x509.CertificateBuilder()
        .subject_name(n)
        .issuer_name(n)
        .public_key(key.public_key())
        .serial_number(0x7A11)
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )


REAL_DER = [
    Path(__file__).parent / "tls" / "fixtures" / f"nginx1221_{n}_cert.der" for n in ("expired", "modern", "weak")
] + [Path(__file__).parent / "rdp" / "fixtures" / "xrdp_tls_cert.der"]


@pytest.mark.parametrize("der", [_cryptography_cert(_RSA, "a.example", 10), _cryptography_cert(_EC, "b.example", -3)])
def test_tolerant_read_agrees_with_strict_on_der(der: bytes) -> None:
    """Forced down the tolerant path, a DER certificate gives exactly the strict facts."""
    from duecare.probes._x509 import _tolerant_facts

    strict = parse_certificate(der, NOW)
    assert strict.strict_der is True
    assert _tolerant_facts(der, NOW, "forced").model_dump(exclude=_STRICT_ONLY) == strict.model_dump(
        exclude=_STRICT_ONLY
    )


@pytest.mark.parametrize("path", REAL_DER, ids=lambda p: p.name)
def test_tolerant_read_agrees_with_strict_on_recorded_certificates(path: Path) -> None:
    from duecare.probes._x509 import _tolerant_facts

    der = path.read_bytes()
    strict = parse_certificate(der, NOW)
    assert _tolerant_facts(der, NOW, "forced").model_dump(exclude=_STRICT_ONLY) == strict.model_dump(
        exclude=_STRICT_ONLY
    )
    cert = read_certificate(der)
    assert rfc4514(cert.subject) == strict.subject


@pytest.mark.parametrize(
    "blob",
    [b"\x30\x00", b"\x30\x03\x30\x01\x00", b"\x30\x80\x00\x00", tlv(0x30, tlv(0x30, b"") * 2 + tlv(0x03, b"\x00"))],
)
def test_neither_reader_accepts_garbage(blob: bytes) -> None:
    with pytest.raises(ProtocolError, match="tolerant read"):
        parse_certificate(blob, NOW)


_SEEDS = [ber_certificate(_RSA, subject=_SUBJECT, **kw) for kw in BER_CASES.values()]  # type: ignore[arg-type]


@given(st.sampled_from(_SEEDS), st.data())
def test_fuzz_mutated_ber_certificates(seed: bytes, data: st.DataObject) -> None:
    der = bytearray(seed)
    cut = data.draw(st.integers(0, len(der)))
    for pos, val in data.draw(st.lists(st.tuples(st.integers(0, len(der) - 1), st.integers(0, 255)), max_size=6)):
        der[pos] = val
    with contextlib.suppress(ProtocolError):
        read_certificate(bytes(der[:cut]))
    with contextlib.suppress(ProtocolError):
        parse_certificate(bytes(der[:cut]), NOW)


@given(st.binary(max_size=1500))
def test_fuzz_random_bytes(blob: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        read_certificate(blob)
