"""The silent-host rule: when a host's remaining probes are skipped, and when they are not."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import ip_address

from duecare.agent.scan import SilentHosts
from duecare.probes.runner import ProbeOutcome
from duecare.wire import ProbeAttempt, ProbeStatus, Proto

FAST, SLOW = "10.0.0.1", "10.0.0.2"


def _out(ip: str, status: ProbeStatus, *, silent_peer: bool = False, proto: Proto = Proto.TCP) -> ProbeOutcome:
    attempt = ProbeAttempt(
        probe="ftp",
        ip=ip_address(ip),
        port=21,
        proto=proto,
        status=status,
        started_at=datetime.now(UTC),
        duration_ms=1.0,
    )
    return ProbeOutcome(attempt, None, silent_peer)


def _rule() -> SilentHosts:
    return SilentHosts(3, fast_rtt=lambda ip: ip == FAST)


def test_one_silent_peer_is_conclusive_at_lan_round_trip() -> None:
    rule = _rule()
    rule.record(_out(FAST, ProbeStatus.TIMED_OUT, silent_peer=True))
    why = rule.reason(FAST)
    assert why is not None and "never sent a byte" in why


def test_a_slow_round_trip_needs_the_configured_count() -> None:
    rule = _rule()
    for n in range(3):
        assert rule.reason(SLOW) is None, n
        rule.record(_out(SLOW, ProbeStatus.TIMED_OUT, silent_peer=True))
    assert rule.reason(SLOW) is not None


def test_a_timeout_after_the_first_bytes_is_not_conclusive() -> None:
    rule = _rule()
    rule.record(_out(FAST, ProbeStatus.TIMED_OUT))  # e.g. a slow answer to a later request
    assert rule.reason(FAST) is None


def test_a_host_that_answered_once_is_never_skipped() -> None:
    rule = _rule()
    rule.record(_out(FAST, ProbeStatus.COMPLETED))
    rule.record(_out(FAST, ProbeStatus.TIMED_OUT, silent_peer=True))
    assert rule.reason(FAST) is None


def test_udp_silence_and_a_disabled_rule_skip_nothing() -> None:
    rule = _rule()
    rule.record(_out(FAST, ProbeStatus.TIMED_OUT, proto=Proto.UDP))
    assert rule.reason(FAST) is None
    off = SilentHosts(0, fast_rtt=lambda ip: True)
    off.record(_out(FAST, ProbeStatus.TIMED_OUT, silent_peer=True))
    assert off.reason(FAST) is None
