"""memcached probe against loopback peers replaying real replies, and hostile peers."""

from __future__ import annotations

from pathlib import Path

from duecare.probes.memcached.probe import MemcachedProbe
from duecare.wire import ProbeStatus
from tests.probes.fake_tcp import FAST, RecordingContext, flood, outcome, script, sends, silent

FIX = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIX / f"{name}.bin").read_bytes()


def test_open_cache() -> None:
    out = outcome(MemcachedProbe(), script([(7, raw("memcached_stats"))]))
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    facts = out.attempt.facts
    assert facts is not None
    assert (facts["stats_exposed"], facts["product"], facts["version"], facts["curr_items"]) == (
        True,
        "memcached",
        "1.6.18",
        0,
    )


def test_authenticating_cache_refuses() -> None:
    out = outcome(MemcachedProbe(), sends(raw("memcached_authfile_stats"), after=7))
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None and out.attempt.facts["stats_exposed"] is False


def test_stats_without_version_is_not_memcached() -> None:
    out = outcome(MemcachedProbe(), sends(b"STAT foo 1\r\nEND\r\n", after=7))
    assert out.attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_silence_times_out() -> None:
    assert outcome(MemcachedProbe(), silent()).attempt.status is ProbeStatus.TIMED_OUT


def test_garbage_is_a_protocol_error() -> None:
    assert outcome(MemcachedProbe(), sends(b"SSH-2.0-OpenSSH_9.2\r\n")).attempt.status is ProbeStatus.PROTOCOL_ERROR


def test_100kb_of_junk_is_refused_without_buffering_it() -> None:
    ctx = RecordingContext(timeouts=FAST)
    stat_lines = b"STAT junk 1234567890\r\n" * 47
    assert outcome(MemcachedProbe(), flood(chunk=stat_lines), ctx=ctx).attempt.status is ProbeStatus.PROTOCOL_ERROR
    assert ctx.received < 80 * 1024
