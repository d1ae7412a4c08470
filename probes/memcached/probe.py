"""memcached: ``stats`` then ``quit`` on the text protocol. One round trip."""

from __future__ import annotations

import contextlib
from typing import ClassVar

from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeError, ProtocolError
from duecare.probes.memcached.facts import MemcachedFacts
from duecare.probes.memcached.parse import as_int, parse_stats
from duecare.wire import EvidenceKind


class MemcachedProbe(ServiceProbe):
    id: ClassVar[str] = "memcached"
    ports: ClassVar[frozenset[int]] = frozenset({11211})
    services: ClassVar[frozenset[str]] = frozenset({"memcached"})
    facts_model: ClassVar[type[Facts]] = MemcachedFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[MemcachedFacts]:
        assert target.port is not None
        where = f"{target.host}:{target.port}"
        buf = b""
        async with await ctx.connect(target.host, target.port) as stream:
            await stream.write(b"stats\r\n")
            while (reply := parse_stats(buf)) is None:
                chunk = await stream.read_some(8192, "stats reply")
                if not chunk:
                    raise ProtocolError("connection closed before END of the stats reply")
                buf += chunk
            # "quit" has no reply: the server just closes (protocol.txt, "Other commands").
            with contextlib.suppress(ProbeError):
                await stream.write(b"quit\r\n")
        if reply.refusal is not None:
            facts = MemcachedFacts(stats_exposed=False, refusal=reply.refusal[:300])
            summary = f"memcached on {where} refused stats"
            return Observation(facts, (evidence(self.id, EvidenceKind.HANDSHAKE, summary, reply.refusal),))
        s = reply.stats
        if "version" not in s and "pid" not in s:
            raise ProtocolError("stats reply without version or pid: not memcached")
        facts = MemcachedFacts(
            stats_exposed=True,
            product="memcached",
            version=s.get("version"),
            uptime_seconds=as_int(s.get("uptime")),
            curr_items=as_int(s.get("curr_items")),
        )
        keep = ("version", "uptime", "curr_items", "curr_connections", "total_items", "limit_maxbytes")
        excerpt = "\n".join(f"STAT {k} {s[k]}" for k in keep if k in s)
        summary = f"memcached on {where} answered stats without authentication"
        return Observation(facts, (evidence(self.id, EvidenceKind.VERSION, summary, excerpt),))
