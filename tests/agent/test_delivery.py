"""Delivery against a scripted collector (httpx.MockTransport): backoff, Retry-After, refusals."""

from __future__ import annotations

import random
from pathlib import Path

import httpx

from duecare.agent.delivery import Backoff, deliver_due, retry_after_seconds
from duecare.agent.outbox import Outbox
from duecare.agent.state import Enrollment
from duecare.wire import SignedReport, report_hash
from tests.agent.factories import make_report

ENROLL = Enrollment(
    collector_url="http://collector.test", agent_id="a1", site_id="s1", client_id="c1", credential="k" * 40
)


def _receipt(req: httpx.Request, seq: int) -> httpx.Response:
    env = SignedReport.model_validate_json(req.content)
    return httpx.Response(
        201,
        json={
            "report_id": env.report["report_id"],
            "report_hash": report_hash(env.report),
            "sequence": seq,
            "received_at": "2026-11-30T00:00:00Z",
        },
    )


def test_retry_after_is_honoured_and_nothing_is_lost(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    ob = Outbox(tmp_path / "o.sqlite")
    key = Ed25519PrivateKey.generate()
    for _ in range(3):
        ob.add(make_report(), key)
    calls: list[httpx.Request] = []
    answers = iter([httpx.Response(503, headers={"Retry-After": "120"}), None, None, None])

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        assert req.headers["Authorization"] == f"Bearer {ENROLL.credential}"
        a = next(answers)
        return a if a is not None else _receipt(req, len(calls))

    now = [1000.0]
    client = httpx.Client(transport=httpx.MockTransport(handler))
    backoff = Backoff(base_s=1.0, rng=random.Random(1))
    r = deliver_due(ob, ENROLL, client, backoff=backoff, clock=lambda: now[0])
    assert r.postponed
    assert r.delivered == 0
    assert len(calls) == 1
    # Before Retry-After has passed nothing is sent again.
    now[0] += 119
    assert deliver_due(ob, ENROLL, client, backoff=backoff, clock=lambda: now[0]).delivered == 0
    assert len(calls) == 1
    now[0] += 2
    r = deliver_due(ob, ENROLL, client, backoff=backoff, clock=lambda: now[0])
    assert r.delivered == 3
    assert ob.status()["pending"] == 0


def test_permanent_refusal_is_kept_aside_and_delivery_continues(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    ob = Outbox(tmp_path / "o.sqlite")
    key = Ed25519PrivateKey.generate()
    ob.add(make_report(), key)
    ob.add(make_report(), key)
    seen = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if len(seen) == 1:
            return httpx.Response(422, json={"detail": "signature does not verify"})
        return _receipt(req, 2)

    r = deliver_due(ob, ENROLL, httpx.Client(transport=httpx.MockTransport(handler)))
    assert (r.refused, r.delivered) == (1, 1)
    assert ob.status()["refused"] == 1


def test_connection_errors_back_off_exponentially() -> None:
    b = Backoff(base_s=5, cap_s=3600, rng=random.Random(0))
    delays = [b.delay(n) for n in range(12)]
    for n, d in enumerate(delays):
        expo = min(3600, 5 * 2**n)
        assert expo / 2 <= d <= expo
    assert b.delay(0, retry_after=300) == 300


def test_retry_after_http_date() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0) == 0.0
    assert retry_after_seconds("30", 0) == 30
    assert retry_after_seconds("soon", 0) is None
