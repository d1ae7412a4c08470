"""RESP parsing on real redis-server 7.0 replies, and fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duecare.probes.errors import ProtocolError
from duecare.probes.redis.parse import MAX_BULK, RespError, encode_command, is_auth_error, parse_info, parse_reply

FIX = Path(__file__).parent / "fixtures"


def raw(name: str) -> bytes:
    return (FIX / f"{name}.bin").read_bytes()


def one(name: str) -> object:
    done = parse_reply(raw(name))
    assert done is not None and done[1] == b""
    return done[0]


def test_open_server_replies() -> None:
    assert one("redis_open_ping") == "PONG"
    info = one("redis_open_info_server")
    assert isinstance(info, bytes)
    fields = parse_info(info)
    assert fields["redis_version"] == "7.0.15"
    assert fields["redis_mode"] == "standalone"
    assert fields["os"].startswith("Linux ")
    assert one("redis_open_quit") == "OK"


def test_auth_and_protected_mode_errors() -> None:
    noauth = one("redis_auth_ping")
    assert isinstance(noauth, RespError) and noauth.kind == "NOAUTH" and is_auth_error(noauth)
    denied = one("redis_protected_ping")
    assert isinstance(denied, RespError) and denied.kind == "DENIED" and not is_auth_error(denied)
    assert is_auth_error(RespError("ERR operation not permitted"))  # Redis before 2.8
    assert not is_auth_error(RespError("ERR unknown command 'PING'"))


def test_commands_are_resp_arrays() -> None:
    assert encode_command(b"INFO", b"server") == b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"


def test_partial_replies_need_more_bytes() -> None:
    info = raw("redis_open_info_server")
    for cut in range(len(info)):
        assert parse_reply(info[:cut]) is None
    assert parse_reply(b"*2\r\n:1\r\n") is None
    assert parse_reply(b"*2\r\n:1\r\n$-1\r\n") == ([1, None], b"")


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 400 Bad Request\r\n",
        b"$-5\r\n",
        b"$%d\r\n" % (MAX_BULK + 1),
        b"$3\r\nabcXY",
        b":12x\r\n",
        b"*100\r\n",
        b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
        b"+" + b"x" * 20000,
    ],
)
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_reply(data)


@given(st.binary(max_size=2048))
def test_fuzz_parse_reply(data: bytes) -> None:
    try:
        done = parse_reply(data)
    except ProtocolError:
        return
    if done is not None:
        assert len(done[1]) < len(data)


@given(st.integers(0, 600), st.binary(max_size=32))
def test_fuzz_truncated_real_info(cut: int, tail: bytes) -> None:
    try:
        parse_reply(raw("redis_open_info_server")[:cut] + tail)
    except ProtocolError:
        pass
    parse_info(tail + raw("redis_open_info_server")[:cut])
