"""A connection handed over with bytes already read reads exactly as if nothing had been read."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from duecare.probes._net import Stream
from tests.probes.fake_tcp import sends, tcp_server


async def _read_all(stream: Stream, how: str, sizes: list[int]) -> bytes:
    if how == "line":
        return await stream.read_until(b"\r\n")
    out = b""
    for n in sizes:
        out += await (stream.read_exactly(n) if how == "exact" else stream.read_some(n))
    return out


def _run(data: bytes, cut: int, how: str, sizes: list[int]) -> bytes:
    async def go() -> bytes:
        async with tcp_server(sends(data[cut:])) as port:
            stream = await Stream.connect("127.0.0.1", port, connect_timeout=1.0, read_timeout=1.0)
            async with stream:
                stream.preface(data[:cut])
                return await _read_all(stream, how, sizes)

    return asyncio.run(go())


@settings(max_examples=40)
@given(st.binary(min_size=1, max_size=64), st.data())
def test_line_reads_across_the_hand_over(body: bytes, data: st.DataObject) -> None:
    line = body.replace(b"\r\n", b"") + b"\r\n"
    cut = data.draw(st.integers(0, len(line)))
    assert _run(line + b"rest", cut, "line", []) == line


@settings(max_examples=40)
@given(st.binary(min_size=2, max_size=64), st.data())
def test_exact_reads_across_the_hand_over(payload: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(payload)))
    first = data.draw(st.integers(1, len(payload) - 1))
    assert _run(payload, cut, "exact", [first, len(payload) - first]) == payload


def test_read_some_returns_the_handed_over_bytes_first() -> None:
    assert _run(b"220 ready\r\nmore", 4, "some", [100]) == b"220 "
