"""Webhooks to a real receiver on 127.0.0.1: signed, sent after commit, retried."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import pytest
from sqlalchemy import select, update

from duecare.collector import admin
from duecare.collector.db.models import WebhookDelivery
from duecare.collector.db.session import Database
from duecare.wire import Exposure, Severity
from tests.collector.conftest import Collector
from tests.collector.factories import finding


class Receiver:
    """Records POSTs; answers 500 to the first ``fail_first`` of them."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                code = 500 if len(receiver.calls) < receiver.fail_first else 200
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body, code))
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def delivered(self) -> list[dict[str, object]]:
        return [json.loads(body) for _, body, code in self.calls if code == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _collector(database: Database, attempts: int = 4) -> Iterator[Collector]:
    from fastapi.testclient import TestClient

    from duecare.collector.app import create_app
    from duecare.collector.settings import CollectorSettings, WebhookSettings

    settings = CollectorSettings(
        database_url=str(database.engine.url),
        webhooks=WebhookSettings(attempts=attempts, first_backoff_s=0.01, sweep_interval_s=0),
    )
    with TestClient(create_app(settings, database=database)) as http:
        yield Collector(database, http, settings)


CRITICAL = finding("198.18.0.20", Exposure.SMB_MS17_010, 445, severity=Severity.CRITICAL)
KEV = finding("198.18.0.30", Exposure.EXCHANGE_UNPATCHED, 443, severity=Severity.HIGH, kev_cves=["CVE-2021-34473"])
PLAIN = finding("198.18.0.50")


def test_new_critical_and_kev_findings_are_signed_and_sent(database: Database, receiver: Receiver) -> None:
    for collector in _collector(database):
        agent = collector.enroll("acme", "hq")
        secret = admin.set_webhook(collector.db, "acme", receiver.url)
        assert secret is not None
        assert collector.post(agent, agent.chain.next(findings=[CRITICAL, KEV, PLAIN])).status_code == 201
        assert sorted(d["finding"]["ip"] for d in receiver.delivered()) == ["198.18.0.20", "198.18.0.30"]  # type: ignore[index]
        for headers, body, _ in receiver.calls:
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["x-duecare-signature"], expected)
            # Opaque per client (collector/ids.py): no delivery or change number of the collector shows.
            for name in ("x-duecare-delivery", "x-duecare-change"):
                assert len(headers[name]) == 32 and not headers[name].isdigit()
            doc = json.loads(body)
            assert doc["change_id"] == headers["x-duecare-change"] and len(doc["finding"]["id"]) == 32
        assert {d["event"] for d in receiver.delivered()} == {"finding.new"}
        # Seen again: no new alert.
        collector.post(agent, agent.chain.next(findings=[CRITICAL, KEV, PLAIN]))
        assert len(receiver.calls) == 2


def test_retried_until_the_receiver_takes_it(database: Database, receiver: Receiver) -> None:
    receiver.fail_first = 2
    for collector in _collector(database, attempts=4):
        agent = collector.enroll("acme", "hq")
        admin.set_webhook(collector.db, "acme", receiver.url)
        collector.post(agent, agent.chain.next(findings=[CRITICAL]))
        assert [code for _, _, code in receiver.calls] == [500, 500, 200]
        with collector.db.read() as s:
            row = s.scalars(select(WebhookDelivery)).one()
            assert row.status == "delivered" and row.attempts == 3


def test_left_pending_then_delivered_by_the_sweep(database: Database, receiver: Receiver) -> None:
    receiver.fail_first = 2
    for collector in _collector(database, attempts=2):
        agent = collector.enroll("acme", "hq")
        admin.set_webhook(collector.db, "acme", receiver.url)
        collector.post(agent, agent.chain.next(findings=[CRITICAL]))
        with collector.db.write() as s:
            row = s.scalars(select(WebhookDelivery)).one()
            assert row.status == "pending" and row.attempts == 2 and row.last_error == "HTTP 500"
            s.execute(update(WebhookDelivery).values(next_attempt_at=datetime.now(UTC)))
        sender = collector.http.app.state.collector.webhooks  # type: ignore[attr-defined]
        assert anyio.run(sender.sweep) == 1
        assert len(receiver.delivered()) == 1
        assert anyio.run(sender.sweep) == 0  # nothing left, nothing sent twice
        assert len(receiver.calls) == 3


def test_no_webhook_configured_sends_nothing(database: Database) -> None:
    for collector in _collector(database):
        agent = collector.enroll("acme", "hq")
        collector.post(agent, agent.chain.next(findings=[CRITICAL]))
        with collector.db.read() as s:
            assert s.scalars(select(WebhookDelivery)).all() == []
