"""Every probe, one line each. A new probe = one package + one line here."""

from __future__ import annotations

from typing import Any

from probes.base import Probe
from probes.elasticsearch.probe import ElasticsearchProbe
from probes.exchange.probe import ExchangeProbe
from probes.ftp.probe import FtpProbe
from probes.ipmi.probe import IpmiProbe
from probes.memcached.probe import MemcachedProbe
from probes.mongodb.probe import MongodbProbe
from probes.printer.probe import PrinterProbe
from probes.rdp.probe import RdpProbe
from probes.redis.probe import RedisProbe
from probes.rmm.probe import RmmProbe
from probes.smb.ms17_010 import Ms17010Probe
from probes.smb.probe import SmbProbe
from probes.snmp.probe import SnmpProbe
from probes.telnet.probe import TelnetProbe
from probes.tls.probe import TlsProbe
from probes.upnp.probe import UpnpProbe
from probes.vnc.probe import VncProbe
from wire import Proto


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
