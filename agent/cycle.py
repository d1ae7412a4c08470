"""One scan cycle's work: scan, then sign, chain and store the report in the outbox.

Two runners do it: ``InProcess`` around a plain scan function (tests, fault drills) and
``ScanProcess`` (``agent/scan_process.py``), which does both in a short-lived child process so
the daemon holds neither the scan stack nor the signing key while it waits (issue 19). Either
way the report enters the outbox in one SQLite transaction, or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from duecare.agent.errors import AgentError
from duecare.agent.outbox import Outbox
from duecare.agent.state import StateDir

if TYPE_CHECKING:
    from duecare.agent.config import AgentConfig
    from duecare.wire import Report

ScanFn = Callable[["AgentConfig"], "Report"]
ShouldStop = Callable[[], bool]


class CycleAbandoned(AgentError):
    """The daemon is stopping: the cycle's report, if any, was not stored."""


@dataclass(frozen=True)
class StoredReport:
    """What the daemon records of a stored cycle (``status.json``); the report itself is in the outbox."""

    report_id: str
    report_hash: str
    findings: int


@runtime_checkable
class CycleRunner(Protocol):
    def run(self, config: AgentConfig, state: StateDir, should_stop: ShouldStop) -> StoredReport: ...

    def cancel(self) -> None:
        """End a running cycle now: the daemon is stopping and would abandon its report anyway."""


def store(outbox: Outbox, state: StateDir, report: Report) -> StoredReport:
    """Stamp the agent's identity on the report, then sign, chain and store it in one transaction."""
    enrollment = state.enrollment()
    report = report.model_copy(update={"agent_id": enrollment.agent_id, "site_id": enrollment.site_id})
    _env, digest = outbox.add(report, state.key())
    return StoredReport(str(report.report_id), digest, len(report.findings))


@dataclass
class InProcess:
    """A scan function run in the daemon's own process (it imports whatever the function needs)."""

    scan: ScanFn

    def run(self, config: AgentConfig, state: StateDir, should_stop: ShouldStop) -> StoredReport:
        report = self.scan(config)
        if should_stop():
            raise CycleAbandoned("stopping: the finished scan's report was not stored")
        return store(Outbox(state.outbox_path), state, report)

    def cancel(self) -> None:
        """A thread cannot be ended from outside: the scan runs on, and ``run`` abandons its report."""
