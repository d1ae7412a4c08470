"""Evidence lines for TLS facts: one per version, and the certificate fields people check."""

from __future__ import annotations

from duecare.probes.tls.facts import TlsFacts, VersionResult
from duecare.probes.x509 import CertificateFacts


def version_lines(facts: TlsFacts) -> list[str]:
    lines = []
    for v in facts.versions:
        if v.result is VersionResult.ACCEPTED:
            suite = f" ({v.cipher_suite})" if v.cipher_suite else ""
            lines.append(f"{v.version.value}: accepted, cipher {v.cipher or 'unknown'}{suite}")
        else:
            lines.append(f"{v.version.value}: {v.result.value}" + (f" ({v.detail})" if v.detail else ""))
    return lines


def certificate_lines(cert: CertificateFacts) -> list[str]:
    key = f"{cert.key_type} {cert.key_size}" if cert.key_size else cert.key_type
    return [
        f"subject: {cert.subject}",
        f"issuer: {cert.issuer}",
        f"notBefore: {cert.not_before.isoformat()}",
        f"notAfter: {cert.not_after.isoformat()}" + (" (expired)" if cert.expired else ""),
        f"self-signed: {'yes' if cert.self_signed else 'no'}; key: {key}; "
        f"signature hash: {cert.signature_hash or 'none'}",
        f"sha256: {cert.sha256_fingerprint}",
        *([] if cert.strict_der else [f"encoding: not strict DER, read tolerantly ({cert.strict_der_error})"]),
    ]
