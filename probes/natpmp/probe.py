"""NAT-PMP and PCP on UDP 5351: one read-only question each to the gateway, nothing else."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import ClassVar

from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import Unreachable
from duecare.probes.natpmp.facts import NatPmpFacts, PcpFacts
from duecare.probes.natpmp.parse import (
    PCP_MAX,
    PORT,
    announce_request,
    external_address_request,
    parse_announce_response,
    parse_external_address,
)
from duecare.wire import EvidenceKind, Proto


class NatPmpProbe(ServiceProbe):
    id: ClassVar[str] = "natpmp"
    proto: ClassVar[Proto | None] = Proto.UDP
    ports: ClassVar[frozenset[int]] = frozenset({PORT})
    services: ClassVar[frozenset[str]] = frozenset({"nat-pmp"})
    facts_model: ClassVar[type[Facts]] = NatPmpFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[NatPmpFacts]:
        assert target.port is not None
        # One short question: a host that is not a gateway stays silent, and the scan should not wait on it.
        data, _peer = await ctx.udp_exchange(
            target.host, target.port, external_address_request(), max_bytes=1100, timeout=min(ctx.timeouts.read, 2.0)
        )
        facts = parse_external_address(data)
        summary = f"NAT-PMP on {target.host}:{target.port}: {facts.result}, external address {facts.external_ip}"
        return Observation(facts, (evidence(self.id, EvidenceKind.HANDSHAKE, summary, data),))


def _source_address(host: str, port: int) -> IPv4Address | IPv6Address:
    """The address our datagrams to ``host`` leave from (a connected UDP socket sends nothing)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((host, port))
        except OSError as exc:
            raise Unreachable(f"no route to {host}:{port}: {exc.strerror or exc}") from exc
        return ip_address(sock.getsockname()[0])


class PcpProbe(ServiceProbe):
    """PCP (RFC 6887) on the NAT-PMP port: one ANNOUNCE, which creates nothing. The external address
    is not read this way (see ``PCP_NO_EXTERNAL``): NAT-PMP's read above is the read-only one."""

    id: ClassVar[str] = "pcp"
    proto: ClassVar[Proto | None] = Proto.UDP
    ports: ClassVar[frozenset[int]] = frozenset({PORT})
    services: ClassVar[frozenset[str]] = frozenset({"nat-pmp"})
    facts_model: ClassVar[type[Facts]] = PcpFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[PcpFacts]:
        assert target.port is not None
        ctx.check_scope(target.host)
        request = announce_request(_source_address(target.host, target.port))
        data, _peer = await ctx.udp_exchange(
            target.host, target.port, request, max_bytes=PCP_MAX, timeout=min(ctx.timeouts.read, 2.0)
        )
        facts = parse_announce_response(data)
        where = f"{target.host}:{target.port}"
        summary = (
            f"PCP server on {where}: version {facts.version}, {facts.result}, epoch {facts.epoch_seconds}s"
            if facts.speaks_pcp
            else f"{where} answered PCP as a NAT-PMP-only gateway ({facts.result})"
        )
        return Observation(facts, (evidence(self.id, EvidenceKind.HANDSHAKE, summary, data),))
