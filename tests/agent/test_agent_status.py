"""`duecare agent status` on a real state dir after real runs: last cycle, next run, outbox
depth, last delivery, the capability self-test; and the JSON logs of those runs."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from duecare.agent.privileges import can_use_raw_sockets
from tests.agent.live import DUECARE, REPO, AgentProcess, LiveCollector, wait_for

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def _next_0300(now: datetime) -> datetime:
    at = now.replace(hour=3, minute=0, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def test_status_after_once_runs_and_a_daemon(live_agent: AgentProcess, live_collector: LiveCollector) -> None:
    live_collector.start()
    live_agent.enroll(live_collector.url, live_collector.token)
    live_agent.write_config(cron="0 3 * * *")
    assert live_agent.once().returncode == 0

    s = live_agent.status()
    stored = live_collector.reports()
    assert s["last_cycle"]["result"] == "ok"
    assert s["last_cycle"]["report_id"] == stored[-1].id
    assert s["last_cycle"]["report_hash"] == stored[-1].report_hash
    assert s["outbox"]["pending"] == 0
    assert s["outbox"]["chain_head"] == stored[-1].report_hash
    last_delivery = datetime.fromisoformat(s["outbox"]["last_delivery"])
    assert datetime.now(UTC) - last_delivery < timedelta(minutes=1)
    assert s["enrolled"]["collector"] == live_collector.url
    # The self-test is tried, not guessed: it agrees with this (same-privileged) test process.
    raw = can_use_raw_sockets()
    assert s["capabilities"]["raw_sockets"] is raw
    assert s["capabilities"]["scan_mode"].startswith("syn" if raw else "connect")
    assert s["running"] is False
    assert "next_run" not in s  # --once has no schedule

    # The collector goes away: the next cycle is kept, and status says why and when it retries.
    live_collector.stop()
    assert live_agent.once().returncode == 0
    s = live_agent.status()
    assert s["outbox"]["pending"] == 1
    assert "ConnectError" in s["outbox"]["last_error"]
    assert datetime.fromisoformat(s["outbox"]["next_attempt_at"]) > datetime.now(UTC)
    assert datetime.fromisoformat(s["outbox"]["last_delivery"]) == last_delivery

    # The daemon, idle until 03:00 UTC: status shows it running and its next run.
    live_collector.start()
    live_agent.start()
    wait_for("the daemon's status", lambda: live_agent.status().get("running") is True, timeout=20)
    s = live_agent.status()
    assert datetime.fromisoformat(s["next_run"]) == _next_0300(datetime.now(UTC))
    assert s["pid"] == live_agent.pid
    wait_for("the kept report delivered at start", lambda: live_agent.outbox_count() == 0, timeout=20)
    code, _ = live_agent.terminate()
    assert code == 0
    s = live_agent.status()
    assert (s["running"], s["next_run"]) == (False, None)
    assert s["stopped"] is not None
    assert s["outbox"]["pending"] == 0
    assert len(live_collector.reports()) == 2

    # Every line any run wrote on stderr is one JSON object.
    logged = live_agent.daemon_log()
    assert {x["logger"] for x in logged} >= {"duecare.agent", "duecare.delivery"}
    assert all({"ts", "level", "msg"} <= x.keys() for x in logged)


@pytest.mark.lab  # root: dropping a capability from the bounding set needs CAP_SETPCAP
def test_capability_self_test_without_cap_net_raw(live_agent: AgentProcess, live_collector: LiveCollector) -> None:
    """Root without CAP_NET_RAW (dropped from the bounding set) cannot open raw sockets: status says so."""
    live_collector.start()
    live_agent.enroll(live_collector.url, live_collector.token)
    out = subprocess.run(
        [
            "setpriv",
            "--bounding-set",
            "-net_raw",
            DUECARE,
            "agent",
            "status",
            "--json",
            "--state-dir",
            str(live_agent.state_dir),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    caps = json.loads(out.stdout)["capabilities"]
    assert caps["raw_sockets"] is False
    assert caps["scan_mode"].startswith("connect")
