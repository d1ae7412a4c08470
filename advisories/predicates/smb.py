"""SMB predicates: SMBv1 accepted, signing not required, guest sessions, MS17-010.

Silence is never a pass: an SMBv1 negotiate that timed out, a session that was not tried or an
MS17-010 check without IPC$ all give ``indeterminate`` (detection-methods.md §3.5, §3.7).
"""

from __future__ import annotations

from pydantic import JsonValue

from duecare.advisories.predicates.base import (
    Check,
    NoParams,
    PredicateRegistry,
    affected,
    indeterminate,
    not_affected,
)
from duecare.probes.smb.facts import Ms17010Facts, Ms17010Outcome, SessionOutcome, Smb1Outcome, SmbFacts
from duecare.wire import Confidence

#: The six CVEs of Microsoft bulletin MS17-010 (EternalBlue, EternalRomance, EternalChampion…).
MS17_010_CVES = (
    "CVE-2017-0143",
    "CVE-2017-0144",
    "CVE-2017-0145",
    "CVE-2017-0146",
    "CVE-2017-0147",
    "CVE-2017-0148",
)


def _signing_details(f: SmbFacts) -> dict[str, JsonValue]:
    details: dict[str, JsonValue] = {}
    if f.smb2 is not None:
        details.update(smb2_dialect=f.smb2.dialect_name, smb2_security_mode=f.smb2.security_mode)
    if f.smb1 is not None:
        details["smb1_security_mode"] = f.smb1.security_mode
    return details


def _shares_seen(f: SmbFacts) -> list[JsonValue]:
    for s in (f.guest, f.anonymous):
        if s.shares is not None:
            return list(s.shares)
    return []


def register(reg: PredicateRegistry) -> None:
    @reg.add("smb.smbv1_enabled", SmbFacts)
    def smbv1_enabled(f: SmbFacts, _p: NoParams) -> Check:
        """The server accepts an SMB1 (NT LM 0.12) negotiate."""
        if f.smb1_outcome is Smb1Outcome.ACCEPTED:
            return affected("server accepted the SMB1 dialect NT LM 0.12", confidence=Confidence.CERTAIN)
        if f.smb1_outcome.refused:
            return not_affected(f"server refused SMB1 ({f.smb1_outcome.value})", confidence=Confidence.CERTAIN)
        return indeterminate(f"SMB1 negotiate gave no clear answer ({f.smb1_outcome.value})")

    @reg.add("smb.signing_not_required", SmbFacts)
    def signing_not_required(f: SmbFacts, _p: NoParams) -> Check:
        """A dialect the server accepts lets a client run without message signing (NTLM relay)."""
        details = _signing_details(f)
        unsigned = []
        if f.smb2 is not None and not f.smb2.signing_required:
            unsigned.append(f"SMB {f.smb2.dialect_name} (SecurityMode 0x{f.smb2.security_mode:02x})")
        if f.smb1 is not None and not f.smb1.signing_required:
            unsigned.append(f"SMB1 (SecurityMode 0x{f.smb1.security_mode:02x})")
        if unsigned:
            return affected(
                "server does not require signing for " + " and ".join(unsigned),
                confidence=Confidence.CERTAIN,
                details=details,
            )
        if f.smb2 is None and f.smb1 is None:
            return indeterminate("no NEGOTIATE answer showed the server's signing policy")
        if f.smb2 is not None and f.smb1 is None and not f.smb1_outcome.refused:
            # Signing policy is server-wide on Windows and Samba (nmap smb2-security-mode.nse).
            return not_affected(
                f"SMB2/3 requires signing; SMB1 unknown ({f.smb1_outcome.value})",
                confidence=Confidence.FIRM,
                details=details,
            )
        return not_affected("every accepted dialect requires signing", confidence=Confidence.CERTAIN, details=details)

    @reg.add("smb.guest_access", SmbFacts)
    def guest_access(f: SmbFacts, _p: NoParams) -> Check:
        """An unknown user with an empty password gets a session (the server maps it to guest)."""
        details: dict[str, JsonValue] = {"shares_listed": _shares_seen(f)}
        if f.guest.outcome is SessionOutcome.ACCEPTED:
            flagged = f.guest.is_guest is True
            why = "session as 'Guest' with an empty password accepted" + (
                " and flagged as guest by the server" if flagged else " (as a real account)"
            )
            return affected(why, confidence=Confidence.CERTAIN if flagged else "firm", details=details)
        if f.anonymous.outcome is SessionOutcome.ACCEPTED and f.anonymous.is_guest:
            return affected("null session was mapped to guest", confidence=Confidence.CERTAIN, details=details)
        if f.guest.outcome is SessionOutcome.DENIED:
            status = "" if f.guest.nt_status is None else f" (NT status 0x{f.guest.nt_status:08x})"
            return not_affected(f"session as 'Guest' with an empty password refused{status}")
        return indeterminate(f"guest session not established ({f.guest.outcome.value}: {f.guest.error})")

    @reg.add("smb.ms17_010_vulnerable", Ms17010Facts)
    def ms17_010_vulnerable(f: Ms17010Facts, _p: NoParams) -> Check:
        """PeekNamedPipe on FID 0 answered STATUS_INSUFF_SERVER_RESOURCES (nmap smb-vuln-ms17-010)."""
        status = "" if f.nt_status is None else f" (NT status 0x{f.nt_status:08x})"
        if f.outcome is Ms17010Outcome.VULNERABLE:
            return affected(
                "TRANS PeekNamedPipe on FID 0 ran out of server resources: MS17-010 missing" + status,
                confidence=Confidence.FIRM,
                cves=MS17_010_CVES,
            )
        if f.outcome is Ms17010Outcome.PATCHED:
            return not_affected("TRANS PeekNamedPipe on FID 0 refused as by a patched server" + status)
        if f.outcome is Ms17010Outcome.SMB1_REFUSED:
            return not_affected("SMBv1 refused: the MS17-010 flaws are out of reach", confidence=Confidence.FIRM)
        return indeterminate(f"MS17-010 could not be checked ({f.outcome.value}){status}")
