"""Record miniupnpd's answer to one PCP ANNOUNCE, for the parser tests.

Run in a lab's scanner namespace against the lab router's LAN address (miniupnpd 2.3.1 with
``enable_natpmp=yes``, which serves NAT-PMP and PCP on UDP 5351):
``ip netns exec <prefix>-scan .venv/bin/python -m tests.probes.natpmp.capture_pcp 198.18.0.1 OUT.bin``.
It sends exactly the probe's request (``announce_request`` with the scanner's own address).
"""

from __future__ import annotations

import socket
import sys
from ipaddress import ip_address
from pathlib import Path

from duecare.probes.natpmp.parse import PCP_MAX, PORT, announce_request


def main() -> None:
    host, out = sys.argv[1], Path(sys.argv[2])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.connect((host, PORT))
        sock.send(announce_request(ip_address(sock.getsockname()[0])))
        out.write_bytes(sock.recv(PCP_MAX))


if __name__ == "__main__":
    main()
