"""The daemon's cycle process (`agent/scan_process.py`): failures named, stops honoured, no orphans.

The full daemon paths (SIGTERM during a scan within and past the grace, delivery) are in
test_daemon_signals.py; these drive the child directly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from duecare.agent.config import AgentConfig
from duecare.agent.outbox import Outbox
from duecare.agent.scan_process import MODULE, ScanProcess, ScanProcessError
from duecare.agent.state import Enrollment, StateDir
from tests.agent.live import REPO, NetnsTarpit, wait_for

pytestmark = pytest.mark.timeout(120)

#: Loopback, the probes' ports only, and a telnet read that waits 20 s on a tarpit.
SLOW = {"scope": {"targets": ["127.0.0.1/32"]}, "ports": {"top_tcp": 0}, "timeouts": {"read": 20, "probe": 25}}


def _enrolled(tmp: Path) -> StateDir:
    state = StateDir(tmp / "state").ensure()
    state.key(create=True)
    state.save_enrollment(
        Enrollment(collector_url="http://127.0.0.1:9", agent_id="a", site_id="s", client_id="c", credential="x" * 40)
    )
    return state


def _pending(state: StateDir) -> int:
    value = Outbox(state.outbox_path).status()["pending"]
    assert isinstance(value, int)
    return value


def _group_alive(pgid: int, settle_s: float = 5.0) -> list[int]:
    """Processes still in a process group (the cycle's child and its nmap runs) once ``settle_s`` has
    passed or none is left: a process killed with SIGKILL is gone only when the kernel has torn it
    down, which on a loaded machine is not instant (CI once saw one a moment after the kill)."""
    deadline = time.monotonic() + settle_s
    while (alive := _in_group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def _in_group(pgid: int) -> list[int]:
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                alive.append(int(entry.name))
    return alive


def test_a_failing_cycle_names_the_cause_and_stores_nothing(tmp_path: Path) -> None:
    state = _enrolled(tmp_path)
    with pytest.raises(ScanProcessError, match=r"^ScopeError: the config: \[scope\] targets is empty"):
        ScanProcess().run(AgentConfig(), state, lambda: False)
    assert _pending(state) == 0


def test_an_unenrolled_state_fails_before_scanning(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "empty").ensure()
    with pytest.raises(ScanProcessError, match=r"^StateError: .*not enrolled"):
        ScanProcess().run(AgentConfig.model_validate(SLOW), state, lambda: False)


def test_no_cycle_starts_once_stopping(tmp_path: Path) -> None:
    runner = ScanProcess()
    runner.cancel()
    with pytest.raises(ScanProcessError, match="no cycle started"):
        runner.run(AgentConfig.model_validate(SLOW), _enrolled(tmp_path), lambda: False)


def test_a_stop_while_storing_lets_the_store_finish() -> None:
    """SIGTERM during the store is held until the transaction is done; before it, it ends the process."""
    script = textwrap.dedent(
        """
        import os, signal, sys
        from duecare.agent import scan_process as sp
        signal.signal(signal.SIGTERM, sp._on_sigterm)
        sp._storing.set()
        os.kill(os.getpid(), signal.SIGTERM)
        print("stored", flush=True)
        sp._storing.clear()
        os.kill(os.getpid(), signal.SIGTERM)
        print("not reached", flush=True)
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, start_new_session=True, check=False
    )
    assert r.stdout == "stored\n"
    assert r.returncode == -signal.SIGKILL  # it ended its own process group


def _python_in(netns: str, tmp_path: Path) -> str:
    """An interpreter that runs inside ``netns`` (``exec``: the same pid, the same process group)."""
    wrapper = tmp_path / "python-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {netns} {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.mark.lab  # root: its own network namespace, where the tarpit listens on port 23 (the telnet probe's)
def test_cancel_ends_a_running_cycle_at_once(tmp_path: Path, loopback_ns: str) -> None:
    state = _enrolled(tmp_path)
    pit = NetnsTarpit(loopback_ns, 23)
    runner = ScanProcess(python=_python_in(loopback_ns, tmp_path))
    errors: list[BaseException] = []

    def cycle() -> None:
        try:
            runner.run(AgentConfig.model_validate(SLOW), state, lambda: False)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=cycle)
    try:
        worker.start()
        wait_for("the cycle's telnet probe at the tarpit", lambda: pit.accepted >= 1, timeout=60)
        pid = runner._proc.pid if runner._proc else 0
        started = time.monotonic()
        runner.cancel()
        worker.join(10)
        assert not worker.is_alive()
        assert time.monotonic() - started < 5  # not the 20 s read timeout
    finally:
        pit.close()
    assert len(errors) == 1
    assert isinstance(errors[0], ScanProcessError)
    assert "ended by SIG" in str(errors[0])
    assert _group_alive(pid) == []
    assert _pending(state) == 0


@pytest.mark.lab  # root: its own network namespace, where the tarpit listens on port 23
def test_a_cycle_whose_daemon_is_gone_ends_with_its_group(tmp_path: Path, loopback_ns: str) -> None:
    """The daemon holds the child's stdin; when it closes (the daemon died), the child and its
    nmap runs end instead of scanning on as orphans."""
    state = _enrolled(tmp_path)
    pit = NetnsTarpit(loopback_ns, 23)
    request = json.dumps(
        {"config": AgentConfig.model_validate(SLOW).model_dump(mode="json"), "state_dir": str(state.path)}
    )
    child = subprocess.Popen(
        [_python_in(loopback_ns, tmp_path), "-P", "-m", MODULE],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert child.stdin is not None
    try:
        child.stdin.write(request.encode() + b"\n")
        child.stdin.flush()
        wait_for("the cycle's telnet probe at the tarpit", lambda: pit.accepted >= 1, timeout=60)
        started = time.monotonic()
        child.stdin.close()
        code = child.wait(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        pit.close()
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    assert child.stderr is not None and child.stdout is not None
    with child.stderr, child.stdout:  # closed whatever is asserted below
        logged = [json.loads(x) for x in child.stderr.read().decode().splitlines()]
    assert code == -signal.SIGKILL
    assert _group_alive(child.pid) == []
    assert _pending(state) == 0
    assert any(x["msg"] == "the daemon went away; cycle abandoned" for x in logged)
