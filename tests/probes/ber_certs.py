"""Certificates built byte by byte, in the BER forms real devices send and strict DER refuses.

Each is signed for real (the signature covers the tbsCertificate bytes as encoded here), so a
tolerant reader can still check a self-signature.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from duecare.probes import ber


def tlv(tag: int, content: bytes, *, long_form: bool = False) -> bytes:
    """``probes.ber.tlv``; ``long_form`` writes a short length in the long form (0x81 n), as BER allows
    and DER forbids."""
    if long_form and len(content) < 0x80:
        return bytes((tag, 0x81, len(content))) + content
    return ber.tlv(tag, content)


oid = ber.encode_oid


def name(*attrs: tuple[str, str], tag: int = 0x13) -> bytes:
    return tlv(0x30, b"".join(tlv(0x31, tlv(0x30, oid(o) + tlv(tag, v.encode()))) for o, v in attrs))


CN, ORG = "2.5.4.3", "2.5.4.10"
SHA256_RSA = tlv(0x30, oid("1.2.840.113549.1.1.11") + b"\x05\x00")
ECDSA_SHA256 = tlv(0x30, oid("1.2.840.10045.4.3.2"))


def ber_certificate(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    *,
    subject: bytes,
    issuer: bytes | None = None,
    not_before: bytes = tlv(0x17, b"240101000000Z"),
    not_after: bytes = tlv(0x17, b"250101000000Z"),
    version: bytes | None = tlv(0xA0, tlv(0x02, b"\x02")),
    serial: bytes = tlv(0x02, b"\x01\x23"),
    extensions: bytes | None = None,
    long_form: bool = False,
) -> bytes:
    """A certificate whose encoding the caller chooses field by field; signed with ``key``."""
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    algorithm = SHA256_RSA if isinstance(key, rsa.RSAPrivateKey) else ECDSA_SHA256
    tbs = tlv(
        0x30,
        (version or b"")
        + serial
        + algorithm
        + (issuer or subject)
        + tlv(0x30, not_before + not_after)
        + subject
        + spki
        + (b"" if extensions is None else tlv(0xA3, tlv(0x30, extensions))),
        long_form=long_form,
    )
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return tlv(0x30, tbs + algorithm + tlv(0x03, b"\x00" + signature), long_form=long_form)


def san_extension(*dns: str, critical: bytes = b"") -> bytes:
    """subjectAltName; ``critical=b"\\x01\\x01\\x00"`` writes out the DEFAULT FALSE that DER omits."""
    names = tlv(0x30, b"".join(tlv(0x82, d.encode()) for d in dns))
    return tlv(0x30, oid("2.5.29.17") + critical + tlv(0x04, names))
