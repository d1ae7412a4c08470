"""``--scope-auto``: the IPv4 subnets attached to this machine. For real deployments only."""

from __future__ import annotations

import ipaddress
import json
import subprocess

from duecare.agent.scope import ScopeError

#: Larger attached networks are cut to the /22 around our own address: a flat /16 is not a
#: small-office LAN, and sweeping it by surprise is not polite.
_MAX_PREFIX = 22


def attached_subnets() -> list[str]:
    try:
        raw = subprocess.run(
            ["ip", "-j", "-4", "addr", "show", "scope", "global"],
            check=True,
            capture_output=True,
            timeout=5,
        ).stdout
        links = json.loads(raw)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise ScopeError(f"--scope-auto: cannot list interfaces: {exc}") from exc
    nets: list[str] = []
    for link in links:
        for info in link.get("addr_info", []):
            iface = ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}")
            net = iface.network
            if net.prefixlen < _MAX_PREFIX:
                net = ipaddress.ip_interface(f"{info['local']}/{_MAX_PREFIX}").network
            if not (net.is_loopback or net.is_link_local):
                nets.append(str(net))
    if not nets:
        raise ScopeError("--scope-auto: no attached IPv4 subnet found")
    return sorted(set(nets))
