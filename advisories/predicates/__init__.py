"""The predicate registry: one line per area module."""

from __future__ import annotations

from advisories.predicates import (
    elasticsearch,
    exchange,
    ftp,
    ipmi,
    memcached,
    mongodb,
    printer,
    rdp,
    redis,
    rmm,
    smb,
    snmp,
    telnet,
    tls,
    upnp,
    vnc,
)
from advisories.predicates.base import Check, NoParams, PredicateRegistry, PredicateSpec

__all__ = ["Check", "NoParams", "PredicateRegistry", "PredicateSpec", "default_registry"]


def default_registry() -> PredicateRegistry:
    reg = PredicateRegistry()
    for module in (
        exchange,
        rdp,
        smb,
        telnet,
        elasticsearch,
        ftp,
        memcached,
        mongodb,
        redis,
        snmp,
        vnc,
        tls,
        upnp,
        ipmi,
        printer,
        rmm,
    ):
        module.register(reg)
    return reg
