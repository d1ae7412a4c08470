"""SNMP predicate: a default community answered, the agent is up but refused, or nothing is known."""

from __future__ import annotations

from duecare.advisories.predicates import default_registry
from duecare.advisories.predicates.base import NoParams
from duecare.probes.snmp.facts import CommunityAnswer, SnmpFacts
from duecare.wire import ProbeStatus, Proto, Verdict
from tests.advisories.predicates.service_rules import judge

CHECK = default_registry().get("snmp.default_community").fn
TRIED = (("v2c", "public"), ("v2c", "private"), ("v1", "public"), ("v1", "private"))
PUBLIC = SnmpFacts(
    tried=TRIED,
    accepted=(CommunityAnswer(version="v2c", community="public", sys_descr="PRINTER01 network printer"),),
    v3_answered=True,
    v3_enterprise=8072,
)


def test_default_community_answered() -> None:
    got = CHECK(PUBLIC, NoParams())
    assert got.verdict is Verdict.AFFECTED and got.confidence == "certain"
    assert got.details["write_access"] == "not determined"
    assert got.details["accepted"] == [{"version": "v2c", "community": "public"}]


def test_agent_up_but_defaults_ignored() -> None:
    assert CHECK(SnmpFacts(tried=TRIED, v3_answered=True), NoParams()).verdict is Verdict.NOT_AFFECTED


def test_no_sign_of_life_is_indeterminate() -> None:
    assert CHECK(SnmpFacts(tried=TRIED), NoParams()).verdict is Verdict.INDETERMINATE


def test_rule_through_the_engine() -> None:
    assert [f.verdict for f in judge("snmp-default-community", SnmpFacts, PUBLIC, ProbeStatus.COMPLETED)] == [
        Verdict.AFFECTED
    ]
    # UDP silence is what an absent agent looks like: no finding, not even an indeterminate one.
    assert judge("snmp-default-community", SnmpFacts, None, ProbeStatus.TIMED_OUT, Proto.UDP) == []
    # A TCP service that accepted and then went quiet does leave the question open.
    silent = judge("snmp-default-community", SnmpFacts, None, ProbeStatus.TIMED_OUT, Proto.TCP)
    assert [f.verdict for f in silent] == [Verdict.INDETERMINATE]
    alive = SnmpFacts(tried=TRIED, v3_answered=True)
    assert judge("snmp-default-community", SnmpFacts, alive, ProbeStatus.COMPLETED) == []
