"""Bounded sockets for probes: every read has a byte cap and a deadline.

A hostile host on the LAN may stay silent, trickle one byte a second, or send 100 MB. Every helper
here ends such a conversation with our own error, never a hang or an unbounded buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from types import TracebackType

from duecare.probes.errors import ProbeTimeout, ProtocolError, SilentPeer, Unreachable

DEFAULT_MAX_READ = 256 * 1024
#: Longest line a line-based protocol may send before we call it garbage.
LINE_LIMIT = 16 * 1024


class Stream:
    """A TCP connection with bounded, deadline-checked reads.

    ``first_read_timeout`` bounds the wait for the peer's first bytes (its greeting, or its answer
    to our first request): on a LAN an honest service answers within milliseconds, so that wait
    can be far shorter than ``read_timeout``, which stays for later answers that may be slow on
    purpose (vsftpd's delay after a refused login).
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        read_timeout: float,
        max_total: int = DEFAULT_MAX_READ,
        first_read_timeout: float | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.read_timeout = read_timeout
        self.first_read_timeout = read_timeout if first_read_timeout is None else first_read_timeout
        self.max_total = max_total
        self.received = 0
        #: Bytes already read (by the identification stage) that the next reads return first.
        self._pushback = b""
        #: Bytes already sent (the identification's hello) that the next write of the same bytes skips.
        self._sent_ahead = b""

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_total: int = DEFAULT_MAX_READ,
        tls: ssl.SSLContext | None = None,
        first_read_timeout: float | None = None,
    ) -> Stream:
        try:
            async with asyncio.timeout(connect_timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls, server_hostname="" if tls else None, limit=LINE_LIMIT
                )
        except TimeoutError as exc:
            raise ProbeTimeout(f"connect to {host}:{port} timed out after {connect_timeout}s") from exc
        except ssl.SSLError as exc:
            raise ProtocolError(f"TLS handshake failed: {exc.reason or exc}") from exc
        except OSError as exc:
            raise Unreachable(f"connect to {host}:{port}: {exc.strerror or exc}") from exc
        return cls(reader, writer, read_timeout, max_total, first_read_timeout)

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _account(self, n: int) -> None:
        self.received += n
        if self.received > self.max_total:
            raise ProtocolError(f"peer sent more than {self.max_total} bytes")

    async def _guard(self, coro: object, what: str) -> bytes:
        first = self.received == 0
        deadline = self.first_read_timeout if first else self.read_timeout
        try:
            async with asyncio.timeout(deadline):
                data: bytes = await coro  # type: ignore[misc]
        except TimeoutError as exc:
            if first:
                raise SilentPeer(f"no {what} within {deadline}s: connection accepted, not one byte sent") from exc
            raise ProbeTimeout(f"no {what} within {deadline}s") from exc
        except asyncio.IncompleteReadError as exc:
            raise ProtocolError(f"connection closed after {len(exc.partial)} of {exc.expected} bytes ({what})") from exc
        except asyncio.LimitOverrunError as exc:
            raise ProtocolError(f"{what}: line longer than {LINE_LIMIT} bytes") from exc
        except ssl.SSLError as exc:
            raise ProtocolError(f"TLS error during {what}: {exc.reason or exc}") from exc
        except ConnectionResetError as exc:
            raise ProtocolError(f"connection reset during {what}") from exc
        except OSError as exc:
            raise ProtocolError(f"socket error during {what}: {exc.strerror or exc}") from exc
        self._account(len(data))
        return data

    def preface(self, received: bytes, sent: bytes = b"") -> None:
        """Hand over a conversation begun elsewhere: ``received`` (already read and counted) comes
        back from the next reads, and a first write of exactly ``sent`` is not sent again. The
        identification stage does this so a probe's handshake stays one connection (issue 16)."""
        self._pushback = received + self._pushback
        self._sent_ahead = sent

    def _take(self, n: int) -> bytes:
        out, self._pushback = self._pushback[:n], self._pushback[n:]
        return out

    async def read_exactly(self, n: int, what: str = "data") -> bytes:
        if n < 0 or n > self.max_total - self.received + len(self._pushback):
            raise ProtocolError(f"{what}: peer announced {n} bytes, over the cap")
        head = self._take(n)
        if len(head) == n:
            return head
        return head + await self._guard(self._reader.readexactly(n - len(head)), what)

    async def read_some(self, n: int = 4096, what: str = "data") -> bytes:
        """Up to ``n`` bytes; b"" means the peer closed."""
        if self._pushback:
            return self._take(n)
        return await self._guard(self._reader.read(min(n, max(self.max_total - self.received, 1))), what)

    async def read_until(self, sep: bytes, what: str = "line") -> bytes:
        """Read up to and including ``sep``; longer than the line cap is a protocol error."""
        at = self._pushback.find(sep)
        if at >= 0:
            return self._take(at + len(sep))
        if not self._pushback:
            return await self._guard(self._reader.readuntil(sep), what)
        # The separator may straddle the handed-over bytes and the socket: finish byte by byte.
        line = self._take(len(self._pushback))
        while not line.endswith(sep):
            if len(line) > LINE_LIMIT:
                raise ProtocolError(f"{what}: line longer than {LINE_LIMIT} bytes")
            line += await self._guard(self._reader.readexactly(1), what)
        return line

    async def write(self, data: bytes) -> None:
        if self._sent_ahead:
            ahead, self._sent_ahead = self._sent_ahead, b""
            if not data.startswith(ahead):
                raise ProtocolError("the identification's hello differs from the probe's first message")
            data = data[len(ahead) :]
            if not data:
                return
        try:
            self._writer.write(data)
            async with asyncio.timeout(self.read_timeout):
                await self._writer.drain()
        except TimeoutError as exc:
            raise ProbeTimeout("peer stopped reading") from exc
        except OSError as exc:
            raise Unreachable(f"write failed: {exc.strerror or exc}") from exc

    async def start_tls(self, ctx: ssl.SSLContext, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ctx, server_hostname=None)
        except TimeoutError as exc:
            raise ProbeTimeout(f"TLS handshake timed out after {timeout}s") from exc
        except ssl.SSLError as exc:
            raise ProtocolError(f"TLS handshake failed: {exc.reason or exc}") from exc
        except OSError as exc:
            raise ProtocolError(f"TLS handshake broken: {exc.strerror or exc}") from exc

    def peer_certificate(self) -> bytes | None:
        obj = self._writer.get_extra_info("ssl_object")
        if obj is None:
            return None
        der: bytes | None = obj.getpeercert(binary_form=True)
        return der

    def tls_version(self) -> str | None:
        obj = self._writer.get_extra_info("ssl_object")
        return None if obj is None else obj.version()

    async def close(self) -> None:
        """Close politely; a peer that has gone already is fine."""
        if self._writer.is_closing():
            return
        self._writer.close()
        try:
            async with asyncio.timeout(1.0):
                await self._writer.wait_closed()
        except (TimeoutError, OSError, ssl.SSLError):
            pass


def insecure_tls_context(
    minimum: ssl.TLSVersion | None = None, maximum: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    """A context that accepts anything: we audit certificates, we do not trust them.

    LAN services (Exchange, RDP, printers) nearly always present self-signed certificates; legacy
    versions are enabled on purpose so we can *see* that a server still accepts them.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


async def udp_exchange(
    host: str, port: int, payload: bytes, *, timeout: float, max_bytes: int = 65535, retries: int = 1
) -> tuple[bytes, tuple[str, int]]:
    """Send one datagram (re-sent ``retries`` times on silence) and return the first answer.

    Silence is a timeout, never a finding: UDP gives no other sign that a service is absent.
    """
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[tuple[bytes, tuple[str, int]]] = loop.create_future()

    class _Proto(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not fut.done():
                fut.set_result((data[:max_bytes], addr))

        def error_received(self, exc: Exception) -> None:
            if not fut.done():
                fut.set_exception(Unreachable(f"ICMP error from {host}:{port}: {exc}"))

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    transport, _ = await loop.create_datagram_endpoint(_Proto, remote_addr=(host, port), family=family)
    try:
        for _attempt in range(retries + 1):
            transport.sendto(payload)
            try:
                async with asyncio.timeout(timeout):
                    return await asyncio.shield(fut)
            except TimeoutError:
                continue
        raise ProbeTimeout(f"no UDP answer from {host}:{port} after {retries + 1} tries")
    finally:
        transport.close()


_MAX_DATAGRAM = 8192
_IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
_IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)


class _Gatherer(asyncio.DatagramProtocol):
    def __init__(self, host: str, max_answers: int) -> None:
        self.host = host
        self.max_answers = max_answers
        self.answers: list[bytes] = []
        self.first = asyncio.Event()
        self.error: Exception | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # Unconnected socket: devices may answer from another port (SSDP does); keep only the target.
        if addr[0] == self.host and len(self.answers) < self.max_answers:
            self.answers.append(data[:_MAX_DATAGRAM])
            self.first.set()

    def error_received(self, exc: Exception) -> None:
        self.error = exc
        self.first.set()


def _unconnected_socket(host: str) -> socket.socket:
    """Unconnected (answers may come from any port) yet told of ICMP port-unreachable.

    Linux reports ICMP errors on an unconnected UDP socket only with IP_RECVERR (ip(7)); without
    it a closed port would look like silence, i.e. "timed out" instead of "unreachable".
    """
    v6 = ":" in host
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    level, option = (socket.IPPROTO_IPV6, _IPV6_RECVERR) if v6 else (socket.IPPROTO_IP, _IP_RECVERR)
    with contextlib.suppress(OSError):  # not Linux: fall back to timing out on closed ports
        sock.setsockopt(level, option, 1)
    sock.setblocking(False)
    return sock


async def udp_gather(
    host: str, port: int, payload: bytes, *, first_timeout: float, window: float, max_answers: int = 32
) -> list[bytes]:
    """Send one datagram (once more on silence), then gather the target's answers for ``window`` seconds.

    For protocols that answer several times and from another source port (SSDP). Silence is a
    timeout; an ICMP error is ``Unreachable``.
    """
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _Gatherer(host, max_answers), sock=_unconnected_socket(host)
    )
    try:
        for _attempt in range(2):
            transport.sendto(payload, (host, port))
            try:
                async with asyncio.timeout(first_timeout):
                    await proto.first.wait()
                break
            except TimeoutError:
                continue
        if proto.error is not None:
            raise Unreachable(f"ICMP error from {host}:{port}: {proto.error}")
        if not proto.answers:
            raise ProbeTimeout(f"no answer from {host}:{port} after 2 datagrams")
        await asyncio.sleep(window)
        return list(proto.answers)
    finally:
        transport.close()
