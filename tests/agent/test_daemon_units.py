"""Unit checks for the pieces the real-process fault tests rely on (fast, no processes)."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from duecare.agent.config import AgentConfig
from duecare.agent.daemon import make_trigger
from duecare.agent.delivery import deliver_due
from duecare.agent.logs import setup_logging
from duecare.agent.outbox import Outbox
from duecare.agent.state import Enrollment
from duecare.wire.signatures import verify_chain
from tests.agent.factories import make_report

ENROLL = Enrollment(collector_url="http://c.test", agent_id="a", site_id="s", client_id="c", credential="k" * 40)


def test_six_field_cron_has_a_leading_seconds_field() -> None:
    trig = make_trigger(AgentConfig.model_validate({"schedule": {"cron": "*/3 * * * * *", "jitter_s": 0}}))
    t = datetime(2026, 11, 30, 2, 0, 1, tzinfo=UTC)
    assert trig.get_next_fire_time(None, t) == datetime(2026, 11, 30, 2, 0, 3, tzinfo=UTC)
    with pytest.raises(ValueError, match="5 fields"):
        make_trigger(AgentConfig.model_validate({"schedule": {"cron": "* * * *"}}))


def test_delivery_stops_between_requests(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite")
    key = Ed25519PrivateKey.generate()
    for _ in range(3):
        ob.add(make_report(), key)
    posted: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        posted.append(req)
        return httpx.Response(503)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    r = deliver_due(ob, ENROLL, client, should_stop=lambda: True)
    assert (posted, r.delivered, r.postponed) == ([], 0, False)
    assert ob.status()["pending"] == 3


def test_next_attempt_follows_the_head_of_the_outbox(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite")
    assert ob.next_attempt_at() is None
    ob.add(make_report(), Ed25519PrivateKey.generate())
    head = ob.next_due()
    assert head is not None
    ob.postpone(head, 4_000_000_000.0, "HTTP 503")
    assert ob.next_attempt_at() == 4_000_000_000.0
    assert ob.status()["next_attempt_at"] == datetime.fromtimestamp(4_000_000_000.0, UTC).isoformat()


def test_refused_reports_stay_in_the_agents_chain(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite")
    key = Ed25519PrivateKey.generate()
    ids = [str(ob.add(make_report(), key)[0].report["report_id"]) for _ in range(3)]
    middle = ob.next_due()
    assert middle is not None
    ob.refused(middle, 413, "too big")
    assert [e.report["report_id"] for e in ob.envelopes()] == ids
    assert verify_chain(ob.envelopes(), key.public_key()) == []


def test_scheduler_warnings_are_json_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    saved = {
        n: (lg.handlers[:], lg.level, lg.propagate) for n in ("duecare", "apscheduler") for lg in [logging.getLogger(n)]
    }
    try:
        setup_logging()
        logging.getLogger("apscheduler.scheduler").warning("Run time of job %r was missed by %s", "scan", "0:01:00")
        logging.getLogger("apscheduler.executors.default").info("not shown: below WARNING")
    finally:  # leave logging as other tests (and caplog) expect it
        for name, (handlers, level, propagate) in saved.items():
            lg = logging.getLogger(name)
            lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate
    (line,) = err.getvalue().splitlines()
    assert json.loads(line)["logger"] == "apscheduler.scheduler"
