"""Run one command and measure it as the kernel saw it: wall time, CPU and peak RSS of the tree.

``os.wait4`` returns the child's rusage including every descendant it reaped (python-nmap reaps
nmap, so duecare's figures include its nmap runs): CPU is user+sys summed over the tree, and
``ru_maxrss`` is the largest resident set any single process of the tree reached (getrusage(2)).

The command is started by a tiny ``python -I -S`` launcher, not forked from the caller: the kernel
carries the pre-exec high-water RSS of a forked child into its ``ru_maxrss`` (exec_mmap keeps the
old mm's hiwater), so a child forked from a 100 MB pytest would report at least 100 MB. The
launcher's own ~9 MB is the floor of any figure measured here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

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


class MeasureTimeout(RuntimeError):
    """The command outlived its deadline and was killed (its process group, which we started)."""


def measure(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> Measured:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "rusage.json")
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, result, *argv]
        proc = subprocess.Popen(
            launcher, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, start_new_session=True
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # our own session: the launcher, the tool, its children
            proc.wait()
            raise MeasureTimeout(f"{argv[0]}… did not finish within {timeout:.0f}s") from None
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
        )


def machine_load() -> str:
    """What else the machine was doing: load averages and CPU count (other engineers share it)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"
