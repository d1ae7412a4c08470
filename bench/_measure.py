"""Run one command and measure it as the kernel saw it: wall time, CPU and peak RSS of the tree.

``os.wait4`` returns the child's rusage including every descendant it reaped (python-nmap reaps
nmap, so duecare's figures include its nmap runs): CPU is user+sys summed over the tree, and
``ru_maxrss`` is the largest resident set any single process of the tree reached (getrusage(2)).

The command is started by a tiny ``python -I -S`` launcher, not forked from the caller: the kernel
carries the pre-exec high-water RSS of a forked child into its ``ru_maxrss`` (exec_mmap keeps the
old mm's hiwater), so a child forked from a 100 MB pytest would report at least 100 MB. The
launcher's own ~9 MB is the floor of any figure measured here.

``ru_maxrss`` is one process's peak. What the machine must hold is the tree's: duecare and the
nmap it runs at the same time. ``tree_peak_mb`` is that: the largest sum of VmRSS over the
command's process tree (the launcher left out), sampled every 20 ms from /proc.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_LAUNCHER = """
import json, os, sys, time
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
with open(sys.argv[1], "w") as fh:
    json.dump({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss}, fh)
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


@dataclass(frozen=True)
class Measured:
    argv: tuple[str, ...]
    wall_s: float
    cpu_s: float
    maxrss_mb: float
    returncode: int
    stdout: bytes
    stderr: bytes
    #: Largest sum of VmRSS over the command's process tree at one moment (MiB), sampled.
    tree_peak_mb: float = 0.0


def children() -> dict[int, list[int]]:
    """pid → its child pids, from /proc."""
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """One process's VmRSS (or VmHWM) in KiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_rss_kib(root: int, *, include_root: bool = True) -> int:
    """Sum of VmRSS over ``root``'s process tree right now (KiB)."""
    kids = children()
    total, todo = 0, list(kids.get(root, []))
    if include_root:
        total += rss_kib(root)
    while todo:
        pid = todo.pop()
        total += rss_kib(pid)
        todo += kids.get(pid, [])
    return total


def cpu_s(pid: int) -> float:
    """One process's user+system CPU so far (seconds); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root: int) -> float:
    """User+system CPU of ``root`` and its live descendants so far (seconds)."""
    kids = children()
    total, todo = cpu_s(root), list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        total += cpu_s(pid)
        todo += kids.get(pid, [])
    return total


def named_cpu_s(name: str) -> float:
    """User+system CPU so far of every live process whose name is ``name`` (PostgreSQL's server,
    its backends and its background workers are all ``postgres``): what the database spent."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm == name:
                total += cpu_s(int(entry.name))
    return total


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent not idle so far, all cores (/proc/stat)."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in first]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class TreePeak:
    """Samples a process tree's summed RSS in a thread until ``stop``."""

    def __init__(self, root: int, *, include_root: bool = True, every_s: float = 0.02) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(root, include_root, every_s), daemon=True)
        self._thread.start()

    def _run(self, root: int, include_root: bool, every_s: float) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, tree_rss_kib(root, include_root=include_root))
            self._stop.wait(every_s)

    def stop(self) -> float:
        """The peak in MiB."""
        self._stop.set()
        self._thread.join(5)
        return self.peak_kib / 1024


class MeasureTimeout(RuntimeError):
    """The command outlived its deadline and was killed (its process group, which we started)."""


def measure(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> Measured:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "rusage.json")
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, result, *argv]
        proc = subprocess.Popen(
            launcher, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, start_new_session=True
        )
        tree = TreePeak(proc.pid, include_root=False)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # our own session: the launcher, the tool, its children
            proc.wait()
            raise MeasureTimeout(f"{argv[0]}… did not finish within {timeout:.0f}s") from None
        finally:
            tree_peak = tree.stop()
        with open(result) as fh:
            usage = json.load(fh)
        out.seek(0)
        err.seek(0)
        return Measured(
            tuple(argv),
            float(usage["wall"]),
            float(usage["cpu"]),
            int(usage["maxrss_kb"]) / 1024,
            proc.returncode,
            out.read(),
            err.read(),
            tree_peak,
        )


def machine_load() -> str:
    """What else the machine was doing: load averages and CPU count (other engineers share it)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"
