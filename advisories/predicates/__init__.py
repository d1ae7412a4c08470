"""The predicate registry: one line per area module."""

from __future__ import annotations

from duecare.advisories.exchange import ExchangeTables
from duecare.advisories.predicates import (
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
from duecare.advisories.predicates.base import Check, NoParams, PredicateRegistry, PredicateSpec

__all__ = ["Check", "NoParams", "PredicateRegistry", "PredicateSpec", "default_registry"]


def default_registry(exchange_tables: ExchangeTables | None = None) -> PredicateRegistry:
    """Every predicate. Data-backed ones take their tables from the caller (the catalog) when given."""
    reg = PredicateRegistry()
    exchange.register(reg, exchange_tables)
    for module in (
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
