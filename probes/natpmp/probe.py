"""NAT-PMP (UDP 5351): one external-address request to the gateway, nothing else."""

from __future__ import annotations

from typing import ClassVar

from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.natpmp.facts import NatPmpFacts
from duecare.probes.natpmp.parse import PORT, external_address_request, parse_external_address
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
