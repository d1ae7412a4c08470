"""What each tool found on the lab, in duecare's exposure vocabulary.

``EXPECTED`` is the lab's design (tests/lab/hosts.py roles) written as exposure ids: what a correct
audit must report. ``from_nmap_xml`` reads nmap's service detection and NSE script outputs into
the same ids wherever nmap's output can say so; an exposure that none of the requested scripts
observes (SMB guest share listing, TLS protocol versions) is reported as not observable by nmap.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, date, datetime

from duecare.advisories.exchange.decision import identify, patch, support
from duecare.advisories.exchange.tables import load_exchange_tables
from duecare.lab.hosts import default_hosts
from duecare.wire import Exposure, Report, Verdict

Found = set[tuple[str, Exposure]]

E = Exposure
_BY_HOST: dict[str, tuple[Exposure, ...]] = {
    "rdp-std": (E.RDP_EXPOSED, E.RDP_NO_NLA, E.RDP_STANDARD_SECURITY),
    "rdp-tls": (E.RDP_EXPOSED, E.RDP_NO_NLA),
    "smb1": (E.SMBV1_ENABLED, E.SMB_SIGNING_NOT_REQUIRED, E.SMB_GUEST_ACCESS),
    "exch2016": (E.EXCHANGE_UNPATCHED, E.EXCHANGE_UNSUPPORTED),
    "ftp-anon": (E.FTP_ANONYMOUS, E.FTP_CLEARTEXT),
    "ftp-noanon": (E.FTP_CLEARTEXT,),
    "telnet": (E.TELNET_EXPOSED,),
    "snmp-public": (E.SNMP_DEFAULT_COMMUNITY,),
    "redis-open": (E.REDIS_NO_AUTH,),
    "vnc-open": (E.VNC_NO_AUTH,),
    "tls-legacy": (E.TLS_OBSOLETE_PROTOCOL, E.TLS_CERTIFICATE_EXPIRED),
    "memcached": (E.MEMCACHED_EXPOSED,),
    "moved": (
        E.RDP_EXPOSED,
        E.RDP_NO_NLA,
        E.RDP_STANDARD_SECURITY,
        E.FTP_ANONYMOUS,
        E.FTP_CLEARTEXT,
        E.TELNET_EXPOSED,
        E.REDIS_NO_AUTH,
        E.VNC_NO_AUTH,
    ),
}
#: No script in the issue's list observes these (smb-enum-shares, ssl-enum-ciphers are not asked).
NOT_OBSERVABLE_BY_NMAP = frozenset({E.SMB_GUEST_ACCESS, E.TLS_OBSOLETE_PROTOCOL})


def expected() -> Found:
    ips = {h.name: h.ip for h in default_hosts()}
    return {(ips[name], e) for name, exps in _BY_HOST.items() for e in exps}


def from_report(report: Report) -> Found:
    return {(str(f.ip), f.exposure) for f in report.findings if f.verdict is Verdict.AFFECTED}


def _probed(port: ET.Element, *names: str) -> bool:
    """Service named by nmap's version probes (method="probed"), not guessed from the port table:
    the tarpit's ports are "open" with table guesses and must not count."""
    svc = port.find("service")
    return svc is not None and svc.get("method") == "probed" and svc.get("name", "") in names


def _scripts(el: ET.Element) -> dict[str, str]:
    return {s.get("id", ""): s.get("output", "") for s in el.iter("script")}


def _exchange(headers: str, today: date) -> set[Exposure]:
    m = re.search(r"X-OWA-Version:\s*([\d.]+)", headers)
    if not m:
        return set()
    tables = load_exchange_tables()
    ident = identify(tables, tuple(int(p) for p in m.group(1).split(".")), today)
    found: set[Exposure] = set()
    sup, pat = support(tables, ident), patch(tables, ident)
    if sup is not None and (sup.ended or sup.cu_serviced is False):
        found.add(E.EXCHANGE_UNSUPPORTED)
    if (sup is not None and sup.ended) or (pat is not None and (pat.behind or pat.missing)):
        found.add(E.EXCHANGE_UNPATCHED)
    return found


def _cert_expired(cert: str, now: datetime) -> bool:
    m = re.search(r"Not valid after:\s*(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", cert)
    return m is not None and datetime.fromisoformat(m.group(1)).replace(tzinfo=UTC) < now


def _port_exposures(port: ET.Element, now: datetime) -> set[Exposure]:
    s = _scripts(port)
    svc = port.find("service")
    found: set[Exposure] = set()
    if _probed(port, "ms-wbt-server"):
        found.add(E.RDP_EXPOSED)
        enc = s.get("rdp-enum-encryption", "")
        if re.search(r"Native RDP: SUCCESS|SSL: SUCCESS", enc):
            found.add(E.RDP_NO_NLA)
        if "Native RDP: SUCCESS" in enc:
            found.add(E.RDP_STANDARD_SECURITY)
    if _probed(port, "ftp"):
        found.add(E.FTP_CLEARTEXT)  # an FTP service nmap identified; AUTH TLS is not asked
        if "Anonymous FTP login allowed" in s.get("ftp-anon", ""):
            found.add(E.FTP_ANONYMOUS)
    if _probed(port, "telnet"):
        found.add(E.TELNET_EXPOSED)
    if _probed(port, "snmp") and svc is not None and svc.get("extrainfo", "") == "public":
        found.add(E.SNMP_DEFAULT_COMMUNITY)  # nmap's SNMP version probe got an answer to "public"
    if "Version:" in s.get("redis-info", ""):
        found.add(E.REDIS_NO_AUTH)
    if re.search(r"None \(1\)|does not require authentication", s.get("vnc-info", "")):
        found.add(E.VNC_NO_AUTH)
    if _probed(port, "memcached"):
        found.add(E.MEMCACHED_EXPOSED)
    if _cert_expired(s.get("ssl-cert", ""), now):
        found.add(E.TLS_CERTIFICATE_EXPIRED)
    found |= _exchange(s.get("http-headers", ""), now.date())
    return found


def _host_exposures(host: ET.Element) -> set[Exposure]:
    hs = {k: v for el in host.iter("hostscript") for k, v in _scripts(el).items()}
    found: set[Exposure] = set()
    if "SMBv1" in hs.get("smb-protocols", ""):
        found.add(E.SMBV1_ENABLED)
    if "not required" in hs.get("smb2-security-mode", ""):
        found.add(E.SMB_SIGNING_NOT_REQUIRED)
    return found


def from_nmap_xml(xml: bytes, now: datetime | None = None) -> Found:
    now = now or datetime.now(UTC)
    found: Found = set()
    for host in ET.fromstring(xml).iter("host"):
        ip = next((a.get("addr", "") for a in host.iter("address") if a.get("addrtype") == "ipv4"), "")
        exps = _host_exposures(host)
        for port in host.iter("port"):
            state = port.find("state")
            if state is not None and state.get("state") == "open":
                exps |= _port_exposures(port, now)
        found |= {(ip, e) for e in exps}
    return found


def score(found: Found, truth: Iterable[tuple[str, Exposure]]) -> tuple[Found, Found, Found]:
    """(expected and found, expected and missed, found but not expected)."""
    t = set(truth)
    return found & t, t - found, found - t
