"""Redis predicate over facts the probe builds from real redis-server 7.0 replies."""

from __future__ import annotations

from duecare.advisories.predicates import default_registry
from duecare.advisories.predicates.base import NoParams
from duecare.probes.redis.facts import RedisFacts
from duecare.wire import ProbeStatus, Verdict
from tests.advisories.predicates.service_rules import judge

CHECK = default_registry().get("redis.no_auth").fn
OPEN = RedisFacts(
    ping_reply="+PONG", auth_required=False, info_obtained=True, product="Redis", version="7.0.15", mode="standalone"
)


def test_open_server() -> None:
    got = CHECK(OPEN, NoParams())
    assert got.verdict is Verdict.AFFECTED and got.details["version"] == "7.0.15"


def test_auth_or_protected_mode() -> None:
    noauth = RedisFacts(ping_reply="-NOAUTH Authentication required.", auth_required=True)
    assert CHECK(noauth, NoParams()).verdict is Verdict.NOT_AFFECTED
    denied = RedisFacts(
        ping_reply="-DENIED Redis is running in protected mode", auth_required=False, protected_mode=True
    )
    assert CHECK(denied, NoParams()).verdict is Verdict.NOT_AFFECTED


def test_rule_through_the_engine() -> None:
    assert [f.verdict for f in judge("redis-no-auth", RedisFacts, OPEN, ProbeStatus.COMPLETED)] == [Verdict.AFFECTED]
    assert [f.verdict for f in judge("redis-no-auth", RedisFacts, None, ProbeStatus.TIMED_OUT)] == [
        Verdict.INDETERMINATE
    ]
