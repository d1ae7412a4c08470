"""Every probe, one line each. A new probe = one package + one line here."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from duecare.probes.base import Facts, Probe
from duecare.probes.elasticsearch.probe import ElasticsearchProbe
from duecare.probes.exchange.probe import ExchangeProbe
from duecare.probes.ftp.probe import FtpProbe
from duecare.probes.ipmi.probe import IpmiProbe
from duecare.probes.memcached.probe import MemcachedProbe
from duecare.probes.mongodb.probe import MongodbProbe
from duecare.probes.natpmp.probe import NatPmpProbe, PcpProbe
from duecare.probes.printer.probe import PrinterProbe
from duecare.probes.rdp.probe import RdpProbe
from duecare.probes.redis.probe import RedisProbe
from duecare.probes.rmm.probe import RmmProbe
from duecare.probes.smb.ms17_010 import Ms17010Probe
from duecare.probes.smb.probe import SmbProbe
from duecare.probes.snmp.probe import SnmpProbe
from duecare.probes.ssh.probe import SshProbe
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
        SshProbe(),
        ElasticsearchProbe(),
        FtpProbe(),
        MemcachedProbe(),
        MongodbProbe(),
        RedisProbe(),
        SnmpProbe(),
        VncProbe(),
        TlsProbe(),
        UpnpProbe(),
        NatPmpProbe(),
        PcpProbe(),
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


def probe_classes(module: ModuleType) -> list[type[Any]]:
    """Classes defined in ``module`` that are probes: they carry an ``id`` and a ``facts_model``
    and have a ``run`` coroutine."""
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and obj.__module__ == module.__name__
        and isinstance(getattr(obj, "id", None), str)
        and isinstance(getattr(obj, "facts_model", None), type)
        and inspect.iscoroutinefunction(getattr(obj, "run", None))
    ]


def registry_problems(root: Path, package: str, probes: Sequence[Probe[Any]]) -> list[str]:
    """What CONTRIBUTING's "add a probe" steps would have caught: a probe package with a missing
    piece, a probe class nobody registered, a facts model from outside its own package.

    ``root`` is the folder of the probes package ``package`` (``duecare.probes`` here; a temporary
    package in the tests of this check).
    """
    problems: list[str] = []
    registered = {type(p): p for p in probes}
    ids = [p.id for p in probes]
    problems += [f"probe id {i!r} is registered twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for folder in sorted(d for d in root.iterdir() if (d / "probe.py").is_file()):
        name = folder.name
        problems += [
            f"{package}.{name}: no {part}" for part in ("facts.py", "parse.py") if not (folder / part).is_file()
        ]
        modules = [f"{package}.{name}.{f.stem}" for f in sorted(folder.glob("*.py")) if not f.stem.startswith("_")]
        found = [cls for m in modules for cls in probe_classes(importlib.import_module(m))]
        if not found:
            problems.append(f"{package}.{name}: probe.py defines no probe class (id, facts_model, async run)")
        for cls in found:
            if cls not in registered:
                problems.append(f"{cls.__module__}.{cls.__name__} ({cls.id!r}) is not in the registry")
                continue
            probe = registered[cls]
            facts_home = f"{package}.{name}.facts"
            if probe.facts_model.__module__ != facts_home:
                problems.append(
                    f"{cls.__name__}.facts_model is defined in {probe.facts_model.__module__}, not {facts_home}"
                )
            if not probe.ports:
                problems.append(f"{cls.__name__} declares no ports: the port stage would never find its service")
            if not issubclass(probe.facts_model, Facts):
                problems.append(f"{cls.__name__}.facts_model does not derive from probes.base.Facts")
    return problems
