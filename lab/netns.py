"""Thin wrappers around iproute2 for the lab's network namespaces.

Every link the lab creates lives inside a lab namespace: veth pairs are created *inside* the bridge
namespace with their peer placed directly into the host namespace (``ip -n BR link add … peer … netns
NS``), so no interface ever appears in the root namespace, even for an instant.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

NETNS_DIR = Path("/run/netns")


class NetnsError(RuntimeError):
    """An ``ip`` command failed; the message carries the command and its stderr."""


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
    )
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} -> exit {proc.returncode}: {proc.stderr.strip()}")
    return proc


def exec_prefix(ns: str) -> list[str]:
    return ["ip", "netns", "exec", ns]


def batch(ns: str | None, commands: Sequence[str]) -> None:
    """Run several ``ip`` sub-commands in one process (``ip -batch``), optionally inside ``ns``."""
    argv = ["ip", *(["-n", ns] if ns else []), "-batch", "-"]
    proc = subprocess.run(argv, input="\n".join(commands) + "\n", capture_output=True, text=True, timeout=20)
    if proc.returncode != 0:
        raise NetnsError(f"ip -batch in {ns or 'root'} failed: {proc.stderr.strip()}\n" + "\n".join(commands))


def add(ns: str) -> None:
    run(["ip", "netns", "add", ns])
    # No IPv6: keeps the lab free of link-local chatter (RS, MLD, DAD); every probe is IPv4.
    run(
        [
            *exec_prefix(ns),
            "sysctl",
            "-q",
            "-w",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]
    )
    run(["ip", "-n", ns, "link", "set", "lo", "up"])


def delete(ns: str) -> None:
    run(["ip", "netns", "delete", ns], check=False)


def existing() -> list[str]:
    """Names of the named network namespaces, read from /run/netns (what ``ip netns list`` reads)."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir())


def pids(ns: str) -> list[int]:
    """PIDs of every process whose network namespace is ``ns`` (``ip netns pids``)."""
    proc = run(["ip", "netns", "pids", ns], check=False)
    return [int(tok) for tok in proc.stdout.split() if tok.isdigit()]


def add_bridge(ns: str, bridge: str = "br0") -> None:
    # STP off and forward delay 0: ports forward immediately, so hosts answer ARP right after `up`.
    batch(
        ns,
        [
            f"link add {bridge} type bridge stp_state 0 forward_delay 0",
            f"link set {bridge} up",
        ],
    )


def attach(bridge_ns: str, host_ns: str, port: str, mac: str, cidr: str, *, bridge: str = "br0") -> None:
    """Create a veth pair: ``port`` on the bridge in ``bridge_ns``, ``eth0`` with ``mac``/``cidr`` in ``host_ns``."""
    batch(
        bridge_ns,
        [
            f"link add {port} type veth peer name eth0 address {mac} netns {host_ns}",
            f"link set {port} master {bridge}",
            f"link set {port} up",
        ],
    )
    batch(host_ns, [f"addr add {cidr} dev eth0", "link set eth0 up"])
