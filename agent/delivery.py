"""Deliver the outbox to the collector: in chain order, with backoff, idempotent on report id."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import httpx

from duecare.agent.outbox import Outbox, PendingReport
from duecare.agent.signing import with_tombstones
from duecare.agent.state import Enrollment
from duecare.wire import Receipt

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("duecare.delivery")

#: Statuses after which the same bytes will never be accepted: keep them aside, move on.
_PERMANENT = {409, 413, 422}


@dataclass
class Backoff:
    """Exponential backoff with full jitter, capped; a server's Retry-After wins when longer."""

    base_s: float = 5.0
    cap_s: float = 3600.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        expo = min(self.cap_s, self.base_s * float(2 ** min(attempts, 20)))
        jittered = expo / 2 + self.rng.uniform(0, expo / 2)
        return max(jittered, retry_after or 0.0)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


@dataclass
class DeliveryResult:
    delivered: int = 0
    refused: int = 0
    #: Reports set aside (or kept aside) after repeated server errors this run.
    held: int = 0
    postponed: bool = False
    error: str | None = None


def deliver_due(
    outbox: Outbox,
    enrollment: Enrollment,
    client: httpx.Client,
    *,
    backoff: Backoff | None = None,
    clock: Callable[[], float] = time.time,
    limit: int = 1000,
    should_stop: Callable[[], bool] = lambda: False,
    key: Callable[[], Ed25519PrivateKey] | None = None,
) -> DeliveryResult:
    """Send due reports oldest first until one fails; ``should_stop`` is asked before each
    request, so a shutdown waits for at most the one request in flight.

    A report the collector keeps answering with a server error is held (``Outbox.server_error``)
    and the next one is sent in the same run; ``key`` gives the key that signs the notices that tell
    the collector (asked only when there is a notice to sign: the idle daemon never loads it)."""
    backoff = backoff or Backoff()
    result = DeliveryResult()
    url = enrollment.collector_url.rstrip("/") + "/v1/reports"
    headers = {"Authorization": f"Bearer {enrollment.credential}"}
    for _ in range(limit):
        if should_stop():
            break
        item = outbox.next_due(clock())
        if item is None:
            break
        tombstones = outbox.tombstones(key)  # an older agent's unsigned ones are signed here
        held = outbox.held_notices(key) if key is not None else []  # key asked only if needed
        body = with_tombstones(item.envelope, tombstones).model_copy(update={"held": tuple(held)}).model_dump_json()
        try:
            resp = client.post(url, content=body, headers={**headers, "Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            _postpone(outbox, item, backoff, clock, None, f"{type(exc).__name__}: {exc}", result)
            break
        if resp.status_code in (200, 201):
            try:
                receipt = Receipt.model_validate_json(resp.content)
            except ValueError as exc:
                _postpone(outbox, item, backoff, clock, None, f"unreadable receipt: {exc}", result)
                break
            outbox.delivered(item, receipt, tombstones, held)
            result.delivered += 1
            log.info("report delivered", extra={"report_id": item.report_id, "sequence": receipt.sequence})
            continue
        reason = _reason(resp)
        if resp.status_code in _PERMANENT:
            outbox.refused(item, resp.status_code, reason)
            result.refused += 1
            log.error("collector refused report", extra={"report_id": item.report_id, "status": resp.status_code})
            continue
        wait = retry_after_seconds(resp.headers.get("Retry-After"), clock())
        error = f"HTTP {resp.status_code}: {reason}"
        # 503 is the server's own state (it says when to come back); other 5xx may be this report's.
        if resp.status_code >= 500 and resp.status_code != 503:
            until = clock() + backoff.delay(item.attempts, wait)
            if outbox.server_error(item, until, error, clock()):
                result.held += 1
                log.error("report held aside after repeated server errors", extra={"report_id": item.report_id})
                continue
            result.postponed, result.error = True, error
            log.warning("delivery postponed", extra={"report_id": item.report_id, "error": error, "retry_at": until})
            break
        _postpone(outbox, item, backoff, clock, wait, error, result)
        break
    return result


def _reason(resp: httpx.Response) -> str:
    try:
        detail = resp.json().get("detail")
    except ValueError:
        detail = None
    return str(detail if detail is not None else resp.text[:300])


def _postpone(
    outbox: Outbox,
    item: PendingReport,
    backoff: Backoff,
    clock: Callable[[], float],
    retry_after: float | None,
    error: str,
    result: DeliveryResult,
) -> None:
    until = clock() + backoff.delay(item.attempts, retry_after)
    outbox.postpone(item, until, error)
    result.postponed = True
    result.error = error
    log.warning("delivery postponed", extra={"report_id": item.report_id, "error": error, "retry_at": until})
