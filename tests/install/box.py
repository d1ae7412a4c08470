"""A fresh machine for copy-pasted README blocks, without a VM: a "box".

The box's root is an overlay whose read-only lower layer is this machine's own root filesystem (so the
Debian packages are exactly those installed here, as on the reader's machine after `apt-get install`)
and whose upper layer is a temporary directory: users, /etc, /usr/local, units and state the blocks
create land there and vanish with it. /opt, /root, /home, /run and /tmp start empty. The box has its own
mount namespace and lives in a network namespace of the lab, so what it serves and scans never leaves
the lab. Nothing is written to this machine outside the box's directory.

``systemctl`` in the box is a stand-in (there is no init in it): it records each call, and
``enable --now``/``start`` run the unit's ExecStart the way systemd would, as the unit's User= with its
AmbientCapabilities= and Environment=.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_HOLDER = r"""
set -e
root=$1 upper=$2 work=$3 wheels=$4
mount -t overlay duecare-box -o "lowerdir=/,upperdir=$upper,workdir=$work" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mount -t tmpfs -o mode=0700 tmpfs "$root/root"
for d in opt home srv work; do
  if [ -d "$root/$d" ]; then mount -t tmpfs -o mode=0755 tmpfs "$root/$d"; fi
done
mkdir "$root/run/wheelhouse"
mount --bind "$wheels" "$root/run/wheelhouse"
mount -o remount,bind,ro "$root/run/wheelhouse"
# "ready" comes from inside the new root: until then /proc/PID/root is still this machine's own root.
exec chroot "$root" /bin/sh -c 'echo ready; exec sleep infinity'
"""

SYSTEMCTL = r"""#!/bin/bash
# Test stand-in for systemctl in a box without init (tests/install/box.py).
echo "$*" >> /run/systemctl.calls
verb="" now=0 units=()
for a in "$@"; do
  case "$a" in
    --now) now=1 ;;
    -*) ;;
    enable|start|restart|daemon-reload|status|stop|disable) [ -z "$verb" ] && verb=$a ;;
    *) units+=("${a%.service}") ;;
  esac
done
[ "$verb" = start ] || [ "$verb" = restart ] || { [ "$verb" = enable ] && [ "$now" = 1 ]; } || exit 0
for u in "${units[@]}"; do
  f=/etc/systemd/system/$u.service
  [ -r "$f" ] || { echo "Unit $u.service not found." >&2; exit 5; }
  cmd=$(sed -n 's/^ExecStart=//p' "$f")
  user=$(sed -n 's/^User=//p' "$f")
  caps=$(sed -n 's/^AmbientCapabilities=//p' "$f" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
  envs=$(sed -n 's/^Environment=//p' "$f" | tr '\n' ' ')
  if [ -n "$caps" ]; then
    as=(setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps="$caps" --ambient-caps="$caps")
  else
    as=(setpriv --reuid="$user" --regid="$user" --init-groups)
  fi
  # shellcheck disable=SC2086
  (cd / && exec setsid env $envs "${as[@]}" $cmd >> "/run/$u.log" 2>&1 < /dev/null) &
  echo $! > "/run/$u.pid"
done
"""


class Box:
    def __init__(self, name: str, netns: str, workdir: Path, wheelhouse: Path) -> None:
        self.name, self.netns, self.workdir, self.wheelhouse = name, netns, workdir, wheelhouse
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Box:
        for d in ("upper", "work", "root"):
            (self.workdir / d).mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                *("ip", "netns", "exec", self.netns),
                *("unshare", "--mount", "--propagation", "private", "--"),
                *("sh", "-c", _HOLDER, "holder"),
                *(str(self.workdir / d) for d in ("root", "upper", "work")),
                str(self.wheelhouse),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.wait(timeout=10)
            raise RuntimeError(f"box {self.name} did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.put("/usr/local/sbin/systemctl", SYSTEMCTL, mode=0o755)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def path(self, inside: str) -> Path:
        """A path in the box, as this process sees it (through the holder's root). Refuses while the
        holder's root is not the box's: a write must never land on this machine's own files."""
        root = f"/proc/{self.pid}/root"
        if os.readlink(root) != str(self.workdir / "root"):
            raise RuntimeError(f"box {self.name}: the holder's root is {os.readlink(root)}, not the box")
        return Path(root) / inside.lstrip("/")

    def put(self, inside: str, data: str | bytes, mode: int = 0o644) -> None:
        target = self.path(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        target.chmod(mode)

    def copy_in(self, source: Path, inside: str) -> None:
        shutil.copyfile(source, self.path(inside))

    def read(self, inside: str) -> str:
        return self.path(inside).read_text()

    def sh(
        self, script: str, *, cwd: str = "/root", env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """``bash -euo pipefail`` in the box, as root, as a reader pastes it into a root shell."""
        base = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb", "USER": "root", "LOGNAME": "root"}
        return subprocess.run(
            [
                "nsenter",
                "-t",
                str(self.pid),
                "-m",
                "-n",
                "-r",
                "-w",
                "--",
                "/bin/bash",
                "-euo",
                "pipefail",
                "-c",
                f"cd {cwd}\n{script}",
            ],
            env={**base, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop(self) -> None:
        """End the holder; the services it started are in the lab's namespaces, which the lab ends."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self.proc is not None:
            for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
