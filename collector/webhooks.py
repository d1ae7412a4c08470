"""Outbound webhooks: HMAC-SHA256 signed POSTs for new critical or KEV-listed findings.

Deliveries are rows written in the ingest transaction (so a rollback sends nothing) and sent
after commit: at once with a few quick retries, then by a periodic sweep with growing backoff
(which also picks up rows a crashed process left behind). At-least-once: receivers dedup on
``X-Duecare-Delivery``. The signature is ``sha256=<hex HMAC of the body>`` with the client's
webhook secret, in ``X-Duecare-Signature`` (the NinjaOne webhook-secret model,
reference/ecosystem.md §3.1).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import httpx
from sqlalchemy import and_, or_, select, update

from duecare.collector.db.models import Client, WebhookDelivery
from duecare.collector.db.session import Database
from duecare.collector.ids import Codec, Kind, keys_of
from duecare.collector.security import webhook_signature
from duecare.collector.settings import WebhookSettings

log = logging.getLogger("duecare.collector.webhooks")

#: A "sending" row older than this belongs to a process that died mid-delivery.
STALE_CLAIM = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class _Claimed:
    id: int
    url: str | None
    secret: str | None
    body: bytes
    attempts: int
    #: The delivery's and the change's ids as the client sees them (``collector/ids.py``).
    delivery: str
    change: str


class WebhookSender:
    def __init__(self, db: Database, settings: WebhookSettings, transport: httpx.AsyncBaseTransport | None = None):
        self.db = db
        self.settings = settings
        self.transport = transport

    async def deliver(self, ids: Sequence[int]) -> None:
        async with httpx.AsyncClient(transport=self.transport, timeout=self.settings.timeout_s) as http:
            for delivery_id in ids:
                claimed = await anyio.to_thread.run_sync(self._claim, delivery_id)
                if claimed is not None:
                    await self._send(http, claimed)

    async def sweep(self) -> int:
        ids = await anyio.to_thread.run_sync(self._due)
        await self.deliver(ids)
        return len(ids)

    async def run_sweeper(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:  # a sweep failing (database restart) must not end the loop
                log.exception("webhook sweep failed")

    async def _send(self, http: httpx.AsyncClient, c: _Claimed) -> None:
        if not c.url or not c.secret:
            await anyio.to_thread.run_sync(self._finish, c, False, c.attempts, "client has no webhook configured")
            return
        headers = {
            "content-type": "application/json",
            "x-duecare-signature": webhook_signature(c.secret, c.body),
            "x-duecare-delivery": c.delivery,
            "x-duecare-change": c.change,
        }
        attempts, error = c.attempts, ""
        for i in range(self.settings.attempts):
            attempts += 1
            try:
                resp = await http.post(c.url, content=c.body, headers=headers)
                if 200 <= resp.status_code < 300:
                    await anyio.to_thread.run_sync(self._finish, c, True, attempts, None)
                    log.info("webhook delivered", extra={"delivery_id": c.id, "attempts": attempts})
                    return
                error = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            if i + 1 < self.settings.attempts:
                await asyncio.sleep(self.settings.first_backoff_s * 2**i)
        log.warning("webhook not delivered", extra={"delivery_id": c.id, "attempts": attempts, "error": error})
        await anyio.to_thread.run_sync(self._finish, c, False, attempts, error)

    def _claim(self, delivery_id: int) -> _Claimed | None:
        now = datetime.now(UTC)
        with self.db.write() as s:
            claimed = s.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    or_(
                        WebhookDelivery.status == "pending",
                        and_(WebhookDelivery.status == "sending", WebhookDelivery.claimed_at < now - STALE_CLAIM),
                    ),
                )
                .values(status="sending", claimed_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None  # delivered already, or another replica has it
            row = s.get_one(WebhookDelivery, delivery_id)
            client = s.get_one(Client, row.client_id)
            url, secret, body, attempts = client.webhook_url, client.webhook_secret, row.body, row.attempts
            client_id, change_id = row.client_id, row.change_id
        # After the write transaction: a client's id key is made (once) in a transaction of its own.
        codec = keys_of(self.db.engine).codec(client_id)
        return _Claimed(
            delivery_id,
            url,
            secret,
            _public_body(codec, body),
            attempts,
            codec.encode(Kind.DELIVERY, delivery_id),
            codec.encode(Kind.CHANGE, change_id),
        )

    def _finish(self, c: _Claimed, ok: bool, attempts: int, error: str | None) -> None:
        now = datetime.now(UTC)
        with self.db.write() as s:
            row = s.get_one(WebhookDelivery, c.id)
            row.attempts, row.last_error, row.claimed_at = attempts, error, None
            if ok:
                row.status, row.delivered_at = "delivered", now
            elif attempts >= self.settings.max_total_attempts or not c.url:
                row.status = "failed"
            else:
                backoff = timedelta(seconds=self.settings.first_backoff_s * 2**attempts)
                row.status, row.next_attempt_at = "pending", now + min(backoff, MAX_BACKOFF)

    def _due(self) -> list[int]:
        now = datetime.now(UTC)
        with self.db.read() as s:
            stmt = select(WebhookDelivery.id).where(
                or_(
                    and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now),
                    and_(WebhookDelivery.status == "sending", WebhookDelivery.claimed_at < now - STALE_CLAIM),
                )
            )
            return list(s.scalars(stmt.order_by(WebhookDelivery.id).limit(500)))


def _public_body(codec: Codec, body: str) -> bytes:
    """The stored body (written at ingest with row numbers) with the client's opaque ids in their place."""
    doc = json.loads(body)
    if isinstance(doc.get("change_id"), int):
        doc["change_id"] = codec.encode(Kind.CHANGE, doc["change_id"])
    finding = doc.get("finding")
    if isinstance(finding, dict) and isinstance(finding.get("id"), int):
        finding["id"] = codec.encode(Kind.FINDING, finding["id"])
    return json.dumps(doc, sort_keys=True).encode()
