"""Real processes for the agent's fault tests: a collector (uvicorn, SQLite) and `duecare agent`.

Everything listens on 127.0.0.1. Every agent process writes its stderr to a file under the
harness's log directory, so a test can check that no secret ever reached a log.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from duecare.agent.outbox import Outbox
from duecare.agent.state import StateDir
from duecare.collector import admin
from duecare.collector.db import migrate
from duecare.collector.db.models import ChainGap
from duecare.collector.db.models import Report as ReportRow
from duecare.collector.db.session import Database, make_engine
from tests.agent.factories import make_report
from tests.collector.processes import Server, free_port

DUECARE = str(Path(sys.executable).with_name("duecare"))
REPO = Path(__file__).resolve().parents[2]

#: A schedule that never fires during a test (the daemon then only delivers).
NEVER = "0 0 1 1 *"


def wait_for(what: str, check: Callable[[], bool], timeout: float, every: float = 0.1) -> float:
    """Poll until ``check()``; returns the seconds it took (the timeout is a ceiling, not a wait)."""
    started = time.monotonic()
    while time.monotonic() < started + timeout:
        if check():
            return time.monotonic() - started
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (load {os.getloadavg()[0]:.1f})")


@dataclass(frozen=True)
class StoredReport:
    id: str
    sequence: int
    report_hash: str
    previous_report_hash: str | None
    chain_gap: bool


class LiveCollector:
    """`duecare collector serve` on SQLite in tmp, with one client, one site and a read key."""

    def __init__(self, tmp: Path, port: int | None = None, *serve_args: str) -> None:
        self.db = f"sqlite:///{tmp / 'collector.db'}"
        # The tenant is made in-process (the admin CLI is the collector's own tests' business):
        # four CLI processes would cost ~10 s per test on a loaded machine.
        database = Database(make_engine(self.db))
        try:
            migrate.upgrade(database.engine)
            admin.add_client(database, "acme")
            admin.add_site(database, "acme", "hq")
            self.token = admin.mint_enrollment_token(database, "acme", "hq", timedelta(hours=1)).secret
            self.reader_key = admin.add_reader(database, None, "test", all_clients=True).secret
        finally:
            database.dispose()
        self.server = Server(self.db, tmp / "collector.log", port or free_port(), *serve_args)
        self.url = self.server.url

    def start(self) -> LiveCollector:
        self.server.start()
        return self

    def isolate(self, netns: str) -> None:
        """Serve from inside ``netns`` (127.0.0.1 there), e.g. beside a tarpit on a privileged port."""
        self.server.prefix = ["ip", "netns", "exec", netns]

    def stop(self) -> None:
        self.server.stop()

    def reports(self) -> list[StoredReport]:
        """Every stored report, in the collector's ingest order."""
        database = Database(make_engine(self.db))
        try:
            with database.read() as s:
                rows = s.scalars(select(ReportRow).order_by(ReportRow.sequence)).all()
                return [
                    StoredReport(r.id, r.sequence, r.report_hash, r.previous_report_hash, r.chain_gap) for r in rows
                ]
        finally:
            database.dispose()

    def chain_gaps(self) -> list[tuple[str, str | None, str | None]]:
        database = Database(make_engine(self.db))
        try:
            with database.read() as s:
                rows = s.scalars(select(ChainGap).order_by(ChainGap.id)).all()
                return [(g.report_id, g.expected, g.got) for g in rows]
        finally:
            database.dispose()


def assert_chain_intact(stored: list[StoredReport]) -> None:
    """Each stored report names the one stored before it: nothing lost, doubled or reordered."""
    assert [r.chain_gap for r in stored] == [False] * len(stored), stored
    assert len({r.id for r in stored}) == len(stored)
    for before, after in itertools.pairwise(stored):
        assert after.previous_report_hash == before.report_hash, (before, after)


class AgentProcess:
    """One agent's state directory, config and the real `duecare agent …` processes run on it."""

    def __init__(self, tmp: Path, logs: list[Path], name: str = "agent") -> None:
        self.dir = tmp / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.dir / "state"
        self.config = self.dir / "agent.toml"
        self.logs = logs
        self.proc: subprocess.Popen[bytes] | None = None
        self._runs = 0
        self.prefix: list[str] = []

    def isolate(self, netns: str) -> None:
        """Run every `duecare agent …` inside ``netns``: its loopback scan then sees only that namespace."""
        self.prefix = ["ip", "netns", "exec", netns]

    def write_config(self, *, cron: str = NEVER, targets: tuple[str, ...] = ("127.0.0.1/32",), extra: str = "") -> None:
        # Only the ports the probes need (top_tcp = 0, and the default range for scheduled cycles
        # too, not every TCP port): a loopback scan takes about a second, so a 3-second schedule
        # really runs a cycle every 3 seconds whatever else listens on this machine.
        quoted = ", ".join(f'"{t}"' for t in targets)
        self.config.write_text(
            f'[scope]\ntargets = [{quoted}]\n[ports]\ntop_tcp = 0\nnightly_tcp_range = "default"\n'
            f'[schedule]\ncron = "{cron}"\njitter_s = 0\n{extra}'
        )

    def _log(self, what: str) -> Path:
        self._runs += 1
        path = self.dir / f"{self._runs:02d}-{what}.stderr"
        self.logs.append(path)
        return path

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A `duecare agent …` command to completion; stderr is kept for the secrets check."""
        log = self._log(args[0])
        with log.open("w") as err:
            out = subprocess.run(
                [*self.prefix, DUECARE, "agent", *args, "--state-dir", str(self.state_dir)],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                timeout=timeout,
            )
        out.stderr = log.read_text()
        self.logs.append(log.with_suffix(".stdout"))
        log.with_suffix(".stdout").write_text(out.stdout)
        return out

    def enroll(self, url: str, token: str) -> None:
        token_file = self.dir / "token"
        token_file.write_text(token + "\n")
        out = self.run("enroll", "--collector", url, "--token-file", str(token_file))
        assert out.returncode == 0, out.stderr
        token_file.unlink()

    def once(self, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.run("run", "--once", "--config", str(self.config), timeout=timeout)

    def status(self) -> dict[str, Any]:
        out = self.run("status", "--json")
        assert out.returncode == 0, out.stderr
        data: dict[str, Any] = json.loads(out.stdout)
        return data

    def start(self, *extra: str) -> AgentProcess:
        """`duecare agent run` as the daemon, in the background."""
        with self._log("daemon").open("w") as err:
            self.proc = subprocess.Popen(
                [
                    *self.prefix,
                    DUECARE,
                    "agent",
                    "run",
                    "--config",
                    str(self.config),
                    "--state-dir",
                    str(self.state_dir),
                    *extra,
                ],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def terminate(self, timeout: float = 60) -> tuple[int, float]:
        """SIGTERM; returns the exit code and how long the process took to leave."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill9()

    # -- the state directory, read the way the agent reads it --------------------------------
    def outbox(self) -> Outbox:
        return Outbox(StateDir(self.state_dir).outbox_path)

    def outbox_count(self, what: str = "pending") -> int:
        value = self.outbox().status()[what]
        assert isinstance(value, int)
        return value

    def daemon_log(self) -> list[dict[str, Any]]:
        """The JSON lines of every daemon and --once run so far (each line must be JSON)."""
        lines: list[dict[str, Any]] = []
        for path in self.logs:
            if path.parent == self.dir and path.name.endswith(("-daemon.stderr", "-run.stderr")) and path.exists():
                lines += [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        return lines

    def fill_outbox(self, n: int, findings: int = 1) -> list[str]:
        """A backlog as the daemon leaves it when the collector is away: chained, signed, pending."""
        state = StateDir(self.state_dir)
        key: Ed25519PrivateKey = state.key()
        ob = self.outbox()
        return [str(ob.add(make_report(findings), key)[0].report["report_id"]) for _ in range(n)]

    def secrets(self) -> list[str]:
        e = StateDir(self.state_dir).enrollment()
        return [e.credential]


class NetnsTarpit:
    """Accepts on 127.0.0.1:PORT and never says a word, so a probe waits out its read timeout and a scan
    cycle lasts as long as the test needs. A child process inside a network namespace: a privileged
    port such as 23 never collides with a telnet daemon of the machine running the tests."""

    SERVER = (
        "import socket, sys\n"
        "s = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
        "print('listening', flush=True)\n"
        "held = []\n"
        "while True:\n"
        "    held.append(s.accept()[0])\n"
        "    print('accepted', flush=True)\n"
    )

    def __init__(self, netns: str, port: int) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-c", self.SERVER, str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "listening":
            raise RuntimeError(f"tarpit on port {port} in {netns} did not start")
        self.accepted = 0
        self._thread = threading.Thread(target=self._count, daemon=True)
        self._thread.start()

    def _count(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip() == "accepted":
                self.accepted += 1

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._thread.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def assert_no_secrets(logs: list[Path], secrets: list[str]) -> None:
    """The credential and the enrollment token appear in no captured output."""
    assert all(len(s) >= 16 for s in secrets), "a short secret would make this check meaningless"
    checked = 0
    for path in logs:
        if not path.exists():
            continue
        text = path.read_text(errors="replace")
        checked += 1
        for s in secrets:
            assert s not in text, f"a secret leaked into {path.name}"
    assert checked, "no captured output to check"
