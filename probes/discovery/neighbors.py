"""MACs from the kernel's neighbour table: known after any unicast exchange, readable without
privileges. An unprivileged scan (TCP ping, connect scan) still learns every on-link MAC here."""

from __future__ import annotations

import re
from pathlib import Path

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def parse_proc_net_arp(text: str) -> dict[str, str]:
    """/proc/net/arp → {ip: mac} for complete entries (flags & ATF_COM)."""
    out: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 6:
            continue
        ip, _hw, flags, mac = fields[0], fields[1], fields[2], fields[3].lower()
        try:
            complete = int(flags, 16) & 0x2
        except ValueError:
            continue
        if complete and _MAC.match(mac) and mac != "00:00:00:00:00:00":
            out[ip] = mac
    return out


def read_neighbors(path: Path = Path("/proc/net/arp")) -> dict[str, str]:
    try:
        return parse_proc_net_arp(path.read_text(encoding="ascii", errors="replace"))
    except OSError:
        return {}
