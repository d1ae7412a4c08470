"""Telnet: read the greeting, refuse every option, read up to the login prompt, leave."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeTimeout, ProtocolError
from duecare.probes.telnet.facts import TelnetFacts
from duecare.probes.telnet.parse import parse_greeting, refuse_all, split_stream
from duecare.wire import EvidenceKind

_MAX_GREETING = 8192


class TelnetProbe(ServiceProbe):
    id: ClassVar[str] = "telnet"
    ports: ClassVar[frozenset[int]] = frozenset({23})
    services: ClassVar[frozenset[str]] = frozenset({"telnet"})
    facts_model: ClassVar[type[Facts]] = TelnetFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[TelnetFacts]:
        assert target.port is not None
        received = bytearray()
        async with await ctx.connect(target.host, target.port) as s:
            # Negotiate for at most a few rounds: real telnetd sends DO/WILL first, then the prompt.
            for _round in range(4):
                try:
                    chunk = await s.read_some(4096, "telnet greeting")
                except ProbeTimeout:
                    if received:
                        break
                    raise
                if not chunk:
                    break
                received += chunk
                if len(received) > _MAX_GREETING:
                    raise ProtocolError("telnet greeting longer than 8 KiB")
                _cmds, text = split_stream(bytes(received))
                if b":" in text[-40:]:
                    break
                answer = refuse_all(split_stream(chunk)[0])
                if answer:
                    await s.write(answer)
                await asyncio.sleep(0.05)
        facts = parse_greeting(bytes(received))
        if not facts.speaks_telnet:
            raise ProtocolError("port 23 answered, but not with Telnet negotiation or a login prompt")
        ev = evidence(
            self.id,
            EvidenceKind.BANNER,
            f"Telnet service on {target.host}:{target.port} offered a cleartext login"
            if facts.login_prompt
            else f"Telnet option negotiation from {target.host}:{target.port}",
            facts.banner or " ".join(facts.options_requested),
        )
        return Observation(facts, (ev,))
