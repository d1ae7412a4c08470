"""The lab's "office LAN": one host spec per namespace, with what a scan of it must find.

Tests assert against these specs (ports, MACs, Exchange builds…), so they are the single source of
truth for what the lab serves; ``services.py`` turns each ``service`` key into a running daemon.
"""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

SUBNET = ipaddress.IPv4Network("198.18.0.0/24")  # RFC 2544 benchmarking range: never routed
SCANNER_OCTET = 2
TARPIT_PORTS = (21, 23, 80, 443, 445, 3389, 5900, 6379)

_BUILD_TABLES = (Path(__file__).resolve().parent.parent / "advisories" / "data" / "exchange" / "exchange-builds.csv",)

EXCHANGE_2016_CU22 = "15.1.2375.7"  # Exchange 2016 CU22 as released (2021-09-28), no SU on top


def _frozen(d: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class Host:
    """One lab host. ``namespace`` is empty in the catalog and set when a ``Lab`` binds the host."""

    name: str
    octet: int
    role: str
    hostname: str
    services: tuple[str, ...] = ()
    tcp_ports: tuple[int, ...] = ()
    udp_ports: tuple[int, ...] = ()
    tcp_filtered: tuple[int, ...] = ()
    firewall_allow_tcp: tuple[int, ...] | None = None  # None: no firewall
    tags: frozenset[str] = frozenset()
    facts: Mapping[str, str] = field(default_factory=_frozen)
    namespace: str = ""

    @property
    def ip(self) -> str:
        return str(SUBNET.network_address + self.octet)

    @property
    def mac(self) -> str:
        return f"02:dc:00:00:00:{self.octet:02x}"

    @property
    def cidr(self) -> str:
        return f"{self.ip}/{SUBNET.prefixlen}"


def _build_key(build: str) -> tuple[int, ...]:
    return tuple(int(part) for part in build.split("."))


def newest_exchange_se_build(table: Path | None = None) -> tuple[str, str]:
    """(build, name) of the newest Exchange SE build (15.2.2562 or later) in the builds table."""
    path = table or next((p for p in _BUILD_TABLES if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(f"exchange-builds.csv not found in {[str(p) for p in _BUILD_TABLES]}")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if _build_key(r["build_short"])[:3] >= (15, 2, 2562)]
    if not rows:
        raise ValueError(f"{path}: no Exchange SE build (15.2.2562+)")
    best = max(rows, key=lambda r: _build_key(r["build_short"]))
    return best["build_short"], best["name"]


def _exchange(octet: int, name: str, hostname: str, build: str, product: str, os_build: str) -> Host:
    major_minor_build = ".".join(build.split(".")[:3])
    return Host(
        name=name,
        octet=octet,
        role=f"{product} (OWA on nginx)",
        hostname=hostname,
        services=("owa",),
        tcp_ports=(80, 443),
        tags=frozenset({"exchange", "owa", "http", "https", "tls"}),
        facts=_frozen(
            {
                "exchange_build": build,
                "owa_path_build": major_minor_build,
                "exchange_product": product,
                "fe_server": hostname,
                "be_target": f"{hostname.lower()}.lab.local",
                "cert_cn": hostname,
                "server_header": "Microsoft-IIS/10.0",
                "basic_realm": "mail.lab.local",
                "ntlm_netbios_domain": "LAB",
                "ntlm_dns_domain": "lab.local",
                "ntlm_os_version": os_build,
            }
        ),
    )


def default_hosts() -> list[Host]:
    """The full office LAN (the scanner first). Reads the Exchange build table for the SE host."""
    se_build, se_name = newest_exchange_se_build()
    return [
        Host(
            "scanner", SCANNER_OCTET, "scanner (runs duecare/nmap; no daemons)", "SCANNER", tags=frozenset({"scanner"})
        ),
        Host(
            "rdp-std",
            10,
            "xrdp, standard RDP security (security_layer=rdp)",
            "TS01",
            ("xrdp",),
            (3389,),
            tags=frozenset({"rdp"}),
            facts=_frozen({"rdp_security_layer": "rdp"}),
        ),
        Host(
            "rdp-tls",
            11,
            "xrdp, TLS security (security_layer=tls, self-signed)",
            "TS02",
            ("xrdp",),
            (3389,),
            tags=frozenset({"rdp", "tls"}),
            facts=_frozen({"rdp_security_layer": "tls", "cert_cn": "TS02"}),
        ),
        Host(
            "smb1",
            20,
            "samba, SMBv1 (NT1) enabled, signing not required, guest share",
            "FILESRV01",
            ("smbd",),
            (139, 445),
            tags=frozenset({"smb", "smb1", "guest"}),
            facts=_frozen(
                {
                    "smb_min_protocol": "NT1",
                    "smb_signing": "auto",
                    "guest_share": "public",
                    "netbios_name": "FILESRV01",
                    "workgroup": "LAB",
                }
            ),
        ),
        Host(
            "smb3",
            21,
            "samba, SMB3 only, signing mandatory, no guest",
            "FILESRV02",
            ("smbd",),
            (445,),
            tags=frozenset({"smb", "signing"}),
            facts=_frozen(
                {
                    "smb_min_protocol": "SMB3",
                    "smb_signing": "mandatory",
                    "netbios_name": "FILESRV02",
                    "workgroup": "LAB",
                }
            ),
        ),
        _exchange(30, "exch2016", "EXCH01", EXCHANGE_2016_CU22, "Exchange Server 2016 CU22", "10.0.14393"),
        _exchange(31, "exchse", "EXCH02", se_build, se_name, "10.0.20348"),
        Host(
            "ftp-anon",
            40,
            "vsftpd, anonymous login allowed (README.txt)",
            "FTP01",
            ("vsftpd",),
            (21,),
            tags=frozenset({"ftp", "anonymous"}),
            facts=_frozen({"anon_file": "README.txt"}),
        ),
        Host(
            "ftp-noanon",
            41,
            "vsftpd, anonymous login refused (local users via PAM)",
            "FTP02",
            ("vsftpd",),
            (21,),
            tags=frozenset({"ftp"}),
        ),
        Host(
            "telnet",
            50,
            "inetutils telnetd under openbsd-inetd",
            "SWITCH01",
            ("inetd",),
            (23,),
            tags=frozenset({"telnet"}),
        ),
        Host(
            "snmp-public",
            60,
            "snmpd, rocommunity public",
            "PRINTER01",
            ("snmpd",),
            udp_ports=(161,),
            tags=frozenset({"snmp", "default-community"}),
            facts=_frozen({"snmp_community": "public", "sys_name": "PRINTER01"}),
        ),
        Host(
            "snmp-private",
            61,
            "snmpd, non-default community only",
            "PRINTER02",
            ("snmpd",),
            udp_ports=(161,),
            tags=frozenset({"snmp"}),
            facts=_frozen({"snmp_community": "n0t-Default-7", "sys_name": "PRINTER02"}),
        ),
        Host(
            "redis-open",
            70,
            "redis without auth, protected-mode off",
            "CACHE01",
            ("redis",),
            (6379,),
            tags=frozenset({"redis", "no-auth"}),
        ),
        Host(
            "redis-auth",
            71,
            "redis with requirepass",
            "CACHE02",
            ("redis",),
            (6379,),
            tags=frozenset({"redis"}),
            facts=_frozen({"redis_password": "Lab-redis-71-pass"}),
        ),
        Host(
            "vnc-open",
            80,
            "Xvnc, SecurityTypes None",
            "DESK01",
            ("xvnc",),
            (5900,),
            tags=frozenset({"vnc", "no-auth"}),
            facts=_frozen({"vnc_security": "None"}),
        ),
        Host(
            "vnc-auth",
            81,
            "Xvnc, VncAuth password",
            "DESK02",
            ("xvnc",),
            (5900,),
            tags=frozenset({"vnc"}),
            facts=_frozen({"vnc_security": "VncAuth", "vnc_password": "labvnc81"}),
        ),
        Host(
            "tls-legacy",
            90,
            "nginx, expired self-signed cert, TLS 1.0/1.1 enabled",
            "INTRANET01",
            ("legacy_tls",),
            (443,),
            tags=frozenset({"https", "tls", "expired-cert", "tls10"}),
            facts=_frozen(
                {
                    "cert_cn": "intranet01.lab.local",
                    "cert_not_after": "2021-01-01T00:00:00Z",
                    "tls_versions": "TLSv1,TLSv1.1,TLSv1.2",
                }
            ),
        ),
        Host(
            "ssh",
            100,
            "openssh-server",
            "SRV01",
            ("sshd",),
            (22,),
            tags=frozenset({"ssh"}),
            # One Ed25519 host key (lab/certs.py), so the SSH probe and ssh-keyscan see the same key.
            facts=_frozen({"ssh_host_key_type": "ssh-ed25519", "ssh_software": "OpenSSH_9.2p1"}),
        ),
        Host(
            "firewalled",
            110,
            "nginx 443 + sshd 22 behind nftables (only 443 allowed in)",
            "WEB01",
            ("web", "sshd"),
            (443,),
            tcp_filtered=(22,),
            firewall_allow_tcp=(443,),
            tags=frozenset({"https", "ssh", "firewall"}),
            facts=_frozen({"cert_cn": "WEB01"}),
        ),
        Host(
            "tarpit",
            120,
            "accepts on common ports and never answers",
            "TARPIT",
            ("tarpit",),
            TARPIT_PORTS,
            tags=frozenset({"tarpit"}),
        ),
        Host(
            "memcached",
            130,
            "memcached, TCP only",
            "CACHE03",
            ("memcached",),
            (11211,),
            tags=frozenset({"memcached", "no-auth"}),
        ),
        Host(
            "moved",
            140,
            "services moved off their standard ports: xrdp 3390, anonymous vsftpd 2121, telnetd 2323, "
            "redis without auth 26379, Xvnc display :2 (5902)",
            "HIDDEN01",
            ("xrdp", "vsftpd", "inetd", "redis", "xvnc"),
            (2121, 2323, 3390, 5902, 26379),
            tags=frozenset({"moved", "rdp", "ftp", "anonymous", "telnet", "redis", "no-auth", "vnc"}),
            facts=_frozen(
                {
                    "rdp_security_layer": "rdp",
                    "xrdp_port": "3390",
                    "ftp_port": "2121",
                    "telnet_port": "2323",
                    "redis_port": "26379",
                    "vnc_display": "2",
                    "vnc_security": "None",
                    "anon_file": "README.txt",
                }
            ),
        ),
        Host("idle1", 200, "idle host (nothing listening)", "IDLE01", tags=frozenset({"idle"})),
        Host("idle2", 201, "idle host (nothing listening)", "IDLE02", tags=frozenset({"idle"})),
    ]
