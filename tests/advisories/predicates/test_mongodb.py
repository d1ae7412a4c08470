"""MongoDB predicate: listDatabases answered, refused as Unauthorized, or unclear."""

from __future__ import annotations

from duecare.advisories.predicates import default_registry
from duecare.advisories.predicates.base import NoParams
from duecare.probes.mongodb.facts import MongodbFacts
from duecare.wire import ProbeStatus, Verdict
from tests.advisories.predicates.service_rules import judge

CHECK = default_registry().get("mongodb.no_auth").fn
OPEN = MongodbFacts(
    wire="op_msg", handshake="hello", version="7.0.14", auth_enforced=False, database_count=2, database_names=("a", "b")
)


def test_three_answers() -> None:
    assert CHECK(OPEN, NoParams()).verdict is Verdict.AFFECTED
    closed = MongodbFacts(wire="op_msg", handshake="hello", auth_enforced=True, list_error="Unauthorized: ...")
    assert CHECK(closed, NoParams()).verdict is Verdict.NOT_AFFECTED
    odd = MongodbFacts(wire="op_msg", handshake="hello", list_error="InternalError: boom")
    assert CHECK(odd, NoParams()).verdict is Verdict.INDETERMINATE


def test_rule_through_the_engine() -> None:
    assert [f.verdict for f in judge("mongodb-no-auth", MongodbFacts, OPEN, ProbeStatus.COMPLETED)] == [
        Verdict.AFFECTED
    ]
    assert [f.verdict for f in judge("mongodb-no-auth", MongodbFacts, None, ProbeStatus.TIMED_OUT)] == [
        Verdict.INDETERMINATE
    ]
