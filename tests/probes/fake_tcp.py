"""Hostile and scripted TCP peers on loopback for probe error-path tests, plus a context that keeps
the streams it opened so a test can check how many bytes the probe actually buffered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from ipaddress import ip_address
from typing import Any

from duecare.probes._net import Stream
from duecare.probes.base import Probe, Target
from duecare.probes.context import ProbeContext, Timeouts
from duecare.probes.runner import ProbeOutcome, run_probe
from duecare.wire import Proto

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

#: Short enough that a silent peer costs a test well under a second.
FAST = Timeouts(connect=1.0, read=0.4, probe=5.0)


class RecordingContext(ProbeContext):
    """A ProbeContext that remembers every Stream it handed out."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.streams: list[Stream] = []

    async def connect(self, host: str, port: int, *, tls: Any = None) -> Stream:
        stream = await super().connect(host, port, tls=tls)
        self.streams.append(stream)
        return stream

    @property
    def received(self) -> int:
        return sum(s.received for s in self.streams)


@asynccontextmanager
async def tcp_server(handler: Handler, *, ssl: Any = None) -> AsyncIterator[int]:
    """A loopback server for ``handler``; every connection it accepted is closed on exit, whatever the
    handler did (a writer left open would be collected after its loop closed: a ResourceWarning)."""
    writers: set[asyncio.StreamWriter] = set()

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0, ssl=ssl)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for _ in range(3):  # let handlers of just-accepted connections start, so they are tracked
            await asyncio.sleep(0)
        for writer in writers:
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1.0)


def silent() -> Handler:
    """Accepts and never says a word (the lab's tarpit in miniature)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the probe gives up and closes

    return handle


def sends(payload: bytes, *, after: int = 0) -> Handler:
    """Reads ``after`` bytes (0: nothing), sends ``payload``, then waits for the probe to leave."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if after:
            await reader.read(after)
        writer.write(payload)
        await writer.drain()
        await reader.read()

    return handle


def flood(total: int = 100 * 1024, chunk: bytes = b"A" * 1024, *, after: int = 0) -> Handler:
    """Sends ``total`` bytes of junk as fast as the probe reads them (or until it hangs up)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if after:
            await reader.read(after)
        sent = 0
        while sent < total:
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
        await reader.read()

    return handle


def script(steps: Sequence[tuple[int, bytes]], *, greeting: bytes = b"") -> Handler:
    """Sends ``greeting``, then for each step reads at least ``n`` bytes and answers ``reply``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if greeting:
            writer.write(greeting)
            await writer.drain()
        for need, reply in steps:
            got = b""
            while len(got) < need:
                chunk = await reader.read(need - len(got))
                if not chunk:
                    return
                got += chunk
            writer.write(reply)
            await writer.drain()
        await reader.read()

    return handle


async def run_local(
    probe: Probe[Any], port: int, *, proto: Proto = Proto.TCP, ctx: ProbeContext | None = None
) -> ProbeOutcome:
    ctx = ctx or RecordingContext(timeouts=FAST)
    try:
        return await run_probe(probe, Target(ip_address("127.0.0.1"), port, proto), ctx)
    finally:
        await ctx.aclose()


def outcome(probe: Probe[Any], handler: Handler, *, ctx: ProbeContext | None = None) -> ProbeOutcome:
    """Run ``probe`` once against a loopback peer driven by ``handler`` (sync, for plain tests)."""

    async def go() -> ProbeOutcome:
        async with tcp_server(handler) as port:
            return await run_local(probe, port, ctx=ctx)

    return asyncio.run(go())
