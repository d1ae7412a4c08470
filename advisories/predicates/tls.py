"""TLS predicates (NSA CSI "Eliminating Obsolete TLS Protocol Configurations", Jan 2021)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from duecare.advisories.predicates.base import Check, PredicateRegistry, affected, indeterminate, not_affected
from duecare.probes.tls.facts import OBSOLETE_VERSIONS, TlsFacts, TlsVersion, VersionResult
from duecare.wire import Confidence


class ObsoleteParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    versions: tuple[TlsVersion, ...] = tuple(sorted(OBSOLETE_VERSIONS))
    #: OpenSSL 3 cannot offer SSLv3, so on most agents it is never tested. By default a server that
    #: refuses TLS 1.0 and 1.1 is judged on those (an SSLv3-only-plus-modern server is unheard of);
    #: set this to make any untested version leave the verdict open instead.
    untestable_is_unknown: bool = False


def register(reg: PredicateRegistry) -> None:
    @reg.add("tls.obsolete_protocol_accepted", TlsFacts, ObsoleteParams)
    def obsolete_protocol_accepted(f: TlsFacts, p: ObsoleteParams) -> Check:
        """The server completed a handshake with SSLv3, TLS 1.0 or TLS 1.1."""
        accepted = [v for v in p.versions if f.result(v) is VersionResult.ACCEPTED]
        untested = [v.value for v in p.versions if f.result(v) is VersionResult.NOT_TESTABLE]
        unknown = [v.value for v in p.versions if f.result(v) in (VersionResult.TIMED_OUT, None)]
        if p.untestable_is_unknown:
            unknown += untested
        if accepted:
            ciphers = {v.version.value: v.cipher for v in f.versions if v.version in accepted}
            names = ", ".join(v.value for v in accepted)
            return affected(
                f"server completed handshakes with {names}",
                confidence=Confidence.CERTAIN,
                details={"accepted_obsolete": [v.value for v in accepted], "ciphers": ciphers},
            )
        if unknown:
            return indeterminate(f"no answer for {', '.join(unknown)}", confidence=Confidence.TENTATIVE)
        note = f" ({', '.join(untested)} not testable from this agent)" if untested else ""
        return not_affected(
            f"server refused every obsolete version tested{note}",
            confidence=Confidence.FIRM if untested else "certain",
        )

    @reg.add("tls.certificate_expired", TlsFacts)
    def certificate_expired(f: TlsFacts, _p: object) -> Check:
        """The certificate's notAfter lies before the scan clock (decided when facts were taken)."""
        cert = f.certificate
        if cert is None:
            return indeterminate(f"no certificate observed: {f.certificate_error or 'unknown reason'}")
        details: dict[str, str | bool] = {
            "subject": cert.subject,
            "issuer": cert.issuer,
            "not_after": cert.not_after.isoformat(),
            "self_signed": cert.self_signed,
        }
        if not cert.strict_der:  # read tolerantly: a lenient client accepts this encoding
            details["strict_der"] = False
        if cert.expired:
            return affected(
                f"certificate expired on {cert.not_after.date().isoformat()}",
                confidence=Confidence.CERTAIN,
                details=dict(details),
            )
        return not_affected(f"certificate valid until {cert.not_after.date().isoformat()}")
