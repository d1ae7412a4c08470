"""Issue 7 fault tests against a real collector process (uvicorn + SQLite on 127.0.0.1).

(a) collector down across three cycles; (b) agent SIGKILLed mid-delivery; (c) 500/503 with
Retry-After from a fault-injecting proxy. Every assertion is on what the collector stored.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import pytest

from duecare.agent.config import AgentConfig
from duecare.agent.daemon import AgentDaemon
from duecare.agent.delivery import Backoff
from duecare.agent.state import StateDir
from duecare.wire import Receipt, Report
from tests.agent.factories import make_report
from tests.agent.fault_proxy import Fault, FaultProxy
from tests.agent.live import AgentProcess, LiveCollector, assert_chain_intact, wait_for

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


def _enrolled(agent: AgentProcess, collector: LiveCollector, url: str | None = None) -> None:
    collector.start()
    agent.enroll(url or collector.url, collector.token)


def test_cycles_while_collector_down_are_delivered_once_in_process(
    live_agent: AgentProcess, live_collector: LiveCollector
) -> None:
    """AgentDaemon.cycle() three times with the collector away, a fake scan returning real Reports."""
    _enrolled(live_agent, live_collector)
    live_collector.stop()
    live_agent.write_config()
    cfg = AgentConfig.model_validate({"schedule": {"jitter_s": 0}})
    scans: list[Report] = []

    def scan(_cfg: AgentConfig) -> Report:
        scans.append(make_report(3))
        return scans[-1]

    daemon = AgentDaemon(cfg, StateDir(live_agent.state_dir), scan, backoff=Backoff(base_s=0.05, cap_s=0.2))
    try:
        for _ in range(3):
            assert daemon.cycle() is not None
        status = daemon.outbox.status()
        assert status["pending"] == 3
        assert "ConnectError" in str(status["last_error"])
        live_collector.start()
        time.sleep(0.3)  # past the (shortened) backoff
        result = daemon.deliver()
    finally:
        daemon.http.close()
    assert result is not None
    assert (result.delivered, result.refused, result.error) == (3, 0, None)
    stored = live_collector.reports()
    assert [r.id for r in stored] == [str(r.report_id) for r in scans]
    assert_chain_intact(stored)
    receipts = [Receipt.model_validate_json(r) for r in _receipts(live_agent)]
    assert [str(r.report_id) for r in receipts] == [s.id for s in stored]
    assert not any(r.duplicate or r.chain_gap for r in receipts)


def _receipts(agent: AgentProcess) -> list[str]:
    import sqlite3

    with sqlite3.connect(StateDir(agent.state_dir).outbox_path) as db:
        return [r[0] for r in db.execute("SELECT receipt FROM delivered ORDER BY seq")]


def test_real_daemon_keeps_three_scheduled_cycles_until_the_collector_returns(
    live_agent: AgentProcess, live_collector: LiveCollector
) -> None:
    """`duecare agent run` on a 3-second schedule (six-field cron), real loopback scans."""
    _enrolled(live_agent, live_collector)
    live_collector.stop()
    live_agent.write_config(cron="*/3 * * * * *")
    live_agent.start()
    outbox = live_agent.outbox()
    wait_for("three cycles stored in the outbox", lambda: live_agent.outbox_count() >= 3, timeout=60)
    first_three = [str(e.report["report_id"]) for e in outbox.envelopes()][:3]
    assert live_agent.outbox_count("max_attempts") >= 1  # delivery was tried and failed
    live_collector.start()
    wait_for(
        "the three reports at the collector",
        lambda: set(first_three) <= {r.id for r in live_collector.reports()},
        timeout=60,  # the backoff after ~10 s of failures can be up to 40 s
    )
    code, took = live_agent.terminate()
    assert code == 0
    assert took < 60
    stored = live_collector.reports()
    assert [r.id for r in stored][:3] == first_three
    assert_chain_intact(stored)
    held = [str(e.report["report_id"]) for e in live_agent.outbox().envelopes()]
    assert [r.id for r in stored] == held[: len(stored)]  # what is stored is exactly the agent's chain
    assert live_agent.outbox().status()["refused"] == 0


def test_once_runs_while_collector_down_then_delivered(live_agent: AgentProcess, live_collector: LiveCollector) -> None:
    """Three real `duecare agent run --once` cycles with the collector down, then one with it up."""
    _enrolled(live_agent, live_collector)
    live_collector.stop()
    live_agent.write_config()
    for n in range(1, 4):
        out = live_agent.once()
        assert out.returncode == 0, out.stderr
        assert live_agent.status()["outbox"]["pending"] == n
    status = live_agent.status()
    assert "ConnectError" in status["outbox"]["last_error"]
    live_collector.start()
    # The agent's own backoff is respected even by --once: wait until it says the next try is due.
    due = datetime.fromisoformat(status["outbox"]["next_attempt_at"]).timestamp()
    assert due <= time.time() + 40
    time.sleep(max(0.0, due - time.time()) + 0.2)
    out = live_agent.once()
    assert out.returncode == 0, out.stderr
    stored = live_collector.reports()
    assert len(stored) == 4
    assert_chain_intact(stored)
    assert live_agent.status()["outbox"]["pending"] == 0
    assert [str(e.report["report_id"]) for e in live_agent.outbox().envelopes()] == [r.id for r in stored]


def test_sigkill_mid_delivery_loses_and_doubles_nothing(
    live_agent: AgentProcess, live_collector: LiveCollector
) -> None:
    """A backlog of 40 reports, a slowed collector, `kill -9` of the real daemon twice at random."""
    live_collector.start()
    proxy = FaultProxy(live_collector.server.port, delay_s=0.1).start()
    try:
        live_agent.enroll(proxy.url, live_collector.token)
        live_agent.write_config()
        backlog = live_agent.fill_outbox(40, findings=5)
        rng = random.Random()
        for kill_after in sorted(rng.sample(range(3, 35), 2)):
            live_agent.start()
            wait_for(f"{kill_after} report posts", _posted(proxy, kill_after), timeout=60)
            time.sleep(rng.uniform(0, 0.1))  # somewhere in a request, or between two
            live_agent.kill9()
        assert 0 < live_agent.outbox_count() < 40
        live_agent.start()
        # Generous waits: on a loaded 2-CPU machine 40 slowed posts can take a while.
        wait_for("the whole backlog at the collector", lambda: len(live_collector.reports()) >= 40, timeout=90)
        wait_for("the outbox empty", lambda: live_agent.outbox_count() == 0, timeout=20)
        code, _took = live_agent.terminate()
        assert code == 0
    finally:
        proxy.stop()
    stored = live_collector.reports()
    assert [r.id for r in stored] == backlog  # every report once, in chain order
    assert_chain_intact(stored)
    assert live_collector.chain_gaps() == []
    status = live_agent.outbox().status()
    assert (status["pending"], status["refused"]) == (0, 0)
    codes = [s.status for s in proxy.report_posts()]
    # nothing refused (no 409, no 422); a 429 is the per-agent rate limit pacing the backlog, waited out
    assert set(codes) <= {200, 201, 429}, codes
    assert codes.count(201) == 40
    # A report whose receipt the kill swallowed came back as a duplicate, not a second copy.
    assert len(codes) - 40 - codes.count(429) == codes.count(200)


def _posted(proxy: FaultProxy, n: int) -> Callable[[], bool]:
    return lambda: len(proxy.report_posts()) >= n


def test_retry_after_from_500_and_503_is_respected(live_agent: AgentProcess, live_collector: LiveCollector) -> None:
    """The proxy answers 503 Retry-After: 6, then 500 with an HTTP-date 12 s ahead, then forwards.

    Both waits are longer than the agent's own backoff (2.5-5 s, then 5-10 s), so only
    honouring Retry-After keeps the agent quiet that long."""
    live_collector.start()
    faults = [Fault(503, "6"), Fault(500, lambda: formatdate(time.time() + 12, usegmt=True))]
    proxy = FaultProxy(live_collector.server.port, faults=faults).start()
    try:
        live_agent.enroll(proxy.url, live_collector.token)
        live_agent.write_config()
        backlog = live_agent.fill_outbox(3)
        live_agent.start()
        wait_for("the backlog at the collector", lambda: len(live_collector.reports()) >= 3, timeout=60)
        code, _ = live_agent.terminate()
        assert code == 0
    finally:
        proxy.stop()
    posts = proxy.report_posts()
    assert [(p.status, p.injected) for p in posts] == [
        (503, True),
        (500, True),
        (201, False),
        (201, False),
        (201, False),
    ]
    first, second, third = posts[0].at, posts[1].at, posts[2].at
    assert second - first >= 6.0, "retried before the 503's Retry-After"
    assert posts[1].retry_after is not None
    not_before = parsedate_to_datetime(posts[1].retry_after).timestamp()
    assert not_before - second > 10  # the date really was ahead when it was served
    assert third >= not_before, "retried before the 500's Retry-After date"
    assert third - not_before < 5  # and then at once, not at the next 30 s polling tick
    assert [r.id for r in live_collector.reports()] == backlog
    assert_chain_intact(live_collector.reports())
    logged = [x for x in live_agent.daemon_log() if x["msg"] == "delivery postponed"]
    assert [("503" in x["error"], "500" in x["error"]) for x in logged] == [(True, False), (False, True)]


def test_fault_proxy_answers_and_records(tmp_path: Path, live_collector: LiveCollector) -> None:
    """The proxy itself: faults in order, then real answers from the collector behind it."""
    import httpx

    live_collector.start()
    proxy = FaultProxy(live_collector.server.port, faults=[Fault(503, "2")]).start()
    try:
        r1 = httpx.post(f"{proxy.url}/v1/reports", content=b"{}", headers={"Content-Type": "application/json"})
        r2 = httpx.post(f"{proxy.url}/v1/reports", content=b"{}", headers={"Content-Type": "application/json"})
        health = httpx.get(f"{proxy.url}/healthz")
    finally:
        proxy.stop()
    assert (r1.status_code, r1.headers["Retry-After"]) == (503, "2")
    assert r2.status_code == 401  # the real collector: no credential
    assert health.json()["status"] == "ok"
    assert [(s.status, s.injected) for s in proxy.report_posts()] == [(503, True), (401, False)]


def test_collector_killed_mid_ingest_the_agent_retry_delivers_the_rest(
    live_agent: AgentProcess, live_collector: LiveCollector
) -> None:
    """Issue 6/7: `kill -9` the collector while a real agent delivers a stream of reports; after the
    collector restarts on the same database, the agent's own retries deliver the rest, each once."""
    live_collector.start()
    proxy = FaultProxy(live_collector.server.port, delay_s=0.05).start()
    try:
        live_agent.enroll(proxy.url, live_collector.token)
        live_agent.write_config()
        backlog = live_agent.fill_outbox(30, findings=20)
        live_agent.start()
        wait_for("10 report posts", _posted(proxy, 10), timeout=60)
        live_collector.server.kill9()  # somewhere inside an ingest, or between two
        assert len(live_collector.reports()) < 30
        time.sleep(1.0)
        live_collector.start()
        wait_for("the whole stream at the collector", lambda: len(live_collector.reports()) >= 30, timeout=120)
        wait_for("the outbox empty", lambda: live_agent.outbox_count() == 0, timeout=30)
        code, _took = live_agent.terminate()
        assert code == 0
    finally:
        proxy.stop()
    stored = live_collector.reports()
    assert [r.id for r in stored] == backlog  # every report stored once, in chain order
    assert_chain_intact(stored)
    assert live_collector.chain_gaps() == []
    assert live_agent.outbox().status()["refused"] == 0
