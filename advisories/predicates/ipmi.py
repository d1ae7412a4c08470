"""IPMI predicates (US-CERT TA13-207A: BMCs reachable from the LAN are a standing risk)."""

from __future__ import annotations

from pydantic import JsonValue

from duecare.advisories.predicates.base import Check, PredicateRegistry, affected, not_affected
from duecare.probes.ipmi.facts import IpmiFacts
from duecare.wire import Confidence


def register(reg: PredicateRegistry) -> None:
    @reg.add("ipmi.bmc_answers", IpmiFacts)
    def bmc_answers(f: IpmiFacts, _p: object) -> Check:
        """A BMC answered IPMI-over-LAN questions from this network without any login."""
        if f.source == "asf-presence-pong":
            if f.ipmi_supported:
                return affected("RMCP presence pong announces IPMI support", confidence=Confidence.FIRM)
            return not_affected("RMCP answered but announces no IPMI support")
        details: dict[str, JsonValue] = {
            "ipmi_version": f.version,
            "auth_types": list(f.auth_types),
            "anonymous_login": f.anonymous_login,
            "null_usernames": f.null_usernames,
        }
        if f.completion_code:
            return affected(
                f"BMC answered Get Channel Authentication Capabilities with 0x{f.completion_code:02x}",
                confidence=Confidence.FIRM,
                details=details,
            )
        risky = [
            label
            for label, on in (
                ("anonymous login enabled", f.anonymous_login),
                ("null user names enabled", f.null_usernames),
                ("auth type 'none' allowed", "none" in f.auth_types),
                ("cleartext 'straight' password auth allowed", "straight" in f.auth_types),
            )
            if on
        ]
        extra = f"; {', '.join(risky)}" if risky else ""
        return affected(
            f"IPMI {f.version} BMC reachable over UDP 623{extra}", confidence=Confidence.CERTAIN, details=details
        )
