"""X.509 certificate facts, shared by every TLS-speaking probe (RDP, HTTPS, SMTP…).

We audit certificates, we do not trust them: the chain is never built, only what the one
certificate says about itself (names, validity, key, signature) is recorded. cryptography parses
some parts lazily, so every access happens inside one translation point that turns the library's
errors into ProtocolError (``probes/_x509.py``, imported with the first certificate: the library
costs ~8 MB resident that a scan need not hold while nmap runs, issue 19).
"""

from __future__ import annotations

from datetime import datetime

from duecare.probes.errors import ProtocolError
from duecare.probes.x509_facts import CertificateFacts

__all__ = ["CertificateFacts", "parse_certificate"]

#: A certificate larger than this is not one a real service presents.
_DER_CAP = 64 * 1024


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
