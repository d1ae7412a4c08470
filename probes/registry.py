"""Every probe, one line each. A new probe = one package + one line here."""

from __future__ import annotations

from typing import Any

from duecare.probes.base import Probe
from duecare.probes.elasticsearch.probe import ElasticsearchProbe
from duecare.probes.exchange.probe import ExchangeProbe
from duecare.probes.ftp.probe import FtpProbe
from duecare.probes.ipmi.probe import IpmiProbe
from duecare.probes.memcached.probe import MemcachedProbe
from duecare.probes.mongodb.probe import MongodbProbe
from duecare.probes.printer.probe import PrinterProbe
from duecare.probes.rdp.probe import RdpProbe
from duecare.probes.redis.probe import RedisProbe
from duecare.probes.rmm.probe import RmmProbe
from duecare.probes.smb.ms17_010 import Ms17010Probe
from duecare.probes.smb.probe import SmbProbe
from duecare.probes.snmp.probe import SnmpProbe
from duecare.probes.telnet.probe import TelnetProbe
from duecare.probes.tls.probe import TlsProbe
from duecare.probes.upnp.probe import UpnpProbe
from duecare.probes.vnc.probe import VncProbe
from duecare.wire import Proto


def all_probes() -> list[Probe[Any]]:
    return [
        ExchangeProbe(),
        RdpProbe(),
        SmbProbe(),
        Ms17010Probe(),
        TelnetProbe(),
        ElasticsearchProbe(),
        FtpProbe(),
        MemcachedProbe(),
        MongodbProbe(),
        RedisProbe(),
        SnmpProbe(),
        VncProbe(),
        TlsProbe(),
        UpnpProbe(),
        IpmiProbe(),
        PrinterProbe(),
        RmmProbe(),
    ]


def needed_ports(probes: list[Probe[Any]]) -> tuple[frozenset[int], frozenset[int]]:
    """(tcp, udp) ports the probes need scanned, whatever the configured port set says."""
    tcp: set[int] = set()
    udp: set[int] = set()
    for p in probes:
        (udp if p.proto is Proto.UDP else tcp).update(p.ports)
    return frozenset(tcp), frozenset(udp)
