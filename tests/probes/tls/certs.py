"""Certificates made with cryptography for the nginx fixtures: expired, modern, weak-key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def self_signed(cn: str, key: PrivateKey, not_before: datetime, not_after: datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "duecare lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        .sign(key, hashes.SHA256())
    )


def write_pair(directory: Path, stem: str, cert: x509.Certificate, key: PrivateKey) -> tuple[Path, Path]:
    crt, pem = directory / f"{stem}.crt", directory / f"{stem}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return crt, pem


def lab_certificates(directory: Path, now: datetime | None = None) -> dict[str, tuple[Path, Path]]:
    """expired: RSA-2048, valid 2019-2020; modern: P-256, valid now±1y; weak: RSA-1024, valid."""
    now = now or datetime.now(UTC)
    year = timedelta(days=365)
    rsa2048 = rsa.generate_private_key(65537, 2048)
    p256 = ec.generate_private_key(ec.SECP256R1())
    rsa1024 = rsa.generate_private_key(65537, 1024)
    return {
        "expired": write_pair(
            directory,
            "expired",
            self_signed(
                "expired.lab.test",
                rsa2048,
                datetime(2019, 1, 1, tzinfo=UTC),
                datetime(2020, 1, 1, tzinfo=UTC),
            ),
            rsa2048,
        ),
        "modern": write_pair(directory, "modern", self_signed("modern.lab.test", p256, now - year, now + year), p256),
        "weak": write_pair(directory, "weak", self_signed("weak.lab.test", rsa1024, now - year, now + year), rsa1024),
    }
