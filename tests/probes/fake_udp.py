"""A scripted UDP peer on loopback for probe tests: answers each datagram with what it is told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import cast

Responder = Callable[[bytes], list[bytes]]


class _Peer(asyncio.DatagramProtocol):
    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.received: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)
        assert self.transport is not None
        for answer in self.respond(data):
            self.transport.sendto(answer, addr)


@asynccontextmanager
async def udp_peer(respond: Responder) -> AsyncIterator[tuple[int, _Peer]]:
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(lambda: _Peer(respond), local_addr=("127.0.0.1", 0))
    try:
        yield transport.get_extra_info("sockname")[1], peer
    finally:
        transport.close()


async def closed_udp_port() -> int:
    """A loopback UDP port with nobody behind it (the kernel answers ICMP port unreachable)."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    port: int = transport.get_extra_info("sockname")[1]
    transport.close()
    return port
