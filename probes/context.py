"""Everything a probe may touch, built once per scan and passed in (no globals)."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import httpx

from duecare.probes._net import DEFAULT_MAX_READ, Stream, insecure_tls_context, udp_exchange, udp_gather
from duecare.probes.base import ProbeClass
from duecare.probes.errors import NotPermitted, ProbeTimeout
from duecare.probes.ports.scanner import PortScanner

T = TypeVar("T")

#: The probe running in this task (set by the runner): a connection the identification stage left
#: open is handed to the probe it was kept for, and to no other.
CURRENT_PROBE: ContextVar[str | None] = ContextVar("duecare_current_probe", default=None)


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 3.0
    read: float = 5.0
    #: Hard ceiling on one probe against one target, all round trips included.
    probe: float = 20.0
    #: Floor of the wait for a peer's first bytes (TCP) when its round trip is known.
    first_bytes: float = 2.0
    #: Floor of the wait for a UDP answer when the round trip is known.
    udp: float = 1.0


#: A known round trip makes a wait this many times longer conclusive (still floored: see Timeouts).
RTT_FACTOR = 100
#: Round trips at or under this are a LAN's: one silent service says the host is silent.
FAST_RTT = 0.010


class RateLimiter:
    """Spaces new connections: fragile printers and medical devices dislike bursts."""

    def __init__(self, per_second: float | None) -> None:
        self._interval = 0.0 if not per_second else 1.0 / per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self._interval == 0.0:
            return
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self._interval
        if wait > 0:
            await asyncio.sleep(wait)


@dataclass
class ProbeContext:
    timeouts: Timeouts = field(default_factory=Timeouts)
    allowed_classes: frozenset[ProbeClass] = frozenset({ProbeClass.NON_INTRUSIVE})
    per_host: int = 2
    blocking_workers: int = 8
    connections_per_second: float | None = None
    max_read: int = DEFAULT_MAX_READ
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Scope check for every address a probe talks to; None only in unit tests of a probe.
    guard: Callable[[str], bool] | None = None
    #: Where HTTP requests go: the network by default; tests pass ``httpx.MockTransport``.
    http_transport: httpx.AsyncBaseTransport | None = None
    #: The discovery and port stages' scanner (nmap in production; a fake in tests).
    scanner: PortScanner | None = None
    #: UDP exchanges at once per host: datagrams to different ports do not load a host as
    #: handshakes do, and each waits out silence on its own clock.
    per_host_udp: int = 4
    #: Smoothed round trip per host (seconds) as the port stage measured it; filled by the scan.
    rtt: dict[str, float] = field(default_factory=dict)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _http: httpx.AsyncClient | None = field(default=None, init=False, repr=False)
    _hosts: defaultdict[str, asyncio.Semaphore] = field(init=False, repr=False)
    _udp_hosts: defaultdict[str, asyncio.Semaphore] = field(init=False, repr=False)
    _rate: RateLimiter = field(init=False, repr=False)
    _parked: dict[tuple[str, int, str], Stream] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._hosts = defaultdict(lambda: asyncio.Semaphore(self.per_host))
        self._udp_hosts = defaultdict(lambda: asyncio.Semaphore(self.per_host_udp))
        self._rate = RateLimiter(self.connections_per_second)

    def host_slot(self, host: str, udp: bool = False) -> asyncio.Semaphore:
        """Per-host concurrency bound: one small office server is not a load test target."""
        return (self._udp_hosts if udp else self._hosts)[host]

    def first_bytes_timeout(self, host: str) -> float:
        """How long a peer may take to send its first bytes: the configured read timeout, shortened
        to ``RTT_FACTOR`` round trips (never under the floor) when the port stage measured one."""
        rtt = self.rtt.get(host)
        if rtt is None:
            return self.timeouts.read
        return min(self.timeouts.read, max(self.timeouts.first_bytes, RTT_FACTOR * rtt))

    def udp_timeout(self, host: str, wanted: float) -> float:
        """A probe's UDP wait, shortened like ``first_bytes_timeout`` when the round trip is known."""
        wanted = min(wanted, self.timeouts.read)
        rtt = self.rtt.get(host)
        if rtt is None:
            return wanted
        return min(wanted, max(self.timeouts.udp, RTT_FACTOR * rtt))

    def fast_rtt(self, host: str) -> bool:
        rtt = self.rtt.get(host)
        return rtt is not None and rtt <= FAST_RTT

    async def pace(self) -> None:
        await self._rate.acquire()

    def check_scope(self, host: str) -> None:
        """Refuse any address outside the scan's scope, whatever a peer told us to contact."""
        if self.guard is not None and not self.guard(host):
            raise NotPermitted(f"{host} is outside the scan scope; not contacted")

    def park(self, host: str, port: int, probe_id: str, stream: Stream) -> None:
        """Keep an identification's connection for ``probe_id``: its first ``connect`` to
        ``host:port`` gets it, greeting and all, so identifying costs the service no connection."""
        self._parked[(host, port, probe_id)] = stream

    def parked(self) -> int:
        return len(self._parked)

    async def connect(self, host: str, port: int, *, tls: ssl.SSLContext | None = None) -> Stream:
        self.check_scope(host)
        probe = CURRENT_PROBE.get()
        if tls is None and probe is not None:
            kept = self._parked.pop((host, port, probe), None)
            if kept is not None:
                return kept
        await self.pace()
        return await Stream.connect(
            host,
            port,
            connect_timeout=self.timeouts.connect,
            read_timeout=self.timeouts.read,
            max_total=self.max_read,
            tls=tls,
            first_read_timeout=self.first_bytes_timeout(host),
        )

    def tls_context(
        self, minimum: ssl.TLSVersion | None = None, maximum: ssl.TLSVersion | None = None
    ) -> ssl.SSLContext:
        return insecure_tls_context(minimum, maximum)

    @property
    def http(self) -> httpx.AsyncClient:
        """Shared client: certificates not verified (LAN services are self-signed), no redirects."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                verify=insecure_tls_context(),
                follow_redirects=False,
                timeout=httpx.Timeout(self.timeouts.read, connect=self.timeouts.connect),
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=0),
                headers={"User-Agent": "duecare-audit/0.1 (+non-intrusive exposure audit)"},
                trust_env=False,
                event_hooks={"request": [self._check_request]},
                transport=self.http_transport,
            )
        return self._http

    async def _check_request(self, request: httpx.Request) -> None:
        self.check_scope(request.url.host)
        await self.pace()

    async def udp_exchange(
        self,
        host: str,
        port: int,
        payload: bytes,
        *,
        retries: int = 1,
        max_bytes: int = 65535,
        timeout: float | None = None,
        paced: bool = True,
    ) -> tuple[bytes, tuple[str, int]]:
        """One UDP question, guarded and paced; silence raises ProbeTimeout.

        ``paced=False`` for the second and later datagrams of one probe's single exchange (SNMP asks
        its community questions at once): the probe paid the pace once for the whole exchange.
        """
        self.check_scope(host)
        if paced:
            await self.pace()
        wait = self.udp_timeout(host, self.timeouts.read if timeout is None else timeout)
        return await udp_exchange(host, port, payload, timeout=wait, retries=retries, max_bytes=max_bytes)

    async def udp_gather(
        self, host: str, port: int, payload: bytes, *, first_timeout: float, window: float, max_answers: int = 32
    ) -> list[bytes]:
        """One datagram, then every answer from ``host`` for ``window`` seconds (SSDP); guarded and paced."""
        self.check_scope(host)
        await self.pace()
        return await udp_gather(
            host,
            port,
            payload,
            first_timeout=self.udp_timeout(host, first_timeout),
            window=window,
            max_answers=max_answers,
        )

    async def connect_blocking(self, host: str, fn: Callable[[], T], *, timeout: float) -> T:
        """A blocking library's own connection to ``host`` (impacket): guarded and paced like ``connect``."""
        self.check_scope(host)
        await self.pace()
        return await self.run_blocking(fn, timeout=timeout)

    async def run_blocking(self, fn: Callable[[], T], *, timeout: float) -> T:
        """Run a blocking library call on the bounded pool, with an asyncio deadline around it.

        The library must also get its own short timeout: a thread cannot be killed, so this
        deadline frees the probe, and the library's timeout frees the thread.
        """
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.blocking_workers, thread_name_prefix="duecare-probe")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                return await loop.run_in_executor(self._pool, fn)
        except TimeoutError as exc:
            raise ProbeTimeout(f"blocking call exceeded {timeout}s") from exc

    async def release_parked(self) -> None:
        """Close what no probe took (a probe disabled or skipped after identification)."""
        kept, self._parked = list(self._parked.values()), {}
        for stream in kept:
            await stream.close()

    async def aclose(self) -> None:
        await self.release_parked()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
