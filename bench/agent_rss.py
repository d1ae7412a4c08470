"""Agent memory: a real ``duecare agent run`` idle, through a scheduled cycle over the lab, and after.

1. idle: the daemon (schedule far away) enrolled with a collector on 127.0.0.1, outbox empty;
   VmRSS and VmHWM from /proc/<pid>/status every 0.5 s for ``--idle-seconds`` (default 20).
2. lab cycle: brings up the namespace lab (``python -m duecare.lab up --prefix dcrss``), runs a
   collector *inside* the scanner namespace on its own 127.0.0.1, enrolls there, and starts
   ``ip netns exec dcrss-scan duecare agent run`` with one cycle scheduled a few seconds after its
   start, over 198.18.0.0/24 without the scanner (198.18.0.2). Every 0.1 s it samples the daemon,
   the cycle's own process (``duecare.agent.scan_process``, which scans and stores the report), the
   nmap runs under it, and the sums: the whole tree, and the scan alone (the cycle process and its
   nmap). Once the collector has acknowledged the report, the daemon is sampled idle again for
   ``--idle-seconds``: what it holds between cycles, for years. The lab is brought down afterwards.

Usage (as root): python bench/agent_rss.py [--idle-seconds 20] [--prefix dcrss] [--keep-lab] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench._measure import children, rss_kib, tree_rss_kib
from duecare.agent.outbox import Outbox
from duecare.collector import admin
from duecare.collector.db import migrate
from duecare.collector.db.session import Database, make_engine
from tests.collector.processes import free_port

REPO = Path(__file__).resolve().parents[1]
DUECARE = str(Path(sys.executable).with_name("duecare"))
SUBNET, SCANNER = "198.18.0.0/24", "198.18.0.2"


def proc_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (KiB) of one process; empty once it is gone."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return out


@dataclass
class Samples:
    rss: list[int] = field(default_factory=list)
    hwm: int = 0
    tree_peak: int = 0

    def take(self, pid: int, tree: bool) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        if Path(cmdline.split(b"\0")[0].decode(errors="replace")).name == "ip":
            return True  # still `ip netns exec`, before it execs the agent
        now = proc_kib(pid)
        if not now:
            return False
        self.rss.append(now.get("VmRSS", 0))
        self.hwm = max(self.hwm, now.get("VmHWM", 0))
        if tree:
            self.tree_peak = max(self.tree_peak, tree_rss_kib(pid))
        return True

    def summary(self) -> dict[str, float]:
        mib = 1024
        return {
            "rss_min_mib": round(min(self.rss) / mib, 1),
            "rss_median_mib": round(statistics.median(self.rss) / mib, 1),
            "rss_max_mib": round(max(self.rss) / mib, 1),
            "hwm_mib": round(self.hwm / mib, 1),
            **({"tree_peak_mib": round(self.tree_peak / mib, 1)} if self.tree_peak else {}),
            "samples": len(self.rss),
        }


def make_tenant(db: str) -> str:
    database = Database(make_engine(db))
    try:
        migrate.upgrade(database.engine)
        admin.add_client(database, "bench")
        admin.add_site(database, "bench", "office")
        return admin.mint_enrollment_token(database, "bench", "office", timedelta(hours=1)).secret
    finally:
        database.dispose()


def start_collector(db: str, port: int, log: Path, prefix: list[str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-m",
                "duecare.collector",
                "serve",
                "--db",
                db,
                "--listen",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            stdout=out,
            stderr=out,
        )
    check = f"import httpx, sys; sys.exit(httpx.get('http://127.0.0.1:{port}/healthz', timeout=1).status_code != 200)"
    probe = [*prefix, sys.executable, "-c", check]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"collector exited: {log.read_text()[-2000:]}")
        if subprocess.run(probe, cwd=REPO, capture_output=True, check=False).returncode == 0:
            return proc
        time.sleep(0.3)
    raise RuntimeError("collector did not come up")


def enroll(state: Path, port: int, token: str, work: Path, prefix: list[str]) -> None:
    token_file = work / "token"
    token_file.write_text(token)
    subprocess.run(
        [
            *prefix,
            DUECARE,
            "agent",
            "enroll",
            "--collector",
            f"http://127.0.0.1:{port}",
            "--token-file",
            str(token_file),
            "--state-dir",
            str(state),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    token_file.unlink()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def idle(work: Path, seconds: float) -> dict[str, float]:
    db = f"sqlite:///{work / 'idle.db'}"
    port = free_port()
    collector = start_collector(db, port, work / "idle-collector.log", [])
    try:
        state = work / "idle-state"
        enroll(state, port, make_tenant(db), work, [])
        cfg = work / "idle.toml"
        cfg.write_text('[scope]\ntargets = ["127.0.0.1/32"]\n[schedule]\ncron = "0 0 1 1 *"\njitter_s = 0\n')
        with (work / "idle-agent.log").open("wb") as err:
            agent = subprocess.Popen(
                [DUECARE, "agent", "run", "--config", str(cfg), "--state-dir", str(state)],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        try:
            deadline = time.monotonic() + 60
            while not (state / "status.json").exists() and time.monotonic() < deadline:
                time.sleep(0.1)  # the daemon writes status.json once its scheduler runs
            samples = Samples()
            end = time.monotonic() + seconds
            while time.monotonic() < end and samples.take(agent.pid, tree=False):
                time.sleep(0.5)
        finally:
            stop(agent)
        return samples.summary()
    finally:
        stop(collector)


def _one_shot_cron(seconds: float) -> str:
    """A six-field (seconds first) cron firing once, ``seconds`` from now (the daemon's UTC)."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return f"{at.second} {at.minute} {at.hour} * * *"


@dataclass
class CycleSamples:
    daemon_before: list[int] = field(default_factory=list)
    daemon_hwm: int = 0
    cycle_hwm: int = 0
    nmap_peak: int = 0
    scan_peak: int = 0  # the cycle process and its nmap runs, summed
    tree_peak: int = 0  # the daemon, the cycle process and its nmap runs, summed
    cycle_seen: bool = False

    def take(self, daemon: int) -> None:
        if Path(_cmdline(daemon).split(b"\0")[0].decode(errors="replace")).name == "ip":
            return  # still `ip netns exec`, before it execs the daemon
        kids = children()
        self.daemon_hwm = max(self.daemon_hwm, rss_kib(daemon, "VmHWM"))
        scan = 0
        for child in kids.get(daemon, []):
            if b"duecare.agent.scan_process" not in _cmdline(child):
                continue
            self.cycle_seen = True
            self.cycle_hwm = max(self.cycle_hwm, rss_kib(child, "VmHWM"))
            scan += rss_kib(child)
            todo = list(kids.get(child, []))
            while todo:
                pid = todo.pop()
                rss = rss_kib(pid)
                scan += rss
                if Path(_cmdline(pid).split(b"\0")[0].decode(errors="replace")).name == "nmap":
                    self.nmap_peak = max(self.nmap_peak, rss)
                todo += kids.get(pid, [])
        if not self.cycle_seen:
            self.daemon_before.append(rss_kib(daemon))
        self.scan_peak = max(self.scan_peak, scan)
        self.tree_peak = max(self.tree_peak, scan + rss_kib(daemon))

    def summary(self) -> dict[str, float]:
        mib = 1024
        return {
            "daemon_before_mib": round(statistics.median(self.daemon_before) / mib, 1),
            "daemon_hwm_mib": round(self.daemon_hwm / mib, 1),
            "cycle_process_hwm_mib": round(self.cycle_hwm / mib, 1),
            "nmap_peak_mib": round(self.nmap_peak / mib, 1),
            "scan_tree_peak_mib": round(self.scan_peak / mib, 1),
            "whole_tree_peak_mib": round(self.tree_peak / mib, 1),
        }


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def lab_cycle(work: Path, prefix_name: str, keep: bool, idle_seconds: float) -> dict[str, dict[str, float]]:
    ns = f"{prefix_name}-scan"
    lab = [sys.executable, "-m", "duecare.lab"]
    subprocess.run([*lab, "up", "--prefix", prefix_name], cwd=REPO, check=True, capture_output=True, timeout=300)
    inside = ["ip", "netns", "exec", ns]
    collector: subprocess.Popen[bytes] | None = None
    try:
        db = f"sqlite:///{work / 'lab.db'}"
        port = 18080
        token = make_tenant(db)
        collector = start_collector(db, port, work / "lab-collector.log", inside)
        state = work / "lab-state"
        enroll(state, port, token, work, inside)
        cfg = work / "lab.toml"
        cfg.write_text(
            f'[scope]\ntargets = ["{SUBNET}"]\nexclude = ["{SCANNER}"]\n'
            "[timeouts]\nconnect = 2.0\nread = 3.0\nprobe = 12.0\n"
            f'[schedule]\ncron = "{_one_shot_cron(8)}"\njitter_s = 0\n'
        )
        cycle = CycleSamples()
        after = Samples()
        with (work / "lab-agent.log").open("wb") as err:
            # `ip netns exec` execs the command: the pid is the daemon's own.
            agent = subprocess.Popen(
                [*inside, DUECARE, "agent", "run", "--config", str(cfg), "--state-dir", str(state)],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        try:
            outbox = Outbox(state / "outbox.sqlite")
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline and agent.poll() is None:
                cycle.take(agent.pid)
                last = (
                    json.loads((state / "status.json").read_text()).get("last_cycle", {})
                    if (state / "status.json").exists()
                    else {}
                )
                if last and outbox.status()["pending"] == 0:
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError("no acknowledged cycle within 900 s")
            time.sleep(1.0)  # the cycle process has left; the daemon settles
            end = time.monotonic() + idle_seconds
            while time.monotonic() < end and after.take(agent.pid, tree=False):
                time.sleep(0.5)
        finally:
            stop(agent)
        took = datetime.fromisoformat(last["finished"]) - datetime.fromisoformat(last["at"])
        return {
            "lab cycle (daemon, scheduled)": {
                **cycle.summary(),
                "cycle_seconds": round(took.total_seconds(), 1),
                "result": 1.0 if last.get("result") == "ok" else 0.0,
                "findings": last.get("findings", -1),
                "left_in_outbox": int(str(Outbox(state / "outbox.sqlite").status()["pending"])),
            },
            "idle after the lab cycle": after.summary(),
        }
    finally:
        if collector is not None:
            stop(collector)
        if not keep:
            subprocess.run([*lab, "down", "--prefix", prefix_name], cwd=REPO, check=False, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--prefix", default="dcrss", help="lab prefix (namespaces <prefix>-…)")
    parser.add_argument("--keep-lab", action="store_true")
    parser.add_argument("--skip-lab", action="store_true", help="only the idle measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0 and not args.skip_lab:
        parser.error("the lab needs root (or use --skip-lab)")
    results: dict[str, dict[str, float]] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="duecare-rss-") as tmp:
        work = Path(tmp)
        results["idle daemon"] = idle(work, args.idle_seconds)
        if not args.skip_lab:
            results.update(lab_cycle(work, args.prefix, args.keep_lab, args.idle_seconds))
    load = {"load_before": round(load_before[0], 2), "load_after": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps({**results, "load_average_1m": load}, indent=2))
        return 0
    print(f"load average (1 min): {load['load_before']} before, {load['load_after']} after")
    for name, figures in results.items():
        print(f"{name}:")
        for key, value in figures.items():
            print(f"  {key:16} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
