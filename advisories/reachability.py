"""Which inside findings the internet reaches: the gateway's UPnP mappings and the outside view. Pure.

Two kinds of evidence, in this order (issue 14):

1. a port mapping the gateway lists (UPnP IGD, read from inside) naming the finding's internal
   client:port — ``source="gateway-mapping"``;
2. the same fingerprint seen from both sides (TLS/RDP certificate SHA-256, NTLM computer and domain
   names, SSH host key, Exchange build and front-end server, VNC/SNMP ids) by an agent with internet
   vantage scanning the site's declared public addresses — ``source="outside-scan"``.

A finding is ``internet_exposed = False`` only when the outside view covered its port on every
declared address and found it closed or filtered; ``None`` when nothing links it either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address

from pydantic import JsonValue

from duecare.advisories.engine import FactsRecord
from duecare.probes.upnp.facts import PortMapping, UpnpFacts
from duecare.wire import Exposure, Finding, Proto, ReachabilityEvidence, Verdict

IPAddress = IPv4Address | IPv6Address
#: Keys of ``Finding.details`` (and of the fingerprint a finding carries) that identify one service.
FINGERPRINT_KEYS = (
    "cert_sha256",
    "ntlm_computer",
    "ntlm_dns_computer",
    "ssh_host_key",
    "fe_server",
    "snmp_engine_id",
)


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


# -- the outside view ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutsideService:
    """One service the internet-vantage agent found open on a declared public address."""

    public_ip: IPAddress
    port: int
    proto: Proto
    fingerprint: Mapping[str, str]
    observed_at: datetime
    report_id: object | None = None


@dataclass(frozen=True, slots=True)
class OutsideView:
    """What one outside scan covered: the declared addresses, the ports swept, what answered."""

    declared: tuple[IPAddress, ...]
    tcp_ports: frozenset[int]
    udp_ports: frozenset[int]
    open_services: tuple[OutsideService, ...]
    observed_at: datetime
    report_id: object | None = None

    def covered(self, port: int, proto: Proto) -> bool:
        return port in (self.tcp_ports if proto is Proto.TCP else self.udp_ports)


def fingerprint(f: Finding) -> dict[str, str]:
    """The identifying values a finding's details carry (what both vantages can see)."""
    out: dict[str, str] = {}
    for key in FINGERPRINT_KEYS:
        value: JsonValue = f.details.get(key)
        if isinstance(value, str) and value:
            out[key] = value.lower()
    return out


#: Facts keys (any probe, any depth) → fingerprint key.
_FACT_KEYS = {
    "sha256_fingerprint": "cert_sha256",
    "netbios_computer_name": "ntlm_computer",
    "dns_computer_name": "ntlm_dns_computer",
    "fe_servers": "fe_server",
    "engine_id": "snmp_engine_id",
}


def fingerprint_from_facts(facts: JsonValue, _depth: int = 0) -> dict[str, str]:
    """Identifying values anywhere in one probe's facts (a certificate, NTLM names, FE server…)."""
    out: dict[str, str] = {}
    if _depth > 6:
        return out
    if isinstance(facts, dict):
        for key, value in facts.items():
            name = _FACT_KEYS.get(key)
            if name is not None:
                if isinstance(value, list) and value and isinstance(value[0], str):
                    value = value[0]
                if isinstance(value, str) and value:
                    out.setdefault(name, value.lower())
            elif isinstance(value, dict | list):
                for k, v in fingerprint_from_facts(value, _depth + 1).items():
                    out.setdefault(k, v)
    elif isinstance(facts, list):
        for item in facts[:16]:
            for k, v in fingerprint_from_facts(item, _depth + 1).items():
                out.setdefault(k, v)
    return out


def _linked(inside: Mapping[str, str], outside: Mapping[str, str]) -> list[str]:
    return [k for k in FINGERPRINT_KEYS if k in inside and inside.get(k) == outside.get(k)]


def join_outside(
    findings: Sequence[Finding],
    view: OutsideView | None,
    service_fingerprints: Mapping[tuple[str, int, str], Mapping[str, str]] | None = None,
) -> list[Finding]:
    """Give each inside finding ``internet_exposed`` from the outside view (gateway evidence stays first).

    ``service_fingerprints`` maps an inside (ip, port, proto) to its fingerprint when the findings'
    details do not carry one (e.g. from the inside report's facts).
    """
    if view is None:
        return list(findings)
    fps = service_fingerprints or {}
    out: list[Finding] = []
    for f in findings:
        if f.internet_exposed is True and any(e.source == "gateway-mapping" for e in f.internet_evidence):
            out.append(f)
            continue
        if f.port is None or f.proto is None:
            out.append(f)
            continue
        mine = {**fingerprint(f), **fps.get((str(f.ip), f.port, f.proto.value), {})}
        links = [(s, _linked(mine, s.fingerprint)) for s in view.open_services]
        links = [(s, keys) for s, keys in links if keys]
        if links:
            ev = tuple(
                ReachabilityEvidence(
                    source="outside-scan",
                    summary=(
                        f"seen from the internet on {s.public_ip}:{s.port}/{s.proto.value}: same "
                        + ", ".join(f"{k} {s.fingerprint[k][:24]}" for k in keys)
                    )[:300],
                    observed_at=s.observed_at,
                    public_ip=s.public_ip,
                    public_port=s.port,
                )
                for s, keys in links[:4]
            )
            out.append(f.model_copy(update={"internet_exposed": True, "internet_evidence": ev}))
            continue
        open_same_port = any(s.port == f.port and s.proto is f.proto for s in view.open_services)
        if view.covered(f.port, f.proto) and not open_same_port:
            ev1 = ReachabilityEvidence(
                source="outside-scan",
                summary=(
                    f"port {f.port}/{f.proto.value} closed or filtered on every declared public address "
                    f"({', '.join(str(a) for a in view.declared[:4])})"
                )[:300],
                observed_at=view.observed_at,
            )
            out.append(f.model_copy(update={"internet_exposed": False, "internet_evidence": (ev1,)}))
            continue
        out.append(f.model_copy(update={"internet_exposed": None, "internet_evidence": ()}))
    return out


def unexplained(view: OutsideView, findings: Sequence[Finding]) -> list[OutsideService]:
    """Outside services no inside finding explains: reachable from the internet, internal host unknown."""
    explained = {
        (e.public_ip, e.public_port) for f in findings if f.internet_exposed for e in f.internet_evidence if e.public_ip
    }
    return [s for s in view.open_services if (s.public_ip, s.port) not in explained]
