"""Our own NEGOTIATE exchanges: one connection, one request, one framed reply, close.

Shared by the SMB probe and the MS17-010 probe. Only I/O lives here; the bytes are built in
``packets.py`` and read in ``parse.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from duecare.probes._net import Stream
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeError, ProbeTimeout, ProtocolError, Unreachable
from duecare.probes.smb.errors import ConnectionDropped, Hangup
from duecare.probes.smb.facts import Smb1Negotiation, Smb1Outcome
from duecare.probes.smb.packets import smb1_negotiate_request
from duecare.probes.smb.parse import Rejected, parse_smb1_negotiate, transport_length


async def _read_exactly(stream: Stream, n: int, what: str, received: int) -> bytes:
    """Read ``n`` bytes, telling a hang-up (typed) from silence (ProbeTimeout, raised by Stream)."""
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = await stream.read_some(n - len(buf), what)
        except ProtocolError as exc:
            # Stream reports a reset or other socket failure during a read as ProtocolError.
            raise ConnectionDropped(Hangup.RESET, f"during {what}", received=received + len(buf)) from exc
        if not chunk:
            raise ConnectionDropped(Hangup.CLOSED, f"during {what}", received=received + len(buf))
        buf += chunk
    return bytes(buf)


async def exchange(ctx: ProbeContext, host: str, port: int, request: bytes, *, timeout: float) -> bytes:
    """Send one framed SMB request on a fresh connection and return the reply without its framing."""
    try:
        async with asyncio.timeout(timeout):
            async with await ctx.connect(host, port) as stream:
                try:
                    await stream.write(request)
                except Unreachable as exc:
                    raise ConnectionDropped(Hangup.RESET, "while we sent our request") from exc
                header = await _read_exactly(stream, 4, "SMB transport header", 0)
                return await _read_exactly(stream, transport_length(header), "SMB reply", 4)
    except TimeoutError as exc:
        raise ProbeTimeout(f"SMB exchange with {host}:{port} exceeded {timeout:.1f}s") from exc


@dataclass(frozen=True, slots=True)
class Smb1Answer:
    outcome: Smb1Outcome
    negotiation: Smb1Negotiation | None = None
    status: int | None = None
    reply: bytes = b""
    error: str | None = None


async def negotiate_smb1(ctx: ProbeContext, host: str, port: int, *, timeout: float) -> Smb1Answer:
    """Offer only NT LM 0.12 and classify the answer; silence stays apart from refusal (§3.7)."""
    try:
        reply = await exchange(ctx, host, port, smb1_negotiate_request(), timeout=timeout)
    except ProbeTimeout as exc:
        return Smb1Answer(Smb1Outcome.TIMED_OUT, error=str(exc))
    except ConnectionDropped as exc:
        if exc.received:
            return Smb1Answer(Smb1Outcome.FAILED, error=str(exc))
        how = Smb1Outcome.CONNECTION_RESET if exc.how is Hangup.RESET else Smb1Outcome.CONNECTION_CLOSED
        return Smb1Answer(how, error=str(exc))
    except ProbeError as exc:
        return Smb1Answer(Smb1Outcome.FAILED, error=str(exc))
    try:
        parsed = parse_smb1_negotiate(reply)
    except ProtocolError as exc:
        return Smb1Answer(Smb1Outcome.FAILED, reply=reply, error=str(exc))
    if isinstance(parsed, Rejected):
        outcome = Smb1Outcome.NO_COMMON_DIALECT if parsed.dialect_index else Smb1Outcome.ERROR_STATUS
        return Smb1Answer(outcome, status=parsed.status or None, reply=reply)
    return Smb1Answer(Smb1Outcome.ACCEPTED, negotiation=parsed, reply=reply)


class Budget:
    """One deadline for a probe's several connections, inside the runner's hard ceiling.

    Running out mid-way leaves later steps "not tried" instead of losing every fact gathered.
    """

    #: Below this, a step is not worth starting: one SMB round trip on a LAN takes milliseconds,
    #: but connect + read deadlines are seconds.
    MIN_STEP = 0.5

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def cap(self, wanted: float) -> float | None:
        """Time for the next step: ``wanted`` or what is left; None when too little is left."""
        left = self._end - self._clock()
        return None if left < self.MIN_STEP else min(wanted, left)
