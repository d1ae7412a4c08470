"""SNMP predicates (ADV-020; TA17-156A, TA18-106A, FBI I-082025-PSA): default communities."""

from __future__ import annotations

from pydantic import JsonValue

from duecare.advisories.predicates.base import Check, NoParams, PredicateRegistry, affected, indeterminate, not_affected
from duecare.probes.snmp.facts import SnmpFacts
from duecare.wire import Confidence


def register(reg: PredicateRegistry) -> None:
    @reg.add("snmp.default_community", SnmpFacts)
    def default_community(f: SnmpFacts, _p: NoParams) -> Check:
        """The agent answers a GET with a factory-default community (public / private)."""
        if f.accepted:
            pairs = ", ".join(f"{a.version}/'{a.community}'" for a in f.accepted)
            details: dict[str, JsonValue] = {
                "accepted": [{"version": a.version, "community": a.community} for a in f.accepted],
                "sys_descr": next((a.sys_descr for a in f.accepted if a.sys_descr), None),
                # Only a SET could show write access, and we never send one.
                "write_access": f.write_access,
            }
            return affected(
                f"agent answered GET with default community {pairs}", confidence=Confidence.CERTAIN, details=details
            )
        if f.v3_answered:
            tried = ", ".join(sorted({c for _v, c in f.tried}))
            return not_affected(
                f"agent is up (answered SNMPv3 discovery) and ignored v1/v2c GETs with {tried}",
                confidence=Confidence.FIRM,
            )
        return indeterminate("no SNMP answer at all: agent absent or filtering us")
