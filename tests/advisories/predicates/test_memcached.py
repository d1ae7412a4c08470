"""memcached predicate."""

from __future__ import annotations

from duecare.advisories.predicates import default_registry
from duecare.advisories.predicates.base import NoParams
from duecare.probes.memcached.facts import MemcachedFacts
from duecare.wire import ProbeStatus, Verdict
from tests.advisories.predicates.service_rules import judge

CHECK = default_registry().get("memcached.stats_exposed").fn
OPEN = MemcachedFacts(stats_exposed=True, product="memcached", version="1.6.18", uptime_seconds=308, curr_items=0)


def test_open_and_refusing() -> None:
    got = CHECK(OPEN, NoParams())
    assert got.verdict is Verdict.AFFECTED and "1.6.18" in got.reason
    refused = MemcachedFacts(stats_exposed=False, refusal="CLIENT_ERROR unauthenticated")
    assert CHECK(refused, NoParams()).verdict is Verdict.NOT_AFFECTED


def test_rule_through_the_engine() -> None:
    assert [f.verdict for f in judge("memcached-exposed", MemcachedFacts, OPEN, ProbeStatus.COMPLETED)] == [
        Verdict.AFFECTED
    ]
    assert [f.verdict for f in judge("memcached-exposed", MemcachedFacts, None, ProbeStatus.BUG)] == [
        Verdict.INDETERMINATE
    ]
