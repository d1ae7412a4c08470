"""UPnP predicates (US-CERT TA14-017A: SSDP reflection; UPnP IGD opens router ports on request)."""

from __future__ import annotations

from pydantic import JsonValue

from duecare.advisories.predicates.base import Check, PredicateRegistry, affected, not_affected
from duecare.probes.upnp.facts import UpnpFacts
from duecare.wire import Confidence


def register(reg: PredicateRegistry) -> None:
    @reg.add("upnp.ssdp_answers", UpnpFacts)
    def ssdp_answers(f: UpnpFacts, _p: object) -> Check:
        """The host answers SSDP discovery (and may be an Internet Gateway Device)."""
        if not f.responses:
            return not_affected("no SSDP answers")
        details: dict[str, JsonValue] = {
            "answers": len(f.responses),
            "internet_gateway": f.internet_gateway,
            "server": f.responses[0].server,
        }
        if f.device is not None:
            details |= {
                "manufacturer": f.device.manufacturer,
                "model_name": f.device.model_name,
                "model_number": f.device.model_number,
            }
        what = "an Internet Gateway Device (UPnP port mapping)" if f.internet_gateway else "SSDP discovery"
        return affected(f"host answers {what}", confidence=Confidence.CERTAIN, details=details)
