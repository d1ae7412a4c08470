"""Pure parsers for nmap's own files: scan XML and the nmap-services frequency table."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from pydantic import ValidationError

from duecare.probes.errors import ProtocolError
from duecare.probes.ports.facts import HostPorts, PortFact, PortScan
from duecare.wire import PortState, Proto

_STATES = {s.value: s for s in PortState}


def parse_nmap_xml(xml: bytes) -> PortScan:
    """nmap ``-oX`` output → facts. Closed ports are dropped; filtered ranges are kept compact."""
    if b"<!ENTITY" in xml:
        raise ProtocolError("nmap XML with entity declarations refused")
    try:
        root = ET.fromstring(xml)
    except (ET.ParseError, LookupError) as exc:  # LookupError: an unknown encoding= in the XML declaration
        raise ProtocolError(f"nmap XML does not parse: {type(exc).__name__}: {exc}"[:300]) from exc
    if root.tag != "nmaprun":
        raise ProtocolError(f"not nmap XML (root element {root.tag!r})")
    scan_types = tuple(si.get("type", "") for si in root.findall("scaninfo"))
    try:
        hosts = [h for h in (_host(el) for el in root.findall("host")) if h is not None]
        finished = root.find("runstats/finished")
        elapsed = float(finished.get("elapsed", "0") or 0) if finished is not None else 0.0
    except (ValueError, ValidationError) as exc:
        raise ProtocolError(f"nmap XML with unexpected values: {exc}") from exc
    return PortScan(
        scan_types=scan_types,
        hosts=tuple(hosts),
        nmap_version=root.get("version", ""),
        elapsed_s=elapsed,
    )


def _host(el: ET.Element) -> HostPorts | None:
    status = el.find("status")
    if status is None or status.get("state") != "up":
        return None
    ip = mac = vendor = None
    for addr in el.findall("address"):
        kind = addr.get("addrtype")
        if kind in ("ipv4", "ipv6"):
            ip = addr.get("addr")
        elif kind == "mac":
            mac = (addr.get("addr") or "").lower() or None
            vendor = addr.get("vendor")
    if ip is None:
        return None
    hn = el.find("hostnames/hostname")
    ports: list[PortFact] = []
    filtered: dict[str, list[str]] = {"tcp": [], "udp": []}
    for p in el.findall("ports/port"):
        st = p.find("state")
        state = _STATES.get(st.get("state", "") if st is not None else "")
        proto = p.get("protocol")
        if state is None or proto not in ("tcp", "udp"):
            continue
        port = int(p.get("portid", "-1"))
        if state is PortState.FILTERED:
            filtered[proto].append(str(port))
            continue
        if state is PortState.CLOSED:
            continue
        svc = p.find("service")
        ports.append(
            PortFact(
                port=port,
                proto=Proto(proto),
                state=state,
                reason=(st.get("reason", "") if st is not None else ""),
                name=None if svc is None else svc.get("name"),
                product=None if svc is None else svc.get("product"),
                version=None if svc is None else svc.get("version"),
                tunnel=None if svc is None else svc.get("tunnel"),
                method=None if svc is None else svc.get("method"),
            )
        )
    for extra in el.findall("ports/extraports"):
        if extra.get("state") != "filtered":
            continue
        for reason in extra.findall("extrareasons"):
            proto = reason.get("proto")
            if proto in filtered and reason.get("ports"):
                filtered[proto].append(reason.get("ports", ""))
    times = el.find("times")
    srtt = times.get("srtt") if times is not None else None
    return HostPorts(
        ip=ip,
        mac=mac,
        vendor=vendor,
        hostname=None if hn is None else hn.get("name"),
        up_reason=status.get("reason", ""),
        ports=tuple(sorted(ports, key=lambda f: (f.proto.value, f.port))),
        filtered_tcp=compact_ranges(expand_ranges(",".join(filtered["tcp"]))),
        filtered_udp=compact_ranges(expand_ranges(",".join(filtered["udp"]))),
        srtt_us=int(srtt) if srtt and srtt.isdigit() else None,
    )


def expand_ranges(spec: str) -> list[int]:
    """ "1-3,8" → [1, 2, 3, 8]. Refuses anything that is not a port."""
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError as exc:
            raise ProtocolError(f"bad port range {part!r}") from exc
        if not (0 <= a <= b <= 65535):
            raise ProtocolError(f"bad port range {part!r}")
        out.update(range(a, b + 1))
    return sorted(out)


def compact_ranges(ports: Iterable[int]) -> str:
    items = sorted(set(ports))
    runs: list[str] = []
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        runs.append(str(items[i]) if i == j else f"{items[i]}-{items[j]}")
        i = j + 1
    return ",".join(runs)


def top_ports(nmap_services: str, proto: str, count: int) -> list[int]:
    """The ``count`` most frequently open ports in nmap's nmap-services table, as nmap ranks them."""
    ranked: list[tuple[float, int]] = []
    for line in nmap_services.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 3:
            continue
        port_s, _, p = fields[1].partition("/")
        if p != proto:
            continue
        try:
            ranked.append((float(fields[2]), int(port_s)))
        except ValueError:
            continue
    ranked.sort(key=lambda t: (-t[0], t[1]))
    return sorted(port for _freq, port in ranked[:count])


def mac_vendors(prefixes: str, only: Iterable[str] | None = None) -> dict[str, str]:
    """nmap-mac-prefixes ("0000A1 Marquette Electronic") → {"00:00:a1": vendor}.

    ``only`` (MAC addresses) keeps just their rows: a scan needs a handful of the ~50,000, and the
    whole table costs ~0.15 s and ~5 MB per scan (issue 9 profile).
    """
    wanted = None if only is None else {m.replace(":", "").replace("-", "")[:6].upper() for m in only}
    out: dict[str, str] = {}
    for line in prefixes.splitlines():
        if not line or line.startswith("#") or (wanted is not None and line[:6].upper() not in wanted):
            continue
        oui, _, name = line.partition(" ")
        if len(oui) == 6 and name:
            key = ":".join(oui[i : i + 2] for i in (0, 2, 4)).lower()
            out[key] = name.strip()
    return out
