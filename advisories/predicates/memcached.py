"""memcached predicates (ADV-019): the cache answers anyone."""

from __future__ import annotations

from duecare.advisories.predicates.base import Check, NoParams, PredicateRegistry, affected, not_affected
from duecare.probes.memcached.facts import MemcachedFacts
from duecare.wire import Confidence


def register(reg: PredicateRegistry) -> None:
    @reg.add("memcached.stats_exposed", MemcachedFacts)
    def stats_exposed(f: MemcachedFacts, _p: NoParams) -> Check:
        """``stats`` is answered without authentication, so get/set are too."""
        if not f.stats_exposed:
            return not_affected(f"stats refused ({f.refusal or 'no reason given'})", confidence=Confidence.CERTAIN)
        details = {"version": f.version, "curr_items": f.curr_items, "uptime_seconds": f.uptime_seconds}
        version = f"memcached {f.version}" if f.version else "memcached"
        return affected(
            f"{version} answered stats without authentication", confidence=Confidence.CERTAIN, details=details
        )
