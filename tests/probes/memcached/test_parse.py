"""memcached ``stats`` parsing on real memcached 1.6 replies, and fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.memcached.parse import as_int, parse_stats

FIX = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIX / f"{name}.bin").read_bytes()


def test_real_stats() -> None:
    reply = parse_stats(raw("memcached_stats"))
    assert reply is not None and reply.refusal is None
    assert reply.stats["version"] == "1.6.18"
    assert as_int(reply.stats["curr_items"]) == 0
    assert as_int(reply.stats["uptime"]) is not None


def test_real_refusal() -> None:
    reply = parse_stats(raw("memcached_authfile_stats"))
    assert reply is not None and reply.refusal == "CLIENT_ERROR unauthenticated"


def test_needs_the_end_line() -> None:
    data = raw("memcached_stats")
    for cut in range(0, len(data) - 1, 7):
        assert parse_stats(data[:cut]) is None


@pytest.mark.parametrize(
    "data", [b"HTTP/1.1 200 OK\r\n", b"STAT\r\n", b"STAT a b\r\nERROR\r\n", b"STAT " + b"x" * 5000, b"x" * 70000]
)
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_stats(data)


def test_as_int() -> None:
    assert (as_int("42"), as_int("-1"), as_int("1" * 40), as_int(None)) == (42, None, None, None)


@given(st.binary(max_size=3000))
def test_fuzz(data: bytes) -> None:
    try:
        parse_stats(data)
    except ProtocolError:
        pass


@given(st.integers(0, 2300), st.binary(max_size=40))
def test_fuzz_mutated_real_stats(cut: int, tail: bytes) -> None:
    try:
        parse_stats(raw("memcached_stats")[:cut] + tail)
    except ProtocolError:
        pass
