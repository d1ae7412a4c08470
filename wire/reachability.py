"""The outside view joined to inside findings: pure over wire models (issue 14).

Shared by the collector (which joins a site's inside and outside agents' reports) and the one-shot
``duecare scan --public`` (which runs both views itself). Evidence order: a gateway mapping the
inside agent already attached (kept), then the same fingerprint seen from both sides (TLS/RDP
certificate SHA-256, NTLM computer names, SSH host key SHA-256, Exchange front-end server, SNMP engine
id, a VNC server's RFB version, desktop name and size, linking only when one inside service has it),
then ``false`` when the outside view swept that port on every declared address and it was not open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from pydantic import JsonValue

from duecare.wire.models import Finding, Proto, ReachabilityEvidence

IPAddress = IPv4Address | IPv6Address
#: Keys of a fingerprint: values that identify one service whichever side sees it.
FINGERPRINT_KEYS = (
    "cert_sha256",
    "ntlm_computer",
    "ntlm_dns_computer",
    "ssh_host_key",
    "fe_server",
    "snmp_engine_id",
    "rfb_desktop",
)
#: Values a person chooses (a VNC desktop name, often the default): they link an outside service to an
#: inside one only when exactly one inside service carries the value, never to several look-alikes.
WEAK_KEYS = frozenset({"rfb_desktop"})
_MAX_PORTS = 65536


def expand_ports(ranges: str) -> frozenset[int]:
    """nmap's range notation ("21-23,80") as a set of ports; anything malformed is skipped."""
    out: set[int] = set()
    for part in ranges.split(","):
        lo, _, hi = part.strip().partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            continue
        a, b = int(lo), int(hi or lo)
        if 0 < a <= b < _MAX_PORTS:
            out.update(range(a, b + 1))
    return frozenset(out)


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
    #: The SSH probe's SHA-256 of the host key blob, in hex (its base64 form would not survive lower-casing).
    "host_key_sha256": "ssh_host_key",
}


def fingerprint_from_facts(facts: JsonValue, _depth: int = 0) -> dict[str, str]:
    """Identifying values anywhere in one probe's facts (a certificate, NTLM names, FE server…)."""
    out: dict[str, str] = {}
    if _depth > 6:
        return out
    if isinstance(facts, dict):
        rfb = _rfb_desktop(facts)
        if rfb:
            out["rfb_desktop"] = rfb
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


def _rfb_desktop(facts: Mapping[str, JsonValue]) -> str | None:
    """A VNC server's ServerInit as one value: RFB version, desktop name, framebuffer size (RFC 6143 §7.3.2).
    Only once the server let the client in and named its desktop; lower-cased like the other values."""
    name, version = facts.get("desktop_name"), facts.get("server_version")
    if not (isinstance(name, str) and name.strip() and isinstance(version, str)):
        return None
    return f"{version}|{name}|{facts.get('width')}x{facts.get('height')}".lower()[:300]


def _linked(inside: Mapping[str, str], outside: Mapping[str, str], ambiguous: frozenset[tuple[str, str]]) -> list[str]:
    return [
        k
        for k in FINGERPRINT_KEYS
        if k in inside and inside.get(k) == outside.get(k) and (k, inside[k]) not in ambiguous
    ]


def _ambiguous(inside: Iterable[Mapping[str, str]]) -> frozenset[tuple[str, str]]:
    """Weak values that more than one inside service carries."""
    seen: dict[tuple[str, str], int] = {}
    for fp in inside:
        for k in WEAK_KEYS & fp.keys():
            seen[(k, fp[k])] = seen.get((k, fp[k]), 0) + 1
    return frozenset(kv for kv, n in seen.items() if n > 1)


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
    services: dict[tuple[str, int, str], dict[str, str]] = {k: dict(v) for k, v in fps.items()}
    for f in findings:
        if f.port is not None and f.proto is not None:
            services.setdefault((str(f.ip), f.port, f.proto.value), {}).update(fingerprint(f))
    ambiguous = _ambiguous(services.values())
    out: list[Finding] = []
    for f in findings:
        if f.internet_exposed is True and any(e.source == "gateway-mapping" for e in f.internet_evidence):
            out.append(f)
            continue
        if f.port is None or f.proto is None:
            out.append(f)
            continue
        mine = {**fingerprint(f), **fps.get((str(f.ip), f.port, f.proto.value), {})}
        links = [(s, _linked(mine, s.fingerprint, ambiguous)) for s in view.open_services]
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


# -- from a report's JSON (the collector's stored raw reports, the one-shot scan's own) --------

Fingerprints = dict[tuple[str, int, str], dict[str, str]]


def fingerprints(report: Mapping[str, Any]) -> Fingerprints:
    """(ip, port, proto) → identifying values from every completed probe's facts in one report."""
    out: Fingerprints = {}
    for a in report.get("attempts") or ():
        if a.get("status") != "completed" or a.get("port") is None or not a.get("facts"):
            continue
        fp = fingerprint_from_facts(a["facts"])
        if fp:
            out.setdefault((str(a["ip"]), int(a["port"]), str(a.get("proto") or "tcp")), {}).update(fp)
    return out


def outside_view(report: Mapping[str, Any], declared: Iterable[str]) -> OutsideView:
    """What the outside report covered of the declared addresses. A port counts as covered only if
    every declared address answered the sweep (a host that never answered proves nothing closed)."""
    declared_ips = tuple(ip_address(a) for a in declared)
    fps = fingerprints(report)
    seen_at = datetime.fromisoformat(str(report["finished_at"]))
    swept = {ip_address(str(a["ip"])) for a in report.get("assets") or ()}
    open_services = tuple(
        OutsideService(
            public_ip=ip_address(str(a["ip"])),
            port=int(svc["port"]),
            proto=Proto(svc["proto"]),
            fingerprint=fps.get((str(a["ip"]), int(svc["port"]), str(svc["proto"])), {}),
            observed_at=seen_at,
            report_id=report.get("report_id"),
        )
        for a in report.get("assets") or ()
        if ip_address(str(a["ip"])) in declared_ips
        for svc in a.get("services") or ()
        if svc.get("state") == "open"
    )
    scope = report.get("scope") or {}
    all_swept = bool(declared_ips) and all(ip in swept for ip in declared_ips)
    tcp = expand_ports(scope.get("tcp_ports") or "") if all_swept else frozenset()
    udp = expand_ports(scope.get("udp_ports") or "") if all_swept else frozenset()
    return OutsideView(declared_ips, tcp, udp, open_services, seen_at, report.get("report_id"))


def mark_outside(finding: Finding, view: OutsideView, lonely: set[tuple[IPAddress, int | None]]) -> Finding:
    """A finding of the outside view itself: reachable by definition; alone when no inside finding explains it."""
    alone = (finding.ip, finding.port) in lonely
    what = "internal host unknown" if alone else "the same service as an inside finding"
    proto = finding.proto.value if finding.proto else "-"
    ev = ReachabilityEvidence(
        source="outside-scan",
        summary=f"reachable from the internet on {finding.ip}:{finding.port}/{proto}; {what}",
        observed_at=view.observed_at,
        public_ip=finding.ip,
        public_port=finding.port,
    )
    details = {**finding.details, "vantage": "internet", "internal_host_unknown": alone}
    return finding.model_copy(update={"internet_exposed": True, "internet_evidence": (ev,), "details": details})


def lonely_services(view: OutsideView, inside: Sequence[Finding]) -> set[tuple[IPAddress, int | None]]:
    return {(s.public_ip, s.port) for s in unexplained(view, inside)}
