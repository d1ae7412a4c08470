"""VNC predicate over the security-type lists TigerVNC really offers."""

from __future__ import annotations

from duecare.advisories.predicates import default_registry
from duecare.advisories.predicates.base import NoParams
from duecare.probes.vnc.facts import VncFacts
from duecare.wire import ProbeStatus, Verdict
from tests.advisories.predicates.service_rules import judge

CHECK = default_registry().get("vnc.no_auth").fn


def vnc(types: tuple[int, ...], **kw: object) -> VncFacts:
    return VncFacts(server_version="003.008", protocol="3.8", security_types=types, **kw)  # type: ignore[arg-type]


def test_none_offered_and_entered() -> None:
    got = CHECK(vnc((1,), none_accepted=True, desktop_name="i4-open", width=800, height=600), NoParams())
    assert got.verdict is Verdict.AFFECTED and got.confidence == "certain"
    assert got.details["desktop_name"] == "i4-open"


def test_password_only() -> None:
    got = CHECK(vnc((2,)), NoParams())
    assert got.verdict is Verdict.NOT_AFFECTED and got.confidence == "certain"


def test_default_tigervnc_list_is_not_affected_but_says_what_was_not_examined() -> None:
    got = CHECK(vnc((19, 2)), NoParams())  # TigerVNC's default SecurityTypes=TLSVnc,VncAuth
    assert got.verdict is Verdict.NOT_AFFECTED and got.confidence == "firm"
    assert got.details["unexamined_wrapping_types"] == [19]


def test_blacklisted_scanner_is_indeterminate_never_a_pass() -> None:
    refused = VncFacts(server_version="003.003", protocol="3.3", failure_reason="Too many security failures")
    assert CHECK(refused, NoParams()).verdict is Verdict.INDETERMINATE
    odd = vnc((1,), none_accepted=False, failure_reason="Authentication failure")
    assert CHECK(odd, NoParams()).verdict is Verdict.INDETERMINATE


def test_rule_through_the_engine() -> None:
    assert [f.verdict for f in judge("vnc-no-auth", VncFacts, vnc((1,)), ProbeStatus.COMPLETED)] == [Verdict.AFFECTED]
    assert judge("vnc-no-auth", VncFacts, vnc((2,)), ProbeStatus.COMPLETED) == []
    assert [f.verdict for f in judge("vnc-no-auth", VncFacts, None, ProbeStatus.TIMED_OUT)] == [Verdict.INDETERMINATE]
