"""X.509 certificate facts, shared by every TLS-speaking probe (RDP, HTTPS, SMTP…).

We audit certificates, we do not trust them: the chain is never built, only what the one
certificate says about itself (names, validity, key, signature) is recorded. cryptography parses
some parts lazily, so every access happens inside one translation point that turns the library's
errors into ProtocolError (``probes/_x509.py``, imported with the first certificate: the library
costs ~8 MB resident that a scan need not hold while nmap runs, issue 19).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from duecare.probes.errors import ProtocolError

_TEXT_CAP = 1024
_SAN_CAP = 100
#: A certificate larger than this is not one a real service presents.
_DER_CAP = 64 * 1024


class CertificateFacts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(max_length=_TEXT_CAP)
    subject_cn: str | None = Field(default=None, max_length=_TEXT_CAP)
    issuer: str = Field(max_length=_TEXT_CAP)
    issuer_cn: str | None = Field(default=None, max_length=_TEXT_CAP)
    #: DNS names and IP addresses from subjectAltName (first 100).
    sans: tuple[str, ...] = Field(default=(), max_length=_SAN_CAP)
    serial: str = Field(max_length=128)
    not_before: AwareDatetime
    not_after: AwareDatetime
    expired: bool
    not_yet_valid: bool
    #: Issuer equals subject and, when the key type allows checking, the signature verifies with
    #: the certificate's own key.
    self_signed: bool
    #: True/False when the self-signature was checked; None when it could not be (name mismatch or
    #: a key type cryptography cannot verify with).
    self_signature_verified: bool | None = None
    key_type: str
    key_size: int | None = None
    signature_hash: str | None = None
    sha256_fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")


def parse_certificate(der: bytes, now: datetime) -> CertificateFacts:
    """Facts from one DER certificate; ``now`` (aware) decides expired / not yet valid."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not der:
        raise ProtocolError("empty certificate")
    if len(der) > _DER_CAP:
        raise ProtocolError(f"certificate of {len(der)} bytes, over the {_DER_CAP}-byte cap")
    from duecare.probes._x509 import parse_der

    return parse_der(der, now)
