"""Which inside findings the internet reaches, as the gateway itself says: its UPnP mappings. Pure.

The first kind of reachability evidence (issue 14): a port mapping the gateway lists (UPnP IGD,
read from inside with read-only actions) naming a finding's internal client:port —
``source="gateway-mapping"``. The outside view (an agent with internet vantage) is joined after
this, by ``duecare.wire.reachability``, which the collector shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address

from duecare.advisories.engine import FactsRecord
from duecare.probes.upnp.facts import PortMapping, UpnpFacts
from duecare.wire import Exposure, Finding, ReachabilityEvidence, Verdict

IPAddress = IPv4Address | IPv6Address


@dataclass(frozen=True, slots=True)
class GatewayMapping:
    """One enabled UPnP mapping as the inside agent read it from the gateway."""

    gateway: IPAddress
    external_ip: IPAddress | None
    mapping: PortMapping
    observed_at: datetime


def gateway_mappings(records: Iterable[FactsRecord], observed_at: datetime) -> list[GatewayMapping]:
    out: list[GatewayMapping] = []
    for r in records:
        if not isinstance(r.facts, UpnpFacts) or r.facts.igd is None:
            continue
        ext = r.facts.igd.external_ip
        external = ip_address(ext) if ext else None
        out += [GatewayMapping(r.ip, external, m, observed_at) for m in r.facts.igd.mappings if m.enabled]
    return out


def _mapping_evidence(g: GatewayMapping) -> ReachabilityEvidence:
    m = g.mapping
    where = f"{g.external_ip}:{m.external_port}" if g.external_ip else f"port {m.external_port}"
    return ReachabilityEvidence(
        source="gateway-mapping",
        summary=(
            f"forwarded by the gateway {g.gateway} (UPnP) from {where}/{m.protocol} to "
            f"{m.internal_client}:{m.internal_port}" + (f" ({m.description})" if m.description else "")
        )[:300],
        observed_at=g.observed_at,
        public_ip=g.external_ip,
        public_port=m.external_port,
    )


def apply_gateway_mappings(findings: Sequence[Finding], mappings: Sequence[GatewayMapping]) -> list[Finding]:
    """Mark findings on a mapped internal client:port reachable; the IGD finding itself is the exposure."""
    by_target: dict[tuple[str, int, str], list[GatewayMapping]] = {}
    for g in mappings:
        m = g.mapping
        by_target.setdefault((m.internal_client, m.internal_port, m.protocol), []).append(g)
    out: list[Finding] = []
    for f in findings:
        hits: list[GatewayMapping] = []
        if f.port is not None and f.proto is not None:
            hits = by_target.get((str(f.ip), f.port, f.proto.value), [])
        if f.exposure is Exposure.UPNP_IGD_PORT_MAPPINGS and f.verdict is Verdict.AFFECTED:
            hits = [g for g in mappings if g.gateway == f.ip]
        if hits:
            f = f.model_copy(
                update={
                    "internet_exposed": True,
                    "internet_evidence": (*f.internet_evidence, *(_mapping_evidence(g) for g in hits[:8])),
                }
            )
        out.append(f)
    return out
