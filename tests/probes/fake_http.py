"""A tiny HTTP/1.1 server on loopback for probe tests: fixed routes, counts requests, no keep-alive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tests.probes.fake_tcp import tcp_server


@dataclass
class FakeHttp:
    routes: dict[str, tuple[int, str, bytes]]
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    #: Answers a request the fixed routes do not hold: (method, path, body) -> (status, type, payload).
    dynamic: Callable[[str, str, bytes], tuple[int, str, bytes] | None] | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, path, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            length = 0
            for line in head.decode().split("\r\n")[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            self.requests.append((method, path, body))
            answer = self.dynamic(method, path, body) if self.dynamic is not None else None
            status, ctype, payload = answer or self.routes.get(path, (404, "text/plain", b"not found"))
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        finally:
            writer.close()


@asynccontextmanager
async def http_server(
    routes: dict[str, tuple[int, str, bytes]],
    dynamic: Callable[[str, str, bytes], tuple[int, str, bytes] | None] | None = None,
) -> AsyncIterator[tuple[int, FakeHttp]]:
    fake = FakeHttp(routes, dynamic=dynamic)
    async with tcp_server(fake.handle) as port:
        yield port, fake
