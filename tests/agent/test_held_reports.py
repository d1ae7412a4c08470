"""No head-of-line blocking: a poison report (the collector answers it 500 every time) is held aside
after the configured bounds; the clean report behind it is delivered in the same cycle; status shows
the held one, and the collector is told with a signed notice."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from duecare.agent.delivery import Backoff, deliver_due
from duecare.agent.outbox import HoldPolicy, Outbox
from duecare.wire import SignedReport
from duecare.wire.envelope import held_payload
from duecare.wire.signatures import public_key_b64, verify_payload
from tests.agent.factories import make_report
from tests.agent.test_delivery import ENROLL, _receipt


def test_poison_report_is_held_and_the_clean_one_behind_it_delivered(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    ob = Outbox(tmp_path / "outbox.sqlite", hold=HoldPolicy(errors=3, after_s=600, retry_s=3600))
    poison = make_report()
    ob.add(poison, key)
    seen: list[SignedReport] = []

    def collector(req: httpx.Request) -> httpx.Response:
        env = SignedReport.model_validate_json(req.content)
        seen.append(env)
        if env.report["report_id"] == str(poison.report_id):
            return httpx.Response(500, json={"detail": "Internal Server Error"})
        return _receipt(req, len(seen))

    client = httpx.Client(transport=httpx.MockTransport(collector))
    now = [1_780_000_000.0]
    backoff = Backoff(base_s=5, cap_s=60)

    def cycle() -> object:
        return deliver_due(ob, ENROLL, client, backoff=backoff, clock=lambda: now[0], key=lambda: key)

    # Two nights of 500s: bounded count and time not both passed, the report keeps its place.
    for _ in range(2):
        r = cycle()
        assert r.held == 0 and r.postponed  # type: ignore[attr-defined]
        now[0] += 400
    clean = make_report()
    ob.add(clean, key)
    # The third 500, 800 s after the first: held; the clean one goes out in the same cycle.
    r = cycle()
    assert (r.held, r.delivered) == (1, 1)  # type: ignore[attr-defined]
    delivered = seen[-1]
    assert delivered.report["report_id"] == str(clean.report_id)
    (notice,) = delivered.held
    assert str(notice.report_id) == str(poison.report_id) and "500" in notice.reason
    verify_payload(public_key_b64(key), held_payload(notice), notice.signature)

    status = ob.status()
    (held,) = status["held"]  # type: ignore[misc]
    assert held["report_id"] == str(poison.report_id) and held["collector_told"] is True
    assert status["pending"] == 1
    # Retried at the low rate only: not before retry_s, and then again.
    now[0] += 60
    assert cycle().delivered == 0 and len(seen) == 4  # type: ignore[attr-defined]
    now[0] += 3600
    cycle()
    assert seen[-1].report["report_id"] == str(poison.report_id)


def test_503_never_holds_a_report(tmp_path: Path) -> None:
    """503 is the server's own state: the report keeps its place, whatever the count."""
    key = Ed25519PrivateKey.generate()
    ob = Outbox(tmp_path / "outbox.sqlite", hold=HoldPolicy(errors=1, after_s=0))
    ob.add(make_report(), key)
    client = httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(503, headers={"Retry-After": "1"})))
    for i in range(3):
        r = deliver_due(ob, ENROLL, client, clock=lambda i=i: 1_780_000_000.0 + i * 4000, key=lambda: key)
        assert r.held == 0
    assert ob.status()["held"] == []


def test_outbox_files_are_owner_only(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "state" / "outbox.sqlite")
    ob.add(make_report(), Ed25519PrivateKey.generate())
    files = [p for p in (tmp_path / "state").iterdir() if p.name.startswith("outbox.sqlite")]
    assert files
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
