"""What one handshake per protocol version tells about a TLS service (NSA CSI, Jan 2021)."""

from __future__ import annotations

import enum

from pydantic import Field

from duecare.probes.base import Facts
from duecare.probes.x509 import CertificateFacts


class TlsVersion(enum.StrEnum):
    SSL3 = "SSLv3"
    TLS1_0 = "TLSv1.0"
    TLS1_1 = "TLSv1.1"
    TLS1_2 = "TLSv1.2"
    TLS1_3 = "TLSv1.3"


#: Versions the NSA guidance says must be off (SSL 2.0 cannot even be offered by OpenSSL 3).
OBSOLETE_VERSIONS: frozenset[TlsVersion] = frozenset({TlsVersion.SSL3, TlsVersion.TLS1_0, TlsVersion.TLS1_1})


class VersionResult(enum.StrEnum):
    ACCEPTED = "accepted"
    #: The server answered with an alert or closed the connection: it does not speak this version.
    REJECTED = "rejected"
    #: The server said nothing within the read deadline: unknown, never a pass.
    TIMED_OUT = "timed_out"
    #: This machine's OpenSSL cannot offer the version, so nothing was sent.
    NOT_TESTABLE = "not_testable"


class VersionProbe(Facts):
    version: TlsVersion
    result: VersionResult
    #: Cipher suite as OpenSSL names it, and its IANA code from the ServerHello we parsed.
    cipher: str | None = Field(default=None, max_length=128)
    cipher_suite: str | None = Field(default=None, pattern=r"^0x[0-9a-f]{4}$")
    #: Why a version was rejected or not tested: the alert name or the local limitation.
    detail: str | None = Field(default=None, max_length=300)


class TlsFacts(Facts):
    versions: tuple[VersionProbe, ...] = Field(max_length=8)
    certificate: CertificateFacts | None = None
    #: Why there is no certificate (e.g. it did not parse); None when there is one.
    certificate_error: str | None = Field(default=None, max_length=300)
    #: RSA/DSA key under 2048 bits (NSA CSI; NIST SP 800-131A): a fact, judged elsewhere.
    weak_key: bool | None = None

    def result(self, version: TlsVersion) -> VersionResult | None:
        for v in self.versions:
            if v.version is version:
                return v.result
        return None

    @property
    def accepted(self) -> tuple[TlsVersion, ...]:
        return tuple(v.version for v in self.versions if v.result is VersionResult.ACCEPTED)
