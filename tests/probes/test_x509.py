"""probes.x509: certificate facts from certificates generated here, plus fuzzing."""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.x509 import parse_certificate

NOW = datetime(2025, 6, 1, tzinfo=UTC)
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_CA_KEY = ec.generate_private_key(ec.SECP256R1())


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _cert(
    *,
    subject: x509.Name,
    issuer: x509.Name | None = None,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = _RSA,
    signer: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | None = None,
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=335),
    sans: list[x509.GeneralName] | None = None,
    hash_algo: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None,
    serial: int = 0x1234ABCD,
) -> bytes:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    sign_key = signer or key
    algo = None if isinstance(sign_key, ed25519.Ed25519PrivateKey) else (hash_algo or hashes.SHA256())
    return builder.sign(sign_key, algo).public_bytes(serialization.Encoding.DER)


def test_windows_style_self_signed_rdp_cert() -> None:
    """Windows RDP default: self-signed, CN = host FQDN, RSA 2048, SHA-256."""
    der = _cert(subject=_name("WIN-SRV01.contoso.local"))
    f = parse_certificate(der, NOW)
    assert f.subject == "CN=WIN-SRV01.contoso.local"
    assert f.subject_cn == "WIN-SRV01.contoso.local"
    assert f.issuer_cn == "WIN-SRV01.contoso.local"
    assert f.self_signed is True
    assert f.self_signature_verified is True
    assert (f.key_type, f.key_size) == ("RSA", 2048)
    assert f.signature_hash == "sha256"
    assert f.serial == "1234abcd"
    assert f.sha256_fingerprint == hashlib.sha256(der).hexdigest()
    assert not f.expired
    assert not f.not_yet_valid
    assert f.sans == ()
    assert f.not_before.tzinfo is not None


def test_expired_certificate() -> None:
    der = _cert(subject=_name("old.example"), not_before=NOW - timedelta(days=800), not_after=NOW - timedelta(days=1))
    f = parse_certificate(der, NOW)
    assert f.expired is True
    assert f.not_yet_valid is False
    assert f.not_after == NOW - timedelta(days=1)


def test_not_yet_valid_certificate() -> None:
    der = _cert(subject=_name("future.example"), not_before=NOW + timedelta(days=2))
    f = parse_certificate(der, NOW)
    assert f.not_yet_valid is True
    assert f.expired is False


def test_ca_issued_certificate_with_sans() -> None:
    der = _cert(
        subject=_name("mail.contoso.com", "Contoso"),
        issuer=_name("Contoso Issuing CA"),
        signer=_CA_KEY,
        sans=[
            x509.DNSName("mail.contoso.com"),
            x509.DNSName("autodiscover.contoso.com"),
            x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
        ],
        hash_algo=hashes.SHA384(),
    )
    f = parse_certificate(der, NOW)
    assert f.self_signed is False
    assert f.self_signature_verified is None
    assert f.subject == "O=Contoso,CN=mail.contoso.com"
    assert f.issuer == "CN=Contoso Issuing CA"
    assert f.sans == ("mail.contoso.com", "autodiscover.contoso.com", "192.0.2.7")
    assert f.signature_hash == "sha384"


def test_same_names_but_signed_by_other_key_is_not_self_signed() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = _cert(subject=_name("spoof.example"), signer=other)
    f = parse_certificate(der, NOW)
    assert f.self_signature_verified is False
    assert f.self_signed is False


def test_ec_and_ed25519_keys() -> None:
    ec_der = _cert(subject=_name("ec.example"), key=_CA_KEY)
    f = parse_certificate(ec_der, NOW)
    assert (f.key_type, f.key_size) == ("EC-secp256r1", 256)
    assert f.self_signed is True
    ed_key = ed25519.Ed25519PrivateKey.generate()
    f2 = parse_certificate(_cert(subject=_name("ed.example"), key=ed_key), NOW)
    assert f2.key_type == "Ed25519"
    assert f2.signature_hash is None
    assert f2.self_signature_verified is True


def test_sha512_signature_reported() -> None:
    # cryptography >= 48 refuses to *sign* with SHA-1, so the weak-hash case cannot be built here.
    der = _cert(subject=_name("strong.example"), hash_algo=hashes.SHA512())
    assert parse_certificate(der, NOW).signature_hash == "sha512"


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_certificate(_cert(subject=_name("x")), datetime(2025, 1, 1))


@pytest.mark.parametrize("blob", [b"", b"\x30\x03\x02\x01\x01", b"not a certificate", b"\x30" * 70000])
def test_garbage_is_protocol_error(blob: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_certificate(blob, NOW)


_GOOD = _cert(
    subject=_name("fuzz.example"),
    sans=[x509.DNSName("fuzz.example"), x509.DNSName("www.fuzz.example")],
)


@given(st.binary(max_size=2000))
def test_fuzz_random_bytes(blob: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_certificate(blob, NOW)


@given(st.data())
def test_fuzz_mutated_certificate(data: st.DataObject) -> None:
    """Byte flips and truncations of a real DER certificate: facts or ProtocolError, never else."""
    der = bytearray(_GOOD)
    cut = data.draw(st.integers(0, len(der)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(der) - 1), st.integers(0, 255)), max_size=6))
    for pos, val in flips:
        der[pos] = val
    try:
        f = parse_certificate(bytes(der[:cut]), NOW)
    except ProtocolError:
        return
    assert len(f.sha256_fingerprint) == 64
