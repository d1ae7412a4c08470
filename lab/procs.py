"""Start lab daemons and end exactly those processes later, by PID.

A PID is identified by (pid, start time from /proc/<pid>/stat), so a recycled PID is never signalled.
Each daemon starts as the leader of a new session, so its process group holds the daemon and the
children it forks per connection (smbd, sshd, inetd, nginx workers); those groups are signalled too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcRef:
    pid: int
    starttime: int
    name: str
    host: str
    log: str

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "starttime": self.starttime, "name": self.name, "host": self.host, "log": self.log}

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> ProcRef:
        return cls(int(str(d["pid"])), int(str(d["starttime"])), str(d["name"]), str(d["host"]), str(d["log"]))


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc/<pid>/stat, or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # fields after "pid (comm) "
    return fields[0], int(fields[19])  # state (3rd field), starttime (22nd)


def starttime(pid: int) -> int | None:
    st = _stat(pid)
    return None if st is None else st[1]


def alive(ref: ProcRef) -> bool:
    st = _stat(ref.pid)
    return st is not None and st[1] == ref.starttime and st[0] not in ("Z", "X")


def _alive_pid(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def spawn(
    argv: list[str], log: Path, env: Mapping[str, str], *, name: str, host: str
) -> tuple[subprocess.Popen[bytes], ProcRef]:
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
    st = starttime(proc.pid)
    return proc, ProcRef(proc.pid, st if st is not None else -1, name, host, str(log))


def _signal(pid: int, sig: int, *, group: bool) -> None:
    if pid <= 1 or pid == os.getpid():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def terminate(refs: Iterable[ProcRef], extra_pids: Iterable[int] = (), grace: float = 5.0) -> list[int]:
    """SIGTERM our processes (and their process groups) plus ``extra_pids``; SIGKILL after ``grace``.

    ``extra_pids`` are processes found inside the lab's namespaces (e.g. samba-dcerpcd, which
    daemonizes itself). Returns the PIDs that needed SIGKILL.
    """
    ours = [r for r in refs if alive(r)]
    extras = sorted({p for p in extra_pids if _alive_pid(p)} - {r.pid for r in ours})
    for ref in ours:
        _signal(ref.pid, signal.SIGTERM, group=True)
    for pid in extras:
        _signal(pid, signal.SIGTERM, group=False)
    deadline = time.monotonic() + grace
    pending = [r.pid for r in ours] + extras
    while pending and time.monotonic() < deadline:
        time.sleep(0.05)
        pending = [p for p in pending if _alive_pid(p)]
    for pid in pending:
        _signal(pid, signal.SIGKILL, group=pid in {r.pid for r in ours})
    return pending


def log_tail(path: Path | str, lines: int = 25) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(log empty)"
