"""The lab's office router and its "internet": two more namespaces on documentation ranges.

``<prefix>-rt`` has ``eth0`` on the office bridge (198.18.0.1) and ``wan0`` (203.0.113.1, RFC 5737
TEST-NET-3) on a veth to ``<prefix>-inet`` (203.0.113.2). The internet namespace has a /32 address
and one host route, to the router's WAN address: it can reach nothing else, and nothing here is
linked to the root namespace. The router forwards like a small-office box:

- nftables masquerade from the LAN out of ``wan0``;
- one static DNAT forward, WAN:3389 → rdp-tls (which the IGD cannot list);
- miniupnpd on the LAN side serving IGD (and NAT-PMP); a lab client on vnc-open asks it with
  ``upnpc`` for WAN:5900 → vnc-open:5900, the way a desktop program would;
- telnet on the WAN address only (a router admin login left open to the internet, invisible from
  the LAN).

miniupnpd refuses to forward while its WAN address is private or reserved (every documentation
range is), unless STUN says that address is what the internet sees: a STUN responder (``stun.py``)
on the internet namespace answers with the router's own address.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from duecare.lab import netns
from duecare.lab.daemon import Daemon

LAN_IP = "198.18.0.1"
LAN_MAC = "02:dc:00:00:00:01"
WAN_IP = "203.0.113.1"
INTERNET_IP = "203.0.113.2"
IGD_PORT = 5000
STUN = Path(__file__).resolve().parent / "stun.py"
#: (WAN port, lab host name, host port): forwards the router's configuration holds.
STATIC_FORWARDS: tuple[tuple[int, str, int], ...] = ((3389, "rdp-tls", 3389),)
#: (lab host name, WAN port, host port): mappings a LAN program asks for through UPnP IGD.
UPNP_MAPPINGS: tuple[tuple[str, int, int], ...] = (("vnc-open", 5900, 5900),)
WAN_TELNET = 23


class RouterError(RuntimeError):
    """The router could not be configured; the message names the step and quotes the tool."""


def _nft(ns: str, rules: str) -> None:
    proc = subprocess.run([*netns.exec_prefix(ns), "nft", "-f", "-"], input=rules, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RouterError(f"nftables in {ns}: {proc.stderr.strip()}\n{rules}")


def ruleset() -> str:
    """The router's nftables: miniupnpd's chains (its default names), masquerade, the static forwards."""
    return (
        "table inet filter {\n"
        "  chain forward {\n    type filter hook forward priority 0; policy accept;\n    jump miniupnpd\n  }\n"
        "  chain miniupnpd {\n  }\n"
        "  chain input {\n    type filter hook input priority 0; policy accept;\n"
        f'    iifname "eth0" tcp dport {WAN_TELNET} drop\n  }}\n'
        "  chain prerouting {\n    type nat hook prerouting priority -100; policy accept;\n"
        "    jump static_forwards\n    jump prerouting_miniupnpd\n  }\n"
        "  chain static_forwards {\n  }\n"
        "  chain prerouting_miniupnpd {\n  }\n"
        "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n"
        '    oifname "wan0" masquerade\n    jump postrouting_miniupnpd\n  }\n'
        "  chain postrouting_miniupnpd {\n  }\n"
        "}\n"
    )


def forward_rules(forwards: Sequence[tuple[int, str, int]]) -> str:
    """``forwards`` as (WAN port, LAN ip, LAN port): the contents of the static_forwards chain."""
    lines = ["flush chain inet filter static_forwards"]
    lines += [
        f'add rule inet filter static_forwards iifname "wan0" tcp dport {wan} dnat ip to {ip}:{port}'
        for wan, ip, port in forwards
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Router:
    prefix: str

    @property
    def ns(self) -> str:
        return f"{self.prefix}-rt"

    @property
    def internet_ns(self) -> str:
        return f"{self.prefix}-inet"

    @property
    def namespaces(self) -> list[str]:
        return [self.ns, self.internet_ns]

    def build(self, bridge_ns: str, lan_namespaces: Sequence[str]) -> None:
        netns.add(self.ns)
        netns.add(self.internet_ns)
        netns.attach(bridge_ns, self.ns, "v1", LAN_MAC, f"{LAN_IP}/24")
        # The WAN veth is created inside the router namespace, its peer placed straight into the
        # internet namespace: it never exists in the root namespace.
        netns.batch(
            self.ns,
            [
                f"link add wan0 type veth peer name eth0 netns {self.internet_ns}",
                f"addr add {WAN_IP}/32 dev wan0",
                "link set wan0 up",
                f"route add {INTERNET_IP}/32 dev wan0",
                # SSDP: miniupnpd joins 239.255.255.250 on the LAN side and needs a route for it.
                "route add 239.0.0.0/8 dev eth0",
            ],
        )
        netns.batch(
            self.internet_ns,
            [f"addr add {INTERNET_IP}/32 dev eth0", "link set eth0 up", f"route add {WAN_IP}/32 dev eth0"],
        )
        netns.run([*netns.exec_prefix(self.ns), "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        _nft(self.ns, ruleset())
        # Office hosts answer the internet through the router (their only route off the LAN).
        for ns in lan_namespaces:
            netns.run(["ip", "-n", ns, "route", "add", "203.0.113.0/24", "via", LAN_IP])

    def set_forwards(self, forwards: Sequence[tuple[int, str, int]]) -> None:
        """Replace the static forwards (WAN port, LAN ip, LAN port), as an admin editing the router would."""
        _nft(self.ns, forward_rules(forwards))

    def daemons(self, workdir: Path) -> list[tuple[str, Daemon]]:
        """(namespace, daemon): the STUN responder on the internet, miniupnpd and WAN telnet on the router."""
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "miniupnpd.conf"
        conf.write_text(
            "ext_ifname=wan0\n"
            "listening_ip=eth0\n"
            f"port={IGD_PORT}\n"
            "ext_perform_stun=yes\n"
            f"ext_stun_host={INTERNET_IP}\n"
            "enable_natpmp=yes\n"
            "enable_upnp=yes\n"
            "secure_mode=yes\n"
            "system_uptime=yes\n"
            f"lease_file={workdir / 'upnp.leases'}\n"
            "uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b\n"
            "friendly_name=duecare lab router\n"
            "model_number=2.3.1-lab\n"
            "serial=00000000\n"
            "allow 1024-65535 198.18.0.0/24 1024-65535\n"
            "deny 0-65535 0.0.0.0/0 0-65535\n"
        )
        inetd_conf = workdir / "inetd.conf"
        inetd_conf.write_text(f"{WAN_IP}:telnet\tstream\ttcp4\tnowait\troot\t/usr/sbin/telnetd\ttelnetd\n")
        varlog = workdir / "var-log"
        varlog.mkdir(exist_ok=True)
        return [
            (
                self.internet_ns,
                Daemon("stun", [sys.executable, str(STUN), "--host", INTERNET_IP], udp_ports=(3478,)),
            ),
            (
                self.ns,
                Daemon(
                    "miniupnpd",
                    ["miniupnpd", "-d", "-f", str(conf), "-P", str(workdir / "miniupnpd.pid")],
                    tcp_ports=(IGD_PORT,),
                    udp_ports=(1900, 5351),
                    private_run=True,
                ),
            ),
            (
                self.ns,
                Daemon(
                    "inetd-wan",
                    ["inetd", "-i", "-d", str(inetd_conf)],
                    tcp_ports=(WAN_TELNET,),
                    private_run=True,
                    bind_mounts=((varlog, "/var/log"),),
                ),
            ),
        ]

    def add_upnp_mapping(self, client_ns: str, client_ip: str, wan_port: int, port: int) -> str:
        """What a LAN program does: ``upnpc -a`` from its own host (miniupnpd's secure mode checks that)."""
        argv = [
            *netns.exec_prefix(client_ns),
            "upnpc",
            "-u",
            f"http://{LAN_IP}:{IGD_PORT}/rootDesc.xml",
            "-e",
            "lab desktop sharing",
            "-a",
            client_ip,
            str(port),
            str(wan_port),
            "TCP",
        ]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if proc.returncode != 0 or "is redirected to" not in proc.stdout:
            raise RouterError(f"upnpc in {client_ns} could not add the mapping: {proc.stdout[-800:]}{proc.stderr}")
        return proc.stdout
