"""Scheduling with explicit clocks: jitter bounds, coalescing after a suspend, no overlap."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from duecare.agent.config import AgentConfig
from duecare.agent.daemon import AgentDaemon, make_trigger
from duecare.agent.state import Enrollment, StateDir
from duecare.agent.window import inside
from duecare.wire import Report
from tests.agent.factories import make_report


def _cfg(**schedule: object) -> AgentConfig:
    return AgentConfig.model_validate({"schedule": {"cron": "0 2 * * *", "jitter_s": 900, **schedule}})


def test_jitter_stays_within_bounds() -> None:
    trig = make_trigger(_cfg())
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    for day in range(200):
        now = start + timedelta(days=day, minutes=day % 60)
        nxt = trig.get_next_fire_time(None, now)
        assert nxt is not None
        base = (now + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
        assert base <= nxt <= base + timedelta(seconds=900), (now, nxt)


def test_jitter_zero_is_exact() -> None:
    trig = make_trigger(_cfg(jitter_s=0))
    nxt = trig.get_next_fire_time(None, datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    assert nxt == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _run_missed(coalesce: bool) -> int:
    calls: list[int] = []
    sched = BackgroundScheduler(timezone=UTC, executors={"default": DebugExecutor()})
    trig = make_trigger(_cfg(jitter_s=0))
    # The box was suspended for three days: three 02:00 runs are due at once.
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).replace(hour=2, minute=0, second=0, microsecond=0)
    sched.add_job(
        lambda: calls.append(1),
        trig,
        coalesce=coalesce,
        max_instances=1,
        misfire_grace_time=10 * 86400,
        next_run_time=three_days_ago,
    )
    sched.start()  # its first wake-up, at the real "now", finds the missed runs
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    sched.shutdown(wait=False)
    return len(calls)


def test_missed_runs_coalesce_into_one() -> None:
    assert _run_missed(coalesce=False) >= 3
    assert _run_missed(coalesce=True) == 1


def test_cycles_never_overlap(tmp_path: Path) -> None:
    state = StateDir(tmp_path).ensure()
    state.key(create=True)
    state.save_enrollment(
        Enrollment(collector_url="http://127.0.0.1:9", agent_id="a", site_id="s", client_id="c", credential="x" * 40)
    )
    entered = threading.Event()
    release = threading.Event()
    scans: list[int] = []

    def slow_scan(_cfg: AgentConfig) -> Report:
        scans.append(1)
        entered.set()
        release.wait(10)
        return make_report()

    d = AgentDaemon(_cfg(), state, slow_scan)
    first = threading.Thread(target=d.cycle)
    first.start()
    assert entered.wait(5)
    assert d.cycle() is None  # overlapping cycle refused at once
    release.set()
    first.join(10)
    assert scans == [1]
    assert d.outbox.status()["pending"] == 1  # the collector at port 9 is down: kept, not lost
    d.http.close()


def test_maintenance_window_wraps_midnight() -> None:
    assert inside("22:00-04:00", datetime(2026, 1, 1, 23, 30))
    assert inside("22:00-04:00", datetime(2026, 1, 1, 3, 59))
    assert not inside("22:00-04:00", datetime(2026, 1, 1, 12, 0))
    assert inside(None, datetime(2026, 1, 1, 12, 0))
