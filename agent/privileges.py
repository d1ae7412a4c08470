"""Can this process open raw sockets? Decides SYN vs connect scans and ARP vs TCP ping."""

from __future__ import annotations

import socket


def can_use_raw_sockets() -> bool:
    """Tried, not guessed from the uid: root without CAP_NET_RAW cannot, a capable user can."""
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except (PermissionError, OSError, AttributeError):
        return False
    s.close()
    return True
