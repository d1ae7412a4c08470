"""Runs one probe against one target and always returns a ProbeAttempt.

This is the one place a broad ``except Exception`` lives: anything unexpected is a ``bug`` with
its traceback kept, and the scan goes on.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from duecare.probes.base import Observation, Probe, Target
from duecare.probes.context import CURRENT_PROBE, ProbeContext
from duecare.probes.errors import NotPermitted, ProbeError, ProbeTimeout, ProtocolError, SilentPeer, Unreachable
from duecare.wire import ProbeAttempt, ProbeStatus, Proto
from duecare.wire.bounds import FACTS_BYTES, json_safe, printable
from duecare.wire.models import SKIP_CLASS_NOT_ALLOWED


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    attempt: ProbeAttempt
    observation: Observation[Any] | None
    #: The peer accepted the connection and never sent a first byte (errors.SilentPeer).
    silent_peer: bool = False


class _Skipped(Exception):
    pass


_STATUS: dict[type[ProbeError], ProbeStatus] = {
    Unreachable: ProbeStatus.UNREACHABLE,
    ProbeTimeout: ProbeStatus.TIMED_OUT,
    ProtocolError: ProbeStatus.PROTOCOL_ERROR,
    NotPermitted: ProbeStatus.NOT_PERMITTED,
}


def _status_of(exc: ProbeError) -> ProbeStatus:
    for cls, status in _STATUS.items():
        if isinstance(exc, cls):
            return status
    return ProbeStatus.PROTOCOL_ERROR


def _http_status(exc: httpx.HTTPError) -> tuple[ProbeStatus, str]:
    """httpx errors are translated here once, for every HTTP-speaking probe."""
    if isinstance(exc, httpx.TimeoutException):
        return ProbeStatus.TIMED_OUT, f"HTTP timeout: {type(exc).__name__}"
    if isinstance(exc, httpx.ConnectError):
        return ProbeStatus.UNREACHABLE, f"HTTP connect failed: {exc}"
    return ProbeStatus.PROTOCOL_ERROR, f"HTTP error: {type(exc).__name__}: {exc}"


async def run_probe(
    probe: Probe[Any],
    target: Target,
    ctx: ProbeContext,
    *,
    skip_reason: Callable[[], str | None] | None = None,
) -> ProbeOutcome:
    """``skip_reason`` is asked once the host's slot is ours: what we learnt while waiting counts."""
    started = ctx.clock()
    t0 = time.perf_counter()
    status: ProbeStatus
    error: str | None = None
    tb: str | None = None
    observation: Observation[Any] | None = None
    silent_peer = False

    token = CURRENT_PROBE.set(probe.id)
    if probe.probe_class not in ctx.allowed_classes:
        status, error = ProbeStatus.SKIPPED, f"{SKIP_CLASS_NOT_ALLOWED} {probe.probe_class} not allowed by config"
    else:
        try:
            async with ctx.host_slot(target.host, udp=target.proto is Proto.UDP):
                # Time counts from here: waiting for the host's slot is not the probe's duration.
                started, t0 = ctx.clock(), time.perf_counter()
                why = None if skip_reason is None else skip_reason()
                if why is not None:
                    raise _Skipped(why)
                async with asyncio.timeout(ctx.timeouts.probe):
                    observation = await probe.run(target, ctx)
            status = ProbeStatus.COMPLETED
        except _Skipped as exc:
            status, error = ProbeStatus.SKIPPED, str(exc)
        except ProbeError as exc:
            status, error = _status_of(exc), str(exc) or type(exc).__name__
            silent_peer = isinstance(exc, SilentPeer)
        except TimeoutError:
            status, error = ProbeStatus.TIMED_OUT, f"probe exceeded its {ctx.timeouts.probe}s ceiling"
        except httpx.HTTPError as exc:
            status, error = _http_status(exc)
        except ValidationError as exc:
            # The peer's answer did not fit our facts model: its fault, not ours.
            status, error = (
                ProbeStatus.PROTOCOL_ERROR,
                f"response did not validate: {exc.error_count()} errors",
            )
        except Exception as exc:  # CancelledError is a BaseException: it still propagates
            status, error = ProbeStatus.BUG, f"{type(exc).__name__}: {exc}"
            tb = traceback.format_exc()[-8000:]
    CURRENT_PROBE.reset(token)

    # Facts and error text carry what the peer sent: escaped and capped before they enter the report.
    facts = None if observation is None else json_safe(observation.facts.model_dump(mode="json"), FACTS_BYTES)
    attempt = ProbeAttempt(
        probe=probe.id,
        ip=target.ip,
        port=target.port,
        proto=target.proto,
        status=status,
        started_at=started,
        duration_ms=round((time.perf_counter() - t0) * 1000, 2),
        error=None if error is None else printable(error, 2000),
        traceback=None if tb is None else printable(tb, 8000),
        facts=facts,
    )
    return ProbeOutcome(attempt, observation, silent_peer)
