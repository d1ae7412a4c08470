"""The facts one X.509 certificate gives about itself (names, validity, key, signature): the model both
the pure checks and the cryptography adapter (``_x509.py``) share."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

_TEXT_CAP = 1024
_SAN_CAP = 100


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
    #: False when strict DER parsing refused the certificate and these facts come from the tolerant
    #: BER read (``x509_tolerant.py``): what a lenient TLS client would accept, noted as such.
    strict_der: bool = True
    #: Why strict parsing refused it (the library's message), when ``strict_der`` is False.
    strict_der_error: str | None = Field(default=None, max_length=300)
