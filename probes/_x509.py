"""The one place certificates meet cryptography: parse a DER certificate into ``CertificateFacts``.

cryptography parses some parts lazily, so every access happens inside ``parse_der``, which turns
the library's errors into ProtocolError. Imported by ``x509.parse_certificate`` when the first
certificate arrives, never with the probe registry.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dh, dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from duecare.probes.errors import ProtocolError
from duecare.probes.x509_facts import _SAN_CAP, _TEXT_CAP, CertificateFacts


def _cap(text: str) -> str:
    return text[:_TEXT_CAP]


def _cn(name: x509.Name) -> str | None:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attrs:
        return None
    value = attrs[0].value
    return _cap(value if isinstance(value, str) else value.decode("utf-8", "replace"))


def _key(cert: x509.Certificate) -> tuple[str, int | None]:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{key.curve.name}", key.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dh.DHPublicKey):
        return "DH", key.key_size
    return type(key).__name__, None


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    names: list[str] = [*ext.value.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress)]
    return tuple(_cap(n) for n in names[:_SAN_CAP])


def _signature_hash(cert: x509.Certificate) -> str | None:
    try:
        algo = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return "unknown"
    return None if algo is None else algo.name


def _self_signature(cert: x509.Certificate) -> bool | None:
    if cert.issuer != cert.subject:
        return None
    try:
        cert.verify_directly_issued_by(cert)
    except InvalidSignature:
        return False
    except (TypeError, ValueError, UnsupportedAlgorithm):
        return None  # key or signature type we cannot check with: fall back on the names
    return True


def _facts(der: bytes, now: datetime) -> CertificateFacts:
    cert = x509.load_der_x509_certificate(der)
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    key_type, key_size = _key(cert)
    verified = _self_signature(cert)
    names_match = cert.issuer == cert.subject
    return CertificateFacts(
        subject=_cap(cert.subject.rfc4514_string()),
        subject_cn=_cn(cert.subject),
        issuer=_cap(cert.issuer.rfc4514_string()),
        issuer_cn=_cn(cert.issuer),
        sans=_sans(cert),
        serial=f"{cert.serial_number:x}"[:128],
        not_before=not_before,
        not_after=not_after,
        expired=now > not_after,
        not_yet_valid=now < not_before,
        self_signed=names_match and verified is not False,
        self_signature_verified=verified,
        key_type=key_type,
        key_size=key_size,
        signature_hash=_signature_hash(cert),
        sha256_fingerprint=hashlib.sha256(der).hexdigest(),
    )


def parse_der(der: bytes, now: datetime) -> CertificateFacts:
    """``x509.parse_certificate`` past its size and time checks."""
    try:
        return _facts(der, now)
    except (
        ValueError,
        TypeError,
        UnsupportedAlgorithm,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
        x509.InvalidVersion,  # not a ValueError: a version field other than v1/v3 (found by bench/fuzz_all.py)
    ) as exc:
        raise ProtocolError(f"certificate did not parse: {type(exc).__name__}: {exc}"[:300]) from exc
