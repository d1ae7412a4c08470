"""ARP sweep with scapy. Imported lazily: scapy costs ~90 MB of RSS, paid only when privileged."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from duecare.probes.errors import NotPermitted, ProtocolError


@dataclass(frozen=True, slots=True)
class ArpReply:
    ip: str
    mac: str


def _scapy_conf() -> Any:
    """scapy's config, its routing table filled from this namespace's, scapy loaded lean.

    scapy needs neither of two things it loads at import (issue 19): cryptography (for its TLS
    and IPsec layers; ~6 MB resident when nothing else has loaded it yet) is hidden from it, so
    scapy sets ``conf.crypto_valid`` off; Wireshark's OUI table (52,000 vendors, ~11 MB), shown
    only when a packet is printed, is emptied in place: duecare names vendors from nmap's table
    (``probes.ports.parse.mac_vendors``). Discovery runs before nmap and the probes, alone, so
    hiding cryptography for the length of scapy's import disturbs no other import."""
    if "scapy.route" not in sys.modules:
        hide = "cryptography" not in sys.modules
        if hide:
            sys.modules["cryptography"] = None  # type: ignore[assignment]  # import → ImportError
        try:
            import scapy.route  # noqa: F401  (fills conf.route from this namespace's routing table)
        finally:
            if hide and sys.modules.get("cryptography", 0) is None:
                del sys.modules["cryptography"]
    from scapy.config import conf
    from scapy.data import MANUFDB

    MANUFDB.d.clear()
    return conf


def attached_groups(ips: Sequence[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Split targets into {interface: ips on its directly attached subnet} and the routed rest."""
    conf = _scapy_conf()
    by_iface: defaultdict[str, list[str]] = defaultdict(list)
    routed: list[str] = []
    for ip in ips:
        iface, _src, gw = conf.route.route(ip, verbose=0)
        if gw == "0.0.0.0" and iface and str(iface) != "lo":
            by_iface[str(iface)].append(ip)
        else:
            routed.append(ip)
    return dict(by_iface), routed


def arp_sweep(iface: str, ips: Sequence[str], *, timeout: float, inter: float = 0.0) -> list[ArpReply]:
    """Who-has for each address on one attached link; only answers from asked-for addresses count.

    One round waits ``timeout``; the addresses that did not answer are asked once more with a
    quarter of it (a lost frame is resent, an empty address is not waited on twice in full)."""
    wanted = set(ips)
    seen = _arp_round(iface, list(ips), wanted, timeout=timeout, inter=inter)
    rest = [ip for ip in ips if ip not in seen]
    if rest:
        seen.update(_arp_round(iface, rest, wanted, timeout=timeout / 4, inter=inter))
    return [ArpReply(ip, mac) for ip, mac in sorted(seen.items())]


def _arp_round(iface: str, ips: list[str], wanted: set[str], *, timeout: float, inter: float) -> dict[str, str]:
    from scapy.error import Scapy_Exception
    from scapy.layers.l2 import ARP, Ether
    from scapy.sendrecv import srp

    try:
        answered, _ = srp(
            [Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=ip) for ip in ips],
            iface=iface,
            timeout=timeout,
            inter=inter,
            verbose=0,
        )
    except PermissionError as exc:
        raise NotPermitted(f"ARP sweep needs raw-socket rights: {exc}") from exc
    except (OSError, Scapy_Exception) as exc:
        raise ProtocolError(f"ARP sweep on {iface} failed: {exc}") from exc
    seen: dict[str, str] = {}
    for _sent, recv in answered:
        ip, mac = str(recv[ARP].psrc), str(recv[ARP].hwsrc).lower()
        if ip in wanted and ip not in seen:
            seen[ip] = mac
    return seen
