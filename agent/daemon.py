"""`duecare agent run`: scheduled scans, durable outbox, delivery, watchdog, clean SIGTERM.

Nothing here is half-written by a kill: a cycle's report enters the outbox in one SQLite
transaction at the end of the cycle, and delivery removes it only after the collector's receipt.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from duecare.agent.config import AgentConfig
from duecare.agent.cycle import CycleRunner, InProcess, ScanFn, StoredReport
from duecare.agent.delivery import Backoff, DeliveryResult, deliver_due
from duecare.agent.outbox import HoldPolicy, Outbox
from duecare.agent.sdnotify import notify, watchdog_interval
from duecare.agent.state import StateDir
from duecare.agent.window import inside

log = logging.getLogger("duecare.agent")

STATUS_FILE = "status.json"


def make_trigger(config: AgentConfig) -> CronTrigger:
    return CronTrigger(**_cron_fields(config.schedule.cron), jitter=config.schedule.jitter_s or None, timezone=UTC)


_CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")


def _cron_fields(expr: str) -> dict[str, str]:
    """Five crontab fields; six when a leading seconds field is given (fast schedules for tests/demos)."""
    parts = expr.split()
    if len(parts) == 6:
        return dict(zip(("second", *_CRON_FIELDS), parts, strict=True))
    if len(parts) != 5:
        raise ValueError(f"schedule.cron {expr!r}: need 5 fields (minute hour day month weekday)")
    return dict(zip(_CRON_FIELDS, parts, strict=True))


@dataclass
class AgentDaemon:
    config: AgentConfig
    state: StateDir
    #: ``ScanProcess()`` in the real daemon (scan and store in a child process); a plain scan
    #: function runs in this process (``InProcess``).
    scan: ScanFn | CycleRunner
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))
    delivery_every_s: float = 30.0
    backoff: Backoff = field(default_factory=Backoff)
    stop_grace_s: float = 60.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _cycle_lock: threading.Lock = field(default_factory=threading.Lock)
    #: One delivery at a time: two concurrent runs could send the head report twice, the second
    #: after a 503 the first just got, i.e. before the server's Retry-After (RFC 9110 §10.2.3).
    _deliver_lock: threading.Lock = field(default_factory=threading.Lock)
    _status_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.runner: CycleRunner = self.scan if isinstance(self.scan, CycleRunner) else InProcess(self.scan)
        c = self.config.collector
        hold = HoldPolicy(c.hold_after_errors, c.hold_after_s, c.held_retry_s)
        self.outbox = Outbox(self.state.outbox_path, hold=hold)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": self.config.schedule.misfire_grace_s,
            },
        )

    # -- jobs ---------------------------------------------------------------------------------
    def cycle(self) -> StoredReport | None:
        """One scan cycle; skipped outside the maintenance window; never overlaps another."""
        now = datetime.now(UTC)
        if not inside(self.config.schedule.maintenance_window, now.astimezone()):
            log.info("cycle skipped: outside maintenance window %s", self.config.schedule.maintenance_window)
            self._write_status(last_cycle={"at": now.isoformat(), "result": "skipped: outside window"})
            return None
        if not self._cycle_lock.acquire(blocking=False):
            log.warning("cycle skipped: previous cycle still running")
            return None
        try:
            if self._stop.is_set():
                return None
            self.state.enrollment()  # not enrolled: fail before scanning
            try:
                stored = self.runner.run(self.config, self.state, self._stop.is_set)
            except Exception:
                if not self._stop.is_set():
                    raise
                log.info("cycle abandoned at shutdown; nothing stored")
                return None
            self._write_status(
                last_cycle={
                    "at": now.isoformat(),
                    "finished": datetime.now(UTC).isoformat(),
                    "result": "ok",
                    "report_id": stored.report_id,
                    "report_hash": stored.report_hash,
                    "findings": stored.findings,
                }
            )
            log.info("cycle stored report %s (%d findings)", stored.report_id, stored.findings)
            self.deliver()
            return stored
        except Exception as exc:
            log.exception("cycle failed")
            self._write_status(last_cycle={"at": now.isoformat(), "result": f"failed: {type(exc).__name__}: {exc}"})
            return None
        finally:
            self._cycle_lock.release()

    def deliver(self) -> DeliveryResult | None:
        try:
            enrollment = self.state.enrollment()
        except Exception as exc:
            log.error("delivery skipped: %s", exc)
            return None
        with self._deliver_lock:
            result = deliver_due(
                self.outbox,
                enrollment,
                self.http,
                backoff=self.backoff,
                should_stop=self._stop.is_set,
                key=self.state.key,
            )
        if result.delivered or result.refused or result.held or result.error:
            log.info(
                "delivery: %d delivered, %d refused, %d held, error=%s",
                result.delivered,
                result.refused,
                result.held,
                result.error,
            )
        self._schedule_retry()
        return result

    def _schedule_retry(self) -> None:
        """Try again exactly when the oldest report's backoff (or Retry-After) ends, not at the
        next polling tick: a 30 s poll would add up to 30 s to every retry."""
        due = self.outbox.next_attempt_at()
        if due is None or self._stop.is_set() or not self.scheduler.running:
            return
        when = datetime.fromtimestamp(max(due, time.time()), UTC)
        self.scheduler.add_job(
            self.deliver, DateTrigger(run_date=when, timezone=UTC), id="deliver-retry", replace_existing=True
        )

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.scheduler.add_job(self.cycle, make_trigger(self.config), id="scan", name="scan cycle")
        # The first delivery runs at start: a backlog left by a crash or an outage goes out now.
        self.scheduler.add_job(
            self.deliver,
            IntervalTrigger(seconds=self.delivery_every_s, timezone=UTC),
            id="deliver",
            name="delivery",
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()
        nxt = self.scheduler.get_job("scan").next_run_time
        self._write_status(
            next_run=None if nxt is None else nxt.isoformat(),
            started=datetime.now(UTC).isoformat(),
            stopped=None,
            pid=os.getpid(),
        )

    def run_forever(self, install_signals: bool = True) -> bool:
        """Run until SIGTERM/SIGINT. False when a cycle or delivery outlived the stop grace: the
        caller must then end the process without joining the worker threads."""
        if install_signals:
            signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
            signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        self.start()
        notify("READY=1\nSTATUS=scheduled")
        tick = watchdog_interval() or 5.0
        while not self._stop.wait(tick):
            notify("WATCHDOG=1")
            job = self.scheduler.get_job("scan")
            if job is not None and job.next_run_time is not None:
                self._write_status(next_run=job.next_run_time.isoformat())
        notify("STOPPING=1")
        return self.shutdown()

    def shutdown(self) -> bool:
        """Stop within ``stop_grace_s``. A running cycle may finish storing its report and a
        delivery its one request in flight; past the grace both are abandoned, and the outbox
        transactions guarantee nothing half-written either way. True when nothing was abandoned."""
        self._stop.set()
        self.scheduler.shutdown(wait=False)
        self.runner.cancel()  # a scan still running would only be abandoned at its end
        deadline = time.monotonic() + self.stop_grace_s
        clean = True
        for lock in (self._cycle_lock, self._deliver_lock):
            if lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                lock.release()
            else:
                clean = False
        self._write_status(next_run=None, stopped=datetime.now(UTC).isoformat())
        if clean:
            self.http.close()
        else:
            log.warning("stop grace of %.0f s passed with work still running; abandoned", self.stop_grace_s)
        return clean

    def _write_status(self, **fields: Any) -> None:
        with self._status_lock:
            path = self.state.path / STATUS_FILE
            current = read_status(self.state.path)
            current.update(fields, host=socket.gethostname())
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps(current, indent=2, sort_keys=True))
            tmp.replace(path)


def read_status(state_dir: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((state_dir / STATUS_FILE).read_text())
        return data
    except (FileNotFoundError, ValueError):
        return {}
