"""Our own NEGOTIATE exchanges: one connection, one request, one framed reply, close (the SMB1
one may add its first SESSION_SETUP_ANDX on the same connection).

Shared by the SMB probe and the MS17-010 probe. Only I/O lives here; the bytes are built in
``packets.py`` and read in ``parse.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from duecare.probes._net import Stream
from duecare.probes.context import ProbeContext
from duecare.probes.errors import ProbeError, ProbeTimeout, ProtocolError, Unreachable
from duecare.probes.ntlm import negotiate_message
from duecare.probes.smb.errors import ConnectionDropped, Hangup
from duecare.probes.smb.facts import Smb1Negotiation, Smb1Outcome, Smb1SessionSetup
from duecare.probes.smb.packets import smb1_negotiate_request, smb1_session_setup_request, spnego_init
from duecare.probes.smb.parse import Rejected, parse_smb1_negotiate, parse_smb1_session_setup, transport_length


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


async def _round_trip(stream: Stream, request: bytes) -> bytes:
    try:
        await stream.write(request)
    except Unreachable as exc:
        raise ConnectionDropped(Hangup.RESET, "while we sent our request") from exc
    header = await _read_exactly(stream, 4, "SMB transport header", 0)
    return await _read_exactly(stream, transport_length(header), "SMB reply", 4)


async def exchange(ctx: ProbeContext, host: str, port: int, request: bytes, *, timeout: float) -> bytes:
    """Send one framed SMB request on a fresh connection and return the reply without its framing."""
    try:
        async with asyncio.timeout(timeout):
            async with await ctx.connect(host, port) as stream:
                return await _round_trip(stream, request)
    except TimeoutError as exc:
        raise ProbeTimeout(f"SMB exchange with {host}:{port} exceeded {timeout:.1f}s") from exc


@dataclass(frozen=True, slots=True)
class Smb1Answer:
    outcome: Smb1Outcome
    negotiation: Smb1Negotiation | None = None
    status: int | None = None
    reply: bytes = b""
    error: str | None = None
    #: The first SESSION_SETUP_ANDX on the same connection, when it was sent and answered.
    session_setup: Smb1SessionSetup | None = None
    session_reply: bytes = b""
    session_error: str | None = None


def _classify(reply: bytes) -> Smb1Answer:
    try:
        parsed = parse_smb1_negotiate(reply)
    except ProtocolError as exc:
        return Smb1Answer(Smb1Outcome.FAILED, reply=reply, error=str(exc))
    if isinstance(parsed, Rejected):
        outcome = Smb1Outcome.NO_COMMON_DIALECT if parsed.dialect_index else Smb1Outcome.ERROR_STATUS
        return Smb1Answer(outcome, status=parsed.status or None, reply=reply)
    return Smb1Answer(Smb1Outcome.ACCEPTED, negotiation=parsed, reply=reply)


async def _session_setup(stream: Stream, answer: Smb1Answer) -> Smb1Answer:
    """nmap smb-os-discovery's second step on the same connection: a SESSION_SETUP_ANDX whose reply
    names the server's OS (NativeOS) and SMB software (NativeLanMan). Only an NTLM NEGOTIATE is sent,
    so no logon happens and there is no session to log off: closing the connection ends it."""
    try:
        reply = await _round_trip(stream, smb1_session_setup_request(spnego_init(negotiate_message())))
        return replace(answer, session_setup=parse_smb1_session_setup(reply), session_reply=reply)
    except ProtocolError as exc:  # ConnectionDropped is one; ProbeTimeout is left to the caller's deadline
        return replace(answer, session_error=str(exc)[:300])


async def negotiate_smb1(
    ctx: ProbeContext, host: str, port: int, *, timeout: float, session_setup: bool = False
) -> Smb1Answer:
    """Offer only NT LM 0.12 and classify the answer; silence stays apart from refusal (§3.7).

    With ``session_setup``, an accepted extended-security negotiate is followed on the same
    connection by one SESSION_SETUP_ANDX (see ``_session_setup``); silence there keeps the negotiate.
    """
    answer: Smb1Answer | None = None
    try:
        async with asyncio.timeout(timeout):
            async with await ctx.connect(host, port) as stream:
                answer = _classify(await _round_trip(stream, smb1_negotiate_request()))
                n = answer.negotiation
                if session_setup and n is not None and n.extended_security:
                    answer = await _session_setup(stream, answer)
    except (TimeoutError, ProbeTimeout) as exc:
        why = str(exc) if isinstance(exc, ProbeTimeout) else f"SMB exchange with {host}:{port} exceeded {timeout:.1f}s"
        if answer is not None:
            return replace(answer, session_error=f"SESSION_SETUP_ANDX: {why}"[:300])
        return Smb1Answer(Smb1Outcome.TIMED_OUT, error=why)
    except ConnectionDropped as exc:
        if answer is not None:
            return replace(answer, session_error=str(exc))
        if exc.received:
            return Smb1Answer(Smb1Outcome.FAILED, error=str(exc))
        how = Smb1Outcome.CONNECTION_RESET if exc.how is Hangup.RESET else Smb1Outcome.CONNECTION_CLOSED
        return Smb1Answer(how, error=str(exc))
    except ProbeError as exc:
        if answer is not None:
            return replace(answer, session_error=str(exc)[:300])
        return Smb1Answer(Smb1Outcome.FAILED, error=str(exc))
    return answer


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
