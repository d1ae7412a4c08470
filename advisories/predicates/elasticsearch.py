"""Elasticsearch predicates (ADV-019): the REST API answers without credentials."""

from __future__ import annotations

from duecare.advisories.predicates.base import Check, NoParams, PredicateRegistry, affected, not_affected
from duecare.probes.elasticsearch.facts import ElasticsearchFacts
from duecare.wire import Confidence


def register(reg: PredicateRegistry) -> None:
    @reg.add("elasticsearch.no_auth", ElasticsearchFacts)
    def no_auth(f: ElasticsearchFacts, _p: NoParams) -> Check:
        """``GET /`` is answered without credentials (security disabled or anonymous access)."""
        if f.auth_enforced:
            return not_affected(f"GET / refused with HTTP {f.status}", confidence=Confidence.CERTAIN)
        details = {
            "product": f.product,
            "version": f.version,
            "cluster_name": f.cluster_name,
            "index_count": f.index_count,
            "scheme": f.scheme,
        }
        what = " ".join(x for x in (f.product or "Elasticsearch", f.version) if x)
        return affected(f"{what} answered GET / without credentials", confidence=Confidence.CERTAIN, details=details)
