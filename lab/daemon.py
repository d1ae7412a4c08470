"""What a service builder returns: how to start one foreground daemon inside a host namespace."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Daemon:
    """One foreground process. ``argv`` must not daemonize: the PID the lab holds is the daemon.

    ``private_run`` mounts a fresh tmpfs on /run and ``bind_mounts`` maps work-dir folders over
    compiled-in paths, both in the daemon's own mount namespace (``ip netns exec`` already makes one,
    with propagation to the root namespace off). That is how daemons with hard-coded /run or /var
    paths (inetd's pid file, sshd's privilege-separation dir, samba's RPC helper logs) leave the real
    /run and /var alone.
    """

    name: str
    argv: list[str]
    tcp_ports: tuple[int, ...] = ()
    udp_ports: tuple[int, ...] = ()
    logs: tuple[Path, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    private_run: bool = False
    run_dirs: tuple[str, ...] = ()  # created inside the private /run
    bind_mounts: tuple[tuple[Path, str], ...] = ()  # (work-dir source, existing target)

    def launch_argv(self, namespace: str, hostname: str) -> list[str]:
        """``ip netns exec`` + a private UTS namespace (own hostname) + mounts, then ``exec`` argv.

        Every step execs the next (``unshare`` without ``--fork``, ``sh -c 'exec "$@"'``), so the
        PID of the spawned process ends up being the daemon's.
        """
        q = shlex.quote
        steps = ["set -e", f"printf %s {q(hostname)} > /proc/sys/kernel/hostname"]
        if self.private_run:
            steps.append("mount -t tmpfs -o mode=0755,size=8m lab-run /run")
            steps += [f"mkdir -p -m 0755 {q(d)}" for d in self.run_dirs]
        steps += [f"mount --bind {q(str(src))} {q(dst)}" for src, dst in self.bind_mounts]
        steps.append('exec "$@"')
        return [
            "ip",
            "netns",
            "exec",
            namespace,
            "unshare",
            "--uts",
            "--",
            "/bin/sh",
            "-c",
            "; ".join(steps),
            f"lab-{self.name}",
            *self.argv,
        ]
