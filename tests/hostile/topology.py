"""A private namespace LAN with one hostile host (server.py), one idle host and a scanner.

``<prefix>-br`` holds the bridge; ``<prefix>-scan`` (198.19.66.2), ``<prefix>-bad`` (198.19.66.66,
runs server.py) and ``<prefix>-idle`` (198.19.66.67, nothing listening: the baseline a scan's
memory is compared with) each have ``eth0`` on it. Links are made with lab/netns.py, so no
interface, route or address ever exists in the root namespace. ``down()`` ends the server by PID
(and anything else left inside these namespaces) and deletes the namespaces.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from duecare.lab import netns, procs

SERVER = Path(__file__).resolve().parent / "server.py"
SUBNET = "198.19.66.0/24"
SCANNER_IP = "198.19.66.2"
HOSTILE_IP = "198.19.66.66"
IDLE_IP = "198.19.66.67"
READY_WITHIN_S = 20.0


class HostileLab:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.bridge_ns = f"{prefix}-br"
        self.scanner_ns = f"{prefix}-scan"
        self.hostile_ns = f"{prefix}-bad"
        self.idle_ns = f"{prefix}-idle"
        self.workdir: Path | None = None
        self._refs: list[procs.ProcRef] = []
        self._popens: list[subprocess.Popen[bytes]] = []

    @property
    def namespaces(self) -> list[str]:
        return [self.bridge_ns, self.scanner_ns, self.hostile_ns, self.idle_ns]

    def exec_argv(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the scanner namespace."""
        return [*netns.exec_prefix(self.scanner_ns), *argv]

    def up(self) -> HostileLab:
        self.down()
        try:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"duecare-hostile-{self.prefix}-"))
            netns.add(self.bridge_ns)
            netns.add_bridge(self.bridge_ns)
            for octet, ns, ip in (
                (2, self.scanner_ns, SCANNER_IP),
                (66, self.hostile_ns, HOSTILE_IP),
                (67, self.idle_ns, IDLE_IP),
            ):
                netns.add(ns)
                netns.attach(self.bridge_ns, ns, f"v{octet}", f"02:dc:66:00:00:{octet:02x}", f"{ip}/24")
            self._start_server()
        except BaseException:
            self.down()
            raise
        return self

    def _start_server(self) -> None:
        assert self.workdir is not None
        log = self.workdir / "server.out"
        argv = [
            *netns.exec_prefix(self.hostile_ns),
            sys.executable,
            "-u",
            str(SERVER),
            "--bind",
            HOSTILE_IP,
            "--certs",
            str(self.workdir / "certs"),
        ]
        popen, ref = procs.spawn(argv, log, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, name="hostile", host="bad")
        self._refs.append(ref)
        self._popens.append(popen)
        deadline = time.monotonic() + READY_WITHIN_S
        while "hostile: ready" not in log.read_text(errors="replace"):
            if not procs.alive(ref) or time.monotonic() > deadline:
                raise RuntimeError(f"hostile server did not start:\n{procs.log_tail(log)}")
            time.sleep(0.05)

    def down(self) -> None:
        swept = [pid for ns in self.namespaces for pid in netns.pids(ns)]
        procs.terminate(self._refs, swept, grace=2.0)
        for popen in self._popens:  # reaped here, or the Popen object warns that it still runs
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=5)
        self._popens.clear()
        self._refs.clear()
        for ns in self.namespaces:
            netns.delete(ns)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> HostileLab:
        return self.up()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()
