"""The one place certificates meet cryptography: parse a DER certificate into ``CertificateFacts``.

cryptography parses some parts lazily, so every access happens inside ``parse_der``, which turns
the library's errors into ProtocolError. When strict DER parsing refuses a certificate, the tolerant
BER read (``x509_tolerant.py``) gives the same facts marked ``strict_der = False``: an expired
certificate is expired however it is encoded. Imported by ``x509.parse_certificate`` when the first
certificate arrives, never with the probe registry.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dh, dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from cryptography.x509.oid import NameOID

from duecare.probes.errors import ProtocolError
from duecare.probes.x509_facts import _SAN_CAP, _TEXT_CAP, CertificateFacts
from duecare.probes.x509_tolerant import TolerantCertificate, common_name, read_certificate, rfc4514


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


_HASH_CLASSES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _tolerant_self_signature(cert: TolerantCertificate) -> bool | None:
    """The self-signature checked over the tbsCertificate bytes as sent (the bytes that were signed)."""
    if cert.issuer != cert.subject:
        return None
    try:
        key = load_der_public_key(cert.spki)
        hash_cls = _HASH_CLASSES.get(cert.signature_hash or "")
        if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(cert.signature, cert.tbs)
        elif hash_cls is None or cert.signature_algorithm == "1.2.840.113549.1.1.10":
            return None  # an unknown hash, or RSASSA-PSS with its parameters: names only
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs, padding.PKCS1v15(), hash_cls())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs, ec.ECDSA(hash_cls()))
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(cert.signature, cert.tbs, hash_cls())
        else:
            return None
    except InvalidSignature:
        return False
    except (TypeError, ValueError, UnsupportedAlgorithm):
        return None
    return True


def _tolerant_facts(der: bytes, now: datetime, strict_error: str) -> CertificateFacts:
    cert = read_certificate(der)
    verified = _tolerant_self_signature(cert)
    subject_cn, issuer_cn = common_name(cert.subject), common_name(cert.issuer)
    return CertificateFacts(
        subject=_cap(rfc4514(cert.subject)),
        subject_cn=None if subject_cn is None else _cap(subject_cn),
        issuer=_cap(rfc4514(cert.issuer)),
        issuer_cn=None if issuer_cn is None else _cap(issuer_cn),
        sans=tuple(_cap(n) for n in cert.sans[:_SAN_CAP]),
        serial=f"{cert.serial:x}"[:128],
        not_before=cert.not_before,
        not_after=cert.not_after,
        expired=now > cert.not_after,
        not_yet_valid=now < cert.not_before,
        self_signed=cert.issuer == cert.subject and verified is not False,
        self_signature_verified=verified,
        key_type=cert.key_type,
        key_size=cert.key_size,
        signature_hash=cert.signature_hash,
        sha256_fingerprint=hashlib.sha256(der).hexdigest(),
        strict_der=False,
        strict_der_error=strict_error[:300],
    )


def parse_der(der: bytes, now: datetime) -> CertificateFacts:
    """``x509.parse_certificate`` past its size and time checks: strict first, then tolerant."""
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
        strict_error = f"{type(exc).__name__}: {exc}"
    try:
        return _tolerant_facts(der, now, strict_error)
    except ProtocolError as tolerant:
        raise ProtocolError(f"certificate did not parse: {strict_error} (tolerant read: {tolerant})"[:300]) from None
