"""IPMI (UDP 623): ask the BMC what logins it allows, without opening a session.

One Get Channel Authentication Capabilities round trip (the question ipmitool asks before any
login, and nmap's ``ipmi-version``); a second only if a v1.5 BMC refuses the v2.0 form. A BMC that
ignores it gets one RMCP Presence Ping, so a silent-but-present BMC is still seen.
"""

from __future__ import annotations

from typing import ClassVar

from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeTimeout
from duecare.probes.ipmi.facts import IpmiFacts
from duecare.probes.ipmi.parse import (
    auth_capabilities_request,
    parse_auth_capabilities,
    parse_presence_pong,
    presence_ping,
)
from duecare.wire import EvidenceKind, Proto

_INVALID_DATA_FIELD = 0xCC
#: BMCs answer in milliseconds; a long wait only slows scans of hosts without one.
_UDP_TIMEOUT = 2.0


def describe(f: IpmiFacts) -> str:
    if f.source == "asf-presence-pong":
        return f"RMCP presence pong; IPMI supported: {f.ipmi_supported}"
    if f.completion_code:
        return f"IPMI answered with completion code 0x{f.completion_code:02x}"
    flags = [n for n, on in (("anonymous login", f.anonymous_login), ("null user names", f.null_usernames)) if on]
    return f"IPMI {f.version} BMC, auth types {', '.join(f.auth_types) or 'none listed'}" + (
        f"; enabled: {', '.join(flags)}" if flags else ""
    )


class IpmiProbe(ServiceProbe):
    id: ClassVar[str] = "ipmi"
    proto: ClassVar[Proto | None] = Proto.UDP
    ports: ClassVar[frozenset[int]] = frozenset({623})
    services: ClassVar[frozenset[str]] = frozenset({"asf-rmcp", "ipmi"})
    facts_model: ClassVar[type[Facts]] = IpmiFacts

    async def _ask(self, target: Target, ctx: ProbeContext, payload: bytes) -> bytes:
        assert target.port is not None
        data, _addr = await ctx.udp_exchange(target.host, target.port, payload, timeout=_UDP_TIMEOUT, retries=1)
        return data

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[IpmiFacts]:
        try:
            raw = await self._ask(target, ctx, auth_capabilities_request(ask_v2=True))
            facts = parse_auth_capabilities(raw)
            if facts.completion_code == _INVALID_DATA_FIELD:
                raw = await self._ask(target, ctx, auth_capabilities_request(ask_v2=False, seq=1))
                facts = parse_auth_capabilities(raw)
        except ProbeTimeout:
            raw = await self._ask(target, ctx, presence_ping())
            facts = parse_presence_pong(raw)
        ev = evidence(self.id, EvidenceKind.HANDSHAKE, f"{describe(facts)} at {target.host}:{target.port}", raw)
        return Observation(facts, (ev,))
