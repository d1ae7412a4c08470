"""SIGTERM to a real `duecare agent run`: during a scan, during a delivery, within and past the grace.

After every stop: the outbox opens, `duecare verify` passes on the state dir, and the report of
the interrupted cycle is either stored completely (at the agent and at the collector) or not at all.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.agent.fault_proxy import FaultProxy
from tests.agent.live import (
    DUECARE,
    REPO,
    AgentProcess,
    LiveCollector,
    NetnsTarpit,
    assert_chain_intact,
    wait_for,
)

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

#: A probe's read timeout against the tarpit: how long the interrupted cycle would still run.
SLOW_SCAN = "[timeouts]\nread = 20\nprobe = 25\n"


@pytest.fixture
def tarpit() -> Iterator[list[NetnsTarpit]]:
    """Opened by the test when it wants slow scans; closed at the end whatever happens."""
    opened: list[NetnsTarpit] = []
    yield opened
    for t in opened:
        t.close()


def _verify(agent: AgentProcess) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DUECARE, "verify", "--state-dir", str(agent.state_dir)], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def _held(agent: AgentProcess) -> list[str]:
    return [str(e.report["report_id"]) for e in agent.outbox().envelopes()]


def _first_report(agent: AgentProcess, collector: LiveCollector) -> None:
    """Enroll and deliver one real cycle, so the chain has a head to continue from."""
    collector.start()
    agent.enroll(collector.url, collector.token)
    agent.write_config()
    out = agent.once()
    assert out.returncode == 0, out.stderr


def _after_stop_state_is_sound(agent: AgentProcess, collector: LiveCollector) -> None:
    assert agent.outbox_count("refused") == 0
    verified = _verify(agent)
    assert verified.returncode == 0, verified.stderr
    status = agent.status()
    assert status["running"] is False
    assert status["stopped"] is not None
    assert status["next_run"] is None


@pytest.mark.lab  # root: its own network namespace, where the tarpit listens on port 23
@pytest.mark.parametrize("grace", [None, 2.0], ids=["within-grace", "past-grace"])
def test_sigterm_during_scan(
    grace: float | None,
    live_agent: AgentProcess,
    live_collector: LiveCollector,
    tarpit: list[NetnsTarpit],
    loopback_ns: str,
) -> None:
    live_collector.isolate(loopback_ns)
    live_agent.isolate(loopback_ns)
    _first_report(live_agent, live_collector)
    # Port 23: the telnet probe's port, so a loopback scan connects to it and waits for a banner.
    pit = NetnsTarpit(loopback_ns, 23)
    tarpit.append(pit)
    live_agent.write_config(cron="*/2 * * * * *", extra=SLOW_SCAN)
    live_agent.start(*([] if grace is None else ["--stop-grace", str(grace)]))
    wait_for("the cycle's telnet probe at the tarpit", lambda: pit.accepted >= 1, timeout=30)
    code, took = live_agent.terminate()
    assert code == 0
    if grace is None:
        # The scan may finish (its probe times out after 20 s) inside the default 60 s grace.
        assert took < 30
    else:
        assert took < grace + 5, f"stopped after {took:.1f} s, not within the {grace} s grace"
        assert any("abandoned" in x["msg"] for x in live_agent.daemon_log())
    # The interrupted cycle left nothing behind: no half report, at the agent or the collector.
    assert len(_held(live_agent)) == 1
    assert [r.id for r in live_collector.reports()] == _held(live_agent)
    _after_stop_state_is_sound(live_agent, live_collector)
    pit.close()
    live_agent.write_config()
    out = live_agent.once()  # and the next cycle continues the chain
    assert out.returncode == 0, out.stderr
    assert [r.id for r in live_collector.reports()] == _held(live_agent)
    assert_chain_intact(live_collector.reports())


@pytest.mark.parametrize("grace", [None, 1.0], ids=["within-grace", "past-grace"])
def test_sigterm_during_delivery(grace: float | None, live_agent: AgentProcess, live_collector: LiveCollector) -> None:
    """A backlog of three, each POST held 6 s by a slow collector; SIGTERM while the first is in flight."""
    live_collector.start()
    proxy = FaultProxy(live_collector.server.port, delay_s=6.0).start()
    try:
        live_agent.enroll(proxy.url, live_collector.token)
        live_agent.write_config()
        backlog = live_agent.fill_outbox(3)
        live_agent.start(*([] if grace is None else ["--stop-grace", str(grace)]))
        wait_for("the first report in flight", lambda: proxy.arrived >= 1, timeout=20)
        code, took = live_agent.terminate()
        assert code == 0
        # Past the grace it leaves before the 6 s request is answered; within, just after.
        assert took < (10 if grace is None else grace + 4)
        # The request in flight reaches the collector either way; no second one is started.
        wait_for("the in-flight report stored", lambda: len(live_collector.reports()) == 1, timeout=10)
        time.sleep(0.5)
        assert proxy.arrived == 1
        if grace is None:  # it waited for the receipt: stored at both ends
            assert live_agent.outbox_count() == 2
        else:  # it left before the receipt: still pending, to be sent again
            assert live_agent.outbox_count() == 3
        _after_stop_state_is_sound(live_agent, live_collector)
        proxy.delay_s = 0
        live_agent.start()
        wait_for("the backlog delivered", lambda: live_agent.outbox_count() == 0, timeout=30)
        live_agent.terminate()
    finally:
        proxy.stop()
    stored = live_collector.reports()
    assert [r.id for r in stored] == backlog
    assert_chain_intact(stored)
    codes = [s.status for s in proxy.report_posts()]
    assert codes == ([201, 201, 201] if grace is None else [201, 200, 201, 201]), codes
