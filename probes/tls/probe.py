"""TLS: one handshake per protocol version, the negotiated suite, and the certificate.

The handshake runs through ``ssl.MemoryBIO`` over a plain bounded Stream, so a TCP failure (the
probe's error) stays apart from a TLS refusal (a fact: "not accepted"), and the server's own bytes
are kept for the parser. Each accepted session is closed with close_notify.
"""

from __future__ import annotations

import contextlib
import ssl
import warnings
from typing import ClassVar

from duecare.probes._net import Stream
from duecare.probes.base import Facts, Observation, ProbeClass, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeTimeout, ProtocolError, Unreachable
from duecare.probes.tls.facts import TlsFacts, TlsVersion, VersionResult
from duecare.probes.tls.parse import MAX_FLIGHT, Attempt, build_facts
from duecare.probes.tls.render import certificate_lines, version_lines
from duecare.wire import EvidenceKind, Proto

#: Ports where TLS is spoken from the first byte (IANA; 3389 is RDP, which has its own probe).
TLS_PORTS = frozenset({443, 465, 636, 853, 990, 993, 995, 8443})
TLS_SERVICES = frozenset({"https", "ssl", "imaps", "pop3s", "smtps", "ldaps", "ftps", "domain-s", "https-alt"})
_RDP = frozenset({"ms-wbt-server", "rdp"})

#: Newest first: the first handshake tells us quickly whether the port speaks TLS at all.
ORDER = (TlsVersion.TLS1_3, TlsVersion.TLS1_2, TlsVersion.TLS1_1, TlsVersion.TLS1_0, TlsVersion.SSL3)
_SSL_VERSION = {
    TlsVersion.SSL3: ssl.TLSVersion.SSLv3,
    TlsVersion.TLS1_0: ssl.TLSVersion.TLSv1,
    TlsVersion.TLS1_1: ssl.TLSVersion.TLSv1_1,
    TlsVersion.TLS1_2: ssl.TLSVersion.TLSv1_2,
    TlsVersion.TLS1_3: ssl.TLSVersion.TLSv1_3,
}
_COMPILED_IN = {
    TlsVersion.SSL3: ssl.HAS_SSLv3,
    TlsVersion.TLS1_0: ssl.HAS_TLSv1,
    TlsVersion.TLS1_1: ssl.HAS_TLSv1_1,
    TlsVersion.TLS1_2: ssl.HAS_TLSv1_2,
    TlsVersion.TLS1_3: ssl.HAS_TLSv1_3,
}


def local_limitation(version: TlsVersion) -> str | None:
    """Why this machine cannot offer ``version`` (OpenSSL 3 ships without SSLv3), or None."""
    if not _COMPILED_IN[version]:
        return f"not testable locally: {ssl.OPENSSL_VERSION} has no {version.value}"
    return None


async def _flush(stream: Stream, outgoing: ssl.MemoryBIO) -> None:
    pending = outgoing.read()
    if pending:
        await stream.write(pending)


async def handshake(target: Target, ctx: ProbeContext, version: TlsVersion) -> tuple[Attempt, bytes | None]:
    assert target.port is not None
    with warnings.catch_warnings():
        # Offering TLS 1.0/1.1 is the point of the probe; Python's deprecation note is noise here.
        warnings.simplefilter("ignore", DeprecationWarning)
        tls = ctx.tls_context(_SSL_VERSION[version], _SSL_VERSION[version])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls.wrap_bio(incoming, outgoing, server_side=False)
    seen = bytearray()
    # A TCP failure here (refused, no route, connect timeout) is the probe's error, not a fact.
    async with await ctx.connect(target.host, target.port) as s:
        try:
            while True:
                try:
                    obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    await _flush(s, outgoing)
                    chunk = await s.read_some(16384, f"{version.value} handshake")
                    if not chunk:
                        return Attempt(version, VersionResult.REJECTED, bytes(seen), error="closed"), None
                    seen += chunk[: max(MAX_FLIGHT - len(seen), 0)]
                    incoming.write(chunk)
            await _flush(s, outgoing)
        except ssl.SSLError as exc:
            with contextlib.suppress(Unreachable, ProbeTimeout):
                await _flush(s, outgoing)  # our own alert, so the server sees a clean refusal
            reason = exc.reason or type(exc).__name__
            return Attempt(version, VersionResult.REJECTED, bytes(seen), error=str(reason)), None
        except (ProtocolError, Unreachable) as exc:  # reset or garbage mid-handshake: a refusal
            return Attempt(version, VersionResult.REJECTED, bytes(seen), error=str(exc)), None
        except ProbeTimeout as exc:
            return Attempt(version, VersionResult.TIMED_OUT, bytes(seen), error=str(exc)), None
        cipher = obj.cipher()
        der = obj.getpeercert(binary_form=True)
        with contextlib.suppress(ssl.SSLError):
            obj.unwrap()  # queues close_notify; the peer's answer is not awaited
        with contextlib.suppress(Unreachable, ProbeTimeout):
            await _flush(s, outgoing)
    name = None if cipher is None else cipher[0]
    return Attempt(version, VersionResult.ACCEPTED, bytes(seen), cipher=name), der


class TlsProbe:
    id: ClassVar[str] = "tls"
    probe_class: ClassVar[ProbeClass] = ProbeClass.NON_INTRUSIVE
    proto: ClassVar[Proto | None] = Proto.TCP
    ports: ClassVar[frozenset[int]] = TLS_PORTS
    services: ClassVar[frozenset[str]] = TLS_SERVICES
    facts_model: ClassVar[type[Facts]] = TlsFacts

    def applies(self, target: Target) -> bool:
        if target.proto is not Proto.TCP or target.port == 3389 or target.service in _RDP:
            return False
        return target.tunnel == "ssl" or target.service in TLS_SERVICES or target.port in TLS_PORTS

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[TlsFacts]:
        attempts: list[Attempt] = []
        cert_der: bytes | None = None
        for version in ORDER:
            limitation = local_limitation(version)
            if limitation is not None:
                attempts.append(Attempt(version, VersionResult.NOT_TESTABLE, error=limitation))
                continue
            attempt, der = await handshake(target, ctx, version)
            if attempt.outcome is VersionResult.TIMED_OUT and not attempts:
                # Silent on the very first ClientHello: a tarpit or not TLS; no point in 4 more waits.
                raise ProbeTimeout(f"no answer to a {version.value} ClientHello: {attempt.error}")
            attempts.append(attempt)
            if cert_der is None and der:
                cert_der = der
        if not any(a.outcome is VersionResult.ACCEPTED for a in attempts):
            if any(a.outcome is VersionResult.TIMED_OUT for a in attempts):
                raise ProbeTimeout("no TLS version accepted and some went unanswered")
            raise ProtocolError("no TLS version accepted: the port does not speak TLS")
        facts = build_facts(attempts, cert_der, ctx.clock())
        where = f"{target.host}:{target.port}"
        ev = [
            evidence(
                self.id,
                EvidenceKind.HANDSHAKE,
                f"TLS versions offered to {where}",
                "\n".join(version_lines(facts)),
            )
        ]
        if facts.certificate is not None:
            ev.append(
                evidence(
                    self.id,
                    EvidenceKind.CERTIFICATE,
                    f"certificate presented by {where}",
                    "\n".join(certificate_lines(facts.certificate)),
                )
            )
        return Observation(facts, tuple(ev))
