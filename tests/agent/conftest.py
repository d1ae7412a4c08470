"""Fixtures for the agent's real-process tests (tests/agent/live.py)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from duecare.agent.state import StateDir
from tests.agent.live import AgentProcess, LiveCollector, assert_no_secrets


@pytest.fixture
def captured_logs() -> list[Path]:
    return []


@pytest.fixture
def live_collector(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveCollector]:
    """A real collector, NOT started: a test decides when it is up (and when it is down).
    Indirect parametrization passes extra `collector serve` arguments."""
    c = LiveCollector(tmp_path, None, *getattr(request, "param", ()))
    yield c
    c.stop()


@pytest.fixture
def live_agent(tmp_path: Path, captured_logs: list[Path], live_collector: LiveCollector) -> Iterator[AgentProcess]:
    """An agent state dir for `duecare agent …` processes. At teardown, whatever the test did,
    neither the credential nor the enrollment token may appear in anything the agent printed."""
    a = AgentProcess(tmp_path, captured_logs)
    yield a
    a.cleanup()
    secrets = [live_collector.token]
    if (StateDir(a.state_dir).path / "enrollment.json").exists():
        secrets += a.secrets()
    assert_no_secrets(captured_logs, secrets)


@pytest.fixture
def loopback_ns() -> Iterator[str]:
    """A network namespace of our own with only a loopback: the scan, the collector and the tarpit on
    port 23 live there, whatever listens on this machine's own 127.0.0.1:23."""
    from duecare.lab import netns
    from tests.lab.fixtures import require_lab

    require_lab()
    name = f"dcsig{os.getpid() % 100000}"
    netns.delete(name)
    netns.add(name)
    try:
        yield name
    finally:
        for pid in netns.pids(name):  # only processes inside our namespace: ours
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        netns.delete(name)
