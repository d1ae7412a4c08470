"""Can this machine build the lab? A yes/no with a reason that works as a pytest skip message."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from duecare.lab.services import BINARIES
from duecare.lab.web import HEADERS_MORE

PACKAGES = Path(__file__).resolve().parent / "packages.txt"


def lab_available() -> tuple[bool, str]:
    """(True, "") when root, ``ip netns`` works and every daemon is installed; else (False, why)."""
    if os.geteuid() != 0:
        return False, "the namespace lab needs root (network namespaces, raw sockets)"
    missing = [b for b in BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        return False, f"missing binaries {missing}: apt-get install $(cat {PACKAGES})"
    if not HEADERS_MORE.is_file():
        return False, f"missing {HEADERS_MORE}: apt-get install libnginx-mod-http-headers-more-filter"
    probe_ns = f"dcprobe{os.getpid()}"
    try:
        add = subprocess.run(["ip", "netns", "add", probe_ns], capture_output=True, text=True, timeout=10)
        if add.returncode != 0:
            return False, f"'ip netns add' failed: {add.stderr.strip()}"
        run = subprocess.run(
            ["ip", "netns", "exec", probe_ns, "ip", "link", "set", "lo", "up"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if run.returncode != 0:
            return False, f"'ip netns exec' failed: {run.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "delete", probe_ns], capture_output=True, timeout=10)
    return True, ""
