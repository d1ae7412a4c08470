"""Elasticsearch: ``GET /`` over HTTP, then HTTPS if the port speaks TLS; then the index count.

ES 8 enables TLS on port 9200 by default and hangs up on plaintext, so a transport error on HTTP
(but not a refused connection or a timeout) is the cue to retry with HTTPS.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar, Literal

import httpx

from duecare.probes.base import Facts, Observation, ServiceProbe, Target, evidence
from duecare.probes.context import ProbeContext
from duecare.probes.elasticsearch.facts import ElasticsearchFacts
from duecare.probes.elasticsearch.parse import RootInfo, count_indices, parse_root
from duecare.probes.errors import ProtocolError
from duecare.wire import Evidence, EvidenceKind

#: ``GET /`` is under 1 KiB; an index list of a big cluster can be MBs and is only counted.
MAX_ROOT_BODY = 64 * 1024
MAX_INDICES_BODY = 2 * 1024 * 1024


async def _get(client: httpx.AsyncClient, url: str, cap: int) -> tuple[int, dict[str, str], bytes]:
    """GET with a body cap: a hostile server cannot make us buffer more than ``cap`` bytes."""
    async with client.stream("GET", url, headers={"Accept": "application/json"}) as resp:
        body = b""
        async for chunk in resp.aiter_bytes():
            body += chunk
            if len(body) > cap:
                raise ProtocolError(f"{url}: body larger than {cap} bytes")
        headers = {k.lower(): v for k, v in resp.headers.items()}
        return resp.status_code, headers, body


class ElasticsearchProbe(ServiceProbe):
    id: ClassVar[str] = "elasticsearch"
    ports: ClassVar[frozenset[int]] = frozenset({9200})
    services: ClassVar[frozenset[str]] = frozenset({"elasticsearch"})
    facts_model: ClassVar[type[Facts]] = ElasticsearchFacts

    async def run(self, target: Target, ctx: ProbeContext) -> Observation[ElasticsearchFacts]:
        assert target.port is not None
        base = target.authority
        scheme: Literal["http", "https"] = "http"
        await ctx.pace()
        try:
            status, headers, body = await _get(ctx.http, f"http://{base}/", MAX_ROOT_BODY)
        except (httpx.ConnectError, httpx.TimeoutException):
            raise
        except httpx.TransportError:
            scheme = "https"
            status, headers, body = await _get(ctx.http, f"https://{base}/", MAX_ROOT_BODY)
        root = parse_root(status, headers, body)
        index_count = None if root.auth_enforced else await self._count(ctx, f"{scheme}://{base}")
        facts = ElasticsearchFacts(
            scheme=scheme,
            status=status,
            auth_enforced=root.auth_enforced,
            challenge=root.challenge,
            product=root.product,
            version=root.version,
            cluster_name=root.cluster_name,
            node_name=root.node_name,
            build_flavor=root.build_flavor,
            index_count=index_count,
        )
        return Observation(facts, (self._evidence(target, scheme, status, root, index_count),))

    @staticmethod
    async def _count(ctx: ProbeContext, origin: str) -> int | None:
        """Optional: a refused or odd answer leaves the count unknown, it does not fail the probe."""
        with contextlib.suppress(ProtocolError):
            status, _headers, body = await _get(
                ctx.http, f"{origin}/_cat/indices?format=json&h=index", MAX_INDICES_BODY
            )
            if status == 200:
                return count_indices(body)
        return None

    def _evidence(self, target: Target, scheme: str, status: int, root: RootInfo, count: int | None) -> Evidence:
        where = f"{scheme}://{target.host}:{target.port}/"
        if root.auth_enforced:
            return evidence(
                self.id,
                EvidenceKind.HEADER,
                f"{where} requires authentication (HTTP {status})",
                f"WWW-Authenticate: {root.challenge}" if root.challenge else f"HTTP {status}",
            )
        lines = [
            f"product: {root.product}",
            f"version: {root.version}",
            f"cluster_name: {root.cluster_name}",
            f"indices: {count if count is not None else 'not counted'}",
        ]
        summary = f"{where} answered without authentication"
        return evidence(self.id, EvidenceKind.DOCUMENT, summary, "\n".join(lines))
