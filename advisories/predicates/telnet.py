"""Telnet predicates (AA22-137A: cleartext remote administration)."""

from __future__ import annotations

from duecare.advisories.predicates.base import Check, PredicateRegistry, affected, not_affected
from duecare.probes.telnet.facts import TelnetFacts
from duecare.wire import Confidence


def register(reg: PredicateRegistry) -> None:
    @reg.add("telnet.listening", TelnetFacts)
    def telnet_listening(f: TelnetFacts, _p: object) -> Check:
        """The service speaks Telnet: logins and sessions cross the LAN in cleartext."""
        if f.speaks_telnet:
            what = "a login prompt" if f.login_prompt else "Telnet option negotiation"
            return affected(f"service answered with {what}", confidence=Confidence.CERTAIN)
        return not_affected("service did not speak Telnet")
