"""UPnP predicates (US-CERT TA14-017A: SSDP reflection; UPnP IGD opens router ports on request)."""

from __future__ import annotations

from pydantic import JsonValue

from duecare.advisories.predicates.base import Check, PredicateRegistry, affected, indeterminate, not_affected
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

    @reg.add("upnp.igd_port_mappings", UpnpFacts)
    def igd_port_mappings(f: UpnpFacts, _p: object) -> Check:
        """The gateway's UPnP table (read-only IGD actions) lists enabled mappings to the internet."""
        if f.igd is None:
            why = f.igd_skipped or "the IGD port-mapping table was not read"
            if not f.internet_gateway:
                return not_affected("not an Internet Gateway Device")
            return indeterminate(f"{why}; a read of the gateway's UPnP port-mapping table would settle it")
        live = [m for m in f.igd.mappings if m.enabled]
        details: dict[str, JsonValue] = {
            "external_ip": f.igd.external_ip,
            "complete": f.igd.complete,
            "mappings": [
                {
                    "protocol": m.protocol,
                    "external_port": m.external_port,
                    "internal_client": m.internal_client,
                    "internal_port": m.internal_port,
                    "description": m.description,
                    "lease_seconds": m.lease_seconds,
                }
                for m in live
            ],
        }
        if not live:
            if not f.igd.complete:
                return indeterminate(f"no mapping read before the table read stopped ({f.igd.note})")
            return not_affected("the gateway's UPnP port-mapping table is empty", details=details)
        shown = ", ".join(f"{m.protocol} {m.external_port} -> {m.internal_client}:{m.internal_port}" for m in live[:4])
        return affected(
            f"gateway lists {len(live)} UPnP port mapping(s) from {f.igd.external_ip}: {shown}",
            confidence=Confidence.CERTAIN,
            details=details,
        )
