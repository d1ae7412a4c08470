"""Pure TLS parsing: the server's first flight (RFC 5246 §6.2, §7.4.1.3; RFC 8446 §4.1.3) → facts.

OpenSSL tells us whether a handshake finished; the bytes the server sent tell us *how* it
answered (the suite it picked, or the alert it refused with), so both are recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from duecare.probes.errors import ProtocolError
from duecare.probes.tls.facts import TlsFacts, TlsVersion, VersionProbe, VersionResult
from duecare.probes.x509 import CertificateFacts, parse_certificate

_HANDSHAKE, _ALERT = 22, 21
_SERVER_HELLO = 2
_EXT_SUPPORTED_VERSIONS = 43
#: RFC 8446 §5.1: a record body never exceeds 2^14 + 256 bytes (we allow the TLS 1.2 ceiling).
_MAX_RECORD = 2**14 + 2048
#: Enough for a ServerHello in any sane fragmentation; the rest of the flight is not needed.
MAX_FLIGHT = 64 * 1024

WIRE_VERSIONS: dict[int, TlsVersion] = {
    0x0300: TlsVersion.SSL3,
    0x0301: TlsVersion.TLS1_0,
    0x0302: TlsVersion.TLS1_1,
    0x0303: TlsVersion.TLS1_2,
    0x0304: TlsVersion.TLS1_3,
}

#: RFC 8446 §6 / IANA TLS Alert registry (the ones a refusing server actually sends).
ALERTS: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    40: "handshake_failure",
    42: "bad_certificate",
    47: "illegal_parameter",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    112: "unrecognized_name",
    120: "no_application_protocol",
}


@dataclass(frozen=True, slots=True)
class ServerHello:
    version: TlsVersion | None
    cipher_suite: int


@dataclass(frozen=True, slots=True)
class Alert:
    level: int
    description: int

    @property
    def name(self) -> str:
        return ALERTS.get(self.description, f"alert_{self.description}")


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the I/O layer saw for one version: raw server bytes plus OpenSSL's verdict."""

    version: TlsVersion
    outcome: VersionResult
    server_bytes: bytes = b""
    cipher: str | None = None
    error: str | None = None


def _records(data: bytes) -> list[tuple[int, bytes]]:
    """Complete records at the start of ``data``; a truncated tail is dropped, garbage raises."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i + 5 <= len(data):
        ctype, major, length = data[i], data[i + 1], int.from_bytes(data[i + 3 : i + 5], "big")
        if ctype not in (20, 21, 22, 23) or major != 3:
            raise ProtocolError(f"not a TLS record (type {ctype}, version major {major})")
        if length > _MAX_RECORD:
            raise ProtocolError(f"TLS record of {length} bytes, over the limit")
        if i + 5 + length > len(data):
            break
        out.append((ctype, data[i + 5 : i + 5 + length]))
        i += 5 + length
    return out


def _parse_server_hello(body: bytes) -> ServerHello:
    if len(body) < 2 + 32 + 1:
        raise ProtocolError("ServerHello shorter than its fixed fields")
    legacy = int.from_bytes(body[0:2], "big")
    pos = 34
    sid_len = body[pos]
    pos += 1 + sid_len
    if sid_len > 32 or pos + 3 > len(body):
        raise ProtocolError("ServerHello session id overruns the message")
    suite = int.from_bytes(body[pos : pos + 2], "big")
    pos += 3  # cipher suite + compression method
    version = WIRE_VERSIONS.get(legacy)
    if pos + 2 <= len(body):
        ext_end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        if ext_end > len(body):
            raise ProtocolError("ServerHello extensions overrun the message")
        pos += 2
        while pos + 4 <= ext_end:
            etype = int.from_bytes(body[pos : pos + 2], "big")
            elen = int.from_bytes(body[pos + 2 : pos + 4], "big")
            if pos + 4 + elen > ext_end:
                raise ProtocolError("ServerHello extension overruns the extension block")
            if etype == _EXT_SUPPORTED_VERSIONS and elen == 2:
                # RFC 8446 §4.2.1: TLS 1.3 hides its real version here; legacy says 1.2.
                version = WIRE_VERSIONS.get(int.from_bytes(body[pos + 4 : pos + 6], "big"))
            pos += 4 + elen
    return ServerHello(version, suite)


def parse_server_flight(data: bytes) -> ServerHello | Alert | None:
    """The server's first answer: its ServerHello, a plain-text alert, or None if incomplete."""
    if len(data) > MAX_FLIGHT:
        data = data[:MAX_FLIGHT]
    handshake = bytearray()
    for ctype, body in _records(data):
        if ctype == _ALERT and not handshake:
            if len(body) < 2:
                raise ProtocolError("alert record shorter than 2 bytes")
            return Alert(body[0], body[1])
        if ctype != _HANDSHAKE:
            continue
        handshake += body
        if len(handshake) >= 4:
            mtype = handshake[0]
            mlen = int.from_bytes(handshake[1:4], "big")
            if mtype != _SERVER_HELLO:
                raise ProtocolError(f"first handshake message is type {mtype}, not ServerHello")
            if len(handshake) >= 4 + mlen:
                return _parse_server_hello(bytes(handshake[4 : 4 + mlen]))
    return None


def weak_key(cert: CertificateFacts) -> bool | None:
    """RSA/DSA under 2048 bits is weak (NIST SP 800-131A Rev. 2); EC/EdDSA sizes are fine."""
    if cert.key_type in ("RSA", "DSA"):
        return None if cert.key_size is None else cert.key_size < 2048
    if cert.key_type.startswith(("EC-", "Ed")):
        return False
    return None


def _version_probe(a: Attempt) -> VersionProbe:
    suite: str | None = None
    detail = a.error
    if a.server_bytes:
        try:
            flight = parse_server_flight(a.server_bytes)
        except ProtocolError as exc:
            flight, detail = None, detail or str(exc)
        if isinstance(flight, ServerHello) and a.outcome is VersionResult.ACCEPTED:
            suite = f"0x{flight.cipher_suite:04x}"
        elif isinstance(flight, Alert):
            detail = f"alert {flight.name}"
        elif isinstance(flight, ServerHello) and flight.version is not a.version:
            got = flight.version.value if flight.version else "an unknown version"
            detail = f"server chose {got}"
    return VersionProbe(
        version=a.version,
        result=a.outcome,
        cipher=a.cipher if a.outcome is VersionResult.ACCEPTED else None,
        cipher_suite=suite,
        detail=None if detail is None else detail[:300],
    )


def build_facts(attempts: Sequence[Attempt], cert_der: bytes | None, now: datetime) -> TlsFacts:
    """Facts from every attempt and the certificate of the best accepted handshake."""
    cert: CertificateFacts | None = None
    cert_error: str | None = None
    if cert_der is None:
        cert_error = (
            "no handshake completed"
            if not any(a.outcome is VersionResult.ACCEPTED for a in attempts)
            else "server sent no certificate"
        )
    else:
        try:
            cert = parse_certificate(cert_der, now)
        except ProtocolError as exc:
            cert_error = str(exc)[:300]
    return TlsFacts(
        versions=tuple(_version_probe(a) for a in attempts),
        certificate=cert,
        certificate_error=cert_error,
        weak_key=None if cert is None else weak_key(cert),
    )
