"""Plain rows the lifecycle works on: loaded and written with bulk statements, never as ORM objects.

An ORM instance costs tens of microseconds to build and track; a nightly report of a /16 touches tens
of thousands of rows, so ingest reads them with one SELECT, applies the lifecycle to these
dataclasses, and writes them back with one multi-row INSERT and one executemany UPDATE per table.
Field names are the column names (``db/models.py``).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

_V4_MAPPED = b"\x00" * 10 + b"\xff\xff"


def ip_key(ip: str) -> bytes:
    """The address as 16 bytes that sort like the addresses (IPv4 as IPv4-mapped IPv6): an index on
    (site, key) turns each scanned network into one range, on SQLite (BLOB) and PostgreSQL (bytea).
    ``inet_pton`` first: a report of new findings builds a row (and a key) per finding."""
    try:
        return _V4_MAPPED + socket.inet_pton(socket.AF_INET, ip)
    except OSError:
        pass
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv4Address):
        return _V4_MAPPED + addr.packed
    return addr.packed


@dataclass(slots=True, eq=False)
class FindingRow:
    client_id: str
    site_id: str
    ident: str
    ip: str
    exposure: str
    port: int | None
    proto: str | None
    status: str
    severity: str
    title: str
    kev: bool
    first_seen_at: datetime
    last_seen_at: datetime
    status_changed_at: datetime
    last_agent_id: str
    last_report_id: str
    changed_by_report_id: str
    data: dict[str, Any] | None = None
    data_digest: str | None = None
    #: ``ip_key(ip)``, set on construction: every path that inserts a row (executemany, COPY, staging) has it.
    ip_key: bytes | None = None
    id: int | None = None
    #: Changed by this report (written back), and whether ``data`` changed with it.
    touched: bool = field(default=False, compare=False)
    data_changed: bool = field(default=False, compare=False)
    #: The column values as loaded: only what differs from them is written back.
    orig: dict[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.ip_key is None:
            self.ip_key = ip_key(self.ip)


@dataclass(slots=True, eq=False)
class AssetRow:
    client_id: str
    site_id: str
    ip: str
    status: str
    hostname: str | None
    mac: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    status_changed_at: datetime
    last_agent_id: str
    last_report_id: str
    changed_by_report_id: str
    ip_key: bytes | None = None
    id: int | None = None
    touched: bool = field(default=False, compare=False)
    orig: dict[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.ip_key is None:
            self.ip_key = ip_key(self.ip)


@dataclass(slots=True, eq=False)
class ObligationRow:
    client_id: str
    site_id: str
    framework: str
    requirement: str
    title: str
    status: str
    first_seen_at: datetime
    last_seen_at: datetime
    status_changed_at: datetime
    last_report_id: str
    changed_by_report_id: str
    data: dict[str, Any]
    id: int | None = None
    touched: bool = field(default=False, compare=False)
    orig: dict[str, Any] | None = field(default=None, compare=False)


_FLAGS = {"touched", "data_changed", "id", "orig"}


def columns(cls: type) -> tuple[str, ...]:
    """The row's database columns (without the id and the bookkeeping flags)."""
    return tuple(f.name for f in fields(cls) if f.name not in _FLAGS)


def values(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(row, n) for n in names}


def loaded(cls: type[Any], mapping: Any) -> Any:
    """A row as read from the database, remembering its values."""
    row = cls(**mapping)
    row.orig = dict(mapping)
    return row
