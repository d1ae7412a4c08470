"""VNC: RFB version exchange and the security-type list; enter only through an open door.

When None (type 1) is offered we take it, read ServerInit (the desktop name) and leave, as a
viewer would. Otherwise we hang up right after the list, without choosing a type: TigerVNC
blacklists a source after 5 failed authentications (BlacklistThreshold), and a probe must never
look like one of them.
"""

from __future__ import annotations

from typing import ClassVar

from duecare.probes._net import Stream
from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.vnc.facts import NONE, RfbProtocol, VncFacts
from duecare.probes.vnc.parse import (
    SERVER_INIT_HEADER,
    client_version,
    parse_version,
    reason_length,
    security_types,
    server_init_header,
    text,
    type_names,
    u8,
    u32,
)
from duecare.wire import EvidenceKind


class VncProbe(ServiceProbe):
    id: ClassVar[str] = "vnc"
    ports: ClassVar[frozenset[int]] = frozenset({5900, 5901})
    #: Not "vnc-http": that is the Java-viewer web page on 5800, not RFB.
    services: ClassVar[frozenset[str]] = frozenset({"vnc"})
    facts_model: ClassVar[type[Facts]] = VncFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[VncFacts]:
        assert target.port is not None
        async with await ctx.connect(target.host, target.port) as s:
            version = parse_version(await s.read_exactly(12, "RFB ProtocolVersion"))
            protocol = version.protocol
            await s.write(client_version(protocol))
            facts = await self._security(s, version.text, protocol)
        where = f"{target.host}:{target.port}"
        pairs = zip(facts.security_types, facts.security_type_names, strict=True)
        listing = ", ".join(f"{t} {n}" for t, n in pairs)
        excerpt = f"RFB {facts.server_version}; security types: {listing or 'none offered'}"
        if facts.failure_reason:
            excerpt += f"; refused: {facts.failure_reason}"
        if facts.desktop_name is not None:
            excerpt += f"; desktop '{facts.desktop_name}' {facts.width}x{facts.height}"
        summary = (
            f"VNC on {where} let us in without authentication"
            if facts.none_accepted
            else f"VNC security types offered by {where}"
        )
        return Observation(facts, (evidence(self.id, EvidenceKind.HANDSHAKE, summary, excerpt),))

    async def _security(self, s: Stream, server_version: str, protocol: RfbProtocol) -> VncFacts:
        base = {"server_version": server_version, "protocol": protocol}
        if protocol == "3.3":
            # RFC 6143 §7.1.2, version 3.3: the server picks the type and sends it as a U32.
            chosen = u32(await s.read_exactly(4, "security type"))
            if chosen == 0:
                return VncFacts(**base, failure_reason=await self._reason(s))
            types: tuple[int, ...] = (chosen,)
        else:
            count = u8(await s.read_exactly(1, "security type count"))
            if count == 0:
                return VncFacts(**base, failure_reason=await self._reason(s))
            types = security_types(await s.read_exactly(count, "security types"))
        offered = {**base, "security_types": types, "security_type_names": type_names(types)}
        if NONE not in types:
            return VncFacts(**offered)  # leave without choosing: no failed attempt to count
        if protocol != "3.3":
            await s.write(bytes((NONE,)))
        # Only 3.8 sends SecurityResult after None (RFC 6143 §7.2.1), with a reason on failure.
        if protocol == "3.8" and u32(await s.read_exactly(4, "SecurityResult")) != 0:
            return VncFacts(**offered, none_accepted=False, failure_reason=await self._reason(s))
        await s.write(b"\x01")  # ClientInit, shared: never disconnect someone else's session
        head = server_init_header(await s.read_exactly(SERVER_INIT_HEADER, "ServerInit"))
        name = await s.read_exactly(head.name_length, "desktop name")
        return VncFacts(
            **offered,
            none_accepted=True,
            desktop_name=text(name, 256),
            width=head.width,
            height=head.height,
        )

    @staticmethod
    async def _reason(s: Stream) -> str:
        n = reason_length(await s.read_exactly(4, "failure reason length"))
        return text(await s.read_exactly(n, "failure reason"), 1024)
