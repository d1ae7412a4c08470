"""A scheduled cycle in its own short-lived process, so the daemon never holds the scan stack.

The scan imports nmap, scapy, impacket, every probe and the advisory catalog (~40 MB) and
allocates per host; a daemon that scanned in-process would keep all of that between cycles, for
years. ``ScanProcess`` instead runs ``python -m duecare.agent.scan_process``: a fresh interpreter
that reads the config and state directory on stdin, scans, stores the report in the outbox
(signed, chained, one transaction: ``cycle.store``), answers with the stored report's id on its
result channel and exits, giving all of that memory back. The daemon keeps only what waiting
needs: the scheduler, the outbox and delivery, and never loads the signing key (issue 19).

Stopping: the daemon ends a running cycle with SIGTERM to the child's process group (the child
and its nmap runs). Before the store the child leaves at once (the daemon would abandon the
report anyway); during the store it finishes the transaction first, so a report is stored
completely or not at all. The child runs in its own session, so a terminal's Ctrl-C reaches only
the daemon, which ends the child itself; if the daemon dies without doing so, the child sees its
stdin close and ends its group.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from duecare.agent.cycle import ShouldStop, StoredReport
from duecare.agent.errors import AgentError
from duecare.agent.state import StateDir
from duecare.wire.models import Vantage

if TYPE_CHECKING:
    from duecare.agent.config import AgentConfig

log = logging.getLogger("duecare.agent")

MODULE = "duecare.agent.scan_process"
#: Environment the child must not inherit: systemd's notify socket and watchdog are the daemon's.
_DAEMON_ONLY_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")


class ScanProcessError(AgentError):
    """The cycle's process failed, was ended, or answered something that is not a stored report."""


class ScanProcess:
    """The daemon's cycle runner: one child process per cycle (``cycle.CycleRunner``)."""

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._cancelled = False

    def run(self, config: AgentConfig, state: StateDir, should_stop: ShouldStop) -> StoredReport:
        env = {k: v for k, v in os.environ.items() if k not in _DAEMON_ONLY_ENV}
        request = json.dumps({"config": config.model_dump(mode="json"), "state_dir": str(state.path)})
        with self._lock:
            if self._cancelled or should_stop():
                raise ScanProcessError("stopping: no cycle started")
            # -P: the module comes from the installed package, never from the working directory.
            proc = subprocess.Popen(
                [self.python, "-P", "-m", MODULE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
            self._proc = proc
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            proc.stdin.write(request.encode() + b"\n")
            proc.stdin.flush()
            out = proc.stdout.read()  # until the child closes its result channel
            code = proc.wait()
        except BaseException:
            _end(proc, signal.SIGKILL)  # an interrupted daemon (Ctrl-C in --once) takes its cycle along
            raise
        finally:
            with self._lock:
                self._proc = None
            proc.stdin.close()  # the child's cue that we are gone, should it still be running
            proc.stdout.close()
        return _answer(out, code)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            proc = self._proc
        if proc is not None:
            _end(proc, signal.SIGTERM)


def _end(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # The child leads its own process group (start_new_session). Until it is reaped its pid, and
    # so the group's id, cannot belong to anyone else.
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)


def _answer(out: bytes, code: int) -> StoredReport:
    try:
        answer = json.loads(out) if out else {}
    except ValueError as exc:
        raise ScanProcessError(f"cycle process (exit {code}) answered something that is not JSON: {exc}") from exc
    stored = answer.get("stored") if isinstance(answer, dict) else None
    if isinstance(stored, dict):
        return StoredReport(str(stored["report_id"]), str(stored["report_hash"]), int(stored["findings"]))
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        raise ScanProcessError(answer["error"])
    if code < 0:
        raise ScanProcessError(f"cycle process ended by {signal.Signals(-code).name}")
    raise ScanProcessError(f"cycle process exited {code} without storing a report")


# -- the child ------------------------------------------------------------------------------------
_storing = threading.Event()


def _on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """Stop now, unless the report is being stored: then the transaction finishes first."""
    if _storing.is_set():
        log.info("stop requested while storing the report; finishing the store first")
        return
    _leave_now(128 + signum)


def _leave_now(code: int) -> None:
    if os.getpgrp() == os.getpid():  # our own group: us and any nmap still running
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(code)


def _read_line(fd: int) -> bytes:
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def _end_with_parent(fd: int) -> None:
    """The daemon holds our stdin open while it waits for us: end of file means it is gone."""
    while os.read(fd, 4096):
        pass
    if not _storing.is_set():
        log.warning("the daemon went away; cycle abandoned")
        _leave_now(1)


def _cycle(request: bytes) -> StoredReport:
    from duecare.agent.config import AgentConfig
    from duecare.agent.cycle import store
    from duecare.agent.outbox import Outbox
    from duecare.agent.run import scan_for_daemon

    data = json.loads(request)
    state = StateDir(Path(data["state_dir"]))
    enrollment = state.enrollment()  # not enrolled: fail before scanning
    declared: list[str] | None = None
    if enrollment.vantage is Vantage.INTERNET:  # the site's declared public addresses, this cycle's
        import httpx

        from duecare.agent.enroll import fetch_site_public

        with httpx.Client(timeout=30.0) as client:
            declared = fetch_site_public(enrollment, client)
    report = scan_for_daemon(AgentConfig.model_validate(data["config"]), declared)
    _storing.set()
    return store(Outbox(state.outbox_path), state, report)


def main() -> int:
    from duecare.agent.logs import setup_logging

    result = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever a library prints goes to the log stream, never into the answer
    setup_logging()
    signal.signal(signal.SIGTERM, _on_sigterm)
    request = _read_line(0)
    threading.Thread(target=_end_with_parent, args=(0,), name="daemon-watch", daemon=True).start()
    try:
        stored = _cycle(request)
        answer = json.dumps({"stored": asdict(stored)})
    except Exception as exc:
        log.exception("cycle failed in its process")
        answer = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
    result.write(answer)
    result.close()
    return 0 if answer.startswith('{"stored"') else 1


if __name__ == "__main__":
    sys.exit(main())
