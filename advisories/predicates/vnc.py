"""VNC predicates (ADV-022; AA22-137A, AA23-025A): security type None offered."""

from __future__ import annotations

from pydantic import JsonValue

from duecare.advisories.predicates.base import Check, NoParams, PredicateRegistry, affected, indeterminate, not_affected
from duecare.probes.vnc.facts import NONE, WRAPPING_TYPES, VncFacts
from duecare.wire import Confidence


def register(reg: PredicateRegistry) -> None:
    @reg.add("vnc.no_auth", VncFacts)
    def no_auth(f: VncFacts, _p: NoParams) -> Check:
        """The server offers security type 1 (None): anyone on the network gets the desktop."""
        details: dict[str, JsonValue] = {
            "rfb_version": f.server_version,
            "security_types": list(f.security_type_names),
        }
        if not f.security_types:
            # TigerVNC answers a blacklisted source this way ("Too many security failures").
            return indeterminate(f"server refused before offering security types: {f.failure_reason}")
        if NONE in f.security_types:
            if f.none_accepted is False:
                return indeterminate(f"None was offered but refused on use: {f.failure_reason}", details=details)
            if f.desktop_name is not None:
                details["desktop_name"] = f.desktop_name
            how = "and let us in" if f.none_accepted else "(not entered)"
            return affected(f"security type None offered {how}", confidence=Confidence.CERTAIN, details=details)
        wrapped = sorted(set(f.security_types) & WRAPPING_TYPES)
        if wrapped:
            # VeNCrypt/Tight carry sub-types of their own (TLSNone, X509None…); reading them means
            # choosing the type, which a probe that never half-authenticates does not do.
            details["unexamined_wrapping_types"] = list(wrapped)
            return not_affected("None not offered; VeNCrypt/Tight sub-types not examined", details=details)
        return not_affected(
            "None not offered: every offered type authenticates", confidence=Confidence.CERTAIN, details=details
        )
