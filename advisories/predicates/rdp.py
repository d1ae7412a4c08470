"""RDP predicates: listener present, NLA not required, standard RDP security, BlueKeep-class OS.

The BlueKeep judgement is a heuristic over the announced OS version only (detection-methods §2.7):
patch level is unknowable without touching the MS_T120 channel, which we never do.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from duecare.advisories.predicates.base import (
    Check,
    NoParams,
    PredicateRegistry,
    affected,
    indeterminate,
    not_affected,
)
from duecare.probes.rdp.facts import EncryptionStatus, NtlmStep, RdpFacts
from duecare.wire import Confidence

BLUEKEEP_CVE = "CVE-2019-0708"


class OsVersionCeiling(BaseModel):
    """Highest affected Windows NT version, e.g. 6.1 = Windows 7 / Server 2008 R2."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    major: int = Field(ge=0, le=255)
    minor: int = Field(ge=0, le=255)


def _accepted(f: RdpFacts) -> str:
    return ", ".join(p.value for p in f.accepted_protocols) or "none"


def register(reg: PredicateRegistry) -> None:
    @reg.add("rdp.listening", RdpFacts)
    def rdp_listening(f: RdpFacts, _p: NoParams) -> Check:
        """An RDP listener answered the X.224 connection request."""
        if f.speaks_rdp:
            return affected(
                f"RDP listener answered (accepts: {_accepted(f)})",
                confidence=Confidence.CERTAIN,
                details={"accepted_protocols": [p.value for p in f.accepted_protocols]},
            )
        return not_affected("service did not speak RDP")

    @reg.add("rdp.nla_not_required", RdpFacts)
    def rdp_nla_not_required(f: RdpFacts, _p: NoParams) -> Check:
        """Sessions can start without Network Level Authentication (CredSSP) first."""
        details = {"accepted_protocols": [p.value for p in f.accepted_protocols]}
        if f.nla_required is False:
            why = "server accepted a connection without CredSSP" + (
                " (legacy server: no RDP negotiation at all)" if f.legacy_server else f" ({_accepted(f)})"
            )
            return affected(why, confidence=Confidence.CERTAIN, details=details)
        if f.nla_required is True:
            return not_affected("RDP and TLS requests failed with HYBRID_REQUIRED_BY_SERVER")
        return indeterminate("the negotiation answers did not show whether NLA is required", details=details)

    @reg.add("rdp.standard_security_accepted", RdpFacts)
    def rdp_standard_security_accepted(f: RdpFacts, _p: NoParams) -> Check:
        """Standard RDP security (RC4, no server authentication) is accepted."""
        s = f.standard_security
        if f.standard_security_allowed is True:
            details: dict[str, str | None] = {"encryption_level": s.encryption_level}
            if s.status is EncryptionStatus.DETERMINED:
                details.update(encryption_method=s.encryption_method, server_version=s.server_version)
                level = f"encryption level {s.encryption_level}, method {s.encryption_method}"
            else:
                level = "encryption level not determined"
            return affected(
                f"server selected standard RDP security ({level})", confidence=Confidence.CERTAIN, details=dict(details)
            )
        if f.standard_security_allowed is False:
            return not_affected("server refused standard RDP security")
        return indeterminate("no answer showed whether standard RDP security is accepted")

    @reg.add("rdp.os_version_at_most", RdpFacts, OsVersionCeiling)
    def rdp_os_version_at_most(f: RdpFacts, p: OsVersionCeiling) -> Check:
        """The OS version announced in the CredSSP NTLM CHALLENGE is at or below major.minor."""
        version = None if f.ntlm is None else f.ntlm.product_version
        if version is None:
            why = {
                NtlmStep.HYBRID_NOT_OFFERED: "CredSSP (HYBRID) not offered, so no NTLM CHALLENGE to read",
                NtlmStep.FAILED: f"NTLM step failed: {f.ntlm_detail or 'no detail'}",
                NtlmStep.COLLECTED: "NTLM CHALLENGE carried no trustworthy VERSION",
            }[f.ntlm_step]
            if f.legacy_server:
                why += "; the server sent no RDP negotiation data (XP / Server 2003 class)"
            return indeterminate(f"OS version unknown: {why}", confidence=Confidence.TENTATIVE)
        details = {"os_version": str(version), "ceiling": f"{p.major}.{p.minor}"}
        if version.major_minor <= (p.major, p.minor):
            # Tentative: FreeRDP/winpr servers also announce 6.1.7601 (seen in our captures).
            return affected(
                f"NTLM CHALLENGE announces Windows NT {version}, at or below {p.major}.{p.minor}",
                confidence=Confidence.TENTATIVE,
                details=details,
                cves=(BLUEKEEP_CVE,),
            )
        return not_affected(f"NTLM CHALLENGE announces Windows NT {version}", details=details)
