"""Redis probe against loopback peers replaying real redis-server replies, and hostile peers."""

from __future__ import annotations

from pathlib import Path

import pytest

from duecare.probes.redis.parse import encode_command
from duecare.probes.redis.probe import RedisProbe
from duecare.wire import ProbeStatus
from tests.probes.fake_tcp import FAST, RecordingContext, flood, outcome, script, sends, silent

FIX = Path(__file__).parent / "fixtures"
PING, INFO, QUIT = encode_command(b"PING"), encode_command(b"INFO", b"server"), encode_command(b"QUIT")


def raw(name: str) -> bytes:
    return (FIX / f"{name}.bin").read_bytes()


def test_open_server() -> None:
    steps = [(len(PING), raw("redis_open_ping")), (len(INFO), raw("redis_open_info_server")), (len(QUIT), b"+OK\r\n")]
    out = outcome(RedisProbe(), script(steps))
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    facts = out.attempt.facts
    assert facts is not None
    assert (facts["auth_required"], facts["info_obtained"]) == (False, True)
    assert (facts["product"], facts["version"], facts["mode"]) == ("Redis", "7.0.15", "standalone")


def test_password_server_is_not_asked_for_info() -> None:
    out = outcome(RedisProbe(), script([(len(PING), raw("redis_auth_ping")), (len(QUIT), raw("redis_auth_quit"))]))
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None
    assert out.attempt.facts["auth_required"] is True and out.attempt.facts["version"] is None


def test_protected_mode() -> None:
    out = outcome(RedisProbe(), sends(raw("redis_protected_ping"), after=len(PING)))
    assert out.attempt.status is ProbeStatus.COMPLETED, out.attempt.error
    assert out.attempt.facts is not None and out.attempt.facts["protected_mode"] is True


def test_silence_times_out() -> None:
    assert outcome(RedisProbe(), silent()).attempt.status is ProbeStatus.TIMED_OUT


@pytest.mark.parametrize("reply", [b"HTTP/1.1 400 Bad Request\r\n\r\n", b"-ERR unknown command 'PING'\r\n", b":1\r\n"])
def test_garbage_is_a_protocol_error(reply: bytes) -> None:
    assert outcome(RedisProbe(), sends(reply, after=len(PING))).attempt.status is ProbeStatus.PROTOCOL_ERROR


@pytest.mark.parametrize("chunk", [b"A" * 1024, b"+" + b"x" * 1023], ids=["not-resp", "endless-line"])
def test_100kb_of_junk_is_refused_without_buffering_it(chunk: bytes) -> None:
    ctx = RecordingContext(timeouts=FAST)
    assert outcome(RedisProbe(), flood(chunk=chunk), ctx=ctx).attempt.status is ProbeStatus.PROTOCOL_ERROR
    assert ctx.received < 40 * 1024
