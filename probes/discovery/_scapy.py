"""ARP sweep with scapy. Imported lazily: scapy costs ~90 MB of RSS, paid only when privileged."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from duecare.probes.errors import NotPermitted, ProtocolError


@dataclass(frozen=True, slots=True)
class ArpReply:
    ip: str
    mac: str


def attached_groups(ips: Sequence[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Split targets into {interface: ips on its directly attached subnet} and the routed rest."""
    import scapy.route  # noqa: F401  (fills conf.route from this namespace's routing table)
    from scapy.config import conf

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
    """Who-has for each address on one attached link; only answers from asked-for addresses count."""
    from scapy.error import Scapy_Exception
    from scapy.layers.l2 import ARP, Ether
    from scapy.sendrecv import srp

    wanted = set(ips)
    try:
        answered, _ = srp(
            [Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=ip) for ip in ips],
            iface=iface,
            timeout=timeout,
            retry=1,
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
    return [ArpReply(ip, mac) for ip, mac in sorted(seen.items())]
