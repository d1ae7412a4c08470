"""Elasticsearch predicate."""

from __future__ import annotations

from duecare.advisories.predicates import default_registry
from duecare.advisories.predicates.base import NoParams
from duecare.probes.elasticsearch.facts import ElasticsearchFacts
from duecare.wire import ProbeStatus, Verdict
from tests.advisories.predicates.service_rules import judge

CHECK = default_registry().get("elasticsearch.no_auth").fn
OPEN = ElasticsearchFacts(
    scheme="http", status=200, auth_enforced=False, product="Elasticsearch", version="8.12.1", index_count=2
)


def test_open_and_secured() -> None:
    got = CHECK(OPEN, NoParams())
    assert got.verdict is Verdict.AFFECTED and got.reason.startswith("Elasticsearch 8.12.1")
    secured = ElasticsearchFacts(scheme="https", status=401, auth_enforced=True, challenge='Basic realm="security"')
    assert CHECK(secured, NoParams()).verdict is Verdict.NOT_AFFECTED


def test_rule_through_the_engine() -> None:
    assert [f.verdict for f in judge("elasticsearch-no-auth", ElasticsearchFacts, OPEN, ProbeStatus.COMPLETED)] == [
        Verdict.AFFECTED
    ]
    assert [f.verdict for f in judge("elasticsearch-no-auth", ElasticsearchFacts, None, ProbeStatus.TIMED_OUT)] == [
        Verdict.INDETERMINATE
    ]
