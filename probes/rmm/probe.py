"""RMM / remote-access listeners: known ports, confirmed by banner or web page where possible.

At most one TCP connect to read what the port says on its own (no bytes sent), and one GET /
where the table has a page pattern for the port. Port-only matches are reported "tentative".
"""

from __future__ import annotations

from typing import ClassVar

from duecare.probes.base import Facts, Observation, ProbeClass, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeTimeout, ProtocolError
from duecare.probes.rmm.facts import RmmFacts
from duecare.probes.rmm.parse import MAX_BODY, http_text, match_products
from duecare.probes.rmm.table import Table, load_table
from duecare.wire import EvidenceKind, Proto

#: Banner-first protocols speak at once; waiting longer only slows silent ports.
_BANNER_WAIT = 2.0
_TLS_PORTS = frozenset({443, 8443})


class RmmProbe:
    id: ClassVar[str] = "rmm"
    probe_class: ClassVar[ProbeClass] = ProbeClass.NON_INTRUSIVE
    proto: ClassVar[Proto | None] = Proto.TCP
    ports: ClassVar[frozenset[int]] = load_table().ports
    services: ClassVar[frozenset[str]] = frozenset()
    facts_model: ClassVar[type[Facts]] = RmmFacts

    def __init__(self, table: Table | None = None) -> None:
        self.table = table or load_table()

    def applies(self, target: Target) -> bool:
        return target.proto is Proto.TCP and bool(self.table.for_port(target.port))

    async def _banner(self, target: Target, ctx: ProbeContext) -> bytes:
        assert target.port is not None
        async with await ctx.connect(target.host, target.port) as s:
            s.read_timeout = min(s.read_timeout, _BANNER_WAIT)
            try:
                return await s.read_some(1024, "banner")
            except ProbeTimeout:
                return b""  # silent until spoken to: fine for port-only entries

    async def _page(self, target: Target, ctx: ProbeContext) -> tuple[int, str]:
        tls = target.port in _TLS_PORTS or target.tunnel == "ssl"
        url = f"{'https' if tls else 'http'}://{target.authority}/"
        await ctx.pace()
        body = bytearray()
        async with ctx.http.stream("GET", url) as r:
            async for chunk in r.aiter_bytes():
                body += chunk
                if len(body) >= MAX_BODY:
                    break
            return r.status_code, http_text(r.status_code, r.headers.raw, bytes(body))

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[RmmFacts]:
        candidates = self.table.for_port(target.port)
        if not candidates:
            raise ProtocolError(f"no remote-access product is known on port {target.port}")
        banner = None
        if any(p.check in ("banner", "none") for p in candidates):
            banner = await self._banner(target, ctx)
        page = await self._page(target, ctx) if any(p.check == "http" for p in candidates) else None
        facts = match_products(candidates, banner, page)
        where = f"{target.host}:{target.port}"
        if facts.matches:
            summary = f"{where}: " + "; ".join(f"{m.product} ({m.confidence}, {m.basis})" for m in facts.matches)
        else:
            summary = f"{where}: no known remote-access tool matched"
        excerpt = facts.banner or (f"HTTP {facts.http_status} title: {facts.http_title}" if page else "")
        return Observation(facts, (evidence(self.id, EvidenceKind.BANNER, summary, excerpt),))
