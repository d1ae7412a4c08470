"""A tiny fault-injecting reverse proxy (stdlib asyncio) between the agent and a real collector.

It answers scripted faults (e.g. 503 + Retry-After) to the first report POSTs, can slow every
forwarded request down, and records when each request arrived and what it was answered. One
request per connection (``Connection: close`` both ways) keeps the relaying trivial; httpx
simply opens a new connection for the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fault:
    status: int
    #: The Retry-After value, or a function making it when the fault is served (an HTTP-date).
    retry_after: str | Callable[[], str] | None = None


@dataclass(frozen=True)
class Seen:
    at: float  # time.time() when the request had fully arrived
    method: str
    path: str
    status: int
    injected: bool
    retry_after: str | None = None


_REASONS = {500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class FaultProxy:
    upstream_port: int
    #: Answered, in order, to the first report POSTs instead of forwarding them.
    faults: list[Fault] = field(default_factory=list)
    #: Added before each forwarded report POST: a slow collector.
    delay_s: float = 0.0
    seen: list[Seen] = field(default_factory=list)
    #: Report POSTs whose body has fully arrived (counted before any delay): "in flight" from here.
    arrived: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def report_posts(self) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == "POST" and s.path == "/v1/reports"]

    def start(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            # Handlers still relaying to an agent that was killed, and any started by a connection
            # accepted while the first ones were being cancelled (a task left pending is destroyed
            # with the loop, and pytest reports its coroutine's GeneratorExit as an error).
            while pending := asyncio.all_tasks(self._loop):
                for task in pending:
                    task.cancel()
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _version = lines[0].split(" ", 2)
            headers = [tuple(x.split(":", 1)) for x in lines[1:] if ":" in x]
            length = next((int(v) for k, v in headers if k.strip().lower() == "content-length"), 0)
            body = await reader.readexactly(length)
            arrived = time.time()
            is_report = method == "POST" and path == "/v1/reports"
            if is_report:
                with self._lock:
                    self.arrived += 1
            fault = self._next_fault() if is_report else None
            if fault is not None:
                retry_after = fault.retry_after() if callable(fault.retry_after) else fault.retry_after
                writer.write(_fault_response(fault.status, retry_after))
                self._record(Seen(arrived, method, path, fault.status, injected=True, retry_after=retry_after))
            else:
                if is_report and self.delay_s:
                    await asyncio.sleep(self.delay_s)
                answer = await self._forward(lines, headers, body)
                writer.write(answer)
                status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
                self._record(Seen(arrived, method, path, status, injected=False))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self.faults.pop(0) if self.faults else None

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    async def _forward(self, lines: list[str], headers: list[tuple[str, ...]], body: bytes) -> bytes:
        kept = [f"{k}:{v}" for k, v in headers if k.strip().lower() not in ("connection", "keep-alive")]
        request = "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode("latin-1") + body
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            return _plain(502, "Bad Gateway", b"collector unreachable")
        try:
            up_writer.write(request)
            await up_writer.drain()
            return await up_reader.read()  # until the collector closes (Connection: close)
        finally:
            up_writer.close()


def _plain(status: int, reason: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        f"{extra}Connection: close\r\n\r\n"
    ).encode() + body


def _fault_response(status: int, retry_after: str | None) -> bytes:
    extra = f"Retry-After: {retry_after}\r\n" if retry_after is not None else ""
    return _plain(status, _REASONS.get(status, "Error"), b"injected fault", extra)
