"""Real collector processes (``python -m duecare.collector serve``) on 127.0.0.1 random ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, db: str) -> list[str]:
    """Run an admin command; returns its output lines (secrets are the last one)."""
    out = subprocess.run(
        [sys.executable, "-m", "duecare.collector", *args, "--db", db],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip().splitlines()


class Server:
    def __init__(self, db: str, log: Path, port: int | None = None, *extra: str) -> None:
        self.db, self.log, self.extra = db, log, extra
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        #: e.g. ``ip netns exec NS``: the server then runs (and is checked) inside that namespace.
        self.prefix: list[str] = []

    def _healthy(self) -> bool:
        if not self.prefix:
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        check = f"import sys, urllib.request; urllib.request.urlopen({self.url + '/healthz'!r}, timeout=1)"
        return subprocess.run([*self.prefix, sys.executable, "-c", check], capture_output=True).returncode == 0

    def start(self, timeout: float = 30.0) -> Server:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    *self.prefix,
                    sys.executable,
                    "-m",
                    "duecare.collector",
                    "serve",
                    "--db",
                    self.db,
                    "--listen",
                    f"{self.host}:{self.port}",
                    "--log-level",
                    "warning",
                    *self.extra,
                ],
                cwd=REPO,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            if self._healthy():
                return self
            time.sleep(0.1)
        raise RuntimeError("collector did not become healthy")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()
